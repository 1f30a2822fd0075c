"""Re-encoded ("laundered") copies of media, to measure detectors on what users actually see.

EVALUATION.md: clean-only figures overstate what users get, so every figure is also
reported on JPEG-recompressed and rescaled images and on low bit-rate Opus / MP3 audio.
Each named :class:`Transform` turns one file into one laundered file, deterministically;
:func:`launder_files` writes copies of a whole list of files into a folder of the app's
cache (never next to the data), mirroring their relative paths, and reuses copies
already there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from deepfake_gui.launder import audio, image

VERSION = 1  # bump when a transform's output changes, so old copies are not reused


@dataclass(frozen=True)
class Transform:
    name: str
    modality: str  # "image" or "audio"
    description: str
    suffix: str  # of the written copy
    write: Callable[[Path, Path], Path]  # (source, destination) -> destination


TRANSFORMS: dict[str, Transform] = {t.name: t for t in (
    Transform("jpeg-q75", "image", "JPEG re-compression at quality 75 (4:2:0 chroma, Pillow)", ".jpg",
              lambda s, d: image.jpeg_file(s, d, 75)),
    Transform("rescale-0.5x", "image", "bicubic downscale to 0.5x and back up to the original size (PNG)",
              ".png", lambda s, d: image.rescale_file(s, d, 0.5, back=True)),
    Transform("downscale-0.75x", "image", "bicubic downscale to 0.75x, kept small (PNG)", ".png",
              lambda s, d: image.rescale_file(s, d, 0.75, back=False)),
    Transform("opus-16k", "audio", "Opus 16 kbit/s (libopus, 8 kHz mono), decoded back to 8 kHz FLAC", ".flac",
              lambda s, d: audio.codec_file(s, d, "opus", 16_000)),
    Transform("mp3-16k", "audio", "MP3 16 kbit/s (libmp3lame, 8 kHz mono), decoded back to 8 kHz FLAC", ".flac",
              lambda s, d: audio.codec_file(s, d, "mp3", 16_000)),
)}


def get_transform(name: str) -> Transform:
    try:
        return TRANSFORMS[name]
    except KeyError:
        raise ValueError(f"unknown transform {name!r}; known: {', '.join(TRANSFORMS)}") from None


def transforms_for(modality: str) -> list[str]:
    return [t.name for t in TRANSFORMS.values() if t.modality == modality]


def launder_root(tag: str) -> Path:
    """``<app cache>/launder/<tag>``: where laundered copies of one data set live."""
    from deepfake_gui.core.config import cache_dir

    return cache_dir() / "launder" / tag


def launder_files(paths: Sequence[str | Path], root: str | Path, transform: str | Transform, out_dir: str | Path,
                  on_file: Callable[[int, int], None] | None = None) -> list[Path]:
    """Laundered copies of ``paths`` under ``out_dir/<transform>-v<VERSION>/``, same relative paths as under ``root``.

    A copy that already exists is reused (the transforms are deterministic). Returns the
    copies' paths in input order. A source that fails to decode raises its MediaError.
    """
    t = get_transform(transform) if isinstance(transform, str) else transform
    root = Path(root).resolve()
    base = Path(out_dir) / f"{t.name}-v{VERSION}"
    out: list[Path] = []
    for i, raw in enumerate(paths):
        src = Path(raw).resolve()
        rel = src.relative_to(root) if src.is_relative_to(root) else Path(src.name)
        dst = (base / rel).with_suffix(t.suffix)
        if not dst.is_file():
            tmp = dst.with_name(dst.stem + ".partial" + t.suffix)
            t.write(src, tmp)
            tmp.replace(dst)  # a crash never leaves a half-written copy under the final name
        out.append(dst)
        if on_file is not None:
            on_file(i + 1, len(paths))
    return out


__all__ = ["TRANSFORMS", "VERSION", "Transform", "audio", "get_transform", "image", "launder_files",
           "launder_root", "transforms_for"]
