"""Still and animated images through Pillow, always as RGB uint8 (H, W, 3).

The memory budget (docs/reliability.md): a picture or frame may claim at most
PIXEL_BUDGET pixels. The claimed size is checked before any pixel is decoded,
and again after every seek (a GIF frame may claim extents beyond its canvas,
which grows the picture). Anything Pillow raises while decoding untrusted bytes,
MemoryError included, is the file's error line.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, ImageSequence, UnidentifiedImageError

from deepfake_gui.core.errors import MediaError

# 100 MP: a 100 MP RGB picture decodes to 400 MB in Pillow plus 300 MB as numpy, within the 2 GB per file
# beside the models (a 13,300 x 13,300 PNG of one colour, 553 KB on disk, is refused instead of taking 3 GB).
PIXEL_BUDGET = 100_000_000
PIXEL_LIMIT = PIXEL_BUDGET  # the former name
MAX_FRAMES = 10_000  # an animation's frames are read one by one to sum their durations
# Pillow open-format names; MPO files are opened by the JPEG plugin (naming "MPO" here
# made Image.open raise KeyError for every non-PNG/JPEG file).
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")

# Our own check replaces Pillow's (it names the file and the claimed width x height, and it runs after every
# seek, where Pillow's open-time check does not); a bomb error or MemoryError from elsewhere still maps to
# "image too large" (decode_error).
Image.MAX_IMAGE_PIXELS = None
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
_log = logging.getLogger(__name__)
_PIL_DIR = os.path.dirname(Image.__file__) + os.sep
_show_warning = warnings.showwarning


def _route_pillow_warnings(message, category, filename, lineno, file=None, line=None) -> None:
    """Pillow's warnings about odd files ("Corrupt EXIF data", "Tag data larger than file") go to logging.

    On a folder of odd pictures they flooded stderr; they describe the file, and
    the file's own line already says what failed. Other warnings are shown as usual.
    """
    if str(filename).startswith(_PIL_DIR):
        _log.info("Pillow: %s: %s", category.__name__, message)
        return
    _show_warning(message, category, filename, lineno, file, line)


warnings.showwarning = _route_pillow_warnings
# Pillow also logs ("More samples per pixel than can be decoded"); with no handler Python prints those to stderr.
logging.getLogger("PIL").addHandler(logging.NullHandler())


def check_pixel_count(path: str | Path, fmt: str, width: int, height: int) -> None:
    """Refuse a claimed size above the budget before anything is decoded at that size."""
    if width <= 0 or height <= 0:
        raise MediaError(path, f"cannot decode {fmt}", f"it claims {width}x{height} pixels", "unreadable")
    if width * height > PIXEL_BUDGET:
        raise MediaError(
            path,
            "image too large",
            f"{fmt} claims {width}x{height} pixels, above the {PIXEL_BUDGET // 1_000_000} MP budget per picture "
            "(possible decompression bomb); nothing was decoded",
            reason="too-large",
        )


def check_frame_count(path: str | Path, fmt: str, n_frames: int) -> None:
    if n_frames > MAX_FRAMES:
        raise MediaError(path, "image too large", f"{fmt} claims {n_frames} frames, above the {MAX_FRAMES} "
                         "frame budget per animation", reason="too-large")


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
    except Exception as exc:  # anything a decoder raises on untrusted bytes is the file's error
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
            check_pixel_count(path, im.format or "image", *im.size)  # a first frame's extents may grow it
            im.load()
            oriented = ImageOps.exif_transpose(im)
            return to_rgb_uint8(oriented)
        except MediaError:
            raise
        except Exception as exc:  # anything a decoder raises on untrusted bytes is the file's error
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
                check_pixel_count(path, fmt, *frame.size)  # a frame's extents may grow the canvas
                if index >= MAX_FRAMES:
                    check_frame_count(path, fmt, index + 1)
                frame.load()  # WebP fills info["duration"] only when the frame is decoded
                duration_ms = int(round(float(frame.info.get("duration", 0) or 0)))
                rgb = to_rgb_uint8(ImageOps.exif_transpose(frame))
                yield index, t_ms / 1000.0, rgb
                t_ms += duration_ms
        except MediaError:
            raise
        except Exception as exc:  # anything a decoder raises on untrusted bytes is the file's error
            raise decode_error(path, fmt, exc) from exc


def decode_error(path: str | Path, fmt: str, exc: BaseException) -> MediaError:
    """'truncated PNG' when Pillow ran out of data, 'image too large' for a bomb or no memory, else 'cannot decode'."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, Image.DecompressionBombError | MemoryError):
        return MediaError(path, "image too large", f"{type(exc).__name__}: {text[:300]} (budget "
                          f"{PIXEL_BUDGET // 1_000_000} MP per picture)", "too-large")
    if not isinstance(exc, OSError | SyntaxError | ValueError | EOFError):
        text = f"{type(exc).__name__}: {text}"  # e.g. TypeError: Missing dimensions (a broken TIFF)
    if "truncated" in text.lower() or isinstance(exc, EOFError):
        return MediaError(path, f"truncated {fmt}", f"the data ends early ({text})", "truncated")
    return MediaError(path, f"cannot decode {fmt}", text, "unreadable")
