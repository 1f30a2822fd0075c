"""Features for any detector: each encoder it reads, built once, run over items, files or a data set.

A detector says what it reads (``feature_requests``: an encoder's layers, or its projected
embedding of whole pictures); this module builds those encoders with the weights it was
trained on and hands back one ``EncodedBatch`` per encoder name, which the detector turns
into its input rows and scores (probes/interface.py). Scan, evaluate, robustness and adapt
all get their features here, whatever the kind.

- ``encode_items``: already decoded items (tiles, frames, audio chunks): what scan runs.
- ``dataset_features``: every file of a labelled set. Layer features go through the feature
  cache, as training saw them; a detector reading embeddings of whole pictures gets the
  pictures decoded once and every encoder run on them (``picture_features``).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_gui.core.errors import LayerScopeError, MediaError
from deepfake_gui.core.jobs import CancelToken, Progress
from deepfake_gui.probes.interface import EncodedBatch

BATCH = 16  # whole pictures per encoder call


def weights_mismatch(request, encoder) -> tuple[str, str] | None:
    """(weights the detector was trained on, weights here) when they differ; None when they agree or either
    side has random weights (tests and demos) or records none."""
    expected, have = request.weights_sha256, getattr(encoder, "weights_sha256", None)
    if not expected or not have or expected == have:
        return None
    if request.random_init or getattr(getattr(encoder, "spec", None), "random_init", False):
        return None
    return str(expected), str(have)


def build_encoders(detector, device: str = "auto") -> dict[str, Any]:
    """Every encoder the detector reads, by name, with the weights it was trained on (else LayerScopeError)."""
    from deepfake_gui.encoders.registry import build_encoder

    built: dict[str, Any] = {}
    for request in detector.feature_requests():
        if request.encoder in built:
            continue
        encoder = build_encoder(request.encoder, device)
        mismatch = weights_mismatch(request, encoder)
        if mismatch is not None:
            raise LayerScopeError(f"{detector.bundle.path}: trained on {request.encoder} weights {mismatch[0][:12]}…, "
                                  f"but this machine has {mismatch[1][:12]}…")
        built[request.encoder] = encoder
    return built


def check_modality(detector, encoders: dict[str, Any]) -> None:
    """Every encoder works on the detector's modality (a fusion detector needs image encoders)."""
    wrong = [name for name, encoder in encoders.items() if getattr(encoder, "modality", detector.modality)
             != detector.modality]
    if wrong:
        from deepfake_gui.core.errors import BundleError

        raise BundleError(f"{detector.bundle.path}: a {detector.modality} detector cannot read encoder(s) "
                          f"{', '.join(wrong)}, which work on another modality")


def encode_items(detector, encoders: dict[str, Any], items: Sequence[Any], *,
                 tokens: bool = False) -> dict[str, EncodedBatch]:
    """Each encoder the detector reads, run once over decoded items (tiles, frames, audio chunks).

    With ``tokens``, the layers' token states come too (for ``token_inputs``); a layer request
    lets the encoder stop after the deepest layer asked for.
    """
    batches: dict[str, EncodedBatch] = {}
    for request in detector.feature_requests():
        encoder = encoders[request.encoder]
        if request.embedding:
            batches[request.encoder] = embedding_batch(encoder, items)
            continue
        feats = encoder.encode(items, tokens=tokens, layers=list(request.layers) if request.layers else None)
        batches[request.encoder] = EncodedBatch([p.numpy() for p in feats.pooled], feats.tokens,
                                                list(feats.layer_names), token_grid=feats.token_grid,
                                                token_times=feats.token_times)
    return batches


def embedding_batch(encoder, items: Sequence[Any]) -> EncodedBatch:
    """The encoder's projected, normalised embedding of each item, and its forensic prompt's (CLIP encoders)."""
    import torch

    from deepfake_gui.encoders.device import to_device

    batch = to_device(encoder.preprocess(list(items)), encoder.device)
    with torch.inference_mode():
        embedding = _to_numpy(encoder.image_embedding(batch))
    return EncodedBatch([], embedding=embedding, prompt=_to_numpy(encoder.forensic_prompt_embedding()).reshape(-1))


def _to_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().float().cpu().numpy()
    return np.asarray(value, dtype=np.float32)


def reads_whole_pictures(detector) -> bool:
    return any(r.embedding for r in detector.feature_requests())


def dataset_features(detector, data, device: str = "auto", cancel: CancelToken | None = None
                     ) -> Generator[Progress, None, tuple[dict[str, EncodedBatch], Any, list[str]]]:
    """Yield Progress; return (features of the decodable files, the data set of those files, errors).

    Raises LayerScopeError when no file could be decoded.
    """
    encoders = build_encoders(detector, device)
    check_modality(detector, encoders)
    if reads_whole_pictures(detector):
        features, keep, failed = yield from picture_features(detector, encoders, data.paths, cancel)
        if not keep:
            raise LayerScopeError(f"{data.root}: no image could be decoded ({failed[:1]})")
        return features, data.subset(keep), failed
    found = yield from layer_features(detector, encoders, data.paths, cancel)
    if not found.keep:
        raise LayerScopeError(f"{data.root}: no file could be decoded")
    return found.features, data.subset(found.keep), found.error_list()


@dataclass
class FileFeatures:
    """Features of a list of files from every encoder a detector reads."""

    features: dict[str, EncodedBatch]  # rows: the files in ``keep``, in order
    keep: list[int]  # indices (in the list given) of the files every encoder could read
    errors: dict[int, str] = field(default_factory=dict)  # index -> why that file has no features
    sha256: dict[int, str | None] = field(default_factory=dict)  # index -> the file's hash (None: unreadable)

    def error_list(self) -> list[str]:
        return [self.errors[i] for i in sorted(self.errors)]


def layer_features(detector, encoders: dict[str, Any], paths: Sequence[str | Path],
                   cancel: CancelToken | None = None) -> Generator[Progress, None, FileFeatures]:
    """Pooled per-layer features of each file from every encoder the detector reads, through the cache."""
    from deepfake_gui.encoders.cache import FeatureCache
    from deepfake_gui.encoders.extract import collect_features

    per_encoder: dict[str, tuple[list[np.ndarray], list[int]]] = {}
    out = FileFeatures({}, [])
    for name in detector.encoder_names:
        matrices, records = yield from collect_features(encoders[name], paths, cache=FeatureCache(), cancel=cancel)
        ok = [r.index for r in records if r.pooled is not None]
        for r in records:
            out.sha256.setdefault(r.index, r.sha256)
            if r.pooled is None:
                out.errors.setdefault(r.index, r.error or "unreadable")
        per_encoder[name] = (matrices, ok)
    out.keep = sorted(set.intersection(*(set(ok) for _, ok in per_encoder.values()))) if per_encoder else []
    for name, (matrices, ok) in per_encoder.items():
        if ok != out.keep:  # another encoder could not read some of these files
            rows = [ok.index(i) for i in out.keep]
            matrices = [m[rows] for m in matrices]
        out.features[name] = EncodedBatch(matrices)
    return out


def picture_features(detector, encoders: dict[str, Any], paths: Sequence[str | Path],
                     cancel: CancelToken | None = None, batch_size: int = BATCH
                     ) -> Generator[Progress, None, tuple[dict[str, EncodedBatch], list[int], list[str]]]:
    """Whole pictures, decoded once, through every encoder the detector reads (no cache: a head reading
    embeddings, e.g. fusion). Returns (features of the decodable pictures, their indices, errors)."""
    parts: list[dict[str, EncodedBatch]] = []
    keep: list[int] = []
    failed: list[str] = []
    for images, index, errors, done in decoded_picture_batches(paths, batch_size, cancel):
        failed += errors
        if images:
            parts.append(encode_items(detector, encoders, images))
            keep.extend(index)
        yield Progress(done, len(paths), f"{detector.name}: features")
    return join_batches(parts), keep, failed


def decoded_picture_batches(paths: Sequence[str | Path], batch_size: int, cancel: CancelToken | None = None
                            ) -> Iterator[tuple[list[np.ndarray], list[int], list[str], int]]:
    """(pictures, their indices in ``paths``, errors of those that would not decode, files done) per batch.

    A picture that cannot be decoded is an error line, not the end of the job; the token is checked
    before each batch.
    """
    from deepfake_gui.media import load_image

    cancel = cancel or CancelToken()
    for start in range(0, len(paths), batch_size):
        cancel.raise_if_cancelled()
        images, index, errors = [], [], []
        for i in range(start, min(start + batch_size, len(paths))):
            try:
                images.append(load_image(paths[i]))
                index.append(i)
            except MediaError as exc:
                errors.append(str(exc))
        yield images, index, errors, min(start + batch_size, len(paths))


def join_batches(parts: Sequence[dict[str, EncodedBatch]]) -> dict[str, EncodedBatch]:
    """Batches of the same encoders, one after another, as one batch per encoder (pooled, embeddings)."""
    if not parts:
        return {}
    joined: dict[str, EncodedBatch] = {}
    for name, first in parts[0].items():
        batches = [p[name] for p in parts]
        pooled = [np.concatenate([np.atleast_2d(b.pooled[i]) for b in batches]) for i in range(len(first.pooled))]
        embedding = None if first.embedding is None else np.concatenate([b.embedding for b in batches])  # type: ignore[misc]
        joined[name] = EncodedBatch(pooled, None, list(first.layer_names), embedding, first.prompt)
    return joined
