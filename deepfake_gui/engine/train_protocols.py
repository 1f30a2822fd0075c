"""What train measures beyond grouped CV, so that a model card predicts unseen generators and sources.

- layers chosen by leave-one-generator-out mean AUC (EVALUATION.md), not by in-domain CV;
- the leave-one-generator-out and leave-one-source-out tables of the chosen layers;
- a calibration and inconclusive band fitted on held-out scores (fakes of a held-out
  generator, real files of a held-out source), with coverage beside accuracy;
- a domain gate whose threshold comes from sources held out of the domain model;
- the shortcut audit: a classic model on duration, loudness, silence, bandwidth,
  picture size, JPEG quality and colour statistics, measured the same way.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from pathlib import Path

import numpy as np

from deepfake_gui.core.jobs import CancelToken, Progress

MIN_GENERATORS_FOR_LOGO = 2


def probe_factory(classifier: str, C: float = 1.0):
    from deepfake_gui.probes.linear import LinearProbe

    return lambda: LinearProbe(classifier, C=C)


def can_hold_out_generators(data) -> bool:
    return len({g for g, y in zip(data.generators, data.labels, strict=True) if y == 1}) >= MIN_GENERATORS_FOR_LOGO


def logo_by_layer(features: Sequence[np.ndarray], data, folds, classifier: str, cancel: CancelToken,
                  C: float = 1.0) -> Generator[Progress, None, list[float]]:
    """Leave-one-generator-out mean AUC of each layer (no bootstrap: a ranking, not a figure)."""
    from deepfake_gui.probes.protocols import leave_one_generator_out

    out = []
    for i, X in enumerate(features):
        cancel.raise_if_cancelled()
        yield Progress(i, len(features), f"leave-one-generator-out: layer {i + 1}/{len(features)}")
        result = leave_one_generator_out(X, data.labels, data.generators, data.groups, folds,
                                         probe_factory(classifier, C), sources=data.item_match(), n_draws=0)
        out.append(float(result.mean_auc or 0.0))
    return out


def choose_layers(logo: Sequence[float], k: int) -> list[int]:
    """The k layers with the best leave-one-generator-out mean AUC, in layer order."""
    order = np.argsort(-np.asarray(logo), kind="stable")[: max(1, k)]
    return sorted(int(i) for i in order)


def protocol_tables(X: np.ndarray, data, folds, classifier: str, seed: int = 0, C: float = 1.0):
    """(LOGO, LOSO) ProtocolResults of the chosen features, with group-bootstrap intervals."""
    from deepfake_gui.probes.protocols import leave_one_generator_out, leave_one_source_out

    factory = probe_factory(classifier, C)
    logo = leave_one_generator_out(X, data.labels, data.generators, data.groups, folds, factory,
                                   sources=data.item_match(), seed=seed)
    loso = leave_one_source_out(X, data.labels, data.item_sources(), data.groups, factory, seed=seed)
    return logo, loso


def real_scores_held_out_by_source(X: np.ndarray, data, classifier: str,
                                   C: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(rows, scores) of real files, each scored by a model trained without its whole source.

    Sources with real files only (a photo collection) are held out too, as long as what is
    left holds both classes. With a single source, grouped folds stand in for sources.
    """
    sources = np.asarray(data.item_sources())
    groups = np.asarray(data.groups)
    labels = np.asarray(data.labels).astype(int)
    factory = probe_factory(classifier, C)
    rows, scores = [], []
    units = sorted(set(sources.tolist()))
    if len(units) < 2:
        return np.array([], dtype=int), np.array([])
    for src in units:
        test = np.flatnonzero((sources == src) & (labels == 0))
        train = np.flatnonzero((sources != src) & ~np.isin(groups, groups[test]))
        if len(test) == 0 or len(set(labels[train].tolist())) < 2:
            continue
        model = factory()
        model.fit(X[train], labels[train])
        rows.append(test)
        scores.append(np.asarray(model.decision_function(X[test]), dtype=np.float64))
    if not rows:
        return np.array([], dtype=int), np.array([])
    return np.concatenate(rows), np.concatenate(scores)


def held_out_calibration(X: np.ndarray, data, logo, classifier: str, C: float = 1.0,
                         judged: np.ndarray | None = None) -> dict | None:
    """Platt scaling and the inconclusive band fitted on held-out scores; None when they cannot be had.

    Fakes: scored while their generator was out of training (LOGO). Real files: scored while
    their source was out of training. Neither was ever trained on in any form. ``judged``
    (per item): only these items' scores count, as scan will withhold the others' verdicts
    (pictures with a face, engine/face_gate.py); the models are still trained on every item.
    """
    from deepfake_gui.analysis.calibration import Platt, selective_band

    fake_rows, fake_scores = [], []
    labels = np.asarray(data.labels).astype(int)
    judged = np.ones(len(labels), dtype=bool) if judged is None else np.asarray(judged, dtype=bool)
    for name, rows in logo.rows.items():
        keep = (labels[rows] == 1) & judged[rows]
        fake_rows.append(rows[keep])
        fake_scores.append(logo.scores[name][keep])
    real_rows, real_scores = real_scores_held_out_by_source(X, data, classifier, C)
    keep = judged[real_rows]
    real_rows, real_scores = real_rows[keep], real_scores[keep]
    if not fake_rows or len(real_rows) < 5:
        return None
    scores = np.concatenate([*fake_scores, real_scores])
    y = np.concatenate([np.ones(sum(len(r) for r in fake_rows), dtype=int), np.zeros(len(real_rows), dtype=int)])
    if len(set(y.tolist())) < 2:
        return None
    platt = Platt.fit(scores, y)
    probs = platt(scores)
    band, figures = selective_band(probs, y)
    from deepfake_gui.analysis.metrics import roc_auc

    return {"platt": platt, "band": band, "figures": figures | {"auc": float(roc_auc(y, scores)),
                                                                "n_real": int(len(real_rows)),
                                                                "n_fake": int(y.sum())}}


def source_held_out_domain(X: np.ndarray, data, percentile: float = 99.0) -> tuple[dict, float] | None:
    """A domain model of all training features whose threshold comes from held-out sources.

    Distances of each source's files to a model fitted without that source: a file from a
    new but similar source stays inside; one further than ``percentile`` of those is out.
    """
    from deepfake_gui.probes.oneclass import fit_domain_model

    sources = np.asarray(data.item_sources())
    if len(set(sources.tolist())) < 2:
        return None
    arrays, threshold = fit_domain_model(X, sources, percentile=percentile,
                                         n_splits=min(5, len(set(sources.tolist()))), prefix="gate_")
    return arrays, threshold


def shortcut_features(paths: Sequence[Path], modality: str, cancel: CancelToken,
                      ) -> Generator[Progress, None, tuple[np.ndarray, np.ndarray]]:
    """(features, ok mask) of the shortcut audit for every file; unreadable files are masked out."""
    from deepfake_gui.analysis.shortcuts import AUDIO_NAMES, IMAGE_NAMES, audio_shortcuts, image_shortcuts
    from deepfake_gui.core.errors import LayerScopeError
    from deepfake_gui.media import load_audio, load_image
    from deepfake_gui.media.measure import jpeg_quality_estimate

    width = len(IMAGE_NAMES if modality == "image" else AUDIO_NAMES)
    out = np.zeros((len(paths), width))
    ok = np.zeros(len(paths), dtype=bool)
    for i, path in enumerate(paths):
        cancel.raise_if_cancelled()
        try:
            if modality == "image":
                out[i] = image_shortcuts(load_image(path), jpeg_quality_estimate(path))
            else:
                out[i] = audio_shortcuts(load_audio(path, 16000), 16000)
            ok[i] = True
        except (LayerScopeError, OSError, ValueError):
            continue
        if i % 50 == 49:
            yield Progress(i + 1, len(paths), "shortcut audit: reading files")
    return out, ok


def shortcut_audit(features: np.ndarray, ok: np.ndarray, data, folds, seed: int = 0) -> dict:
    """Grouped-CV and leave-one-generator-out AUC of a classic model on shortcut features alone."""
    from deepfake_gui.analysis.metrics import roc_auc
    from deepfake_gui.analysis.shortcuts import AUDIO_NAMES, IMAGE_NAMES
    from deepfake_gui.probes.protocols import leave_one_generator_out

    idx = np.flatnonzero(ok)
    sub = data.subset(idx)
    remap = {int(old): new for new, old in enumerate(idx)}
    sub_folds = [(np.array([remap[i] for i in tr if i in remap], dtype=int),
                  np.array([remap[i] for i in te if i in remap], dtype=int)) for tr, te in folds]
    X = features[idx]
    factory = probe_factory("logreg")
    oof = np.full(len(sub), np.nan)
    for train, test in sub_folds:
        if len(test) and len(set(sub.labels[train].tolist())) == 2:
            model = factory()
            model.fit(X[train], sub.labels[train])
            oof[test] = model.decision_function(X[test])
    fine = np.isfinite(oof)
    cv = float(roc_auc(sub.labels[fine], oof[fine])) if fine.any() else None
    logo = None
    if can_hold_out_generators(sub):
        logo = leave_one_generator_out(X, sub.labels, sub.generators, sub.groups, sub_folds, factory,
                                       sources=sub.item_match(), n_draws=0, seed=seed)
    names = IMAGE_NAMES if X.shape[1] == len(IMAGE_NAMES) else AUDIO_NAMES
    return {"features": list(names), "model": "standardised logistic regression",
            "cv_auc": None if cv is None else round(cv, 4),
            "logo_mean_auc": None if logo is None or logo.mean_auc is None else round(logo.mean_auc, 4),
            "logo": {} if logo is None else {h.name: None if h.auc is None else round(h.auc, 4)
                                             for h in logo.held_out},
            "n": int(len(sub))}


def shortcut_verdict(detector_logo: float | None, audit: dict, margin: float = 0.05) -> str:
    """One sentence for the model card: does the detector clearly beat the shortcut model?"""
    base = audit.get("logo_mean_auc") or audit.get("cv_auc")
    if detector_logo is None or base is None:
        return "not measured"
    if detector_logo >= base + margin:
        return (f"the detector (leave-one-generator-out AUC {detector_logo:.3f}) clearly beats a model on duration, "
                f"loudness, silence, bandwidth, size and colour alone ({base:.3f})")
    return (f"the detector ({detector_logo:.3f}) does not clearly beat a model on duration, loudness, silence, "
            f"bandwidth, size and colour alone ({base:.3f}): it may be learning the data set, not generation")


def training_licences(roots: Sequence[Path]) -> list[dict]:
    """Corpus and licence pairs of each training data set's manifest (what the model card must list)."""
    import csv

    out: list[dict] = []
    for root in roots:
        manifest = Path(root) / "manifest.csv" if Path(root).is_dir() else Path(root)
        if not manifest.is_file():
            continue
        with open(manifest, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        pairs = sorted({((r.get("corpus") or r.get("source") or "").strip(), (r.get("licence") or "").strip())
                        for r in rows})
        out.append({"data": str(manifest.parent), "licences": [{"corpus": c, "licence": lic or "see the data "
                                                                "set's README"} for c, lic in pairs]})
    return out
