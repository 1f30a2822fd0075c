"""The evaluate job: a saved detector measured on a labelled data set.

Works for every detector kind (probes/interface.py): the detector says which
encoders it reads (engine/detector_features.py runs them over the data set), turns
their features into decision scores, and gives probabilities through its calibration;
a kind without one (one-class: a distance and its calibrated threshold) is measured
on the distance. Every kind reports the same keys; a bundle that also stores one-class
models (the training-domain model ``domain_*``, a real-only model ``oneclass_*``, or
the one-class bundle itself) adds how each generator scores against them under
``one_class``.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_gui.core.jobs import CancelToken, Progress


@dataclass
class EvaluateReport:
    metrics: dict
    detector: str
    data: str


@dataclass
class Scored:
    """A detector's scores on the decodable files of a data set: what the shared metrics read."""

    data: Any  # LabeledSet of the decodable files
    decision: np.ndarray  # higher = more likely fake
    probability: np.ndarray | None  # calibrated P(fake); None when the kind has no calibration (one-class)
    threshold: float  # on probability, or on decision when probability is None
    band: tuple[float, float]
    n_failed: int
    features: np.ndarray | None = None  # the detector's input rows (what its stored one-class models take)
    extra: dict = field(default_factory=dict)

    @property
    def score(self) -> np.ndarray:
        """What AUC and EER are computed on: the probability, else the decision."""
        return self.probability if self.probability is not None else self.decision


MEANING = {"domain": "flagged: further from the training data than its threshold, i.e. out of domain",
           "one-class": "flagged: further from the real items than its threshold, i.e. likely fake"}


def evaluate_job(detector_dir: Path, data_dir: Path, device: str = "auto",
                 cancel: CancelToken | None = None) -> Iterator[Progress | EvaluateReport]:
    from deepfake_gui.engine.datasets import load_dataset
    from deepfake_gui.probes.interface import load_detector

    detector = load_detector(detector_dir, "evaluate")
    data = load_dataset(data_dir)
    scored = yield from score_dataset(detector, data, device, cancel)
    metrics = _metrics(scored, detector)
    yield EvaluateReport(metrics, str(detector_dir), str(data_dir))


def score_dataset(detector, data, device: str = "auto", cancel: CancelToken | None = None
                  ) -> Generator[Progress, None, Scored]:
    """Any detector's scores on a labelled data set (the files that decode), with its attribution if it has one."""
    from deepfake_gui.engine.detector_features import dataset_features

    features, data, failed = yield from dataset_features(detector, data, device, cancel)
    X = detector.inputs(features)
    decision = detector.decision(X)
    calibration = detector.file_calibration
    probability = None if calibration is None else calibration.probability(decision)
    scored = Scored(data, decision, probability, detector.threshold, detector.band, len(failed), X)
    if len(detector.encoder_names) > 1:
        scored.extra["encoders"] = detector.encoder_names
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


# ------------------------------------------------------------------ metrics
def _metrics(scored: Scored, detector) -> dict:
    from deepfake_gui.analysis.metrics import DCF_C_FA, DCF_C_MISS, DCF_P_FAKE, accuracy_f1, binary_report
    from deepfake_gui.probes.sweep import per_generator_auc

    data = scored.data
    report = binary_report(data.labels, scored.score)
    if scored.probability is not None:
        predicted = (scored.probability >= scored.threshold).astype(int)
        lo, hi = scored.band
        inconclusive = float(((scored.probability >= lo) & (scored.probability < hi)).mean())
    else:  # a distance: flagged above the calibrated threshold, no inconclusive band
        predicted = (scored.decision > scored.threshold).astype(int)
        inconclusive = 0.0
    acc, f1 = accuracy_f1(data.labels, predicted)
    metrics: dict = {
        "kind": detector.kind,
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
    if data.content_hash() == detector.meta.get("training", {}).get("content_hash"):
        metrics["caveats"].append(
            "this is the detector's own training set: these figures are in-sample and optimistic; "
            "the cross-validated figures are in detector.json (metrics.cv_*)")
    metrics["one_class"] = one_class_report(detector, scored.features, data.labels, data.generators)
    return metrics


def one_class_report(detector, X: np.ndarray | None, labels: np.ndarray, generators: list[str]) -> dict:
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
    for name, (model, fitted_on) in detector.one_class_models().items():
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
