"""The evaluate job: a saved detector measured on a labelled data set.

Works for every bundle kind that gives a score per file: ``linear-probe`` (one
encoder, pooled layers, a linear probe), ``fusion`` (CLIP + prompt + ResNet into an
MLP) and ``one-class`` (distance to the real training items). Every kind reports the
same keys; a bundle that also stores one-class models (the training-domain model
``domain_*``, a real-only model ``oneclass_*``, or the one-class bundle itself) adds
how each generator scores against them under ``one_class``.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_gui.core.errors import BundleError, LayerScopeError
from deepfake_gui.core.jobs import CancelToken, Progress


@dataclass
class EvaluateReport:
    metrics: dict
    detector: str
    data: str


@dataclass
class _Scored:
    """What one bundle kind hands to the shared metrics."""

    data: Any  # LabeledSet of the decodable files
    decision: np.ndarray  # higher = more likely fake
    probability: np.ndarray | None  # calibrated P(fake); None when the kind has no calibration (one-class)
    threshold: float  # on probability, or on decision when probability is None
    band: tuple[float, float]
    n_failed: int
    features: np.ndarray | None = None  # the detector's input features (for the stored one-class models)
    extra: dict = field(default_factory=dict)


# Descriptions of the one-class models a bundle can hold, by array prefix.
ONE_CLASS_MODELS = {
    "domain_": ("domain", "all training items, real and fake"),
    "oneclass_": ("one-class", "real training items only"),
}
MEANING = {"domain": "flagged: further from the training data than its threshold, i.e. out of domain",
           "one-class": "flagged: further from the real items than its threshold, i.e. likely fake"}


def evaluate_job(detector_dir: Path, data_dir: Path, device: str = "auto",
                 cancel: CancelToken | None = None) -> Iterator[Progress | EvaluateReport]:
    from deepfake_gui.engine.datasets import load_dataset
    from deepfake_gui.probes.bundle import load_bundle

    bundle = load_bundle(detector_dir)
    data = load_dataset(data_dir)
    if bundle.kind == "fusion":
        scored = yield from _score_fusion(bundle, data, device, cancel)
    elif bundle.kind == "linear-probe":
        scored = yield from _score_linear(bundle, data, device, cancel)
    elif bundle.kind == "one-class":
        scored = yield from _score_one_class_bundle(bundle, data, device, cancel)
    else:
        raise BundleError(f"{detector_dir}: evaluate cannot run a {bundle.kind!r} bundle "
                          "(it measures linear-probe, fusion and one-class detectors)")
    metrics = _metrics(scored, bundle)
    yield EvaluateReport(metrics, str(detector_dir), str(data_dir))


# ------------------------------------------------------------------ per kind
def _encoder_features(bundle, data, device: str, cancel: CancelToken | None
                      ) -> Generator[Progress, None, tuple[list[np.ndarray], Any, int]]:
    """Pooled per-layer features of the data set with the bundle's (single) encoder, through the cache."""
    from deepfake_gui.encoders.cache import FeatureCache
    from deepfake_gui.encoders.extract import collect_features
    from deepfake_gui.encoders.registry import build_encoder

    encoder = build_encoder(bundle.encoder_name, device)
    expected_sha = bundle.meta["encoder"].get("weights_sha256")
    if expected_sha and encoder.weights_sha256 and expected_sha != encoder.weights_sha256:
        raise LayerScopeError(f"{bundle.path}: trained on {bundle.encoder_name} weights {expected_sha[:12]}…, "
                              f"but this machine has {encoder.weights_sha256[:12]}…")
    layers, records = yield from collect_features(encoder, data.paths, cache=FeatureCache(), cancel=cancel)
    ok = [r for r in records if r.pooled is not None]
    if not ok:
        raise LayerScopeError(f"{data.root}: no file could be decoded")
    return layers, data.subset([r.index for r in ok]), len(records) - len(ok)


def _score_linear(bundle, data, device, cancel) -> Generator[Progress, None, _Scored]:
    from deepfake_gui.probes.detector import Detector

    detector = Detector(bundle)
    layers, data, n_failed = yield from _encoder_features(bundle, data, device, cancel)
    X = detector.select(layers)
    decision = detector.decision(X)
    scored = _Scored(data, decision, detector.probability(decision), detector.threshold, detector.band, n_failed, X)
    proba = detector.attribution(X)
    if proba is not None:
        classes = detector.attribution_classes
        pred = np.array(classes)[proba.argmax(axis=1)]
        truth = np.array(data.generators)
        labels_seen = sorted(set(classes) | set(truth.tolist()))
        scored.extra["attribution"] = {
            "classes": classes,
            "accuracy": float((pred == truth).mean()),
            "confusion": {t: {p: int(((truth == t) & (pred == p)).sum()) for p in classes} for t in labels_seen},
        }
    return scored


def _score_fusion(bundle, data, device, cancel) -> Generator[Progress, None, _Scored]:
    from deepfake_gui.engine.fusion_detector import FusionDetector

    detector = FusionDetector(bundle)
    if any(_encoder_modality(name) != "image" for name in detector.encoder_names):
        raise BundleError(f"{bundle.path}: a fusion detector needs two image encoders, got {detector.encoder_names}")
    X, keep, failed = yield from detector.iter_features(data.paths, device, cancel)
    if not keep:
        raise LayerScopeError(f"{data.root}: no image could be decoded ({failed[:1]})")
    data = data.subset(keep)
    decision = detector.decision(X)
    scored = _Scored(data, decision, detector.probability(decision), detector.threshold, detector.band,
                     len(failed), X)
    scored.extra["encoders"] = detector.encoder_names
    return scored


def _score_one_class_bundle(bundle, data, device, cancel) -> Generator[Progress, None, _Scored]:
    """The one-class bundle's own distance is the score; its calibrated threshold decides."""
    from deepfake_gui.probes.oneclass import load_one_class

    model = load_one_class(bundle.arrays)
    layers, data, n_failed = yield from _encoder_features(bundle, data, device, cancel)
    X = _select(bundle, layers, int(bundle.arrays["scaler_mean"].shape[0]))
    distance = model.score_samples(X)
    threshold = float(model.threshold_ if model.threshold_ is not None else np.inf)
    return _Scored(data, distance, None, threshold, (threshold, threshold), n_failed, X)


def _select(bundle, layer_features: list[np.ndarray], width: int) -> np.ndarray:
    try:
        X = np.concatenate([np.atleast_2d(layer_features[i]) for i in bundle.layers], axis=1)
    except IndexError as exc:
        raise BundleError(f"{bundle.path}: layer index out of range for encoder {bundle.encoder_name}") from exc
    if X.shape[1] != width:
        raise BundleError(f"{bundle.path}: the model expects {width} features, encoder {bundle.encoder_name} "
                          f"gives {X.shape[1]} on layers {bundle.layers}")
    return X


def _encoder_modality(name: str) -> str:
    from deepfake_gui.encoders.registry import get_spec

    return get_spec(name).modality


# ------------------------------------------------------------------ metrics
def _metrics(scored: _Scored, bundle) -> dict:
    from deepfake_gui.analysis.metrics import DCF_C_FA, DCF_C_MISS, DCF_P_FAKE, accuracy_f1, binary_report
    from deepfake_gui.probes.sweep import per_generator_auc

    data = scored.data
    score = scored.probability if scored.probability is not None else scored.decision
    report = binary_report(data.labels, score)
    if scored.probability is not None:
        predicted = (scored.probability >= scored.threshold).astype(int)
        lo, hi = scored.band
        inconclusive = float(((scored.probability >= lo) & (scored.probability < hi)).mean())
    else:  # a distance: flagged above the calibrated threshold, no inconclusive band
        predicted = (scored.decision > scored.threshold).astype(int)
        inconclusive = 0.0
    acc, f1 = accuracy_f1(data.labels, predicted)
    metrics: dict = {
        "kind": bundle.kind,
        "auc": report.auc, "ap": report.ap, "eer": report.eer, "min_dcf": report.min_dcf,
        "min_dcf_params": {"p_fake": DCF_P_FAKE, "c_miss": DCF_C_MISS, "c_fa": DCF_C_FA},
        "accuracy": acc, "f1": f1, "threshold": scored.threshold,
        "inconclusive_rate": inconclusive,
        "per_generator": per_generator_auc(data.labels, scored.decision, data.generators),
        "n_real": report.n_real, "n_fake": report.n_fake, "n_failed": scored.n_failed,
        "caveats": [],
        **scored.extra,
    }
    if scored.probability is None:
        metrics["threshold_on"] = "one-class distance"
    if data.content_hash() == bundle.meta.get("training", {}).get("content_hash"):
        metrics["caveats"].append(
            "this is the detector's own training set: these figures are in-sample and optimistic; "
            "the cross-validated figures are in detector.json (metrics.cv_*)")
    metrics["one_class"] = one_class_report(bundle, scored.features, data.labels, data.generators)
    return metrics


def stored_one_class_models(bundle) -> dict[str, tuple[Any, str]]:
    """Every one-class model the bundle stores: name -> (detector with its threshold, what it was fitted on)."""
    from deepfake_gui.probes.oneclass import load_one_class

    models: dict[str, tuple[Any, str]] = {}
    if bundle.kind == "one-class":
        models["one-class"] = (load_one_class(bundle.arrays), str(
            bundle.meta.get("one_class", {}).get("fitted_on", "real training items only")))
    for prefix, (name, fitted_on) in ONE_CLASS_MODELS.items():
        if any(k.startswith(prefix) for k in bundle.arrays):
            models[name] = (load_one_class(bundle.arrays, prefix), fitted_on)
    return models


def one_class_report(bundle, X: np.ndarray | None, labels: np.ndarray, generators: list[str]) -> dict:
    """How each generator scores against each stored one-class model.

    Per model: the AUC of its distance (real vs all fakes, and real vs each generator),
    and the share of items it flags at its calibrated threshold (real items flagged are
    false alarms; fakes flagged are fakes the model sees as unlike its training data).
    """
    from deepfake_gui.analysis.metrics import roc_auc

    if X is None:
        return {}
    labels = np.asarray(labels).astype(int)
    gens = np.asarray(generators)
    real = labels == 0
    out: dict[str, dict] = {}
    for name, (model, fitted_on) in stored_one_class_models(bundle).items():
        distance = model.score_samples(X)
        flagged = distance > model.threshold_ if model.threshold_ is not None else np.zeros(len(X), dtype=bool)
        both = real.any() and (~real).any()
        per_generator = {}
        for gen in sorted(set(generators) - {"real"}):
            mask = gens == gen
            per_generator[gen] = {"auc": roc_auc(labels[real | mask], distance[real | mask]) if real.any() else None,
                                  "n": int(mask.sum()), "flagged": float(flagged[mask].mean())}
        out[name] = {
            "method": type(model).__name__.replace("Detector", "").lower(),
            "fitted_on": fitted_on,
            "meaning": MEANING.get(name, ""),
            "threshold": None if model.threshold_ is None else float(model.threshold_),
            "false_alarm_target": None if model.false_alarm_ is None else round(float(model.false_alarm_), 6),
            "auc": roc_auc(labels, distance) if both else None,
            "real_flagged": float(flagged[real].mean()) if real.any() else None,
            "fake_flagged": float(flagged[~real].mean()) if (~real).any() else None,
            "distance_median": {"real": float(np.median(distance[real])) if real.any() else None,
                                "fake": float(np.median(distance[~real])) if (~real).any() else None},
            "per_generator": per_generator,
        }
    return out
