"""The fusion kind (CLIP + forensic prompt + ResNet -> MLP) scoring image files, and its feature builder.

The kind itself, ``probes.fusion.FusionBundleDetector``, is a plain detector over
features keyed by encoder name; the engine runs its two encoders over decoded pictures
(engine/detector_features.py). ``FusionDetector`` adds file scoring on top, for callers
that hold image paths (``score_files``); evaluate and robustness need none of it.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_gui.core.jobs import CancelToken, Progress
from deepfake_gui.probes.bundle import DetectorBundle
from deepfake_gui.probes.fusion import FusionBundleDetector, fusion_inputs_of

BATCH = 16


@dataclass
class FusionFileScore:
    path: Path
    decision: float | None  # the head's logit (> 0 leans fake); None when the file failed
    probability: float | None  # calibrated P(fake)
    verdict: str | None
    error: str | None = None


class FusionDetector(FusionBundleDetector):
    """A fusion bundle that also builds its encoders and scores image files."""

    def __init__(self, bundle: DetectorBundle) -> None:
        super().__init__(bundle)
        self._encoders: dict[str, Any] | None = None

    def build_encoders(self, device: str = "auto") -> tuple[Any, Any]:
        """The (CLIP, ResNet) pair, with the weights the head was trained on."""
        from deepfake_gui.engine.detector_features import build_encoders

        if self._encoders is None:
            self._encoders = build_encoders(self, device)
        clip, resnet = self.encoder_names
        return self._encoders[clip], self._encoders[resnet]

    def features(self, images: Sequence[np.ndarray], device: str = "auto") -> np.ndarray:
        """``fusion_inputs`` for decoded RGB images: (N, n_features)."""
        from deepfake_gui.engine.detector_features import encode_items

        self.build_encoders(device)
        return self.inputs(encode_items(self, self._encoders or {}, list(images)))

    def iter_features(self, paths: Sequence[str | Path], device: str = "auto", cancel: CancelToken | None = None,
                      batch_size: int = BATCH) -> Generator[Progress, None, tuple[np.ndarray, list[int], list[str]]]:
        """Yield Progress; return (features of the decodable files, their indices in ``paths``, errors)."""
        from deepfake_gui.engine.detector_features import picture_features

        self.build_encoders(device)
        features, keep, failed = yield from picture_features(self, self._encoders or {}, paths, cancel, batch_size)
        X = self.inputs(features) if keep else np.zeros((0, self.n_features))
        return X, keep, failed

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
    """``fusion_inputs`` for decoded RGB images, straight from the two encoders (training builds its set so).

    Uses the CLIP encoder's ``image_embedding(preprocess(images))`` and
    ``forensic_prompt_embedding()``, and the ResNet encoder's pooled "pool" layer
    (the global-average-pooled output of the last stage).
    """
    from deepfake_gui.engine.detector_features import embedding_batch
    from deepfake_gui.probes.interface import EncodedBatch

    if not len(images):
        raise ValueError("no images to encode")
    rows = []
    for start in range(0, len(images), batch_size):
        chunk = list(images[start:start + batch_size])
        feats = resnet_encoder.encode(chunk)
        resnet = EncodedBatch([p.numpy() for p in feats.pooled], layer_names=list(feats.layer_names))
        rows.append(fusion_inputs_of(embedding_batch(clip_encoder, chunk), resnet))
    return np.concatenate(rows, axis=0)
