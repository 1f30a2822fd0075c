"""Facts read from a file's own bytes beyond ``probe()``: its JPEG quality, its streams' bit rates.

The caveat rules (analysis/caveats.py) are pure; the engine reads these for them
(engine/file_caveats.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# IJG (libjpeg) standard luminance table at quality 50, natural (row-major) order.
_IJG_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61,
    12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77,
    24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
], dtype=np.int64)


def _ijg_table(quality: int) -> np.ndarray:
    """libjpeg's jpeg_quality_scaling + baseline clamp (what Pillow's quality= writes)."""
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return np.clip((_IJG_LUMA * scale + 50) // 100, 1, 255)


_IJG_TABLES = {q: _ijg_table(q) for q in range(1, 101)}


def jpeg_quality_estimate(path: str | Path) -> int | None:
    """The IJG quality (1-100) whose luminance table best matches the file's, or None.

    None when the file is not a JPEG or has no tables. For encoders with their own
    tables (cameras, Photoshop) the result is the nearest IJG equivalent.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            if im.format not in ("JPEG", "MPO"):
                return None
            tables = getattr(im, "quantization", None) or {}
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError):
        return None
    if not tables:
        return None
    luma = np.asarray(tables[min(tables)], dtype=np.int64)
    if luma.size != 64:
        return None
    errors = {q: int(np.abs(table - luma).sum()) for q, table in _IJG_TABLES.items()}
    return min(errors, key=lambda q: (errors[q], -q))


def stream_bit_rates(path: str | Path) -> tuple[int | None, int | None]:
    """(video, audio) bit rates in bit/s as the container declares them; None where unknown.

    An audio-only file whose stream has no rate (Ogg) falls back to the container's.
    """
    from deepfake_gui.media.av_util import open_container, real_video_streams

    try:
        with open_container(path) as container:
            videos = real_video_streams(container)
            audios = list(container.streams.audio)
            video = (videos[0].bit_rate or videos[0].codec_context.bit_rate or None) if videos else None
            audio = (audios[0].bit_rate or audios[0].codec_context.bit_rate or None) if audios else None
            if audios and audio is None and not videos:
                audio = container.bit_rate or None
    except Exception:  # unreadable rates only silence this caveat; probe() reports broken files
        return None, None
    return (int(video) if video else None), (int(audio) if audio else None)
