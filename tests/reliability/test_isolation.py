"""Decoding in worker processes: a crash or a hang in one file, at its probe or while it is scored, is that file's
error line, and the scan goes on.

The spawned worker imports the stand-in operations below from this module by name (the scan sends them by
reference); in the worker the real operations they call are unpatched.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from types import SimpleNamespace

import media_factory
import numpy as np
import pytest
from PIL import Image

from deepfake_gui.core.errors import FileStopped, MediaError
from deepfake_gui.core.results import ScanResult
from deepfake_gui.engine import decoding, isolate
from deepfake_gui.engine import score_audio as score_audio_module
from deepfake_gui.engine import score_image as score_image_module
from deepfake_gui.engine import score_video as score_video_module
from deepfake_gui.engine import verdicts as verdicts_module
from deepfake_gui.engine.decoding import LocalDecoder
from deepfake_gui.engine.isolate import IsolatedDecoder
from deepfake_gui.engine.scan import ScanOptions, scan_job

RATE = 16_000
STAND_INS = [SimpleNamespace(name=f"stand-in-{m}", modality=m, unavailable=None, encoder=None)
             for m in ("image", "audio")]


def _png(path: Path, value: int = 90, side: int = 16) -> Path:
    Image.fromarray(np.full((side, side, 3), value, np.uint8)).save(path)
    return path


def _wav(path: Path, seconds: float = 2.0) -> Path:
    t = np.arange(int(seconds * RATE)) / RATE
    return media_factory.write_mono_wav(path, 0.3 * np.sin(2 * np.pi * 220 * t), RATE)


# ------------------------------------------------------------------ stand-ins run in the worker
def _named(path: str, prefix: str) -> bool:
    return os.path.basename(path).startswith(prefix)


def _probe_crash_or_hang(path: str):
    """The probe, but a native crash on 'crash*' and a hang on 'hang*'."""
    if _named(path, "crash"):
        os._exit(139)  # as a segfault in a decoder would end the process
    if _named(path, "hang"):
        time.sleep(60)
    yield from decoding.probe_op(path)


def _image_aborts(path: str):
    """The scoring's picture decode, but an abort() on 'crash*' (as libtiff or an assertion in C would)."""
    if _named(path, "crash"):
        os.abort()
    yield from decoding.image_op(path)


def _audio_breaks_after_one_chunk(path: str, rate: int):
    """The audio stream: its first chunk comes, then the decoder dies ('crash*') or hangs ('hang*')."""
    for k, item in enumerate(decoding.audio_chunks_op(path, rate)):
        if k == 1 and _named(path, "crash"):
            os._exit(139)
        if k == 1 and _named(path, "hang"):
            time.sleep(60)
        yield item


# ------------------------------------------------------------------ stand-ins for the detectors (in the scan)
def _score_picture(image, active, options, cancel, track="image"):
    """Stands in for score_image_array: records what the decoder handed over."""
    yield from ()
    return SimpleNamespace(detector=active.name, track=track, seen={"shape": list(image.shape),
                                                                    "mean": float(image.mean())})


def _score_sound(path, active, options, cancel, track="audio", decoder=None):
    """Stands in for score_audio_track: reads the whole track through the scan's decoder."""
    n = sum(len(chunk) for chunk in decoder.audio_chunks(path, RATE))
    yield from ()
    return SimpleNamespace(detector=active.name, track=track, seen={"samples": n})


def _score_frames(path, active, options, cancel, expected_frames=None, decoder=None):
    frames = list(decoder.video_frames(path, options.frames_per_second))
    yield from ()
    return SimpleNamespace(detector=active.name, track="frames", seen={"frames": len(frames)})


def _finish(result, info, scores, detectors, options, content=None):
    """Stands in for the verdict rules: real, with what each stand-in detector saw."""
    if scores:
        result.verdict, result.probability, result.score = "real", 0.2, -1.0
        result.detectors = {s.detector: s.seen for s in scores}
    return result


@pytest.fixture
def stand_ins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(score_image_module, "score_image_array", _score_picture)
    monkeypatch.setattr(score_audio_module, "score_audio_track", _score_sound)
    monkeypatch.setattr(score_video_module, "score_video_frames", _score_frames)
    monkeypatch.setattr(verdicts_module, "finish_result", _finish)
    monkeypatch.setattr("deepfake_gui.engine.scan._add_segments", lambda *a, **k: None)
    monkeypatch.setattr("deepfake_gui.engine.gate.apply_gate", lambda result, *a, **k: result)


def _scan(paths, timeout_s: float | None = 5.0) -> dict[str, ScanResult]:
    options = ScanOptions(device="cpu", decode_timeout_s=timeout_s, prefetch=0)
    results = [e for e in scan_job(paths, options, detectors=STAND_INS) if isinstance(e, ScanResult)]
    assert len(results) == len({r.path for r in results})
    return {Path(r.path).name: r for r in results}


# ------------------------------------------------------------------ the probe
def test_a_probe_crash_and_a_hang_are_error_lines_and_the_scan_goes_on(tmp_path: Path, monkeypatch) -> None:
    for name in ("a.png", "crash.png", "b.png", "hang.png", "c.png"):
        _png(tmp_path / name)
    monkeypatch.setattr(decoding, "probe_op", _probe_crash_or_hang)
    options = ScanOptions(device="cpu", decode_timeout_s=5.0, prefetch=0)
    results = {Path(r.path).name: r for r in scan_job([tmp_path], options, detectors=[])
               if isinstance(r, ScanResult)}
    assert sorted(results) == ["a.png", "b.png", "c.png", "crash.png", "hang.png"]
    assert [results[n].status for n in ("a.png", "b.png", "c.png")] == ["ok", "ok", "ok"]
    assert results["crash.png"].status == "error" and "decoder crashed" in results["crash.png"].error
    assert "exit code 139" in results["crash.png"].error
    assert results["hang.png"].status == "error" and "no answer within 5 s" in results["hang.png"].error
    assert all(r.verdict is None for r in results.values() if r.status == "error")


# ------------------------------------------------------------------ the scoring's decoding
def test_a_crash_while_a_picture_is_decoded_for_scoring_is_its_error_line(tmp_path: Path, stand_ins: None,
                                                                         monkeypatch) -> None:
    paths = [_png(tmp_path / "a.png", 10), _png(tmp_path / "crash.png", 20), _png(tmp_path / "b.png", 30)]
    monkeypatch.setattr(decoding, "image_op", _image_aborts)  # the probe (probe_op) stays real: it passes
    results = _scan(paths)
    assert list(results) == ["a.png", "crash.png", "b.png"]  # one line each, in order: the batch went on
    crashed = results["crash.png"]
    assert crashed.status == "error" and crashed.sha256 is not None  # probed and hashed, then crashed
    assert crashed.error.startswith(str(tmp_path / "crash.png")) and "decoder crashed" in crashed.error
    assert "SIGABRT" in crashed.error
    assert crashed.verdict is None and crashed.probability is None and crashed.detectors == {}
    for name, value in (("a.png", 10), ("b.png", 30)):
        assert results[name].status == "ok" and results[name].verdict == "real"
        assert results[name].detectors == {"stand-in-image": {"shape": [16, 16, 3], "mean": float(value)}}


def test_a_crash_or_hang_midway_through_a_sound_track_is_an_error_line(tmp_path: Path, stand_ins: None,
                                                                       monkeypatch) -> None:
    paths = [_wav(tmp_path / name, 65.0 if name != "b.wav" else 2.0)  # 65 s: three 30 s chunks
             for name in ("a.wav", "crash.wav", "hang.wav", "b.wav")]
    monkeypatch.setattr(decoding, "audio_chunks_op", _audio_breaks_after_one_chunk)
    started = time.perf_counter()
    results = _scan(paths, timeout_s=3.0)
    assert list(results) == ["a.wav", "crash.wav", "hang.wav", "b.wav"]
    assert results["a.wav"].detectors == {"stand-in-audio": {"samples": 65 * RATE}}
    assert results["b.wav"].detectors == {"stand-in-audio": {"samples": 2 * RATE}}
    assert results["crash.wav"].status == "error" and "decoder crashed" in results["crash.wav"].error
    assert results["hang.wav"].status == "error" and "no answer within 3 s" in results["hang.wav"].error
    assert all(results[n].verdict is None for n in ("crash.wav", "hang.wav"))
    assert time.perf_counter() - started < 60  # the hung worker was stopped, not waited for


def test_a_decoder_crash_in_one_track_stops_the_whole_file_never_partial(tmp_path: Path, stand_ins: None,
                                                                         monkeypatch) -> None:
    clip = media_factory.write_video(tmp_path / "crash_clip.mp4")  # pictures and sound
    monkeypatch.setattr(decoding, "audio_chunks_op", _audio_dies_at_once)
    (result,) = _scan([clip]).values()
    assert result.status == "error" and "decoder crashed" in result.error  # the frames were fine: still no verdict
    assert result.verdict is None and result.detectors == {}


def _audio_dies_at_once(path: str, rate: int):
    os._exit(139)
    yield from ()


def test_the_isolated_scan_gives_the_same_lines_as_the_in_process_one(tmp_path: Path, stand_ins: None) -> None:
    paths = [_png(tmp_path / "a.png", 40, side=300), _wav(tmp_path / "b.wav", 3.0),
             media_factory.write_video(tmp_path / "c.mp4"), tmp_path / "d.txt"]
    paths[-1].write_text("not media\n")
    isolated, local = _scan(paths), _scan(paths, timeout_s=None)
    assert list(isolated) == list(local) == ["a.png", "b.wav", "c.mp4", "d.txt"]
    for name in isolated:
        a, b = isolated[name].to_json_dict(), local[name].to_json_dict()
        for line in (a, b):
            line.pop("integrity")
        assert json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str), name
    assert isolated["c.mp4"].detectors == {"stand-in-image": {"frames": 4},
                                           "stand-in-audio": {"samples": isolated["c.mp4"].detectors[
                                               "stand-in-audio"]["samples"]}}
    assert isolated["d.txt"].status == "error" and "not a media file" in isolated["d.txt"].error


# ------------------------------------------------------------------ the decoder itself
@pytest.fixture
def decoders():
    isolated = IsolatedDecoder(timeout_s=60)
    yield isolated, LocalDecoder()
    isolated.close()


def test_the_worker_hands_back_exactly_what_decoding_here_gives(tmp_path: Path, decoders) -> None:
    isolated, local = decoders
    images = media_factory.write_images(tmp_path)
    picture, jpeg = images["exif6_jpeg"], images["jpeg"]
    video = media_factory.write_video(tmp_path / "clip.mp4")
    sound = media_factory.write_audio(tmp_path / "stereo.flac", "flac", "flac", 44_100, 2, 40.0)
    np.testing.assert_array_equal(isolated.image(picture), local.image(picture))
    assert isolated.image(picture).flags.writeable  # scoring may hand it to torch without a copy
    for a, b in zip(isolated.audio_chunks(sound, RATE), local.audio_chunks(sound, RATE), strict=True):
        assert a.dtype == b.dtype == np.float32
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(isolated.audio(sound, RATE, 0.5), local.audio(sound, RATE, 0.5))
    frames_a, frames_b = list(isolated.video_frames(video, 2.0)), list(local.video_frames(video, 2.0))
    assert [(f.index, f.time_s, f.keyframe) for f in frames_a] == [(f.index, f.time_s, f.keyframe) for f in frames_b]
    for a, b in zip(frames_a, frames_b, strict=True):
        np.testing.assert_array_equal(a.image, b.image)
    assert isolated.jpeg_quality(jpeg) == local.jpeg_quality(jpeg) is not None
    assert isolated.jpeg_quality(images["png"]) is None
    assert json.dumps(isolated.provenance(jpeg, "image"), sort_keys=True) == json.dumps(
        local.provenance(jpeg, "image"), sort_keys=True, default=str)
    assert isolated.probe(picture) == local_probe(picture)


def local_probe(path: Path):
    from deepfake_gui.media import probe

    return probe(path)


def test_a_stream_left_midway_does_not_confuse_the_next_request(tmp_path: Path, decoders) -> None:
    isolated, _ = decoders
    sound = _wav(tmp_path / "long.wav", 95.0)  # four chunks
    picture = _png(tmp_path / "p.png", 77)
    stream = isolated.audio_chunks(sound, RATE)
    assert len(next(stream)) > 0
    worker = isolated._worker
    del stream  # the reader stops after one chunk
    assert isolated.image(picture).mean() == 77.0
    chunks = isolated.audio_chunks(sound, RATE)
    next(chunks)  # left open while another request comes
    assert isolated.image(picture).shape == (16, 16, 3)
    assert sum(len(c) for c in isolated.audio_chunks(sound, RATE)) == 95 * RATE
    assert isolated._worker is worker  # all on the same worker: nothing was killed to get there


def test_the_worker_reports_media_errors_with_their_reason(tmp_path: Path, decoders) -> None:
    isolated, _ = decoders
    bad = tmp_path / "notes.png"
    bad.write_text("not a picture\n")
    with pytest.raises(MediaError) as err:
        isolated.probe(bad)
    assert not isinstance(err.value, FileStopped)
    assert err.value.reason == "not-media" and err.value.path == str(bad)
    info = isolated.probe(_png(tmp_path / "ok.png"))
    assert (info.modality, info.width, info.height) == ("image", 16, 16)


@pytest.mark.parametrize("spec", [
    {"dtype": "object", "shape": [4]},
    {"dtype": "uint8", "shape": [2, 2, 2, 2, 2]},
    {"dtype": "uint8", "shape": [-1, 3]},
    {"dtype": "uint8", "shape": [True, 3]},
    {"dtype": "float64", "shape": [1 << 20, 1 << 10]},  # 8 GB announced
    {"dtype": "uint8"},
    ["uint8", [3]],
])
def test_an_implausible_array_from_the_worker_is_refused_before_any_allocation(spec) -> None:
    with pytest.raises(isolate._Broken):
        isolate._array_spec(spec)


def test_a_plausible_array_spec_is_taken() -> None:
    dtype, shape = isolate._array_spec({"dtype": "uint8", "shape": [3000, 4000, 3]})
    assert dtype == np.uint8 and shape == (3000, 4000, 3)


def test_a_picture_is_decoded_once_for_scoring_and_its_content_check(tmp_path: Path, stand_ins: None,
                                                                     monkeypatch) -> None:
    import deepfake_gui.media as media

    decoded: list[str] = []
    real = media.load_image

    def counting(path):
        decoded.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(media, "load_image", counting)
    checked: list[tuple[int, ...]] = []
    monkeypatch.setattr("deepfake_gui.analysis.content.check_image", lambda rgb: checked.append(rgb.shape))
    monkeypatch.setattr("deepfake_gui.engine.gate.apply_gate", lambda result, check, *a, **k: result)
    paths = [_png(tmp_path / "a.png", 10, side=64), _png(tmp_path / "b.png", 20, side=48)]
    results = _scan(paths, timeout_s=None)
    assert [r.status for r in results.values()] == ["ok", "ok"]
    assert checked == [(64, 64, 3), (48, 48, 3)]  # the content check saw each picture
    assert sorted(decoded) == ["a.png", "b.png"]  # ... decoded once, for scoring (the probe decodes on its own)
