"""Still and animated images through Pillow, always as RGB uint8 (H, W, 3).

Pillow's own decompression-bomb check is replaced by ours so the error names the
file and the claimed size instead of a generic warning.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from deepfake_gui.core.errors import MediaError

# Pillow raises at 2 x MAX_IMAGE_PIXELS (about 179 MP); we keep that bound and say it plainly.
PIXEL_LIMIT = 2 * 89_478_485
IMAGE_FORMATS = ("PNG", "JPEG", "MPO", "WEBP", "GIF", "BMP", "TIFF")

Image.MAX_IMAGE_PIXELS = None  # our own check below, with a useful message


def check_pixel_count(path: str | Path, fmt: str, width: int, height: int) -> None:
    if width * height > PIXEL_LIMIT:
        raise MediaError(
            path,
            "image too large",
            f"{fmt} claims {width}x{height} pixels, above the {PIXEL_LIMIT // 1_000_000} MP limit "
            "(possible decompression bomb)",
            reason="too-large",
        )


@contextmanager
def open_image(path: str | Path) -> Iterator[Image.Image]:
    """Open by content (never by extension) and apply the pixel guard."""
    try:
        im = Image.open(path, formats=IMAGE_FORMATS)
    except UnidentifiedImageError as exc:
        raise MediaError(path, "not an image", "Pillow does not recognise the content", "not-media") from exc
    except OSError as exc:
        raise MediaError(path, "cannot open image", str(exc)) from exc
    try:
        check_pixel_count(path, im.format or "image", *im.size)
        yield im
    finally:
        im.close()


def to_rgb_uint8(im: Image.Image) -> np.ndarray:
    """Convert any Pillow mode to RGB uint8, scaling high bit depths instead of clipping."""
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(im, dtype=np.uint32 if mode == "I" else np.uint16).astype(np.int64)
        top = 65535 if arr.max(initial=0) <= 65535 else max(int(arr.max()), 1)
        arr8 = np.clip(arr * 255 // top, 0, 255).astype(np.uint8)
        return np.repeat(arr8[..., None], 3, axis=2)
    if mode == "F":
        arr = np.asarray(im, dtype=np.float32)
        lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
        scaled = (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
        arr8 = (np.nan_to_num(scaled) * 255 + 0.5).astype(np.uint8)
        return np.repeat(arr8[..., None], 3, axis=2)
    if mode != "RGB":
        im = im.convert("RGB")
    return np.array(im, dtype=np.uint8)


def load_image(path: str | Path) -> np.ndarray:
    """First frame, EXIF orientation applied, as (H, W, 3) uint8."""
    with open_image(path) as im:
        try:
            im.seek(0)
            im.load()
            oriented = ImageOps.exif_transpose(im)
            return to_rgb_uint8(oriented)
        except (OSError, SyntaxError, ValueError) as exc:
            raise MediaError(path, "cannot decode image", _describe(exc), "truncated") from exc


def iter_image_frames(path: str | Path) -> Iterator[tuple[int, float, np.ndarray]]:
    """(index, start time in s, RGB frame) for every frame of an animated GIF/WebP.

    A still image yields one frame at t=0.
    """
    with open_image(path) as im:
        t = 0.0
        try:
            for index, frame in enumerate(ImageSequence.Iterator(im)):
                yield index, t, to_rgb_uint8(ImageOps.exif_transpose(frame))
                t += float(frame.info.get("duration", 0) or 0) / 1000.0
        except (OSError, SyntaxError, ValueError) as exc:
            raise MediaError(path, "cannot decode image frame", _describe(exc), "truncated") from exc


def _describe(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    if "truncated" in text.lower():
        return f"truncated file ({text})"
    return text
