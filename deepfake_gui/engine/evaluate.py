"""The evaluate job: a saved detector measured on a labelled data set."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepfake_gui.core.errors import LayerScopeError
from deepfake_gui.core.jobs import CancelToken, Progress


@dataclass
class EvaluateReport:
    metrics: dict
    detector: str
    data: str


def evaluate_job(detector_dir: Path, data_dir: Path, device: str = "auto",
                 cancel: CancelToken | None = None) -> Iterator[Progress | EvaluateReport]:
    from deepfake_gui.analysis.metrics import (
        DCF_C_FA,
        DCF_C_MISS,
        DCF_P_FAKE,
        accuracy_f1,
        binary_report,
    )
    from deepfake_gui.encoders.cache import FeatureCache
    from deepfake_gui.encoders.extract import collect_features
    from deepfake_gui.encoders.registry import build_encoder
    from deepfake_gui.probes.dataset import load_dataset
    from deepfake_gui.probes.detector import Detector
    from deepfake_gui.probes.sweep import per_generator_auc

    detector = Detector.load(detector_dir)
    data = load_dataset(data_dir)
    encoder = build_encoder(detector.encoder_name, device)
    expected_sha = detector.meta["encoder"].get("weights_sha256")
    if expected_sha and encoder.weights_sha256 and expected_sha != encoder.weights_sha256:
        raise LayerScopeError(f"{detector_dir}: trained on {detector.encoder_name} weights {expected_sha[:12]}…, "
                              f"but this machine has {encoder.weights_sha256[:12]}…")
    layers, records = yield from collect_features(encoder, data.paths, cache=FeatureCache(), cancel=cancel)
    ok = [r for r in records if r.pooled is not None]
    if not ok:
        raise LayerScopeError(f"{data_dir}: no file could be decoded")
    data = data.subset([r.index for r in ok])
    X = detector.select(layers)
    decision = detector.decision(X)
    prob = detector.probability(decision)
    report = binary_report(data.labels, prob)
    predicted = (prob >= detector.threshold).astype(int)
    acc, f1 = accuracy_f1(data.labels, predicted)
    lo, hi = detector.band
    metrics: dict = {
        "auc": report.auc, "ap": report.ap, "eer": report.eer, "min_dcf": report.min_dcf,
        "min_dcf_params": {"p_fake": DCF_P_FAKE, "c_miss": DCF_C_MISS, "c_fa": DCF_C_FA},
        "accuracy": acc, "f1": f1, "threshold": detector.threshold,
        "inconclusive_rate": float(((prob >= lo) & (prob < hi)).mean()),
        "per_generator": per_generator_auc(data.labels, decision, data.generators),
        "n_real": report.n_real, "n_fake": report.n_fake, "n_failed": len(records) - len(ok),
        "caveats": [],
    }
    if data.content_hash() == detector.meta.get("training", {}).get("content_hash"):
        metrics["caveats"].append(
            "this is the detector's own training set: these figures are in-sample and optimistic; "
            "the cross-validated figures are in detector.json (metrics.cv_*)")
    proba = detector.attribution(X)
    if proba is not None:
        classes = detector.attribution_classes
        pred = np.array(classes)[proba.argmax(axis=1)]
        truth = np.array(data.generators)
        labels_seen = sorted(set(classes) | set(truth.tolist()))
        metrics["attribution"] = {
            "classes": classes,
            "accuracy": float((pred == truth).mean()),
            "confusion": {t: {p: int(((truth == t) & (pred == p)).sum()) for p in classes} for t in labels_seen},
        }
    yield EvaluateReport(metrics, str(detector_dir), str(data_dir))
