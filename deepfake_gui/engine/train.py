"""The train job: features (cached) -> layer sweep -> calibrated probe -> bundle.

Every metric it writes into detector.json is out-of-fold under grouped k-fold
cross-validation; the final probe is then refitted on all the data.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    face_check: bool = True  # pictures: count faces per class; a face-only-among-fakes set withholds face verdicts
    shortcut_audit: bool = True  # a classic model on duration, loudness, size, colour... measured the same way
    image_tiles: int = 0  # images: features averaged over up to this many native-resolution tiles (0: resized)
    # images: a heatmap head (probes/map_head.py) on these encoder layers, on the grid of the last number
    # (e.g. (3, 4, 5, 4): stages 3-5 of EfficientNet-Lite0 on stage 4's 14x14 grid); None: no head
    map_head: tuple[int, ...] | None = None


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
    """Train one linear-probe detector and write its bundle; yields Progress (and LayerSwept), then a TrainReport.

    The steps, in order (each a function below that says why it is done that way): load the
    data, extract the features, fix the grouped folds (and laundered copies), choose the
    layers, fit and calibrate the probe, the held-out protocols, attribution, the one-class,
    domain and cluster figures, robustness, and write the bundle.
    """
    cancel = cancel or CancelToken()
    timings: dict[str, float] = {}
    _check_map_head(opts)
    data, roots = _load_data(opts)
    feats = yield from _extract_features(opts, data, cancel, timings)
    split = yield from _split(opts, feats, cancel, timings)
    results, chosen = yield from _choose_layers(opts, feats, split, cancel, timings)
    fit = _fit_and_calibrate(opts, feats, split, chosen, timings)
    cancel.raise_if_cancelled()
    arrays = fit.final.to_arrays()
    meta_extra: dict = {}
    held_out = yield from _held_out_figures(fit.X, feats.data, split.folds, opts, cancel, arrays, meta_extra,
                                            feats.encoder.spec.modality)
    _attribution(opts, fit.X, feats.data, split.folds, arrays, meta_extra, timings)
    cancel.raise_if_cancelled()
    domain = _domain_and_clusters(opts, fit, feats.data, split, arrays, timings)
    if opts.map_head:
        yield from _map_head(opts, feats, split, arrays, meta_extra, timings)
    robustness = None
    if opts.robustness:
        t0 = time.perf_counter()
        robustness = yield from _robustness(feats.encoder, feats.data, split.shas, chosen, fit.X, split.folds,
                                            split.aug, fit.aug_X, opts, cancel)
        timings["robustness_s"] = time.perf_counter() - t0
    per_layer = [r.to_dict() for r in results]
    meta = _model_card(opts, roots, feats, split, per_layer, chosen, fit, held_out, domain, robustness, meta_extra)
    out, meta = _write_bundle(opts, meta, arrays, feats, split, per_layer, chosen, fit, robustness)
    yield TrainReport(out, meta, per_layer, chosen, timings, feats.failed, robustness, feats.data, feats.raw)


@dataclass
class _Features:
    """The encoder and the usable training items with their features, one matrix per layer."""

    encoder: Any
    data: LabeledSet  # unreadable files dropped, rows as in the matrices
    raw: list[np.ndarray]  # float32 as extracted (the TrainReport's, for the probe lab's maps)
    features: list[np.ndarray]  # float64, what the probes are fitted on
    failed: list[str]  # why each dropped file could not be encoded
    tiles: int  # image tiles averaged per file (0: resized whole)


@dataclass
class _Split:
    """The grouped folds every figure is measured on, and the laundered copies (training only)."""

    folds: list
    shas: list[str]  # the files' hashes, when laundering needs them
    aug: AugmentedRows | None


@dataclass
class _Fit:
    """The probe on the chosen layers: out-of-fold figures, calibration, band, and the final refit."""

    X: np.ndarray  # chosen layers side by side, originals only
    aug_X: np.ndarray | None
    X_fit: np.ndarray  # X and the copies' rows: what the final probe and the domain model are fitted on
    final: Any  # LinearProbe refitted on all the data (and the copies)
    platt: Any
    report: Any  # binary_report of the out-of-fold probabilities
    band: tuple[float, float]
    ci: tuple[float, float]
    per_fold: list[dict]
    generators: dict
    curve: list[dict]


def _load_data(opts: TrainOptions) -> tuple[LabeledSet, list[Path]]:
    """The labelled set, and the folders or manifests it came from.

    Why: the probe lab hands over a set it has already built (no roots: nothing to cite); the CLI
    gives folders or manifests, whose paths and licences the model card records.
    """
    from deepfake_gui.engine.datasets import load_datasets
    from deepfake_gui.probes.dataset import LabeledSet

    if isinstance(opts.data, LabeledSet):
        return opts.data, []
    roots = list(opts.data) if isinstance(opts.data, list | tuple) else [opts.data]
    return load_datasets(roots), roots


def _extract_features(opts: TrainOptions, data: LabeledSet, cancel: CancelToken,
                      timings: dict[str, float]) -> Generator[Progress, None, _Features]:
    """Every item's pooled features on every layer (cached by SHA-256), unreadable items dropped.

    Why: features are what every later step measures, so they are computed once; a file that cannot
    be decoded is dropped and counted (the card says how many) rather than failing the run, unless
    fewer than four usable items are left, which no grouped split can use.
    """
    from deepfake_gui.encoders.cache import FeatureCache
    from deepfake_gui.encoders.extract import collect_features
    from deepfake_gui.encoders.registry import build_encoder
    from deepfake_gui.probes.dataset import LabeledSet

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
    return _Features(encoder, data.subset(keep), matrices, [m.astype(np.float64) for m in matrices], failed, tiles)


def _split(opts: TrainOptions, feats: _Features, cancel: CancelToken,
           timings: dict[str, float]) -> Generator[Progress, None, _Split]:
    """The grouped folds, fixed once, and the laundered copies of every item when augmenting.

    Why: the sweep, the calibration, the protocols and robustness must all be measured on the same
    split, grouped so that no source sits on both sides; a laundered copy keeps its original's group
    and only ever trains, so no figure is measured on a copy of a training item.
    """
    from deepfake_gui.launder.conditions import file_sha256
    from deepfake_gui.probes.dataset import grouped_folds

    data = feats.data
    folds = grouped_folds(data, opts.folds, opts.seed)
    shas = [file_sha256(p) for p in data.paths] if opts.augment != NONE or opts.robustness else []
    aug: AugmentedRows | None = None
    if opts.augment != NONE:
        t0 = time.perf_counter()
        aug = yield from _augmented_features(feats.encoder, data, shas, opts, cancel)
        timings["augmentation_s"] = time.perf_counter() - t0
    return _Split(folds, shas, aug)


def _choose_layers(opts: TrainOptions, feats: _Features, split: _Split, cancel: CancelToken,
                   timings: dict[str, float]) -> Generator[Progress | LayerSwept, None, tuple[list, list[int]]]:
    """Each layer's grouped-CV result and the layers the probe uses.

    Why: real and fake separate best in an encoder's middle layers, and which one depends on the
    encoder and the data, so by default every layer is measured (LayerSwept as it goes, for live
    curves) and the best chosen by leave-one-generator-out AUC when two generators allow it (a layer
    that only separates the generators it saw is no use on a new one), else by CV AUC. ``layers`` or
    ``layer`` fix the choice (retraining a shipped detector, a quick run).
    """
    from deepfake_gui.engine.train_protocols import choose_layers, logo_by_layer
    from deepfake_gui.probes.sweep import best_layers, sweep_layers

    features, layer_names, data, folds, aug = (feats.features, feats.encoder.layer_names, feats.data, split.folds,
                                               split.aug)
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
    return results, chosen


def _fit_and_calibrate(opts: TrainOptions, feats: _Features, split: _Split, chosen: list[int],
                       timings: dict[str, float]) -> _Fit:
    """Out-of-fold scores of the probe on the chosen layers, Platt calibration, threshold, band; then the refit.

    Why: every figure in the card and the calibration itself come from out-of-fold scores (a probe
    scored on its own training items looks better than it is); copies train but never sit in a test
    fold. The final probe is then refitted on everything, originals and copies.
    """
    from deepfake_gui.analysis.calibration import Platt, inconclusive_band
    from deepfake_gui.analysis.metrics import binary_report, bootstrap_auc_ci
    from deepfake_gui.probes.linear import LinearProbe
    from deepfake_gui.probes.sweep import cross_val_scores, learning_curve, per_generator_auc

    data, folds, aug = feats.data, split.folds, split.aug
    X = np.concatenate([feats.features[i] for i in chosen], axis=1)
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
    return _Fit(X, aug_X, X_fit, final, platt, report, band, ci, per_fold, generators, curve)


def _attribution(opts: TrainOptions, X: np.ndarray, data: LabeledSet, folds, arrays: dict, meta_extra: dict,
                 timings: dict[str, float]) -> None:
    """Which generator: a multi-class probe on the chosen layers, its CV accuracy and confusion into the card.

    Why: once a file is called fake, the closest known generator is evidence too; it is only fitted
    when there are at least two fake generators to tell apart, and its accuracy is out-of-fold.
    """
    from deepfake_gui.probes.linear import LinearProbe

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


def _domain_and_clusters(opts: TrainOptions, fit: _Fit, data: LabeledSet, split: _Split, arrays: dict,
                         timings: dict[str, float]) -> dict:
    """The one-class figures, the training-domain model (its arrays into ``arrays``) and the fakes' clusters.

    Why: a one-class detector on real files only shows how unseen generators would fare; the domain
    model lets a scan flag an input far from anything the detector was trained on; clusters of the
    fakes against their generator labels show whether the chosen layer tells generators apart.
    """
    from deepfake_gui.probes.clustering import adjusted_rand, cluster_embeddings, cluster_purity
    from deepfake_gui.probes.oneclass import MahalanobisDetector, evaluate_one_class, fit_domain_model

    X, aug = fit.X, split.aug
    t0 = time.perf_counter()
    one_class = evaluate_one_class(X, data, split.folds, lambda: MahalanobisDetector())
    one_class = {k: v for k, v in one_class.items() if k not in ("oof_scores", "oof_flagged", "per_fold")}
    domain_groups = data.groups if aug is None else np.concatenate([data.groups, data.groups[aug.origin]])
    domain_arrays, domain_threshold = fit_domain_model(fit.X_fit, domain_groups)
    arrays.update(domain_arrays)
    fake_idx = np.nonzero(data.labels == 1)[0]
    clustering = None
    if len(fake_idx) >= 6:
        result = cluster_embeddings(X[fake_idx], seed=opts.seed)
        truth = [data.generators[i] for i in fake_idx]
        clustering = {"k": result.k, "silhouette": result.silhouette,
                      "purity": cluster_purity(result.labels, truth),
                      "adjusted_rand": adjusted_rand(result.labels, truth), "n_generators": len(set(truth))}
    timings["one_class_domain_clusters_s"] = time.perf_counter() - t0
    return {"one_class": one_class, "threshold": domain_threshold, "clustering": clustering}


def _check_map_head(opts: TrainOptions) -> None:
    """A heatmap head's settings, before any feature is extracted: a wrong one should not cost a training run."""
    if not opts.map_head:
        return
    from deepfake_gui.encoders.registry import get_spec

    spec = get_spec(opts.encoder)
    if spec.modality != "image":
        raise LayerScopeError(f"a heatmap head is for picture detectors; {opts.encoder} reads sound")
    if len(opts.map_head) < 2:
        raise LayerScopeError("a heatmap head needs layers and a grid layer, e.g. 3,4,5:4")
    wrong = [i for i in opts.map_head if not 0 <= i < spec.num_layers]
    if wrong:
        raise LayerScopeError(f"--map-head: layers {wrong} out of range 0..{spec.num_layers - 1} for {opts.encoder}")


def _map_head(opts: TrainOptions, feats: _Features, split: _Split, arrays: dict, meta_extra: dict,
              timings: dict[str, float]) -> Generator[Progress, None, None]:
    """A heatmap head beside the probe (engine/train_map_head.py): where in a picture, on a finer grid.

    Why here: it shares the probe's data and grouped folds, so its held-out figures are measured on the
    same splits as the model card's; its arrays and record go into the same bundle.
    """
    from deepfake_gui.engine.train_map_head import MapHeadOptions, train_map_head

    *layers, grid = opts.map_head or ()
    yield Progress(0, 1, "heatmap head: splices, patches, held-out folds")
    t0 = time.perf_counter()
    head = train_map_head(feats.data, feats.encoder, split.folds,
                          MapHeadOptions(tuple(layers), grid, seed=opts.seed, max_tiles=max(1, min(4, feats.tiles))))
    head_meta, head_arrays = head.to_bundle()
    arrays.update(head_arrays)
    meta_extra["map_head"] = head_meta
    timings["map_head_s"] = time.perf_counter() - t0
    yield Progress(1, 1, "heatmap head: done")


def _model_card(opts: TrainOptions, roots: list[Path], feats: _Features, split: _Split, per_layer: list[dict],
                chosen: list[int], fit: _Fit, held_out: dict, domain: dict, robustness: dict | None,
                meta_extra: dict) -> dict:
    """detector.json: what the detector is, how it was trained and every figure measured on the way.

    Why: a bundle must be readable alone: the scan needs the encoder, layers, calibration and band;
    a reader of a verdict needs the training data, the out-of-fold figures and their method.
    """
    from deepfake_gui.engine.domain_profile import measure_domain_profile
    from deepfake_gui.engine.train_protocols import training_licences

    encoder, data, layer_names, spec = feats.encoder, feats.data, feats.encoder.layer_names, feats.encoder.spec
    report, platt, band, per_fold = fit.report, fit.platt, fit.band, fit.per_fold
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
        "training": {**data.summary(), "content_hash": data.content_hash(), "failed_files": len(feats.failed),
                     "folds": len(split.folds), "split": "StratifiedGroupKFold by group", "seed": opts.seed,
                     **({"image_tiles": feats.tiles} if feats.tiles else {}),
                     **({"data_sets": [str(r) for r in roots], "licences": training_licences(roots)} if roots
                        else {})},
        "metrics": {
            "cv_auc": report.auc, "cv_auc_ci95": list(fit.ci), "cv_eer": report.eer, "cv_ap": report.ap,
            "cv_min_dcf": report.min_dcf, "fold_auc_mean": float(np.mean([f["auc"] for f in per_fold])),
            "fold_auc_std": float(np.std([f["auc"] for f in per_fold])),
            "per_generator": fit.generators, "learning_curve": fit.curve,
            "layer_sweep": per_layer,
            "one_class": domain["one_class"], "clustering": domain["clustering"],
            **held_out.get("metrics", {}),
        },
        "domain_profile": measure_domain_profile(data.paths, spec.modality, opts.domain_note)
        | ({"faces": held_out["faces"]} if held_out.get("faces") else {}),
        "domain": {"method": "mahalanobis (PCA + Ledoit-Wolf) on all training items, chosen layer",
                   "threshold": float(domain["threshold"]), "percentile": 99.0,
                   "meaning": "inputs above the threshold are further from the training data than 99% of "
                              "held-out training items"},
        **meta_extra,
    }
    if split.aug is not None:
        meta["augmentation"] = augmentation_record(opts, split.aug, spec.modality)
    if robustness is not None:
        meta["robustness"] = robustness
    return meta


def _write_bundle(opts: TrainOptions, meta: dict, arrays: dict, feats: _Features, split: _Split,
                  per_layer: list[dict], chosen: list[int], fit: _Fit, robustness: dict | None) -> tuple[Path, dict]:
    """The bundle folder (detector.json validated, weights.safetensors) and its plots; returns (folder, meta).

    Why: save_bundle validates before writing (a bundle a scan cannot load is never left behind);
    the sweep plot (and the robustness plot) let a reader check the layer choice at a glance.
    """
    from deepfake_gui.probes.bundle import DetectorBundle, save_bundle

    bundle = DetectorBundle(meta, arrays)
    out = save_bundle(bundle, opts.out)
    save_sweep_plot(out / "layer_sweep.png", per_layer, chosen, fit.curve, meta["name"])
    if robustness is not None:
        save_robustness_plot(out / "robustness.png", robustness, meta["name"],
                             f"{Path(feats.data.root).name} (grouped {len(split.folds)}-fold CV)",
                             feats.encoder.spec.modality, opts.seed)
    return out, bundle.meta


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
    # copies are tiled and probed as the detector's clean files were (its tiling, its C), or the table would
    # describe another detector
    tiles = opts.image_tiles if modality == "image" else 0
    laundered, failures = yield from laundered_features(encoder, data.paths, shas, names, opts.seed, chosen, cancel,
                                                        tiles=tiles)
    yield Progress(len(names), len(names), "robustness: cross-validating")
    table = robustness_cv(X, data.labels, data.groups, folds, laundered, classifier=opts.classifier, aug=aug,
                          aug_X=aug_X, C=opts.C)
    for name in names:
        table.setdefault(name, {"auc": None, "auc_ci95": None, "eer": None, "n": 0, "n_failed": len(data)})
    pool = set(policy_pool(opts.augment, modality))
    copies = " plus laundered copies of those folds' items" if aug is not None else ""
    return {
        "method": f"grouped {len(folds)}-fold cross-validation: each fold's probe ({opts.classifier}, C={opts.C:g}) "
                  f"is trained on the other folds{copies} and scored on the held-out fold's files, clean and "
                  "laundered; out-of-fold scores pooled; 95% intervals by group bootstrap",
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
        judged = None
        if modality == "image" and opts.face_check:
            from deepfake_gui.engine.face_gate import training_faces

            found = yield from training_faces(data.paths, data.labels, cancel)
            if found is not None:
                out["faces"], has_face = found
                judged = ~has_face if out["faces"]["withheld"] else None
        yield Progress(0, 1, "calibration on held-out generators and sources")
        out["calibration"] = held_out_calibration(X, data, logo, opts.classifier, opts.C, judged)
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
