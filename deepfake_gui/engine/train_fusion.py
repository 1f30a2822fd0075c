"""Training the fusion detector: CLIP embedding + forensic-prompt interaction + ResNet-101 pool -> MLP.

Separate from the linear train job because it uses two encoders and a trained
head, but it writes the same kind of bundle with the same out-of-fold metrics.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np

from deepfake_gui.core.errors import LayerScopeError
from deepfake_gui.core.jobs import CancelToken, Progress
from deepfake_gui.engine.train import TrainOptions, TrainReport

BATCH = 16


def train_fusion_job(opts: TrainOptions, clip_name: str = "clip-vit-b-32", resnet_name: str = "resnet-101",
                     cancel: CancelToken | None = None) -> Iterator[Progress | TrainReport]:
    from deepfake_gui.analysis.calibration import Platt, inconclusive_band
    from deepfake_gui.analysis.metrics import binary_report, bootstrap_auc_ci
    from deepfake_gui.encoders.registry import build_encoder
    from deepfake_gui.engine.datasets import load_dataset
    from deepfake_gui.engine.detector_features import decoded_picture_batches
    from deepfake_gui.engine.fusion_detector import fusion_features_from_encoders
    from deepfake_gui.probes.bundle import DetectorBundle, save_bundle
    from deepfake_gui.probes.dataset import grouped_folds
    from deepfake_gui.probes.fusion import train_fusion
    from deepfake_gui.probes.sweep import per_generator_auc

    cancel = cancel or CancelToken()
    data = load_dataset(opts.data)
    clip = build_encoder(clip_name, opts.device)
    resnet = build_encoder(resnet_name, opts.device)
    t0 = time.perf_counter()
    rows, keep, failed = [], [], []
    for images, idx, errors, done in decoded_picture_batches(data.paths, BATCH, cancel):
        failed += errors
        if images:
            rows.append(fusion_features_from_encoders(clip, resnet, images))
            keep.extend(idx)
        yield Progress(done, len(data), "fusion features")
    if len(keep) < 4:
        raise LayerScopeError(f"{opts.data}: only {len(keep)} usable images")
    X = np.concatenate(rows).astype(np.float64)
    data = data.subset(keep)
    timings = {"features_s": time.perf_counter() - t0}
    folds = grouped_folds(data, opts.folds, opts.seed)
    t0 = time.perf_counter()
    final, oof, per_fold = train_fusion(X, data, folds, seed=opts.seed)
    timings["train_s"] = time.perf_counter() - t0
    platt = Platt.fit(oof, data.labels)
    prob = platt(oof)
    report = binary_report(data.labels, prob)
    band = inconclusive_band(prob, data.labels, report.eer_threshold)
    meta = {
        "name": opts.name or f"fusion-{clip_name}+{resnet_name}",
        "kind": "fusion",
        "modality": "image",
        "encoder": {"name": clip_name, "weights_sha256": clip.weights_sha256,
                    "preprocessing_version": clip.spec.preprocessing_version, "random_init": clip.spec.random_init},
        "encoders": [
            {"name": clip_name, "weights_sha256": clip.weights_sha256, "use": "image embedding + prompt interaction"},
            {"name": resnet_name, "weights_sha256": resnet.weights_sha256, "use": "pooled output"},
        ],
        "layers": [len(clip.layer_names) - 1],
        "layer_names": ["image-embedding"],
        "head": "MLP 512-512-1, BatchNorm, ReLU, dropout 0.4, Adam lr 1e-4, early stopping on a grouped split",
        "classes": ["real", "fake"],
        "calibration": {"method": "platt", "a": platt.a, "b": platt.b, "fitted_on": "out-of-fold scores"},
        "threshold": report.eer_threshold,
        "inconclusive_band": [band[0], band[1]],
        "training": {**data.summary(), "content_hash": data.content_hash(), "failed_files": len(failed),
                     "folds": len(folds), "split": "StratifiedGroupKFold by group", "seed": opts.seed},
        "metrics": {"cv_auc": report.auc, "cv_auc_ci95": list(bootstrap_auc_ci(data.labels, oof, data.groups)),
                    "cv_eer": report.eer, "cv_ap": report.ap, "cv_min_dcf": report.min_dcf,
                    "per_generator": per_generator_auc(data.labels, oof, data.generators), "per_fold": per_fold},
    }
    bundle = DetectorBundle(meta, final.to_arrays())
    out = save_bundle(bundle, opts.out)
    layer = {"layer": 0, "name": "fusion", "dim": int(X.shape[1]), "auc": report.auc, "auc_std": 0.0,
             "eer": report.eer, "eer_std": 0.0, "accuracy": float(((oof > 0) == data.labels).mean()),
             "accuracy_std": 0.0}
    yield TrainReport(out, bundle.meta, [layer], [0], timings, failed)
