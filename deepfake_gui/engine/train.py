"""The train job: features (cached) -> layer sweep -> calibrated probe -> bundle.

Every metric it writes into detector.json is out-of-fold under grouped k-fold
cross-validation; the final probe is then refitted on all the data.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from deepfake_gui.core.errors import LayerScopeError
from deepfake_gui.core.jobs import CancelToken, Progress
from deepfake_gui.probes.augment import NONE, AugmentedRows, extend, extend_folds

if TYPE_CHECKING:
    from deepfake_gui.probes.dataset import LabeledSet
    from deepfake_gui.probes.sweep import LayerResult


@dataclass
class TrainOptions:
    data: Path | list[Path] | LabeledSet  # folders / manifest.csv files, or a set already built (probe lab)
    encoder: str
    out: Path
    sweep: bool = True
    layer: int | None = None
    top_k: int = 1
    classifier: str = "logreg"
    C: float = 1.0  # inverse regularisation strength of the probe (smaller = simpler); chosen by LOGO for defaults
    folds: int = 5
    device: str = "auto"
    seed: int = 0
    name: str | None = None
    attribution: bool = True
    domain_note: str | None = None  # the training domain in words, for every scan result's caveats
    report_layers: bool = False  # also yield a LayerSwept per layer as the sweep goes (live curves)
    layers: list[int] | None = None  # probe exactly these layers (no sweep), e.g. to retrain a shipped detector
    augment: str = "none"  # laundering augmentation policy (probes/augment.py): none, social, codec
    augment_copies: int = 1  # laundered copies per training item
    robustness: bool | list[str] = False  # grouped-CV figures under laundering: True = the standard set
    select_by: str = "auto"  # layers by "logo" (leave-one-generator-out mean AUC), "cv", or "auto" (logo if possible)
    protocols: bool = True  # leave-one-generator-out / leave-one-source-out tables into the model card
    held_out_calibration: bool = True  # calibration and band from held-out generators and sources, when possible
    shortcut_audit: bool = True  # a classic model on duration, loudness, size, colour... measured the same way
    image_tiles: int = 0  # images: features averaged over up to this many native-resolution tiles (0: resized)


@dataclass
class LayerSwept:
    """One layer's grouped-CV result, yielded as soon as it is measured (only with ``report_layers``)."""

    result: LayerResult
    index: int  # position in the sweep, 0-based
    total: int  # layers in the sweep


@dataclass
class TrainReport:
    bundle_path: Path
    meta: dict
    layers: list[dict] = field(default_factory=list)
    chosen: list[int] = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    robustness: dict | None = None  # the model card's robustness table (meta["robustness"])
    data: LabeledSet | None = None  # the items actually used (unreadable files dropped), in feature order
    features: list[np.ndarray] | None = None  # per layer (n_items, D_l) float32, rows as in ``data``


def train_job(opts: TrainOptions, cancel: CancelToken | None = None) -> Iterator[Progress | TrainReport]:
    from deepfake_gui.analysis.calibration import Platt, inconclusive_band
    from deepfake_gui.analysis.metrics import binary_report, bootstrap_auc_ci
    from deepfake_gui.encoders.cache import FeatureCache
    from deepfake_gui.encoders.extract import collect_features
    from deepfake_gui.encoders.registry import build_encoder
    from deepfake_gui.engine.datasets import load_datasets
    from deepfake_gui.engine.domain_profile import measure_domain_profile
    from deepfake_gui.engine.train_protocols import choose_layers, logo_by_layer, training_licences
    from deepfake_gui.launder.conditions import file_sha256
    from deepfake_gui.probes.bundle import DetectorBundle, save_bundle
    from deepfake_gui.probes.clustering import adjusted_rand, cluster_embeddings, cluster_purity
    from deepfake_gui.probes.dataset import LabeledSet, grouped_folds
    from deepfake_gui.probes.linear import LinearProbe
    from deepfake_gui.probes.oneclass import MahalanobisDetector, evaluate_one_class, fit_domain_model
    from deepfake_gui.probes.sweep import (
        best_layers,
        cross_val_scores,
        learning_curve,
        per_generator_auc,
        sweep_layers,
    )

    cancel = cancel or CancelToken()
    timings: dict[str, float] = {}
    roots = [] if isinstance(opts.data, LabeledSet) else (list(opts.data) if isinstance(opts.data, list | tuple)
                                                          else [opts.data])
    data = opts.data if isinstance(opts.data, LabeledSet) else load_datasets(roots)
    yield Progress(0, len(data), f"loading encoder {opts.encoder}")
    encoder = build_encoder(opts.encoder, opts.device)
    if encoder.spec.random_init:
        yield Progress(0, len(data), f"warning: {opts.encoder} has random weights (test encoder)")

    t0 = time.perf_counter()
    tiles = opts.image_tiles if encoder.spec.modality == "image" else 0
    matrices, records = yield from collect_features(encoder, data.paths, cache=FeatureCache(), cancel=cancel,
                                                    tiles=tiles)
    timings["features_s"] = time.perf_counter() - t0
    failed = [r.error or str(r.path) for r in records if r.pooled is None]
    keep = np.array([r.index for r in records if r.pooled is not None], dtype=int)
    if len(keep) < 4:
        where = data.root if isinstance(opts.data, LabeledSet) else opts.data
        raise LayerScopeError(f"{where}: only {len(keep)} usable files; errors: {failed[:3]}")
    data = data.subset(keep)
    raw_features = matrices
    features = [m.astype(np.float64) for m in matrices]
    layer_names = encoder.layer_names
    folds = grouped_folds(data, opts.folds, opts.seed)
    shas = [file_sha256(p) for p in data.paths] if opts.augment != NONE or opts.robustness else []
    aug: AugmentedRows | None = None
    if opts.augment != NONE:
        t0 = time.perf_counter()
        aug = yield from _augmented_features(encoder, data, shas, opts, cancel)
        timings["augmentation_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    sweeping = not opts.layers and (opts.sweep or opts.layer is None)
    if sweeping:
        results = []
        for i, (X_layer, name) in enumerate(zip(features, layer_names, strict=True)):
            cancel.raise_if_cancelled()
            yield Progress(i, len(features), f"layer {i + 1}/{len(features)}: {name}")
            (result,), _ = sweep_layers([X_layer], [name], data, folds, classifier=opts.classifier,
                                        augmented=_some_layers(aug, [i]))
            result.layer = i
            results.append(result)
            if opts.report_layers:
                yield LayerSwept(result, i, len(features))
        yield Progress(len(features), len(features), "layer sweep done")
        chosen = best_layers(results, opts.top_k)
        if _select_by_logo(opts, data):
            logo_means = yield from logo_by_layer(features, data, folds, opts.classifier, cancel, opts.C)
            for result, value in zip(results, logo_means, strict=True):
                result.extra["logo_mean_auc"] = value
            chosen = choose_layers(logo_means, opts.top_k)
    elif opts.layers:
        bad = [i for i in opts.layers if not 0 <= i < len(features)]
        if bad:
            raise LayerScopeError(f"--layers {bad} out of range: {opts.encoder} has {len(features)} layers "
                                  f"(0..{len(features) - 1})")
        results, _ = sweep_layers([features[i] for i in opts.layers], [layer_names[i] for i in opts.layers], data,
                                  folds, classifier=opts.classifier, augmented=_some_layers(aug, opts.layers))
        for result, i in zip(results, opts.layers, strict=True):
            result.layer = i
        chosen = list(opts.layers)
    else:
        if not 0 <= opts.layer < len(features):
            raise LayerScopeError(f"--layer {opts.layer} out of range: {opts.encoder} has {len(features)} layers "
                                  f"(0..{len(features) - 1})")
        results, _ = sweep_layers([features[opts.layer]], [layer_names[opts.layer]], data, folds,
                                  classifier=opts.classifier, augmented=_some_layers(aug, [opts.layer]))
        results[0].layer = opts.layer
        chosen = [opts.layer]
        if opts.report_layers:
            yield LayerSwept(results[0], 0, 1)
    timings["sweep_s"] = time.perf_counter() - t0
    cancel.raise_if_cancelled()

    X = np.concatenate([features[i] for i in chosen], axis=1)
    aug_X = None if aug is None else np.concatenate([aug.features[i] for i in chosen], axis=1).astype(np.float64)
    X_fit, y_fit = extend(X, data.labels, aug, aug_X)
    t0 = time.perf_counter()
    oof, per_fold = cross_val_scores(X_fit, y_fit, extend_folds(folds, aug, len(data)), opts.classifier, opts.C)
    oof = oof[:len(data)]  # out-of-fold scores exist for the originals only: copies never sit in a test fold
    platt = Platt.fit(oof, data.labels)
    oof_prob = platt(oof)
    report = binary_report(data.labels, oof_prob)
    band = inconclusive_band(oof_prob, data.labels, report.eer_threshold)
    ci = bootstrap_auc_ci(data.labels, oof, data.groups)
    generators = per_generator_auc(data.labels, oof, data.generators)
    curve = learning_curve(X, data, folds, classifier=opts.classifier, seed=opts.seed)
    final = LinearProbe(opts.classifier, C=opts.C).fit(X_fit, y_fit)
    timings["final_fit_s"] = time.perf_counter() - t0
    cancel.raise_if_cancelled()

    arrays = final.to_arrays()
    meta_extra: dict = {}
    held_out = yield from _held_out_figures(X, data, folds, opts, cancel, arrays, meta_extra,
                                            encoder.spec.modality)
    t0 = time.perf_counter()
    if opts.attribution and len(set(data.generators)) > 2:
        attr_classes = sorted(set(data.generators))
        gen = np.array(data.generators)
        attr_oof = np.empty(len(gen), dtype=object)
        for train, test in folds:
            attr_oof[test] = LinearProbe("logreg").fit(X[train], gen[train]).predict(X[test])
        confusion = {t: {p: int(((gen == t) & (attr_oof == p)).sum()) for p in attr_classes}
                     for t in attr_classes}
        attr = LinearProbe("logreg").fit(X, gen)
        arrays.update({f"attr_{k}": v for k, v in attr.to_arrays().items()})
        meta_extra["attribution_classes"] = [str(c) for c in attr.classes_]
        meta_extra["attribution_cv"] = {"accuracy": float((attr_oof == gen).mean()), "confusion": confusion}
    timings["attribution_s"] = time.perf_counter() - t0
    cancel.raise_if_cancelled()

    # One-class (real only) on the chosen layer: how unseen generators would fare.
    t0 = time.perf_counter()
    one_class = evaluate_one_class(X, data, folds, lambda: MahalanobisDetector())
    one_class = {k: v for k, v in one_class.items() if k not in ("oof_scores", "oof_flagged", "per_fold")}
    # Domain model on all training items: scans flag inputs far from what the detector has seen.
    domain_groups = data.groups if aug is None else np.concatenate([data.groups, data.groups[aug.origin]])
    domain_arrays, domain_threshold = fit_domain_model(X_fit, domain_groups)
    arrays.update(domain_arrays)
    # Clusters of the fakes on the chosen layer, against their generator labels.
    fake_idx = np.nonzero(data.labels == 1)[0]
    clustering = None
    if len(fake_idx) >= 6:
        result = cluster_embeddings(X[fake_idx], seed=opts.seed)
        truth = [data.generators[i] for i in fake_idx]
        clustering = {"k": result.k, "silhouette": result.silhouette,
                      "purity": cluster_purity(result.labels, truth),
                      "adjusted_rand": adjusted_rand(result.labels, truth), "n_generators": len(set(truth))}
    timings["one_class_domain_clusters_s"] = time.perf_counter() - t0

    robustness = None
    if opts.robustness:
        t0 = time.perf_counter()
        robustness = yield from _robustness(encoder, data, shas, chosen, X, folds, aug, aug_X, opts, cancel)
        timings["robustness_s"] = time.perf_counter() - t0

    spec = encoder.spec
    per_layer = [r.to_dict() for r in results]
    meta = {
        "name": opts.name or f"{opts.encoder}-{'+'.join(layer_names[i] for i in chosen)}",
        "kind": "linear-probe",
        "modality": spec.modality,
        "encoder": {"name": spec.name, "weights_sha256": encoder.weights_sha256,
                    "preprocessing_version": spec.preprocessing_version, "pooling": spec.pooling,
                    "random_init": spec.random_init},
        "layers": [int(i) for i in chosen],
        "layer_names": [layer_names[i] for i in chosen],
        "aggregation": {"file": "mean-of-pooled", "note": "one pooled vector per file (or per window in scans)"},
        "classes": ["real", "fake"],
        "classifier": opts.classifier,
        "classifier_C": opts.C,
        "calibration": {"method": "platt", "a": platt.a, "b": platt.b, "fitted_on": "out-of-fold scores"},
        "threshold": report.eer_threshold,
        "inconclusive_band": [band[0], band[1]],
        **_held_out_calibration_meta(held_out, platt, band, report.eer_threshold),
        "training": {**data.summary(), "content_hash": data.content_hash(), "failed_files": len(failed),
                     "folds": len(folds), "split": "StratifiedGroupKFold by group", "seed": opts.seed,
                     **({"image_tiles": tiles} if tiles else {}),
                     **({"data_sets": [str(r) for r in roots], "licences": training_licences(roots)} if roots
                        else {})},
        "metrics": {
            "cv_auc": report.auc, "cv_auc_ci95": list(ci), "cv_eer": report.eer, "cv_ap": report.ap,
            "cv_min_dcf": report.min_dcf, "fold_auc_mean": float(np.mean([f["auc"] for f in per_fold])),
            "fold_auc_std": float(np.std([f["auc"] for f in per_fold])),
            "per_generator": generators, "learning_curve": curve, "layer_sweep": per_layer,
            "one_class": one_class, "clustering": clustering,
            **held_out.get("metrics", {}),
        },
        "domain_profile": measure_domain_profile(data.paths, spec.modality, opts.domain_note),
        "domain": {"method": "mahalanobis (PCA + Ledoit-Wolf) on all training items, chosen layer",
                   "threshold": float(domain_threshold), "percentile": 99.0,
                   "meaning": "inputs above the threshold are further from the training data than 99% of "
                              "held-out training items"},
        **meta_extra,
    }
    if aug is not None:
        meta["augmentation"] = augmentation_record(opts, aug, spec.modality)
    if robustness is not None:
        meta["robustness"] = robustness
    bundle = DetectorBundle(meta, arrays)
    out = save_bundle(bundle, opts.out)
    save_sweep_plot(out / "layer_sweep.png", per_layer, chosen, curve, meta["name"])
    if robustness is not None:
        save_robustness_plot(out / "robustness.png", robustness, meta["name"],
                             f"{Path(data.root).name} (grouped {len(folds)}-fold CV)", spec.modality, opts.seed)
    yield TrainReport(out, bundle.meta, per_layer, chosen, timings, failed, robustness, data, raw_features)


def _some_layers(aug: AugmentedRows | None, layers: list[int]) -> AugmentedRows | None:
    if aug is None:
        return None
    return AugmentedRows(aug.origin, [aug.features[i] for i in layers], aug.conditions, aug.failed)


def _augmented_features(encoder, data: LabeledSet, shas: list[str], opts: TrainOptions,
                        cancel: CancelToken) -> Generator[Progress, None, AugmentedRows]:
    """Laundered copies of every training item (cached), encoded (features cached like any file)."""
    from deepfake_gui.encoders.cache import FeatureCache
    from deepfake_gui.encoders.extract import collect_features
    from deepfake_gui.engine.laundered import augmented_copies
    from deepfake_gui.probes.augment import policy_pool

    if opts.augment_copies < 1:
        raise LayerScopeError(f"--augment-copies must be at least 1, got {opts.augment_copies}")
    pool = policy_pool(opts.augment, encoder.spec.modality)
    origin, conditions, paths, failed = yield from augmented_copies(data.paths, shas, pool, opts.seed,
                                                                    opts.augment_copies, cancel=cancel)
    matrices, records = yield from collect_features(encoder, paths, cache=FeatureCache(), cancel=cancel)
    ok = [r.index for r in records if r.pooled is not None]
    failed += [r.error or str(r.path) for r in records if r.pooled is None]
    if not ok:
        raise LayerScopeError(f"augmentation {opts.augment!r}: no laundered copy could be encoded; "
                              f"errors: {failed[:3]}")
    return AugmentedRows(np.asarray(origin, dtype=int)[ok], [m.astype(np.float64) for m in matrices],
                         [conditions[i] for i in ok], failed)


def augmentation_record(opts: TrainOptions, aug: AugmentedRows, modality: str) -> dict:
    """What the model card says about augmentation."""
    from collections import Counter

    from deepfake_gui.probes.augment import policy_pool

    return {"policy": opts.augment, "pool": list(policy_pool(opts.augment, modality)),
            "copies_per_item": opts.augment_copies, "seed": opts.seed, "n_copies": len(aug),
            "per_condition": dict(sorted(Counter(aug.conditions).items())), "failed": len(aug.failed),
            "note": "each copy stays in its original's group and only ever trains; cross-validated figures are "
                    "measured on held-out originals (clean or laundered), never on a copy of a training item"}


def _robustness(encoder, data: LabeledSet, shas: list[str], chosen: list[int], X: np.ndarray, folds,
                aug: AugmentedRows | None, aug_X: np.ndarray | None, opts: TrainOptions,
                cancel: CancelToken) -> Generator[Progress, None, dict]:
    """The robustness table: grouped-CV AUC/EER clean and under each laundering condition."""
    from deepfake_gui.engine.laundered import laundered_features
    from deepfake_gui.engine.robustness import resolve_conditions
    from deepfake_gui.launder.conditions import get_condition
    from deepfake_gui.probes.augment import policy_pool
    from deepfake_gui.probes.robust_cv import robustness_cv

    modality = encoder.spec.modality
    names = resolve_conditions(modality, None if opts.robustness is True else list(opts.robustness))
    laundered, failures = yield from laundered_features(encoder, data.paths, shas, names, opts.seed, chosen, cancel)
    yield Progress(len(names), len(names), "robustness: cross-validating")
    table = robustness_cv(X, data.labels, data.groups, folds, laundered, classifier=opts.classifier, aug=aug,
                          aug_X=aug_X)
    for name in names:
        table.setdefault(name, {"auc": None, "auc_ci95": None, "eer": None, "n": 0, "n_failed": len(data)})
    pool = set(policy_pool(opts.augment, modality))
    copies = " plus laundered copies of those folds' items" if aug is not None else ""
    return {
        "method": f"grouped {len(folds)}-fold cross-validation: each fold's probe is trained on the other folds"
                  f"{copies} and scored on the held-out fold's files, clean and laundered; out-of-fold scores "
                  "pooled; 95% intervals by group bootstrap",
        "augment": opts.augment,
        "seed": opts.seed,
        "conditions": table,
        "descriptions": {n: get_condition(n).description for n in names},
        "in_augmentation": [n for n in names if n in pool],
        "failed": failures,
    }


def save_robustness_plot(path: Path, robustness: dict, detector: str, data: str, modality: str, seed: int) -> None:
    from deepfake_gui.engine.robustness import RobustnessReport, write_plot

    write_plot(RobustnessReport(robustness["conditions"], detector, data, modality, seed), path)


def save_sweep_plot(path: Path, layers: list[dict], chosen: list[int], curve: list[dict], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [3, 1.3]})
    x = np.arange(len(layers))
    auc = np.array([r["auc"] for r in layers])
    std = np.array([r["auc_std"] for r in layers])
    ax1.plot(x, auc, "o-", color="#1f77b4", label="AUC (mean over grouped folds)")
    ax1.fill_between(x, auc - std, auc + std, color="#1f77b4", alpha=0.2, label="± 1 std")
    for c in chosen:
        pos = [r["layer"] for r in layers].index(c) if c in [r["layer"] for r in layers] else None
        if pos is not None:
            ax1.axvline(pos, color="#d62728", ls="--", lw=1)
    ax1.set_xticks(x, [r["name"] for r in layers], rotation=60 if len(layers) > 8 else 0, fontsize=8)
    ax1.set_ylabel("cross-validated AUC")
    ax1.set_title(f"Layer sweep: {title}")
    ax1.grid(alpha=0.3)
    ax1.legend(loc="lower right", fontsize=8)
    ax2.errorbar([c["fraction"] * 100 for c in curve], [c["auc"] for c in curve],
                 yerr=[c["auc_std"] for c in curve], marker="o", capsize=3)
    ax2.set_xlabel("% of training groups")
    ax2.set_ylabel("AUC")
    ax2.set_title("Learning curve (chosen layer)")
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _select_by_logo(opts: TrainOptions, data: LabeledSet) -> bool:
    from deepfake_gui.core.errors import LayerScopeError
    from deepfake_gui.engine.train_protocols import can_hold_out_generators

    if opts.select_by not in ("auto", "logo", "cv"):
        raise LayerScopeError(f"select_by must be auto, logo or cv, got {opts.select_by!r}")
    if opts.select_by == "cv":
        return False
    possible = can_hold_out_generators(data)
    if opts.select_by == "logo" and not possible:
        raise LayerScopeError("choosing layers by leave-one-generator-out needs fakes of at least two generators")
    return possible


def _held_out_figures(X: np.ndarray, data: LabeledSet, folds, opts: TrainOptions,
                      cancel: CancelToken, arrays: dict, meta_extra: dict,
                      modality: str) -> Generator[Progress, None, dict]:
    """LOGO / LOSO tables, held-out calibration, source-calibrated domain gate and shortcut audit.

    Adds the gate's arrays to ``arrays`` and its description to ``meta_extra``; returns
    {"metrics": ..., "calibration": ...} for the model card.
    """
    from deepfake_gui.engine.train_protocols import (
        can_hold_out_generators,
        held_out_calibration,
        protocol_tables,
        shortcut_audit,
        shortcut_features,
        shortcut_verdict,
        source_held_out_domain,
    )

    out: dict = {"metrics": {}}
    if not opts.protocols or not can_hold_out_generators(data):
        return out
    yield Progress(0, 1, "leave-one-generator-out and leave-one-source-out")
    logo, loso = protocol_tables(X, data, folds, opts.classifier, opts.seed, opts.C)
    metrics = out["metrics"]
    metrics["logo"] = logo.to_dict() | {
        "method": "each generator out of training in every grouped fold; scored against the held-out real files "
                  "of the sources it appears in; 95% intervals by group bootstrap"}
    metrics["loso"] = loso.to_dict() | {
        "method": "each source (page, speaker chain or collection with both classes) out of training; scored on "
                  "all of its files"}
    metrics["headline"] = {"protocol": "leave-one-generator-out", "mean_auc": metrics["logo"]["mean_auc"],
                           "min_auc": metrics["logo"]["min_auc"]}
    cancel.raise_if_cancelled()
    if opts.held_out_calibration:
        yield Progress(0, 1, "calibration on held-out generators and sources")
        out["calibration"] = held_out_calibration(X, data, logo, opts.classifier, opts.C)
    gate = source_held_out_domain(X, data)  # originals only: laundered copies have no source of their own
    if gate is not None:
        gate_arrays, threshold = gate
        arrays.update(gate_arrays)
        meta_extra["domain_gate"] = {
            "method": "mahalanobis (PCA + Ledoit-Wolf) on all training items; threshold from sources held out of "
                      "the model", "threshold": float(threshold), "percentile": 99.0, "prefix": "gate_",
            "meaning": "inputs above the threshold are further from the training data than 99% of the files of "
                       "sources the model had not seen: the verdict is withheld"}
    if opts.shortcut_audit:
        cancel.raise_if_cancelled()
        feats, ok = yield from shortcut_features(data.paths, modality, cancel)
        audit = shortcut_audit(feats, ok, data, folds, opts.seed)
        audit["verdict"] = shortcut_verdict(logo.mean_auc, audit)
        metrics["shortcut_audit"] = audit
    return out


def _held_out_calibration_meta(held_out: dict, platt, band, eer_threshold: float) -> dict:
    """The bundle's calibration: fitted on held-out generators and sources when they could be had."""
    cal = held_out.get("calibration")
    if not cal:
        return {}
    lo, hi = cal["band"]
    return {
        "calibration": {"method": "platt", "a": cal["platt"].a, "b": cal["platt"].b,
                        "fitted_on": "held-out scores: fakes of a generator left out of training (leave-one-"
                                     "generator-out), real files of a source left out of training"},
        "calibration_cv": {"a": platt.a, "b": platt.b, "threshold": eer_threshold, "inconclusive_band": list(band),
                           "fitted_on": "grouped-CV out-of-fold scores (in-domain; kept for reference)"},
        "threshold": float(min(max(0.5, lo), hi)),
        "inconclusive_band": [float(lo), float(hi)],
        "selective": cal["figures"] | {
            "meaning": "outside the band, on held-out generators and sources, the detector was right at least 95% "
                       "of the time and called at most 5% of real files fake; coverage is the share of files it "
                       "committed on"},
        "scan_aggregation": {"audio": "mean", "image": "mean", "frames": "mean"},
    }
