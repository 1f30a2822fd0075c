"""Face detection and aligned face crops for the image and video detectors.

Face-swap and reenactment artefacts live on the face, so the face detectors look at a
square crop around each face instead of the whole frame. Two backends:

- ``mtcnn``: facenet-pytorch's MTCNN with its bundled P/R/O-net weights (boxes, a
  confidence and five landmarks, so crops can be rotated until the eyes are level);
- ``haar``: OpenCV's frontal-face Haar cascade, always available with opencv, no
  landmarks and no confidence (reported as 1.0).

Heavy libraries (torch, cv2, Pillow, facenet) are imported on first use only, so importing
this module stays cheap for the CLI and the GUI.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import logging
import math
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

__all__ = ["FaceCrop", "available_backends", "detect_faces"]

logger = logging.getLogger(__name__)

BACKENDS = ("mtcnn", "haar")
# MTCNN's usual settings: smallest face searched for, per-stage thresholds, pyramid step.
MTCNN_MIN_FACE = 20
MTCNN_THRESHOLDS = (0.6, 0.7, 0.7)
MTCNN_FACTOR = 0.709
HAAR_CASCADE = "haarcascade_frontalface_default.xml"
FACENET_HINT = (
    "install it with `pip install --no-deps facenet-pytorch==2.6.0` "
    "(installer/install.sh does it; its own dependency pins would downgrade torch)"
)


@dataclass(frozen=True)
class FaceCrop:
    """One detected face.

    ``box`` is (x0, y0, x1, y1) in pixels of the original image, clipped to it.
    ``landmarks`` (5x2 float32: left eye, right eye, nose, mouth left, mouth right, in
    image pixels) is None for backends without landmarks. ``crop`` is the aligned
    ``size x size x 3`` uint8 RGB face crop. Arrays are left out of ``==`` and ``hash``.
    """

    box: tuple[float, float, float, float]
    confidence: float
    landmarks: np.ndarray | None = field(compare=False, repr=False)
    crop: np.ndarray = field(compare=False, repr=False)
    backend: str  # "mtcnn" or "haar"


# ------------------------------------------------------------------ public API
def available_backends(device: str = "cpu") -> list[str]:
    """Backends that load on this machine, best first (``backend="auto"`` takes the first)."""
    names = []
    if _mtcnn_or_error(device)[0] is not None:
        names.append("mtcnn")
    if _haar_or_error()[0] is not None:
        names.append("haar")
    return names


def detect_faces(
    image: np.ndarray,
    *,
    backend: str = "auto",
    margin: float = 0.2,
    size: int = 224,
    min_confidence: float = 0.9,
    device: str = "cpu",
) -> list[FaceCrop]:
    """Find the faces in an RGB uint8 image and return aligned square crops, most confident first.

    ``margin`` enlarges the box by that fraction of its width/height on each side before it
    is made square, so the crop keeps the face's outline (where blending seams are).
    ``backend`` is ``"auto"`` (MTCNN if it loads, else Haar), ``"mtcnn"`` or ``"haar"``.
    ``min_confidence`` only filters MTCNN (Haar has no score; its faces report 1.0).
    ``device`` is where MTCNN runs ("cpu", "cuda", "auto"); Haar always runs on the CPU.
    """
    _check_arguments(image, backend, margin, size, min_confidence)
    image = np.ascontiguousarray(image)
    name, detector = _resolve_backend(backend, device)
    boxes, scores, landmarks = detector(image)

    height, width = image.shape[:2]
    faces: list[FaceCrop] = []
    pil_image = None
    for i in range(len(boxes)):
        confidence = float(scores[i])
        if not math.isfinite(confidence) or confidence < min_confidence:
            continue
        box = _clip_box(boxes[i], width, height)
        if box is None:
            continue
        points = None if landmarks is None else np.array(landmarks[i], dtype=np.float32).reshape(5, 2)
        if pil_image is None:
            from PIL import Image

            pil_image = Image.fromarray(image)
        crop = _aligned_crop(pil_image, box, points, float(margin), int(size))
        faces.append(FaceCrop(box=box, confidence=confidence, landmarks=points, crop=crop, backend=name))
    faces.sort(key=lambda f: (-f.confidence, -(f.box[2] - f.box[0]) * (f.box[3] - f.box[1])))
    return faces


# ------------------------------------------------------------------ arguments
def _check_arguments(image: Any, backend: str, margin: float, size: int, min_confidence: float) -> None:
    """Fail early with a clear message: a wrong layout would otherwise give silent garbage."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", None)
        raise ValueError(f"detect_faces needs an (H, W, 3) RGB array, got shape {shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"detect_faces needs a uint8 image, got {image.dtype}")
    if backend not in ("auto", *BACKENDS):
        raise ValueError(f"unknown face backend {backend!r}; choose auto, {', '.join(BACKENDS)}")
    if not (math.isfinite(margin) and margin >= 0):
        raise ValueError(f"margin must be >= 0, got {margin}")
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
        raise ValueError(f"size must be a positive integer, got {size!r}")
    if not 0.0 <= min_confidence <= 1.0:
        raise ValueError(f"min_confidence must be within [0, 1], got {min_confidence}")


# ------------------------------------------------------------------ geometry
def _clip_box(raw: Any, width: int, height: int) -> tuple[float, float, float, float] | None:
    """Detectors extrapolate boxes past the border; callers index the image with them."""
    x0, y0, x1, y1 = (float(v) for v in raw[:4])
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        return None
    x0, x1 = min(max(x0, 0.0), width), min(max(x1, 0.0), width)
    y0, y1 = min(max(y0, 0.0), height), min(max(y1, 0.0), height)
    if x1 - x0 < 1.0 or y1 - y0 < 1.0:
        return None
    return (x0, y0, x1, y1)


def _square_region(box: tuple[float, float, float, float], margin: float) -> tuple[float, float, float]:
    """Centre and side of the crop: the box grown by ``margin`` per side, then squared."""
    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0) * (1.0 + 2.0 * margin)
    return (x0 + x1) / 2.0, (y0 + y1) / 2.0, side


def _eye_angle(landmarks: np.ndarray | None) -> float | None:
    """Angle (radians) of the left-eye -> right-eye line, None when it cannot be trusted."""
    if landmarks is None or not np.all(np.isfinite(landmarks)):
        return None
    dx, dy = (landmarks[1] - landmarks[0]).tolist()
    if math.hypot(dx, dy) < 1.0:
        return None
    return math.atan2(dy, dx)


def _aligned_crop(
    pil_image: Any,
    box: tuple[float, float, float, float],
    landmarks: np.ndarray | None,
    margin: float,
    size: int,
) -> np.ndarray:
    """Square crop around the face, eyes levelled when landmarks exist, zero-padded past the border.

    The patch is first cut at native resolution (rotation needs one interpolation at
    scale 1) and only then resized by Pillow, whose resize filters antialias when shrinking;
    a single scaled affine warp would alias large faces.
    """
    from PIL import Image

    cx, cy, side = _square_region(box, margin)
    side_px = max(1, round(side))
    angle = _eye_angle(landmarks)
    if angle is None:
        left, top = round(cx - side_px / 2.0), round(cy - side_px / 2.0)
        patch = pil_image.crop((left, top, left + side_px, top + side_px))  # zero fill outside
    else:
        # Output pixel (u, v) samples input cx, cy + R(angle) @ (u - half, v - half) * scale,
        # so the eye line becomes the crop's horizontal axis.
        scale, half = side / side_px, side_px / 2.0
        cos_a, sin_a = math.cos(angle) * scale, math.sin(angle) * scale
        data = (cos_a, -sin_a, cx - (cos_a - sin_a) * half, sin_a, cos_a, cy - (sin_a + cos_a) * half)
        patch = pil_image.transform(
            (side_px, side_px),
            Image.Transform.AFFINE,
            data,
            resample=Image.Resampling.BICUBIC,
            fillcolor=(0, 0, 0),
        )
    if patch.size != (size, size):
        patch = patch.resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(patch, dtype=np.uint8).copy()


# ------------------------------------------------------------------ backends
Detections = tuple[np.ndarray, np.ndarray, np.ndarray | None]  # boxes (N, 4), scores (N,), landmarks
Detector = Callable[[np.ndarray], Detections]
# What "not installed / weights missing or broken" looks like; anything else is a bug and propagates.
_UNAVAILABLE = (ImportError, OSError, RuntimeError)


def _resolve_backend(backend: str, device: str) -> tuple[str, Detector]:
    """The detector for a backend name; "auto" falls back to Haar when MTCNN is not installed."""
    from deepfake_gui.core.errors import LayerScopeError, WeightsUnavailableError

    if backend in ("auto", "mtcnn"):
        mtcnn, error = _mtcnn_or_error(device)
        if mtcnn is not None:
            return "mtcnn", mtcnn
        if backend == "mtcnn":
            raise WeightsUnavailableError(f"the MTCNN face detector cannot load: {error}")
    haar, error = _haar_or_error()
    if haar is None:
        raise LayerScopeError(f"no face detector can load: {error}")
    return "haar", haar


def _mtcnn_or_error(device: str) -> tuple[Detector | None, str]:
    """MTCNN for a device, or why not. A wrong device (cuda without a GPU) raises instead."""
    from deepfake_gui.encoders.device import resolve_device

    return _mtcnn_on(str(resolve_device(device)))


@functools.lru_cache(maxsize=8)
def _mtcnn_on(device: str) -> tuple[Detector | None, str]:
    """Load MTCNN once per process and device; a failure is remembered too, so it is logged once."""
    from deepfake_gui.core.errors import WeightsUnavailableError

    try:
        return _load_mtcnn(device), ""
    except (*_UNAVAILABLE, WeightsUnavailableError) as exc:
        message = f"{type(exc).__name__}: {exc}"
        logger.warning("MTCNN face detector unavailable (%s); faces will be found with Haar", message)
        return None, message


@functools.lru_cache(maxsize=1)
def _haar_or_error() -> tuple[Detector | None, str]:
    """Load the Haar cascade once per process, or say why it cannot."""
    try:
        return _load_haar(), ""
    except _UNAVAILABLE as exc:
        return None, f"{type(exc).__name__}: {exc}"


def _import_facenet_mtcnn() -> ModuleType:
    """facenet_pytorch's MTCNN module, even when its package ``__init__`` cannot import.

    The package ``__init__`` also imports InceptionResnetV1, which needs ``requests`` (for
    weight downloads); the --no-deps install lacks it, and MTCNN itself does not need it.
    In that case the package is registered as an empty shell (its path, without running
    ``__init__``) just long enough to import ``facenet_pytorch.models.mtcnn``.
    """
    try:
        from facenet_pytorch.models import mtcnn

        return mtcnn
    except ImportError:
        pass
    spec = importlib.util.find_spec("facenet_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"facenet-pytorch is not installed; {FACENET_HINT}")
    shell = importlib.util.module_from_spec(spec)
    previous = sys.modules.get("facenet_pytorch")
    sys.modules["facenet_pytorch"] = shell
    try:
        return importlib.import_module("facenet_pytorch.models.mtcnn")
    finally:
        if sys.modules.get("facenet_pytorch") is shell:
            if previous is None:
                del sys.modules["facenet_pytorch"]
            else:
                sys.modules["facenet_pytorch"] = previous


def _load_mtcnn(device: str) -> Detector:
    """Build P/R/O-nets and load the bundled weights as plain tensors (weights_only, no pickle code)."""
    import torch

    from deepfake_gui.core.errors import WeightsUnavailableError

    module = _import_facenet_mtcnn()
    torch_device = torch.device(device)
    data_dir = Path(module.__file__).resolve().parent.parent / "data"
    nets = []
    for cls, name in ((module.PNet, "pnet"), (module.RNet, "rnet"), (module.ONet, "onet")):
        path = data_dir / f"{name}.pt"
        if not path.is_file():
            raise WeightsUnavailableError(f"MTCNN weights {path} are missing; {FACENET_HINT}")
        net = cls(pretrained=False)  # facenet's own loader calls torch.load without weights_only
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # unpickling refused or a truncated file: unusable either way
            raise WeightsUnavailableError(f"MTCNN weights {path} are not plain tensors: {exc}") from exc
        net.load_state_dict(state, strict=True)
        nets.append(net.eval().requires_grad_(False).to(torch_device))
    pnet, rnet, onet = nets
    detect = module.detect_face

    def run(image: np.ndarray) -> Detections:
        if min(image.shape[:2]) < MTCNN_MIN_FACE:  # no pyramid level fits: facenet would crash
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 5, 2), np.float32)
        with torch.inference_mode():
            batch_boxes, batch_points = detect(
                image, MTCNN_MIN_FACE, pnet, rnet, onet, list(MTCNN_THRESHOLDS), MTCNN_FACTOR, torch_device
            )
        # Under numpy 2 facenet hands back object arrays: cast before any arithmetic.
        boxes = np.asarray(batch_boxes[0]).astype(np.float32).reshape(-1, 5)
        points = np.asarray(batch_points[0]).astype(np.float32).reshape(-1, 5, 2)
        return boxes[:, :4], boxes[:, 4], points

    return run


def _load_haar() -> Detector:
    """OpenCV's frontal-face cascade, shipped inside the opencv wheel."""
    import cv2

    path = Path(cv2.data.haarcascades) / HAAR_CASCADE
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise OSError(f"could not load the Haar cascade {path}")
    lock = threading.Lock()  # one CascadeClassifier is not safe to share between threads

    def run(image: np.ndarray) -> Detections:
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        with lock:
            found = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(30, 30))
        rects = np.asarray(found, dtype=np.float32).reshape(-1, 4)
        boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], axis=1)
        return boxes, np.ones(len(boxes), np.float32), None

    return run
