"""Still and animated images through Pillow, always as RGB uint8 (H, W, 3).

Pillow's own decompression-bomb check is replaced by ours so the error names the
file and the claimed size instead of a generic warning.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, ImageSequence, UnidentifiedImageError

from deepfake_gui.core.errors import MediaError

# Pillow raises at 2 x MAX_IMAGE_PIXELS (about 179 MP); we keep that bound and say it plainly.
PIXEL_LIMIT = 2 * 89_478_485
# Pillow open-format names; MPO files are opened by the JPEG plugin (naming "MPO" here
# made Image.open raise KeyError for every non-PNG/JPEG file).
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")

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
    """Open by content (never by extension) and apply the pixel guard before any decoding."""
    from deepfake_gui.media.av_util import check_file

    check_file(path)
    ImageFile.LOAD_TRUNCATED_IMAGES = False  # a library may have turned it on process-wide (WeasyPrint does)
    try:
        im = Image.open(path, formats=IMAGE_FORMATS)
    except UnidentifiedImageError as exc:
        raise MediaError(path, "not an image", "Pillow does not recognise the content", "not-media") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise decode_error(path, "image", exc) from exc
    try:
        check_pixel_count(path, im.format or "image", *im.size)
        yield im
    finally:
        im.close()


def to_rgb_uint8(im: Image.Image) -> np.ndarray:
    """Convert any Pillow mode to RGB uint8, scaling high bit depths instead of clipping.

    Pillow's own convert("RGB") clips 16-bit grayscale at 255, which turns most of a
    16-bit image white; here 65535 -> 255 and 32768 -> 128 (rounded).
    """
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(im, dtype=np.uint32 if mode == "I" else np.uint16).astype(np.int64)
        top = 65535 if arr.max(initial=0) <= 65535 else max(int(arr.max()), 1)
        arr8 = np.clip((arr * 255 + top // 2) // top, 0, 255).astype(np.uint8)
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
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise decode_error(path, im.format or "image", exc) from exc


def iter_image_frames(path: str | Path) -> Iterator[tuple[int, float, np.ndarray]]:
    """(index, start time in s, RGB frame) for every frame of an animated GIF/WebP.

    A still image yields one frame at t=0. Times are summed in integer milliseconds
    (the unit the formats store) so frame 2 of 100/200 ms starts at exactly 0.3 s.
    """
    with open_image(path) as im:
        fmt = im.format or "image"
        t_ms = 0
        try:
            for index, frame in enumerate(ImageSequence.Iterator(im)):
                frame.load()  # WebP fills info["duration"] only when the frame is decoded
                duration_ms = int(round(float(frame.info.get("duration", 0) or 0)))
                rgb = to_rgb_uint8(ImageOps.exif_transpose(frame))
                yield index, t_ms / 1000.0, rgb
                t_ms += duration_ms
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise decode_error(path, fmt, exc) from exc


def decode_error(path: str | Path, fmt: str, exc: BaseException) -> MediaError:
    """'truncated PNG' when Pillow ran out of data, else 'cannot decode PNG'."""
    text = str(exc) or type(exc).__name__
    if "truncated" in text.lower() or isinstance(exc, EOFError):
        return MediaError(path, f"truncated {fmt}", f"the data ends early ({text})", "truncated")
    return MediaError(path, f"cannot decode {fmt}", text, "unreadable")
