"""The face gate: a picture detector whose training faces were all generated gives no verdict on a face."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from deepfake_gui.core.jobs import CancelToken, job_result
from deepfake_gui.engine import face_gate
from deepfake_gui.engine.face_gate import face_reasons, is_shortcut, largest_face_share, training_faces
from tests.media_factory import noisy_rgb

# The image default's training pictures: 6 of 291 genuine ones and 101 of 539 generated ones show a face.
DEFAULT_COUNTS = {"real_with_face": 6, "n_real": 291, "fake_with_face": 101, "n_fake": 539}


def _detector(record: dict | None, name: str = "image-probe", modality: str = "image"):
    profile = {} if record is None else {"faces": record}
    return SimpleNamespace(name=name, modality=modality, unavailable=None,
                           detector=SimpleNamespace(meta={"domain_profile": profile}))


def test_faces_only_among_the_fakes_are_a_shortcut_and_balanced_faces_are_not():
    assert is_shortcut(**DEFAULT_COUNTS)
    assert not is_shortcut(real_with_face=50, n_real=100, fake_with_face=60, n_fake=100)
    assert not is_shortcut(real_with_face=0, n_real=100, fake_with_face=5, n_fake=100)  # too few to matter
    assert is_shortcut(real_with_face=0, n_real=100, fake_with_face=30, n_fake=100)  # none genuine
    assert not is_shortcut(real_with_face=0, n_real=0, fake_with_face=30, n_fake=100)


def test_a_picture_without_a_face_has_share_zero():
    assert largest_face_share(noisy_rgb(900, 600, 30, seed=1)) == 0.0


def test_a_face_withholds_the_verdict_with_the_training_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "portrait.png"
    Image.fromarray(noisy_rgb(300, 300, 30, seed=2)).save(path)
    picture = SimpleNamespace(modality="image", width=300, height=300)
    record = {"share_min": 0.03, "withheld": True, **DEFAULT_COUNTS}
    monkeypatch.setattr(face_gate, "largest_face_share", lambda rgb: 0.21)
    (reason,) = face_reasons(path, picture, [_detector(record), _detector(None, "image-other")])
    assert reason["code"] == "face"
    assert reason["message"].startswith("image-probe: a face (21% of the picture); 101 of its 539 generated training "
                                        "pictures show a face and only 6 of 291 genuine ones")
    monkeypatch.setattr(face_gate, "largest_face_share", lambda rgb: 0.02)  # a face in the crowd: judged
    assert face_reasons(path, picture, [_detector(record)]) == []
    balanced = record | {"withheld": False}
    monkeypatch.setattr(face_gate, "largest_face_share", lambda rgb: 0.5)
    assert face_reasons(path, picture, [_detector(balanced)]) == []
    sound = SimpleNamespace(modality="audio", width=None, height=None)
    assert face_reasons(path, sound, [_detector(record)]) == []


def test_training_counts_faces_per_class_and_marks_the_shortcut(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    paths, labels = [], []
    for i in range(40):
        path = tmp_path / f"{i:02d}.png"
        Image.fromarray(noisy_rgb(64, 64, 30, seed=i)).save(path)
        paths.append(path)
        labels.append(int(i >= 20))
    faces = {tmp_path / f"{i:02d}.png" for i in range(20, 35)}  # 15 of 20 fakes, no genuine picture
    from deepfake_gui.encoders.cache import FeatureCache

    loaded = iter(paths)
    monkeypatch.setattr(face_gate, "largest_face_share", lambda rgb: 0.3 if next(loaded) in faces else 0.0)
    cache = FeatureCache(tmp_path / "cache")
    record, has_face = job_result(training_faces(paths, labels, CancelToken(), cache))
    assert record["withheld"] is True
    assert (record["real_with_face"], record["n_real"], record["fake_with_face"], record["n_fake"]) == (0, 20, 15, 20)
    assert has_face.tolist() == [False] * 20 + [True] * 15 + [False] * 5
    # a retrain reads the shares back: no face detection at all
    monkeypatch.setattr(face_gate, "largest_face_share", lambda rgb: pytest.fail("MTCNN ran again"))
    again, mask = job_result(training_faces(paths, labels, CancelToken(), cache))
    assert again == record and mask.tolist() == has_face.tolist() and cache.hits == 40


def test_held_out_calibration_counts_only_the_pictures_scan_will_judge():
    from deepfake_gui.engine.train_protocols import held_out_calibration

    rng = np.random.default_rng(0)
    n = 120
    labels = np.r_[np.zeros(60, int), np.ones(60, int)]
    X = rng.normal(size=(n, 4)) + labels[:, None] * 1.5
    sources = np.array(["a", "b", "c"] * 40)
    data = SimpleNamespace(labels=labels, groups=np.arange(n), item_sources=lambda: sources)
    fakes = np.flatnonzero(labels == 1)
    logo = SimpleNamespace(rows={"gen": fakes}, scores={"gen": X[fakes, 0]})
    everything = held_out_calibration(X, data, logo, "logreg", 1.0)
    judged = np.ones(n, dtype=bool)
    judged[fakes[:20]] = False  # 20 fakes with a face
    judged[:6] = False  # 6 genuine pictures with a face
    some = held_out_calibration(X, data, logo, "logreg", 1.0, judged)
    assert everything["figures"]["n_fake"] == 60 and everything["figures"]["n_real"] == 60
    assert some["figures"]["n_fake"] == 40 and some["figures"]["n_real"] == 54


def test_a_video_whose_frames_show_a_face_has_its_picture_track_withheld():
    from deepfake_gui.engine.face_gate import frames_face_reason

    record = {"share_min": 0.03, "withheld": True, **DEFAULT_COUNTS}
    active = _detector(record, name="image-probe")
    line = frames_face_reason(active, {"face_check": {"frames_checked": 12, "frames_with_face": 3}})
    assert line.startswith("image-probe found a face in 3 of 12 frames checked; 101 of its 539 generated")
    from deepfake_gui.core.present import is_key_caveat

    assert is_key_caveat(f"inconclusive: {line}")  # "Read this first", not among the other caveats
    assert frames_face_reason(active, {"face_check": {"frames_checked": 12, "frames_with_face": 0}}) is None
    assert frames_face_reason(active, {}) is None  # not checked: a bundle without the record
    assert frames_face_reason(_detector(None), {"face_check": {"frames_checked": 12, "frames_with_face": 5}}) is None


def test_frame_scoring_checks_frames_for_faces_only_for_a_detector_that_cannot_judge_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import media_factory

    from deepfake_gui.engine import score_video
    from deepfake_gui.engine.detectors import resolve_detectors

    path = tmp_path / "clip.mp4"
    media_factory.write_video(path, width=256, height=256, frames=40, fps=10, pattern=False)
    (active,) = [d for d in resolve_detectors(device="cpu") if d.modality == "image"]
    checked = []
    monkeypatch.setattr(score_video, "largest_face_share", lambda rgb: checked.append(rgb.shape) or 0.3)
    options = score_video.VideoOptions(frames_per_second=5)
    track = job_result(score_video.score_video_frames(path, active, options, CancelToken(), expected_frames=20))
    assert active.detector.meta["domain_profile"]["faces"]["withheld"] is True  # the shipped image default
    assert track.facts["face_check"] == {"frames_checked": len(checked), "frames_with_face": len(checked),
                                         "largest_face_share": 0.3}
    assert 1 <= len(checked) <= 2 * score_video.FACE_CHECKS and checked[0][:2] == (256, 256)
    monkeypatch.setitem(active.detector.meta["domain_profile"], "faces", {"withheld": False})
    checked.clear()
    track = job_result(score_video.score_video_frames(path, active, options, CancelToken(), expected_frames=20))
    assert "face_check" not in track.facts and checked == []


def test_a_silent_video_whose_picture_track_was_withheld_for_a_face_goes_through_the_gate():
    from deepfake_gui.core.results import ScanResult
    from deepfake_gui.engine.gate import apply_gate, withheld_track_reasons

    why = "image-probe found a face in 12 of 12 frames checked; …"
    result = ScanResult(path="talk.mp4", modality="video", verdict="inconclusive", probability=0.99, score=4.5,
                        detectors={"image-probe": {"verdict": "inconclusive", "withheld": why}},
                        caveats=[f"inconclusive: {why}", "h264 at 241 kbit/s …"])
    (reason,) = withheld_track_reasons(result)
    assert reason == {"code": "face", "message": why}
    gated = apply_gate(result, None, [reason])
    assert gated.gate["reasons"] == [reason] and gated.verdict == "inconclusive"
    assert f"inconclusive: {why}" not in gated.caveats  # said once, as the gate's reason
    with_sound = ScanResult(path="talk.mp4", modality="video", verdict="fake", probability=0.99, score=4.5,
                            detectors={"image-probe": {"verdict": "inconclusive", "withheld": why},
                                       "audio-probe": {"verdict": "fake"}})
    assert withheld_track_reasons(with_sound) == []  # the soundtrack's verdict stands


def test_scan_checks_a_picture_for_a_face_only_where_its_verdict_would_stand_or_it_leans_fake(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from deepfake_gui.core.results import ScanResult
    from deepfake_gui.engine.detectors import resolve_detectors
    from deepfake_gui.engine.scan import ScanOptions, scan_job

    paths = []
    for seed in range(4):
        path = tmp_path / f"photo{seed}.png"
        Image.fromarray(noisy_rgb(320, 256, 10 + 20 * seed, seed=seed)).save(path)
        paths.append(path)
    checked = []
    monkeypatch.setattr(face_gate, "largest_face_share", lambda rgb: checked.append(rgb.shape) or 0.25)
    detectors = [d for d in resolve_detectors(device="cpu") if d.modality == "image"]
    results = [r for r in scan_job(paths, ScanOptions(device="cpu", keep_arrays=False, provenance=False),
                                   detectors=detectors) if isinstance(r, ScanResult)]
    expected = 0
    for r in results:
        codes = [x["code"] for x in (r.gate or {}).get("reasons", [])]
        would = (r.gate or {}).get("verdict_before_gate", r.verdict)
        if "face" in codes:
            expected += 1
            assert r.verdict == "inconclusive" and (would in ("fake", "real") or r.probability >= 0.5)
        elif not codes:
            assert r.verdict == "inconclusive" and r.probability < 0.5  # inside the band, leaning real: not checked
    assert len(checked) == expected and expected >= 1  # these noise pictures are all called real by the default
