"""Image re-encodings a picture meets on its way to a user: JPEG, WebP, rescaling, blur, crop.

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


def jpeg_recompress(img: np.ndarray, quality: int = JPEG_QUALITY, subsampling: str = JPEG_SUBSAMPLING) -> np.ndarray:
    """The image after one more JPEG round trip at ``quality`` (``subsampling``: "4:4:4", "4:2:2" or "4:2:0")."""
    with Image.open(io.BytesIO(encode_jpeg(img, quality, subsampling))) as im:
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


def encode_webp(img: np.ndarray, quality: int = 75) -> bytes:
    """Lossy WebP bytes at ``quality`` (method 4, Pillow's default: deterministic)."""
    if not 1 <= quality <= 100:
        raise ValueError(f"WebP quality must be 1..100, got {quality}")
    buf = io.BytesIO()
    Image.fromarray(_checked(img), "RGB").save(buf, format="WEBP", quality=int(quality), method=4)
    return buf.getvalue()


def webp_recompress(img: np.ndarray, quality: int = 75) -> np.ndarray:
    """The image after a lossy WebP round trip at ``quality`` (what several apps now serve)."""
    with Image.open(io.BytesIO(encode_webp(img, quality))) as im:
        return np.array(im.convert("RGB"), dtype=np.uint8)


def gaussian_blur(img: np.ndarray, radius: float = 1.0) -> np.ndarray:
    """Mild Gaussian blur (Pillow, ``radius`` in pixels): a soft lens, a denoiser, a resize filter."""
    from PIL import ImageFilter

    if not 0.0 <= radius <= 10.0:
        raise ValueError(f"blur radius must be in [0, 10], got {radius}")
    return np.array(Image.fromarray(_checked(img), "RGB").filter(ImageFilter.GaussianBlur(radius)), dtype=np.uint8)


def crop(img: np.ndarray, keep: float = 0.9, rng: np.random.Generator | None = None) -> np.ndarray:
    """A ``keep``-sized window (fraction of each side) at a seeded random position; centred without ``rng``.

    Cropping shifts the JPEG 8x8 grid and the generator's upsampling lattice, which
    position-sensitive traces rely on.
    """
    arr = _checked(img)
    if not 0.0 < keep <= 1.0:
        raise ValueError(f"crop keep fraction must be in (0, 1], got {keep}")
    h, w = arr.shape[:2]
    ch, cw = max(1, round(h * keep)), max(1, round(w * keep))
    if rng is None:
        top, left = (h - ch) // 2, (w - cw) // 2
    else:
        top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    return np.ascontiguousarray(arr[top:top + ch, left:left + cw])


def social(img: np.ndarray, rng: np.random.Generator, factors: tuple[float, float] = (0.5, 0.9),
           qualities: tuple[int, int] = (65, 90)) -> bytes:
    """A social-network upload: downscale by a seeded factor in ``factors`` (kept small), JPEG at a seeded quality.

    Returns the JPEG bytes (the copy users download). The draws come from ``rng`` only,
    so the same generator state gives the same bytes.
    """
    factor = float(rng.uniform(*factors))
    quality = int(rng.integers(qualities[0], qualities[1] + 1))
    return encode_jpeg(rescale(img, factor, back=False), quality)
