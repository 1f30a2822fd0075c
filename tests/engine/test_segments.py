"""The segment rule (engine/segments.py), the `segments` key of scan results, and `evaluate --localization`."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from media_factory import needs_offline, speechlike, write_mono_wav

from deepfake_gui.analysis.calibration import Platt
from deepfake_gui.engine import segments as seg
from deepfake_gui.engine.segments import SegmentRule
from deepfake_gui.engine.track import TrackScore
from deepfake_gui.probes.detector import Calibration

PLAIN = SegmentRule(smooth_s=0.0, threshold_offset=0.0, merge_gap_s=0.0, min_duration_s=0.0)


def _grid(n: int, step: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    starts = np.arange(n) * step
    return starts, starts + step


# ------------------------------------------------------------------ the pure steps
def test_find_runs_and_merge_runs() -> None:
    assert seg.find_runs(np.array([0, 1, 1, 0, 1], bool)) == [(1, 3), (4, 5)]
    assert seg.find_runs(np.ones(3, bool)) == [(0, 3)]
    assert seg.find_runs(np.zeros(3, bool)) == []
    assert seg.find_runs(np.zeros(0, bool)) == []
    assert seg.merge_runs([(0.0, 1.0), (1.2, 2.0), (3.0, 4.0)], 0.5) == [(0.0, 2.0), (3.0, 4.0)]
    assert seg.merge_runs([(0.0, 1.0), (1.5, 2.0)], 0.5) == [(0.0, 1.0), (1.5, 2.0)]  # a gap of exactly 0.5 stays


def test_extract_segments_edges_merging_and_minimum_duration() -> None:
    starts, ends = _grid(10)
    scores = np.array([2, 2, 0, 2, 0, 0, 0, 0, 3, 1.5])  # runs touch the start and the end of the file
    found = seg.extract_segments(starts, ends, scores, 1.0, PLAIN)
    assert [(round(a, 6), round(b, 6)) for a, b, _, _ in found] == [(0.0, 0.2), (0.3, 0.4), (0.8, 1.0)]
    assert found[2][2] == 3.0 and found[2][3] == pytest.approx(2.25)  # peak and mean inside the last one
    # minimum duration drops the 0.1 s run, keeps the 0.2 s ones
    short = seg.extract_segments(starts, ends, scores, 1.0, SegmentRule(0.0, 0.0, 0.0, 0.15))
    assert [(round(a, 6), round(b, 6)) for a, b, _, _ in short] == [(0.0, 0.2), (0.8, 1.0)]
    # a gap of 0.1 s is merged when the merge gap is longer; merging happens before the minimum duration
    merged = seg.extract_segments(starts, ends, scores, 1.0, SegmentRule(0.0, 0.0, 0.15, 0.3))
    assert [(round(a, 6), round(b, 6)) for a, b, _, _ in merged] == [(0.0, 0.4)]
    # the offset moves the threshold
    high = seg.extract_segments(starts, ends, scores, 1.0, SegmentRule(0.0, 1.5, 0.0, 0.0))
    assert [(round(a, 6), round(b, 6)) for a, b, _, _ in high] == [(0.8, 0.9)]


def test_extract_segments_all_above_and_none_above() -> None:
    starts, ends = _grid(5)
    assert [(a, round(b, 6)) for a, b, _, _ in seg.extract_segments(starts, ends, np.full(5, 4.0), 1.0, PLAIN)] \
        == [(0.0, 0.5)]
    assert seg.extract_segments(starts, ends, np.full(5, -4.0), 1.0, PLAIN) == []
    assert seg.extract_segments(starts, ends, np.full(5, np.nan), 1.0, PLAIN) == []


def test_smooth_scores_is_a_centred_mean_with_short_edges() -> None:
    t = np.arange(5.0)
    s = np.array([0.0, 0.0, 3.0, 0.0, 0.0])
    assert seg.smooth_scores(t, s, 2.0).tolist() == pytest.approx([0.0, 1.0, 1.0, 1.0, 0.0])
    assert seg.smooth_scores(t, s, 0.0).tolist() == s.tolist()
    edge = seg.smooth_scores(t, np.array([6.0, 0.0, 0.0, 0.0, 0.0]), 2.0)
    assert edge[0] == pytest.approx(3.0)  # only t=0 and t=1 are within 1 s of the start
    assert seg.smooth_scores(t, np.array([np.nan, 2.0, 0.0, 0.0, 0.0]), 2.0)[0] == pytest.approx(2.0)


def test_step_intervals_centre_and_start() -> None:
    starts, ends = seg.step_intervals(np.array([0.01, 0.03, 0.05]), duration_s=0.055)
    assert starts.tolist() == pytest.approx([0.0, 0.02, 0.04]) and ends.tolist() == pytest.approx([0.02, 0.04, 0.055])
    starts, ends = seg.step_intervals(np.array([0.0, 0.5, 1.0]), duration_s=1.2, kind="start")
    assert starts.tolist() == [0.0, 0.5, 1.0] and ends.tolist() == pytest.approx([0.5, 1.0, 1.2])
    with pytest.raises(ValueError):
        seg.step_intervals(np.array([0.0, 1.0]), kind="middle")
    with pytest.raises(ValueError):
        SegmentRule(smooth_s=-1.0)


def test_series_segments_whole_rule_on_steps() -> None:
    times = (np.arange(500) + 0.5) * 0.02  # 10 s of Whisper steps
    scores = np.full(500, -3.0)
    scores[150:200] = 5.0  # 3.0-4.0 s
    scores[300] = 50.0  # one wild step at 6.0 s: smoothing spreads it, the minimum duration removes it
    rule = SegmentRule(smooth_s=0.2, threshold_offset=0.0, merge_gap_s=0.25, min_duration_s=0.5)
    found = seg.series_segments(times[::-1], scores[::-1], 0.0, rule, duration_s=10.0)  # order does not matter
    assert len(found) == 1
    start, end, peak, _ = found[0]
    assert start == pytest.approx(3.0, abs=0.1) and end == pytest.approx(4.0, abs=0.1)
    assert peak == pytest.approx(5.0)


# ------------------------------------------------------------------ on scan objects
def _calibration() -> Calibration:
    return Calibration(Platt(1.0, 0.0), 0.5, (0.3, 0.7), "file")  # threshold_score 0.0


def _track(track: str = "audio", detector: str = "det") -> TrackScore:
    times = (np.arange(250) + 0.5) * 0.02
    scores = np.full(250, -2.0)
    scores[100:175] = 3.0  # 2.0-3.5 s
    arrays = ({"step_times_s": times, "step_scores": scores} if track == "audio"
              else {"frame_times_s": np.arange(10) * 0.5, "frame_scores": np.r_[[-2.0] * 4, [3.0] * 3, [-2.0] * 3]})
    return TrackScore(detector, track, 0.0, 0.5, None, np.zeros((1, 2)), "logsumexp", {}, arrays, [],
                      {"duration_s": 5.0})


def test_track_segments_report_fields_and_arrays() -> None:
    score = _track()
    rule = SegmentRule(smooth_s=0.2, threshold_offset=0.0, merge_gap_s=0.0, min_duration_s=0.5)
    (found,) = seg.track_segments(score, _calibration(), 5.0, rule)
    d = found.to_dict()
    assert d["track"] == "audio" and d["detector"] == "det" and d["within_real_file"] is False
    assert d["start_s"] == pytest.approx(2.0, abs=0.12) and d["end_s"] == pytest.approx(3.5, abs=0.12)
    assert d["peak_score"] == pytest.approx(3.0) and d["peak_probability"] == pytest.approx(1 / (1 + np.exp(-3.0)),
                                                                                               abs=1e-4)
    assert d["duration_s"] == pytest.approx(d["end_s"] - d["start_s"], abs=1e-3)
    assert len(score.arrays["segment_scores"]) == 250 and score.arrays["segment_threshold_score"] == pytest.approx(0.0)
    # sampled video frames: a frame lasts until the next one
    (frames,) = seg.track_segments(_track("frames"), _calibration(), 5.0, rule)
    assert (frames.start_s, frames.end_s) == (2.0, 3.5)
    image = TrackScore("det", "image", 0.0, 0.5, None, np.zeros((1, 2)), "mean", {}, {"heatmap": np.zeros((2, 2))})
    assert seg.track_segments(image, _calibration(), None) == []


def test_result_segments_flag_real_files_and_skip_random_weights() -> None:
    det = SimpleNamespace(name="det", random_init=False, detector=SimpleNamespace(file_calibration=_calibration()))
    rnd = SimpleNamespace(name="rnd", random_init=True, detector=SimpleNamespace(file_calibration=_calibration()))
    scores = [_track("audio", "det"), _track("audio", "rnd")]
    info = SimpleNamespace(duration_s=5.0)
    real = seg.result_segments(scores, [det, rnd], info, "real")
    assert [s["detector"] for s in real] == ["det"] and real[0]["within_real_file"] is True
    caveat = seg.segment_caveat(real)
    assert "verdict is real" in caveat and "not proof" in caveat and "(audio, det)" in caveat
    fake = seg.result_segments(scores, [det, rnd], info, "fake")
    assert fake[0]["within_real_file"] is False and "not proof" in seg.segment_caveat(fake)
    assert "verdict is real" not in seg.segment_caveat(fake) and seg.segment_caveat([]) is None
    json.dumps(real, allow_nan=False)


# ------------------------------------------------------------------ through the real scan pipeline



def _spliced(rate: int, seconds: float, start_s: float, end_s: float) -> np.ndarray:
    """Speech-like audio with one stretch replaced by its noise-vocoded copy (same envelope, noise carrier)."""
    voice = speechlike(rate, seconds)
    rng = np.random.default_rng(7)
    a, b = int(start_s * rate), int(end_s * rate)
    envelope = np.convolve(np.abs(voice[a:b]), np.ones(80) / 80, mode="same")
    voice[a:b] = (envelope * rng.standard_normal(b - a) * 1.2).astype(np.float32)
    return voice


def _scan(paths, detectors, **kw):
    from deepfake_gui.core.results import ScanResult
    from deepfake_gui.engine.scan import ScanOptions, scan_job

    return [e for e in scan_job(paths, ScanOptions(device="cpu", **kw), detectors=detectors)
            if isinstance(e, ScanResult)]


@needs_offline
def test_partially_fake_clip_gets_segments_in_the_json(tmp_path: Path, detectors, monkeypatch) -> None:
    """A spliced clip through the real pipeline; the lead audio probe is nudged to respond to 3-5 s only.

    Whisper's probe calls the whole generated clip fake (it is far outside its training
    domain), so its per-token scores are shifted down outside 3-5 s and up inside: the
    expected answer is then certain, and everything else (decoding, encoder, windows,
    verdict, segment rule, JSON) is the real scan.
    """
    path = write_mono_wav(tmp_path / "spliced.wav", _spliced(8000, 8.0, 3.0, 5.0), 8000)
    detectors = [d for d in detectors if d.folder.name != "audio-phase"]  # Whisper leads: its 20 ms steps
    active = next(d for d in detectors if d.folder.name == "audio-whisper")
    real_decision = active.detector.token_decision

    def nudged(tokens):
        out = real_decision(tokens).clone() - 60.0
        out[:, 150:250] += 90.0  # Whisper steps of 20 ms: 3.0-5.0 s
        return out

    monkeypatch.setattr(active.detector, "token_decision", nudged)
    # the generated clip is unlike any training recording, so the gate would withhold verdict and segments:
    # this test is about the segment rule, so the gate lets it through
    monkeypatch.setattr("deepfake_gui.engine.gate.apply_gate", lambda result, *a, **k: result)
    (result,) = _scan([path], detectors)
    assert result.status == "ok", result.error
    line = json.loads(json.dumps(result.to_json_dict(), allow_nan=False))
    assert "segments" in line and isinstance(line["segments"], list)
    mine = [s for s in line["segments"] if s["detector"] == active.name]
    assert len(mine) == 1
    found = mine[0]
    assert found["track"] == "audio"
    assert found["start_s"] == pytest.approx(3.0, abs=0.6) and found["end_s"] == pytest.approx(5.0, abs=0.6)
    assert found["peak_probability"] > 0.9
    assert found["within_real_file"] == (result.verdict == "real")
    for s in line["segments"]:
        assert set(s) >= {"start_s", "end_s", "track", "detector", "peak_score", "peak_probability",
                          "within_real_file"}
    # the finer series: per-step scores binned at 0.1 s on the JSON line, every step on arrays
    steps = line["series"]["audio"]["steps"]
    assert steps["step_s"] == pytest.approx(0.02) and steps["bin_s"] == pytest.approx(0.1)
    assert len(steps["score"]) == 80
    arrays = result.arrays[f"audio/{active.name}"]
    assert len(arrays["step_scores"]) == pytest.approx(400, abs=2)
    assert len(arrays["segment_scores"]) == len(arrays["step_scores"])
    # the Python API the timeline views draw from
    from deepfake_gui.engine.explain import segment_series, suspected_segments

    smooth = segment_series(result, "audio", active.name)
    assert smooth.kind == "smoothed" and len(smooth.scores) == len(arrays["step_scores"])
    inside = (smooth.times_s > found["start_s"]) & (smooth.times_s < found["end_s"])
    assert (smooth.scores[inside] >= smooth.threshold_score).all()
    assert suspected_segments(result, "audio", active.name) == [s for s in result.segments
                                                                 if s["detector"] == active.name]


LOCALIZATION_AUDIO = Path(__file__).resolve().parents[3] / "shared" / "data" / "localization" / "audio"


@needs_offline
@pytest.mark.skipif(not (LOCALIZATION_AUDIO / "manifest.csv").is_file(),
                    reason="../shared/data/localization/audio is not beside this checkout")
def test_unnudged_scan_finds_a_vocoded_stretch_of_real_speech(tmp_path: Path, detectors) -> None:
    """No nudge: on real partly vocoded utterances (shared localization set), a shipped audio probe puts a
    suspected segment on the vocoded stretch of at least one of four files (it finds 64-70% of them)."""
    import csv

    import media_factory

    with open(LOCALIZATION_AUDIO / "manifest.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["label"] == "partial" and r["generator"] == "world-vocoder"][:4]
    video = media_factory.write_video(tmp_path / "clip.mp4", width=256, height=240, frames=40, fps=10, pattern=False)
    results = _scan([LOCALIZATION_AUDIO / r["path"] for r in rows] + [video], detectors)
    hits = 0
    for row, result in zip(rows, results, strict=False):
        (start, end), = json.loads(row["audio_segments"])
        hits += any(min(seg["end_s"], end) - max(seg["start_s"], start) > 0.2 for seg in result.segments
                    if seg["track"] == "audio")
    assert hits >= 1
    for result in results:
        assert result.status == "ok", result.error
        assert isinstance(result.segments, list)
        for s in result.segments:
            assert 0.0 <= s["start_s"] < s["end_s"] <= (result.media.get("duration_s") or 1e9) + 0.1
            assert s["within_real_file"] == (result.verdict == "real")
            assert s["track"] in {"audio", "frames"}
        text = " ".join(result.caveats)
        assert ("verdict is real, but" in text) == any(s["within_real_file"] for s in result.segments)
        assert ("not proof" in text) == bool(result.segments)


@needs_offline
def test_evaluate_localization_cli_on_a_generated_set(tmp_path: Path, capsys) -> None:
    from PIL import Image

    from deepfake_gui import cli

    root = tmp_path / "loc"
    (root / "audio").mkdir(parents=True)
    (root / "image").mkdir()
    write_mono_wav(root / "audio" / "part.wav", _spliced(8000, 5.0, 1.5, 3.0), 8000)
    write_mono_wav(root / "audio" / "real.wav", speechlike(8000, 5.0, seed=2), 8000)
    rng = np.random.default_rng(0)
    photo = (rng.random((224, 224, 3)) * 255).astype(np.uint8)
    spliced = photo.copy()
    spliced[60:140, 60:140] = (spliced[60:140, 60:140] // 16) * 16  # a posterised square
    mask = np.zeros((224, 224), np.uint8)
    mask[60:140, 60:140] = 255
    Image.fromarray(spliced).save(root / "image" / "part.png")
    Image.fromarray(mask).save(root / "image" / "part_mask.png")
    Image.fromarray(photo).save(root / "image" / "real.png")
    cols = ["path", "modality", "label", "generator", "group", "mask_path", "video_segments", "audio_segments",
            "duration_s", "details"]
    rows = {"audio": [["part.wav", "audio", "partial", "noise-vocoder", "s1", "", "", "[[1.5, 3.0]]", "5.0", "{}"],
                      ["real.wav", "audio", "real", "real", "s2", "", "", "[]", "5.0", "{}"]],
            "image": [["part.png", "image", "partial", "posterise", "p1", "part_mask.png", "", "", "", "{}"],
                      ["real.png", "image", "real", "real", "p2", "", "", "", "", "{}"]]}
    for part, lines in rows.items():
        with (root / part / "manifest.csv").open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(cols)
            writer.writerows(lines)
    assert cli.main(["evaluate", "--localization", "--data", str(root), "--device", "cpu", "--json",
                     "--draws", "0"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert m["kind"] == "localization" and not m["failed"]
    audio = [r for r in m["temporal"] if r["part"] == "audio"]
    assert {r["detector"] for r in audio} == {"audio-phase-coherence", "audio-whisper-tiny-en"}
    for r in audio:
        assert r["frame_s"] == 0.02 and r["n_partial"] == 1 and r["n_control"] == 1
        assert r["n_frames"] == 500 and r["n_positive_frames"] == 75
        for key in ("frame_auc", "frame_eer", "frame_auc_step", "frame_auc_window", "segment_iou",
                    "true_segments_found", "controls_with_segments", "file_auc", "partial_detected_fake", "rule"):
            assert key in r
        assert 0.0 <= r["frame_auc"] <= 1.0
        if r["lead"]:
            assert 0.0 <= r["segment_iou"] <= 1.0 and r["partial_with_overlapping_segment"] in (0.0, 1.0)
        else:  # scan lists the lead's segments only, so the other detector has no segment figures
            assert r["segment_iou"] is None and r["controls_with_segments"] is None
    assert [r["detector"] for r in audio if r["lead"]] == ["audio-phase-coherence"]
    (image,) = m["spatial"]
    assert image["n_spliced"] == 1 and image["n_controls"] == 1
    for key in ("pixel_auc", "pointing_game", "iou_best_threshold", "iou_fixed", "per_generator"):
        assert key in image
    assert set(image["iou_fixed"]) == {"detector_threshold", "probability_0.5"}
    for rates in image["regions"].values():  # the segment target read on heatmaps
        assert rates["controls_with_region"] in (0.0, 1.0) and rates["partial_with_overlapping_region"] in (0.0, 1.0)
    assert image["iou_flag_everything"] == pytest.approx(80 * 80 / 224**2)
    assert any("not proof" in c for c in m["caveats"])
    from deepfake_gui.engine.explain import true_segments

    assert true_segments(root / "audio" / "part.wav") == {"audio": [(1.5, 3.0)]}
    assert true_segments(root / "image" / "part.png") == {}
    assert true_segments(tmp_path / "elsewhere.wav") is None
    assert cli.main(["evaluate", "--localization", "--data", str(root / "audio"), "--device", "cpu",
                     "--draws", "0"]) == 0
    text = capsys.readouterr().out
    assert "frame AUC" in text and "segment IoU" in text and "caveat:" in text
