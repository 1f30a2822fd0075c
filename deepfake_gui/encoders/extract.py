"""Per-file, per-layer pooled features, through the cache.

This is what training, evaluation and the embedding explorer consume: one
vector per layer per file. Decoding happens only on a cache miss.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepfake_gui.core.errors import LayerScopeError, MediaError
from deepfake_gui.core.hashing import sha256_file
from deepfake_gui.core.jobs import CancelToken, Progress
from deepfake_gui.encoders.base import Encoder
from deepfake_gui.encoders.cache import FeatureCache
from deepfake_gui.media.narrowband import NARROWBAND_VARIANT, iter_detector_audio, reads_as_narrowband

MAX_AUDIO_CHUNK_S = 30.0  # Whisper's context; longer files are pooled over 30 s chunks


@dataclass
class FileFeatures:
    index: int
    path: Path
    sha256: str | None
    pooled: list[np.ndarray] | None  # one (D_l,) vector per layer
    error: str | None = None
    cached: bool = False


def _decode(encoder: Encoder, path: Path, tiles: int = 0, narrowband: bool = False) -> list[np.ndarray]:
    """The items one file contributes: one image (or, with ``tiles``, up to that many native-resolution
    tiles, as scan cuts them), or the audio in <= 30 s chunks, read as scan reads it (``narrowband``:
    through 8 kHz, media.narrowband)."""
    from deepfake_gui.media import load_image

    if encoder.modality == "image":
        image = load_image(path)
        if not tiles:
            return [image]
        from deepfake_gui.encoders.tiling import native_tiles

        return native_tiles(image, int(encoder.spec.preprocessing["size"]), tiles)
    rate = int(encoder.spec.preprocessing["sample_rate"])
    decoded = list(iter_detector_audio(path, rate, narrowband))
    audio = np.concatenate(decoded) if decoded else np.zeros(0, dtype=np.float32)
    if audio.size == 0:
        raise MediaError(path, "no audio samples", "the audio track decoded to nothing", "empty")
    step = int(MAX_AUDIO_CHUNK_S * rate)
    chunks = [audio[i : i + step] for i in range(0, len(audio), step)]
    if len(chunks) > 1 and len(chunks[-1]) < rate:  # a sliver too short to encode: end-align instead
        chunks[-1] = audio[-step:]
    return chunks


def _pool_chunks(encoder: Encoder, chunks: list[np.ndarray]) -> list[np.ndarray]:
    """One vector per layer: audio chunks weighted by length, image tiles equally."""
    feats = encoder.encode(chunks)
    weights = np.array([1 if encoder.modality == "image" else len(c) for c in chunks], dtype=np.float64)
    weights /= weights.sum()
    return [np.asarray((p.numpy() * weights[:, None]).sum(axis=0), dtype=np.float32) for p in feats.pooled]


def iter_file_features(
    encoder: Encoder,
    paths: Sequence[str | Path],
    *,
    cache: FeatureCache | None = None,
    variant: str = "",
    batch_size: int = 16,
    cancel: CancelToken | None = None,
    tiles: int = 0,
) -> Iterator[Progress | FileFeatures]:
    """Yield FileFeatures in input order (errors included) and Progress events.

    ``tiles`` (images): average the features of up to that many native-resolution tiles per picture,
    as scan scores them, instead of one resized picture; cached under its own key.
    """
    if tiles:
        variant = f"{variant}tiles{tiles}"
    cancel = cancel or CancelToken()
    total = len(paths)
    pending: list[tuple[int, Path, str, np.ndarray]] = []  # image batch across files

    def flush() -> Iterator[FileFeatures]:
        if not pending:
            return
        feats = encoder.encode([item for *_, item in pending])
        for row, (i, path, sha, _item) in enumerate(pending):
            pooled = [p[row].numpy().astype(np.float32) for p in feats.pooled]
            if cache is not None:
                cache.put(encoder.name, _key(encoder, sha, variant), pooled, {"path": str(path)})
            yield FileFeatures(i, path, sha, pooled)
        pending.clear()

    for i, raw in enumerate(paths):
        cancel.raise_if_cancelled()
        path = Path(raw)
        try:
            sha = sha256_file(path)
        except OSError as exc:
            yield FileFeatures(i, path, None, None, f"{path}: cannot read: {exc.strerror or exc}")
            continue
        try:
            narrowband = encoder.modality == "audio" and reads_as_narrowband(
                path, int(encoder.spec.preprocessing["sample_rate"]))
        except LayerScopeError as exc:
            yield from flush()
            yield FileFeatures(i, path, sha, None, str(exc))
            continue
        file_variant = variant + (NARROWBAND_VARIANT if narrowband else "")
        hit = cache.get(encoder.name, _key(encoder, sha, file_variant)) if cache is not None else None
        if hit is not None:
            yield from flush()
            yield FileFeatures(i, path, sha, hit, cached=True)
        else:
            try:
                items = _decode(encoder, path, tiles, narrowband)
            except LayerScopeError as exc:
                yield from flush()
                yield FileFeatures(i, path, sha, None, str(exc))
                continue
            if encoder.modality == "image" and not tiles:
                pending.append((i, path, sha, items[0]))
                if len(pending) >= batch_size:
                    yield from flush()
            else:
                try:
                    pooled = _pool_chunks(encoder, items)
                except ValueError as exc:  # e.g. a clip shorter than the encoder's receptive field
                    yield FileFeatures(i, path, sha, None, f"{path}: {exc}")
                    continue
                if cache is not None:
                    cache.put(encoder.name, _key(encoder, sha, file_variant), pooled, {"path": str(path)})
                yield FileFeatures(i, path, sha, pooled)
        if i % 8 == 7 or i == total - 1:
            yield Progress(i + 1, total, path.name)
    yield from flush()


def _key(encoder: Encoder, sha: str, variant: str) -> str:
    return FeatureCache.make_key(sha, encoder.name, encoder.weights_sha256, encoder.spec.preprocessing_version,
                                 variant)


def collect_features(
    encoder: Encoder,
    paths: Sequence[str | Path],
    *,
    cache: FeatureCache | None = None,
    variant: str = "",
    cancel: CancelToken | None = None,
    tiles: int = 0,
) -> Generator[Progress, None, tuple[list[np.ndarray], list[FileFeatures]]]:
    """Yield Progress; return per-layer matrices (n_ok, D_l) of the decodable files and every record.

    Jobs use it as ``matrices, records = yield from collect_features(...)``.
    """
    records: list[FileFeatures] = []
    for event in iter_file_features(encoder, paths, cache=cache, variant=variant, cancel=cancel, tiles=tiles):
        if isinstance(event, Progress):
            yield Progress(event.done, event.total, f"features: {event.message}")
        else:
            records.append(event)
    records.sort(key=lambda r: r.index)
    ok = [r for r in records if r.pooled is not None]
    if not ok:
        return [], records
    n_layers = len(ok[0].pooled or [])
    matrices = [np.stack([r.pooled[layer] for r in ok]) for layer in range(n_layers)]  # type: ignore[index]
    return matrices, records


def extract_features(
    encoder: Encoder,
    paths: Sequence[str | Path],
    *,
    cache: FeatureCache | None = None,
    variant: str = "",
    cancel: CancelToken | None = None,
    on_progress=None,
) -> tuple[list[np.ndarray], list[FileFeatures]]:
    """All files' features as per-layer matrices (n_ok, D_l), plus every FileFeatures (errors too)."""
    job = collect_features(encoder, paths, cache=cache, variant=variant, cancel=cancel)
    while True:
        try:
            event = next(job)
        except StopIteration as done:
            return done.value
        if on_progress is not None:
            on_progress(event)
