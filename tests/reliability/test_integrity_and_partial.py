"""Honest results: a file that does not decode to the end is an error (or partial), a file changed mid-scan is
an error with no verdict, and the sha256 reported is the hash of the bytes scanned."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from types import SimpleNamespace

import media_factory
import numpy as np
import pytest
from PIL import Image

from deepfake_gui.core.results import ScanResult
from deepfake_gui.engine import scan as scan_module
from deepfake_gui.engine import verdicts as verdicts_module
from deepfake_gui.engine.scan import ScanOptions, scan_job

AUDIO = SimpleNamespace(name="stand-in-audio", modality="audio", unavailable=None, encoder=None)
IMAGE = SimpleNamespace(name="stand-in-image", modality="image", unavailable=None, encoder=None)


def _scan(paths, detectors: list) -> list[ScanResult]:
    options = ScanOptions(device="cpu", provenance=False, cross_file_batches=False, batch_size=4)
    return [e for e in scan_job(paths, options, detectors=detectors) if isinstance(e, ScanResult)]


def _decoding_track_job(path, info, track, active, options, cancel, decoder=None):
    """Reads the whole track with the real decoders, as a detector would, and scores nothing."""
    from deepfake_gui.media.audio import iter_audio_chunks
    from deepfake_gui.media.video import iter_video_frames

    if track == "audio":
        for _ in iter_audio_chunks(path, 16_000):
            pass
    else:
        for _ in iter_video_frames(path, per_second=2.0):
            pass
    yield from ()
    return SimpleNamespace(detector=active.name, track=track)


def _finish(result, info, scores, detectors, options, content=None):
    """Stands in for the verdict rules: every scored track says real with probability 0.2."""
    if scores:
        result.verdict, result.probability, result.score = "real", 0.2, -1.0
        result.detectors = {s.detector: {"probability": 0.2} for s in scores}
    return result


@pytest.fixture
def stand_ins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scan_module, "_track_job", _decoding_track_job)
    monkeypatch.setattr(verdicts_module, "finish_result", _finish)
    monkeypatch.setattr(scan_module, "_add_segments", lambda *a, **k: None)
    # these tests are about decoding and integrity: the stand-ins' tones are not to be gated as "not speech"
    monkeypatch.setattr("deepfake_gui.engine.gate.content_check", lambda path, info, decoder=None: None)


def _flac(path: Path, seconds: float = 6.0) -> Path:
    return media_factory.write_audio(path, "flac", "flac", 16_000, 1, seconds)


@pytest.mark.parametrize("fraction", [0.3, 0.5, 0.8])
def test_a_truncated_flac_is_an_error_line_not_ok(tmp_path: Path, stand_ins: None, fraction: float) -> None:
    whole = _flac(tmp_path / "whole.flac")
    data = whole.read_bytes()
    cut = tmp_path / f"cut{fraction}.flac"
    cut.write_bytes(data[: int(len(data) * fraction)])
    (good,) = _scan([whole], [AUDIO])
    assert good.status == "ok" and good.verdict == "real"
    (result,) = _scan([cut], [AUDIO])
    assert result.status == "error", result.caveats
    assert str(cut) in result.error and ("truncated FLAC" in result.error or "cannot decode FLAC" in result.error)
    assert result.verdict is None and result.probability is None and result.score is None
    assert result.detectors == {}


def test_a_video_whose_sound_does_not_decode_is_partial_never_real(tmp_path: Path, stand_ins: None,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from deepfake_gui.core.errors import MediaError

    video = media_factory.write_video(tmp_path / "clip.mp4")

    def sound_breaks(path, info, track, active, options, cancel, decoder=None):
        if track == "audio":
            raise MediaError(path, "truncated AAC", "the data ends early", "truncated")
        return _decoding_track_job(path, info, track, active, options, cancel)

    monkeypatch.setattr(scan_module, "_track_job", sound_breaks)
    (result,) = _scan([video], [IMAGE, AUDIO])
    assert result.status == "partial"
    assert result.verdict == "inconclusive"  # the frames say real; the unscored sound could be the fake
    assert result.probability == 0.2  # the scored part's figures stay, qualified by the status
    assert "the audio did not decode to the end" in result.error
    assert any("could hold the fake" in c for c in result.caveats)


def _png(path: Path) -> Path:
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((64, 64, 3)) * 255).astype(np.uint8)).save(path)
    return path


def _overwriting_scan_file(offset: int):
    """Stands in for scan_file: overwrites 4 KB at ``offset`` and restores the mtime, as a careful writer would."""

    def scan_file(path, info, detectors, options, cancel, done=0, total=1, decoder=None):
        st = os.stat(path)
        with open(path, "r+b") as fh:
            fh.seek(offset)
            fh.write(b"\x55" * 4096)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        yield from ()
        return ScanResult(path=str(path), verdict="real", probability=0.0, score=-3.0,
                          detectors={"x": {"probability": 0.0}})

    return scan_file


def test_bytes_overwritten_with_the_mtime_restored_are_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _png(tmp_path / "evidence.png")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    monkeypatch.setattr(scan_module, "scan_file", _overwriting_scan_file(path.stat().st_size // 2 - 2048))
    (result,) = _scan([path], [])
    assert result.status == "error" and "changed during the scan" in result.error
    assert "same size and mtime, but sha256" in result.error
    assert result.verdict is None and result.probability is None and result.score is None
    assert result.detectors == {}
    assert result.sha256 is None  # no single content was scanned
    assert result.integrity["sha256_before"] == digest
    assert result.integrity["sha256_after"] == hashlib.sha256(path.read_bytes()).hexdigest() != digest
    assert result.integrity["unchanged_during_scan"] is False


def test_an_unchanged_file_reports_the_hash_of_the_bytes_scanned(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = _png(tmp_path / "evidence.png")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()

    def scan_file(path, info, detectors, options, cancel, done=0, total=1, decoder=None):
        yield from ()
        return ScanResult(path=str(path), verdict="real", probability=0.1)

    monkeypatch.setattr(scan_module, "scan_file", scan_file)
    (result,) = _scan([path], [])
    assert result.status == "ok" and result.verdict == "real"
    assert result.sha256 == result.integrity["sha256_before"] == result.integrity["sha256_after"] == digest
    assert result.integrity["unchanged_during_scan"] is True
