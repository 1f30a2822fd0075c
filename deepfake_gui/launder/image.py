"""Image re-encodings a picture meets on its way to a user: JPEG re-compression and rescaling.

Each function maps decoded RGB uint8 (H, W, 3) to the same kind of array and is
deterministic (Pillow's libjpeg and resamplers have no randomness), so a measured
figure can be reproduced bit for bit. The ``*_file`` helpers write a laundered copy:
JPEG re-compression keeps the JPEG bytes themselves; rescaling writes a lossless PNG so
that rescaling is the only change.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

JPEG_QUALITY = 75
RESCALE_FACTOR = 0.5
# Pillow's JPEG default for quality < 95: 4:2:0 chroma subsampling, as most sites and apps re-encode.
JPEG_SUBSAMPLING = "4:2:0"


def _checked(img: np.ndarray) -> np.ndarray:
    arr = np.asarray(img)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8 or 0 in arr.shape:
        raise ValueError(f"expected RGB uint8 (H, W, 3), got {arr.dtype} {arr.shape}")
    return np.ascontiguousarray(arr)


def encode_jpeg(img: np.ndarray, quality: int = JPEG_QUALITY, subsampling: str = JPEG_SUBSAMPLING) -> bytes:
    """Baseline JPEG bytes at ``quality`` (no EXIF, no ICC profile, no optimisation pass)."""
    if not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality must be 1..100, got {quality}")
    buf = io.BytesIO()
    Image.fromarray(_checked(img), "RGB").save(buf, format="JPEG", quality=int(quality), subsampling=subsampling)
    return buf.getvalue()


def jpeg_recompress(img: np.ndarray, quality: int = JPEG_QUALITY) -> np.ndarray:
    """The image after one more JPEG round trip at ``quality``."""
    with Image.open(io.BytesIO(encode_jpeg(img, quality))) as im:
        return np.array(im.convert("RGB"), dtype=np.uint8)


def rescale(img: np.ndarray, factor: float = RESCALE_FACTOR, back: bool = True) -> np.ndarray:
    """Resize by ``factor`` (bicubic, antialiased when shrinking); with ``back``, resize to the original size again.

    ``factor=0.5, back=True`` loses the top half of the spatial spectrum while keeping
    the image size, like a thumbnail blown back up; ``back=False`` returns the smaller image.
    """
    arr = _checked(img)
    if not 0.0 < factor <= 4.0:
        raise ValueError(f"rescale factor must be in (0, 4], got {factor}")
    h, w = arr.shape[:2]
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    small = Image.fromarray(arr, "RGB").resize(size, Image.Resampling.BICUBIC)
    if back:
        small = small.resize((w, h), Image.Resampling.BICUBIC)
    return np.array(small, dtype=np.uint8)


def jpeg_file(src: str | Path, dst: str | Path, quality: int = JPEG_QUALITY) -> Path:
    """Write ``src`` re-compressed as JPEG at ``quality`` to ``dst``."""
    from deepfake_gui.media import load_image

    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(encode_jpeg(load_image(src), quality))
    return dst


def rescale_file(src: str | Path, dst: str | Path, factor: float = RESCALE_FACTOR, back: bool = True) -> Path:
    """Write ``src`` rescaled (see :func:`rescale`) to ``dst`` as a lossless PNG."""
    from deepfake_gui.media import load_image

    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rescale(load_image(src), factor, back), "RGB").save(dst, format="PNG")
    return dst
