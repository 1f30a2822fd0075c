"""Face detection and aligned crops, checked on a real photograph.

The face photo is matplotlib's bundled ``grace_hopper.jpg`` (US Navy portrait, public
domain): matplotlib is a runtime dependency, so the test needs no download. Its face box
below was measured by hand (forehead under the cap brim to chin, cheek to cheek).
"""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deepfake_gui.core.errors import WeightsUnavailableError
from deepfake_gui.encoders import faces
from deepfake_gui.encoders.faces import FaceCrop, available_backends, detect_faces

HAND_BOX = (165.0, 125.0, 365.0, 340.0)  # x0, y0, x1, y1 in grace_hopper.jpg (512 x 600)
LANDSCAPE = Path("/work/shared/data/image/real/mate-Wood_0.jpg")  # no face: MTCNN finds none


def _hopper_path() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


@pytest.fixture(scope="module")
def hopper() -> np.ndarray:
    path = _hopper_path()
    if not path.is_file():
        pytest.skip(f"{path} is not installed")
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.fixture(scope="module")
def half_hopper(hopper: np.ndarray) -> np.ndarray:
    """Half size (256 x 300): MTCNN's cost grows with the pixel count, and a 100 px face is plenty."""
    return np.asarray(Image.fromarray(hopper).resize((256, 300), Image.Resampling.BICUBIC))


@pytest.fixture(scope="module")
def haar_faces(hopper: np.ndarray) -> list[FaceCrop]:
    return detect_faces(hopper, backend="haar")


@pytest.fixture(scope="module")
def mtcnn_faces(hopper: np.ndarray) -> list[FaceCrop]:
    if "mtcnn" not in available_backends():
        pytest.skip("facenet-pytorch's MTCNN weights are not installed (the [offline] extra)")
    return detect_faces(hopper, backend="mtcnn")


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])
    return inter / (area - inter)


def _eye_angle_deg(landmarks: np.ndarray) -> float:
    dx, dy = (landmarks[1] - landmarks[0]).tolist()
    return math.degrees(math.atan2(dy, dx))


def _check_crop(face: FaceCrop, size: int = 224) -> None:
    assert face.crop.shape == (size, size, 3)
    assert face.crop.dtype == np.uint8
    assert face.crop.std() > 10  # a picture, not a blank


# ------------------------------------------------------------------ no weights needed
def test_importing_the_module_is_cheap() -> None:
    code = "import sys, deepfake_gui.encoders.faces; print(sorted({m.split('.')[0] for m in sys.modules}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    for heavy in ("torch", "cv2", "PIL", "facenet_pytorch", "PySide6"):
        assert f"'{heavy}'" not in out


@pytest.mark.parametrize(
    ("image", "kwargs"),
    [
        (np.zeros((64, 64), np.uint8), {}),
        (np.zeros((64, 64, 4), np.uint8), {}),
        (np.zeros((64, 64, 3), np.float32), {}),
        (np.zeros((64, 64, 3), np.uint8), {"backend": "dlib"}),
        (np.zeros((64, 64, 3), np.uint8), {"margin": -0.1}),
        (np.zeros((64, 64, 3), np.uint8), {"size": 0}),
        (np.zeros((64, 64, 3), np.uint8), {"min_confidence": 1.5}),
    ],
)
def test_bad_arguments_are_refused(image: np.ndarray, kwargs: dict) -> None:
    with pytest.raises(ValueError):
        detect_faces(image, **kwargs)


def test_haar_is_always_available() -> None:
    assert "haar" in available_backends()


def test_haar_finds_the_face(haar_faces: list[FaceCrop]) -> None:
    assert len(haar_faces) == 1
    face = haar_faces[0]
    assert face.backend == "haar"
    assert face.confidence == 1.0
    assert face.landmarks is None
    assert _iou(face.box, HAND_BOX) > 0.5
    _check_crop(face)


def test_face_crop_is_frozen_and_hashable(haar_faces: list[FaceCrop]) -> None:
    face = haar_faces[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        face.confidence = 0.0  # type: ignore[misc]
    assert hash(face) == hash(dataclasses.replace(face))
    assert all(isinstance(v, float) for v in face.box)


def test_margin_enlarges_the_crop_region(hopper: np.ndarray) -> None:
    # Haar crops are not rotated, so the margin-0.5 crop is the margin-0 crop zoomed out 2x:
    # its central half, scaled back up, must show the same pixels.
    tight = detect_faces(hopper, backend="haar", margin=0.0)[0].crop.astype(np.float32)
    wide = detect_faces(hopper, backend="haar", margin=0.5)[0].crop
    centre = Image.fromarray(wide[56:168, 56:168]).resize((224, 224), Image.Resampling.BICUBIC)
    same_region = np.abs(np.asarray(centre, np.float32) - tight).mean()
    unscaled = np.abs(wide.astype(np.float32) - tight).mean()
    assert same_region < 12
    assert unscaled > 2 * same_region

    cx, cy, side = faces._square_region((10.0, 20.0, 50.0, 100.0), 0.25)
    assert (cx, cy, side) == (30.0, 60.0, 120.0)  # the longer side (80) grown by 25 % per side


def test_haar_face_at_the_left_border(hopper: np.ndarray) -> None:
    edge = hopper[:, 165:]  # the face's left cheek on the left edge
    (face,) = detect_faces(edge, backend="haar")
    x0, y0, x1, y1 = face.box
    assert 0 <= x0 < x1 <= edge.shape[1] and 0 <= y0 < y1 <= edge.shape[0]
    _check_crop(face)
    assert face.crop[:, :8].max() == 0  # the square reaches past the border: zero padding
    assert face.crop[:, -8:].max() > 0


def test_box_clipping() -> None:
    assert faces._clip_box([-5.0, -1.0, 30.0, 70.0], 20, 60) == (0.0, 0.0, 20.0, 60.0)
    assert faces._clip_box([25.0, 5.0, 40.0, 9.0], 20, 60) is None  # wholly outside
    assert faces._clip_box([1.0, np.nan, 4.0, 9.0], 20, 60) is None


def test_tiny_and_blank_images_give_no_face() -> None:
    assert detect_faces(np.zeros((10, 10, 3), np.uint8)) == []
    assert detect_faces(np.full((64, 64, 3), 128, np.uint8), backend="haar") == []


def test_auto_falls_back_to_haar(monkeypatch: pytest.MonkeyPatch, hopper: np.ndarray) -> None:
    monkeypatch.setattr(faces, "_mtcnn_or_error", lambda device: (None, "ImportError: simulated"))
    assert available_backends() == ["haar"]
    assert [f.backend for f in detect_faces(hopper)] == ["haar"]
    with pytest.raises(WeightsUnavailableError, match="simulated"):
        detect_faces(hopper, backend="mtcnn")


# ------------------------------------------------------------------ real MTCNN weights
@pytest.mark.offline_weights
def test_bundled_weights_load_as_plain_tensors(mtcnn_faces: list[FaceCrop]) -> None:
    import torch

    module = faces._import_facenet_mtcnn()
    for name in ("pnet", "rnet", "onet"):
        state = torch.load(Path(module.__file__).parent.parent / "data" / f"{name}.pt", weights_only=True)
        assert state and all(isinstance(t, torch.Tensor) for t in state.values())
    shell = sys.modules.get("facenet_pytorch")
    assert shell is None or hasattr(shell, "MTCNN")  # no half-imported package left behind


@pytest.mark.offline_weights
def test_mtcnn_finds_the_face(mtcnn_faces: list[FaceCrop]) -> None:
    assert available_backends()[0] == "mtcnn"  # so "auto" picks it
    assert len(mtcnn_faces) == 1
    face = mtcnn_faces[0]
    assert face.backend == "mtcnn"
    assert 0.99 < face.confidence <= 1.0
    assert _iou(face.box, HAND_BOX) > 0.5
    assert face.landmarks is not None
    assert face.landmarks.shape == (5, 2) and face.landmarks.dtype == np.float32
    x0, y0, x1, y1 = face.box
    assert np.all((face.landmarks >= (x0, y0)) & (face.landmarks <= (x1, y1)))
    assert face.landmarks[0, 0] < face.landmarks[1, 0]  # left eye, then right eye
    _check_crop(face)


@pytest.mark.offline_weights
def test_both_backends_agree(mtcnn_faces: list[FaceCrop], haar_faces: list[FaceCrop]) -> None:
    assert _iou(mtcnn_faces[0].box, haar_faces[0].box) > 0.5


@pytest.mark.offline_weights
def test_no_face_in_a_landscape(mtcnn_faces: list[FaceCrop]) -> None:
    if not LANDSCAPE.is_file():
        pytest.skip(f"{LANDSCAPE} is not here")
    image = np.asarray(Image.open(LANDSCAPE).convert("RGB"))
    assert detect_faces(image, backend="mtcnn", min_confidence=0.9) == []


@pytest.mark.offline_weights
def test_mtcnn_face_cut_by_the_left_border(half_hopper: np.ndarray, mtcnn_faces: list[FaceCrop]) -> None:
    edge = half_hopper[:, 95:]  # the left third of the face is outside the picture
    (face,) = detect_faces(edge, backend="mtcnn")
    x0, y0, x1, y1 = face.box
    assert x0 == 0.0  # MTCNN extrapolated past the edge; the box is clipped back
    assert 0 <= y0 < y1 <= edge.shape[0] and x1 <= edge.shape[1]
    _check_crop(face)
    assert face.crop[:, :8].max() == 0 and face.crop[:, -8:].max() > 0


@pytest.mark.offline_weights
def test_crops_are_rotated_until_the_eyes_are_level(half_hopper: np.ndarray, mtcnn_faces: list[FaceCrop]) -> None:
    upright = _eye_angle_deg(mtcnn_faces[0].landmarks)
    tilted = np.asarray(Image.fromarray(half_hopper).rotate(20, resample=Image.Resampling.BICUBIC, expand=True))
    (face,) = detect_faces(tilted, backend="mtcnn")
    assert _eye_angle_deg(face.landmarks) == pytest.approx(upright - 20, abs=3)
    _check_crop(face)
    (again,) = detect_faces(face.crop, backend="mtcnn")
    assert abs(_eye_angle_deg(again.landmarks)) < 3


@pytest.mark.offline_weights
def test_several_faces_sorted_by_confidence(half_hopper: np.ndarray, mtcnn_faces: list[FaceCrop]) -> None:
    small = np.asarray(Image.fromarray(half_hopper).resize((128, 150), Image.Resampling.BICUBIC))
    pair = np.zeros((300, 384, 3), np.uint8)
    pair[:, :256] = half_hopper
    pair[75:225, 256:] = small
    found = detect_faces(pair, backend="mtcnn", size=112)
    assert len(found) == 2
    assert found[0].confidence >= found[1].confidence
    assert {f.box[0] > 256 for f in found} == {True, False}
    for face in found:
        _check_crop(face, size=112)
    cut = (found[0].confidence + found[1].confidence) / 2
    if found[0].confidence > found[1].confidence:
        assert len(detect_faces(pair, backend="mtcnn", min_confidence=cut)) == 1
