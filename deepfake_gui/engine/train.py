"""The train job: features (cached) -> layer sweep -> calibrated probe -> bundle.

Every metric it writes into detector.json is out-of-fold under grouped k-fold
cross-validation; the final probe is then refitted on all the data.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from deepfake_gui.core.errors import LayerScopeError
from deepfake_gui.core.jobs import CancelToken, Progress

if TYPE_CHECKING:
    from deepfake_gui.probes.dataset import LabeledSet
    from deepfake_gui.probes.sweep import LayerResult


@dataclass
class TrainOptions:
    data: Path | LabeledSet  # a folder / manifest.csv, or a set already built (the GUI's probe lab)
    encoder: str
    out: Path
    sweep: bool = True
    layer: int | None = None
    top_k: int = 1
    classifier: str = "logreg"
    folds: int = 5
    device: str = "auto"
    seed: int = 0
    name: str | None = None
    attribution: bool = True
    domain_note: str | None = None  # the training domain in words, for every scan result's caveats
    report_layers: bool = False  # also yield a LayerSwept per layer as the sweep goes (live curves)


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
    data: LabeledSet | None = None  # the items actually used (unreadable files dropped), in feature order
    features: list[np.ndarray] | None = None  # per layer (n_items, D_l) float32, rows as in ``data``


def train_job(opts: TrainOptions, cancel: CancelToken | None = None) -> Iterator[Progress | TrainReport]:
    from deepfake_gui.analysis.calibration import Platt, inconclusive_band
    from deepfake_gui.analysis.metrics import binary_report, bootstrap_auc_ci
    from deepfake_gui.encoders.cache import FeatureCache
    from deepfake_gui.encoders.extract import collect_features
    from deepfake_gui.encoders.registry import build_encoder
    from deepfake_gui.probes.bundle import DetectorBundle, save_bundle
    from deepfake_gui.probes.clustering import adjusted_rand, cluster_embeddings, cluster_purity
    from deepfake_gui.probes.dataset import LabeledSet, grouped_folds, load_dataset
    from deepfake_gui.probes.domain_profile import measure_domain_profile
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
    data = opts.data if isinstance(opts.data, LabeledSet) else load_dataset(opts.data)
    yield Progress(0, len(data), f"loading encoder {opts.encoder}")
    encoder = build_encoder(opts.encoder, opts.device)
    if encoder.spec.random_init:
        yield Progress(0, len(data), f"warning: {opts.encoder} has random weights (test encoder)")

    t0 = time.perf_counter()
    matrices, records = yield from collect_features(encoder, data.paths, cache=FeatureCache(), cancel=cancel)
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

    t0 = time.perf_counter()
    if opts.sweep or opts.layer is None:
        results = []
        for i, (X_layer, name) in enumerate(zip(features, layer_names, strict=True)):
            cancel.raise_if_cancelled()
            yield Progress(i, len(features), f"layer {i + 1}/{len(features)}: {name}")
            (result,), _ = sweep_layers([X_layer], [name], data, folds, classifier=opts.classifier)
            result.layer = i
            results.append(result)
            if opts.report_layers:
                yield LayerSwept(result, i, len(features))
        yield Progress(len(features), len(features), "layer sweep done")
        chosen = best_layers(results, opts.top_k)
    else:
        if not 0 <= opts.layer < len(features):
            raise LayerScopeError(f"--layer {opts.layer} out of range: {opts.encoder} has {len(features)} layers "
                                  f"(0..{len(features) - 1})")
        results, _ = sweep_layers([features[opts.layer]], [layer_names[opts.layer]], data, folds,
                                  classifier=opts.classifier)
        results[0].layer = opts.layer
        chosen = [opts.layer]
        if opts.report_layers:
            yield LayerSwept(results[0], 0, 1)
    timings["sweep_s"] = time.perf_counter() - t0
    cancel.raise_if_cancelled()

    X = np.concatenate([features[i] for i in chosen], axis=1)
    t0 = time.perf_counter()
    oof, per_fold = cross_val_scores(X, data.labels, folds, opts.classifier)
    platt = Platt.fit(oof, data.labels)
    oof_prob = platt(oof)
    report = binary_report(data.labels, oof_prob)
    band = inconclusive_band(oof_prob, data.labels, report.eer_threshold)
    ci = bootstrap_auc_ci(data.labels, oof, data.groups)
    generators = per_generator_auc(data.labels, oof, data.generators)
    curve = learning_curve(X, data, folds, classifier=opts.classifier, seed=opts.seed)
    final = LinearProbe(opts.classifier).fit(X, data.labels)
    timings["final_fit_s"] = time.perf_counter() - t0
    cancel.raise_if_cancelled()

    arrays = final.to_arrays()
    meta_extra: dict = {}
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
    domain_arrays, domain_threshold = fit_domain_model(X, data.groups)
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
        "calibration": {"method": "platt", "a": platt.a, "b": platt.b, "fitted_on": "out-of-fold scores"},
        "threshold": report.eer_threshold,
        "inconclusive_band": [band[0], band[1]],
        "training": {**data.summary(), "content_hash": data.content_hash(), "failed_files": len(failed),
                     "folds": len(folds), "split": "StratifiedGroupKFold by group", "seed": opts.seed},
        "metrics": {
            "cv_auc": report.auc, "cv_auc_ci95": list(ci), "cv_eer": report.eer, "cv_ap": report.ap,
            "cv_min_dcf": report.min_dcf, "fold_auc_mean": float(np.mean([f["auc"] for f in per_fold])),
            "fold_auc_std": float(np.std([f["auc"] for f in per_fold])),
            "per_generator": generators, "learning_curve": curve, "layer_sweep": per_layer,
            "one_class": one_class, "clustering": clustering,
        },
        "domain_profile": measure_domain_profile(data.paths, spec.modality, opts.domain_note),
        "domain": {"method": "mahalanobis (PCA + Ledoit-Wolf) on all training items, chosen layer",
                   "threshold": float(domain_threshold), "percentile": 99.0,
                   "meaning": "inputs above the threshold are further from the training data than 99% of "
                              "held-out training items"},
        **meta_extra,
    }
    bundle = DetectorBundle(meta, arrays)
    out = save_bundle(bundle, opts.out)
    save_sweep_plot(out / "layer_sweep.png", per_layer, chosen, curve, meta["name"])
    yield TrainReport(out, bundle.meta, per_layer, chosen, timings, failed, data, raw_features)


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
