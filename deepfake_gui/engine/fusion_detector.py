"""A loaded fusion bundle (CLIP + forensic prompt + ResNet -> MLP) that scores image files.

It runs two encoders over decoded images (job work, hence the engine); the head
itself, ``probes.fusion.FusionMLP``, is a plain estimator.

The fusion counterpart of :class:`deepfake_gui.probes.detector.Detector`: same
calibration (Platt on out-of-fold logits), threshold and inconclusive band, so a
probability means the same thing whichever kind of detector produced it. It needs
*two* encoders, named in the bundle's ``encoders`` list; each must have the weights
the head was trained on (their sha256 is checked), never a silent substitute.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_gui.core.errors import BundleError, LayerScopeError, MediaError
from deepfake_gui.core.jobs import CancelToken, Progress
from deepfake_gui.probes.bundle import DetectorBundle
from deepfake_gui.probes.detector import BundleDetector, Calibration
from deepfake_gui.probes.fusion import RESNET_POOL_LAYER, fusion_inputs

BATCH = 16


@dataclass
class FusionFileScore:
    path: Path
    decision: float | None  # the head's logit (> 0 leans fake); None when the file failed
    probability: float | None  # calibrated P(fake)
    verdict: str | None
    error: str | None = None


class FusionDetector(BundleDetector):
    kind = "fusion"

    def __init__(self, bundle: DetectorBundle) -> None:
        from deepfake_gui.probes.fusion import FusionMLP

        if bundle.kind != "fusion":
            raise BundleError(f"{bundle.path}: kind {bundle.kind!r} is not a fusion detector")
        self.bundle = bundle
        self.meta = bundle.meta
        try:
            self.model = FusionMLP.from_arrays(bundle.arrays)
        except LayerScopeError as exc:
            raise BundleError(f"{bundle.path}: {exc}") from exc
        self.file_calibration = Calibration.from_meta(self.meta)
        self.platt, self.threshold, self.band = (self.file_calibration.platt, self.file_calibration.threshold,
                                                 self.file_calibration.band)
        self.encoder_specs: list[dict] = list(self.meta["encoders"])
        self._encoders: tuple[Any, Any] | None = None

    # -- identity ------------------------------------------------------------
    @property
    def encoder_names(self) -> list[str]:
        return [e["name"] for e in self.encoder_specs]

    @property
    def n_features(self) -> int:
        return int(self.model.n_features_in_)

    # -- encoders and features ---------------------------------------------------
    def build_encoders(self, device: str = "auto") -> tuple[Any, Any]:
        """The (CLIP, ResNet) pair, with the weights the head was trained on."""
        from deepfake_gui.encoders.registry import build_encoder

        if self._encoders is None:
            built = []
            for spec in self.encoder_specs:
                encoder = build_encoder(spec["name"], device)
                expected = spec.get("weights_sha256")
                if expected and encoder.weights_sha256 and expected != encoder.weights_sha256:
                    raise LayerScopeError(
                        f"{self.bundle.path}: trained on {spec['name']} weights {expected[:12]}…, but this machine "
                        f"has {encoder.weights_sha256[:12]}…")
                built.append(encoder)
            self._encoders = (built[0], built[1])
        return self._encoders

    def features(self, images: Sequence[np.ndarray], device: str = "auto") -> np.ndarray:
        """``fusion_inputs`` for decoded RGB images: (N, n_features)."""
        clip, resnet = self.build_encoders(device)
        X = fusion_features_from_encoders(clip, resnet, list(images))
        if X.shape[1] != self.n_features:
            raise BundleError(f"{self.bundle.path}: the head expects {self.n_features} features, encoders "
                              f"{'+'.join(self.encoder_names)} give {X.shape[1]}")
        return X.astype(np.float64)

    def iter_features(self, paths: Sequence[str | Path], device: str = "auto", cancel: CancelToken | None = None,
                      batch_size: int = BATCH) -> Generator[Progress, None, tuple[np.ndarray, list[int], list[str]]]:
        """Yield Progress; return (features of the decodable files, their indices in ``paths``, errors)."""
        from deepfake_gui.media import load_image

        cancel = cancel or CancelToken()
        self.build_encoders(device)
        rows: list[np.ndarray] = []
        keep: list[int] = []
        failed: list[str] = []
        for start in range(0, len(paths), batch_size):
            cancel.raise_if_cancelled()
            images, index = [], []
            for i in range(start, min(start + batch_size, len(paths))):
                try:
                    images.append(load_image(paths[i]))
                    index.append(i)
                except MediaError as exc:
                    failed.append(str(exc))
            if images:
                rows.append(self.features(images, device))
                keep.extend(index)
            yield Progress(min(start + batch_size, len(paths)), len(paths), "fusion features")
        X = np.concatenate(rows) if rows else np.zeros((0, self.n_features))
        return X, keep, failed

    # -- decisions -----------------------------------------------------------------
    def decision(self, X: np.ndarray) -> np.ndarray:
        return self.model.decision_function(X)

    def probability(self, decision: np.ndarray) -> np.ndarray:
        return self.file_calibration.probability(decision)

    def verdicts(self, probability: np.ndarray) -> list[str]:
        return [self.file_calibration.verdict(p) for p in np.atleast_1d(probability)]

    def attribution(self, X: np.ndarray) -> None:
        """Fusion detectors are binary: no per-generator attribution."""
        return None

    def out_of_domain(self, X: np.ndarray) -> None:
        """Fusion bundles carry no training-domain model."""
        return None

    def score_files(self, paths: Sequence[str | Path], device: str = "auto") -> list[FusionFileScore]:
        """Score image files; a file that cannot be decoded gets its error instead of a score."""
        job = self.iter_features(paths, device)
        while True:
            try:
                next(job)
            except StopIteration as done:
                X, keep, failed = done.value
                break
        out = [FusionFileScore(Path(p), None, None, None, "could not be decoded") for p in paths]
        errors = iter(failed)
        kept = set(keep)
        for i, result in enumerate(out):
            if i not in kept:
                result.error = next(errors, result.error)
        if keep:
            decision = self.decision(X)
            prob = self.probability(decision)
            for row, i in enumerate(keep):
                out[i] = FusionFileScore(Path(paths[i]), float(decision[row]), float(prob[row]),
                                         self.verdicts(prob[row])[0])
        return out


def fusion_features_from_encoders(clip_encoder: Any, resnet_encoder: Any, images: Sequence[np.ndarray],
                                  batch_size: int = 32) -> np.ndarray:
    """``fusion_inputs`` for decoded RGB images, straight from the two encoders.

    Uses the CLIP encoder's ``image_embedding(preprocess(images))`` and
    ``forensic_prompt_embedding()``, and the ResNet encoder's pooled "pool" layer
    (the global-average-pooled output of the last stage).
    """
    import torch

    from deepfake_gui.encoders.device import to_device

    if not len(images):
        raise ValueError("no images to encode")
    prompt = _to_numpy(clip_encoder.forensic_prompt_embedding()).reshape(-1)
    rows = []
    for start in range(0, len(images), batch_size):
        chunk = list(images[start:start + batch_size])
        batch = to_device(clip_encoder.preprocess(chunk), clip_encoder.device)
        with torch.inference_mode():
            emb = _to_numpy(clip_encoder.image_embedding(batch))
        feats = resnet_encoder.encode(chunk)
        names = list(feats.layer_names)
        index = names.index(RESNET_POOL_LAYER) if RESNET_POOL_LAYER in names else len(names) - 1
        pooled = _to_numpy(feats.pooled[index])
        rows.append(fusion_inputs(emb, prompt, pooled))
    return np.concatenate(rows, axis=0)


def _to_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().float().cpu().numpy()
    return np.asarray(value, dtype=np.float32)
