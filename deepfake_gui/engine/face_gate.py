"""Faces a picture detector cannot judge: when faces only ever came from a generator in its training data.

Why: every StyleGAN2 picture of the development data is a face and almost no genuine one is, so to a
detector trained on it "a face" means "generated". Measured: genuine face photos were called fake (12 of
14 film stills, 4 of 64 web photos), and with 82 genuine face photos added to training, the same probe
ranked StyleGAN2 faces it had not seen at AUC 0.19 (below chance: its face verdicts had been face-ness,
not generation). So at training time we count the pictures with a face in each class; when faces are
far commoner among the fakes (``is_shortcut``), the bundle says so (``domain_profile.faces``), its
held-out calibration is fitted on pictures without a face, and scan withholds the verdict on a picture
with a face, with that reason.

A picture "has a face" when MTCNN (confidence 0.95, on a copy at most ``DETECT_SIDE`` px a side; Haar
where MTCNN is not installed) finds one covering at least ``FACE_SHARE_MIN`` of the picture: 97-100% of
genuine portraits and all StyleGAN2 faces of the development data do; no autoencoder or Stable
Diffusion 1 picture does.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from pathlib import Path

import numpy as np

from deepfake_gui.core.jobs import CancelToken, Progress

FACE_SHARE_MIN = 0.03  # of the picture's area, for the largest face
DETECT_SIDE = 480  # faces that large stay 80 px or more: MTCNN finds them, and a big photo costs no more
MIN_CONFIDENCE = 0.95
SHORTCUT_RATIO = 3.0  # faces at least this many times commoner among the training fakes than the real pictures
SHORTCUT_MIN_FAKES = 10


def largest_face_share(rgb: np.ndarray) -> float:
    """Area of the largest face found, as a share of the picture (0.0 when there is none)."""
    from PIL import Image

    from deepfake_gui.encoders.faces import detect_faces

    height, width = rgb.shape[:2]
    scale = min(1.0, DETECT_SIDE / max(height, width))
    small = rgb
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = np.asarray(Image.fromarray(np.ascontiguousarray(rgb[..., :3])).resize(size, Image.BILINEAR))
    faces = detect_faces(small, min_confidence=MIN_CONFIDENCE)
    if not faces:
        return 0.0
    area = max((f.box[2] - f.box[0]) * (f.box[3] - f.box[1]) for f in faces)
    return float(area / (small.shape[0] * small.shape[1]))


def is_shortcut(real_with_face: int, n_real: int, fake_with_face: int, n_fake: int) -> bool:
    """Faces much commoner among the fakes than among the real pictures: "face" alone would predict "fake"."""
    if n_real <= 0 or n_fake <= 0 or fake_with_face < SHORTCUT_MIN_FAKES:
        return False
    return fake_with_face / n_fake >= SHORTCUT_RATIO * max(real_with_face / n_real, 1.0 / n_real)


CACHE_NAME = "face-share"  # the feature cache's folder for each picture's largest face share


def cached_face_share(path: Path, cache, backend: str) -> float:
    """The picture's largest face share, from the feature cache when this file was measured before."""
    from deepfake_gui.core.hashing import sha256_file
    from deepfake_gui.media import load_image

    key = cache.make_key(sha256_file(path), CACHE_NAME, None, f"{backend}-{DETECT_SIDE}-{MIN_CONFIDENCE}-v1")
    stored = cache.get(CACHE_NAME, key)
    if stored is not None:
        return float(stored[0][0])
    share = largest_face_share(load_image(path))
    cache.put(CACHE_NAME, key, [np.array([share], dtype=np.float32)])
    return share


def training_faces(paths: Sequence[Path], labels: Sequence[int], cancel: CancelToken, cache=None,
                   ) -> Generator[Progress, None, tuple[dict, np.ndarray] | None]:
    """(the ``domain_profile.faces`` record, per-item "has a face" mask), or None without a face detector.

    ``cache`` (encoders.cache.FeatureCache): face shares are kept per file content, so a retrain does not
    run MTCNN again (with decoding, about 15 ms for a 512 px picture and 0.3 s for a large photo).
    """
    from deepfake_gui.core.errors import MediaError
    from deepfake_gui.encoders.cache import FeatureCache
    from deepfake_gui.encoders.faces import available_backends

    backends = available_backends("cpu")
    if not backends:
        return None
    cache = cache if cache is not None else FeatureCache()
    has_face = np.zeros(len(paths), dtype=bool)
    for i, path in enumerate(paths):
        cancel.raise_if_cancelled()
        if i % 25 == 0:
            yield Progress(i, len(paths), "faces in the training pictures")
        try:
            has_face[i] = cached_face_share(Path(path), cache, backends[0]) >= FACE_SHARE_MIN
        except (MediaError, OSError, ValueError):  # an unreadable picture counts as faceless
            continue
    y = np.asarray(labels).astype(int)
    counts = {"real_with_face": int(has_face[y == 0].sum()), "n_real": int((y == 0).sum()),
              "fake_with_face": int(has_face[y == 1].sum()), "n_fake": int((y == 1).sum())}
    withheld = is_shortcut(counts["real_with_face"], counts["n_real"], counts["fake_with_face"], counts["n_fake"])
    record = {"share_min": FACE_SHARE_MIN, "detector": f"mtcnn >= {MIN_CONFIDENCE}, at most {DETECT_SIDE} px",
              **counts, "withheld": withheld,
              "meaning": ("faces are far commoner among the generated training pictures than the genuine ones, so "
                          "a face alone looks generated to this detector: verdicts on pictures with a face are "
                          "withheld, and the held-out calibration was fitted on pictures without one") if withheld
              else "faces are about as common in both classes of the training pictures"}
    return record, has_face


def faces_record(meta: dict) -> dict | None:
    """The bundle's ``domain_profile.faces`` when it asks for face pictures to be withheld."""
    record = (meta.get("domain_profile") or {}).get("faces")
    if isinstance(record, dict) and record.get("withheld") is True:
        return record
    return None


def training_faces_said(record: dict) -> str:
    """The training counts behind a face reason, in words."""
    return (f"{record.get('fake_with_face')} of its {record.get('n_fake')} generated training pictures show a face "
            f"and only {record.get('real_with_face')} of {record.get('n_real')} genuine ones, so to it a face looks "
            "generated")


def frames_face_reason(active, facts: dict) -> str | None:
    """Why a video's picture track is withheld: a face in its frames, for a detector that cannot judge faces."""
    record = faces_record(getattr(active.detector, "meta", None) or {})
    check = facts.get("face_check") or {}
    if record is None or not check.get("frames_with_face"):
        return None
    return (f"{active.name} found a face in {check['frames_with_face']} of {check['frames_checked']} frames checked; "
            f"{training_faces_said(record)}: it cannot tell genuine footage of a person from generated footage")


def face_reasons(path: Path, info, detectors: list, decoder=None) -> list[dict[str, str]]:
    """A picture with a face, for an image detector whose training made faces look generated: no verdict."""
    if info.modality != "image":
        return []
    from deepfake_gui.engine.gate import image_detector_cards

    records = {name: faces_record(meta) for name, meta in image_detector_cards(detectors)}
    records = {name: record for name, record in records.items() if record is not None}
    if not records:
        return []
    from deepfake_gui.core.errors import FileStopped, LayerScopeError, MediaError
    from deepfake_gui.engine.decoding import LocalDecoder

    try:
        picture = (decoder or LocalDecoder()).image(path)
    except FileStopped:
        raise
    except (MediaError, OSError, ValueError):
        return []  # the scorers report an undecodable picture
    try:
        share = largest_face_share(picture)
    except LayerScopeError as exc:  # no face detector loads: faces cannot be ruled out
        return [{"code": "face", "message": (
            f"{name}: to it a face looks generated (its training faces were almost all generated), and no face "
            f"detector could run to rule one out ({exc})")} for name in sorted(records)]
    out = []
    for name, record in sorted(records.items()):
        if share >= float(record.get("share_min", FACE_SHARE_MIN)):
            out.append({"code": "face", "message": (
                f"{name}: a face ({share:.0%} of the picture); {training_faces_said(record)}: it cannot tell a "
                "genuine portrait from a generated one")})
    return out
