"""Issue 22: timelines on one probability scale, segment peaks read off the plotted series, remembered splits.

Results are built by hand so every expected number is known: a Platt calibration a=2, b=-1 maps the
scores the arrays hold, and the JSON fields (threshold, band, probability) are what that calibration gives.
"""

from __future__ import annotations

from pathlib import Path

import media_factory
import numpy as np
import pytest

from deepfake_gui.analysis.calibration import Platt
from deepfake_gui.core.results import ScanResult
from deepfake_gui.engine.explain import probability_scale, probability_track, segment_peak

pytest.importorskip("pytestqt")

PLATT = Platt(2.0, -1.0)
BAND_SCORES = [0.2, 0.9]  # the band's edges as scores; the threshold is the upper edge


def _result(path: Path, *, store_platt: bool = True) -> ScanResult:
    steps = np.arange(0.01, 3.0, 0.02)
    smooth = np.where((steps > 1.0) & (steps < 2.0), 3.0, -3.0)  # what the segment rule read: high in 1-2 s
    starts = np.arange(0.0, 2.5, 0.5)
    audio = {"window_bounds_s": np.stack([starts, starts + 1.0], axis=1), "window_scores": np.linspace(-2, 1, 5),
             "step_times_s": steps, "step_scores": 40 * np.sin(steps * 30),  # raw steps swing +-40
             "segment_times_s": steps, "segment_scores": smooth, "segment_threshold_score": 0.9,
             "threshold_score": 0.9, "band_score": BAND_SCORES}
    frames = {"frame_times_s": np.arange(0.0, 3.0, 0.5), "frame_scores": np.array([-3, -2, 0, 2, 5, -1.0]),
              "threshold_score": 0.9, "band_score": BAND_SCORES}
    if store_platt:
        audio["platt"] = frames["platt"] = (PLATT.a, PLATT.b)
    band = [round(float(p), 4) for p in PLATT(np.array(BAND_SCORES))]
    detectors = {name: {"track": track, "score": 0.5, "probability": round(float(PLATT(np.array([0.5]))[0]), 4),
                        "verdict": "inconclusive", "threshold": band[1], "inconclusive_band": band}
                 for name, track in (("frames-det", "frames"), ("audio-det", "audio"))}
    segments = [{"start_s": 1.0, "end_s": 2.0, "track": "audio", "detector": "audio-det", "peak_score": 3.0,
                 "mean_score": 3.0, "peak_probability": 0.9999, "within_real_file": False}]
    return ScanResult(path=str(path), modality="video", status="ok", verdict="inconclusive", probability=0.5,
                      media={"duration_s": 3.0}, detectors=detectors, segments=segments,
                      arrays={"frames/frames-det": frames, "audio/audio-det": audio})


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return media_factory.write_video(tmp_path / "clip.mp4", width=64, height=48, frames=30, fps=10, pattern=False)


@pytest.mark.parametrize("store_platt", [True, False])
def test_the_scale_is_the_verdicts_calibration_stored_or_recovered_from_the_band(tmp_path, store_platt) -> None:
    result = _result(tmp_path / "x.mp4", store_platt=store_platt)
    scale = probability_scale(result, "audio", "audio-det")
    assert scale.a == pytest.approx(2.0, rel=1e-3) and scale.b == pytest.approx(-1.0, abs=2e-3)
    track = probability_track(result, "frames", "frames-det")
    np.testing.assert_allclose(track.probability, PLATT(np.array([-3, -2, 0, 2, 5, -1.0])), atol=1e-4)
    assert track.threshold == pytest.approx(float(PLATT(np.array([0.9]))[0]), abs=1e-4)
    assert track.file_probability == pytest.approx(0.5, abs=1e-4) and track.file_verdict == "inconclusive"


def test_segment_peak_is_read_off_the_plotted_trace_not_the_stored_field(tmp_path) -> None:
    result = _result(tmp_path / "x.mp4")
    expected = float(PLATT(np.array([3.0]))[0])  # the 1 s average inside the segment, through the same calibration
    assert segment_peak(result, result.segments[0]) == pytest.approx(expected)
    assert expected < 0.9999  # the stored peak_probability disagreed with the plot
    json_only = ScanResult(path=result.path, detectors=result.detectors, segments=result.segments,
                           series={"audio": {"detector": "audio-det", "start_s": [0.0, 0.5, 1.5, 2.5],
                                             "end_s": [1.0, 1.5, 2.5, 3.5], "probability": [0.1, 0.4, 0.7, 0.9]}})
    assert segment_peak(json_only, result.segments[0]) == pytest.approx(0.7)  # the windows overlapping 1-2 s


def test_video_view_plots_probabilities_and_remembers_the_split(qtbot, clip, monkeypatch, tmp_path) -> None:
    from deepfake_gui.gui.views import common
    from deepfake_gui.gui.views.video_view import SPLITTER_KEY, VideoView

    monkeypatch.setenv("LAYERSCOPE_DATA_DIR", str(tmp_path / "data"))
    result = _result(clip)
    view = VideoView(result)
    qtbot.addWidget(view)
    view.resize(600, 700)
    view.show()
    qtbot.waitExposed(view)
    y = np.asarray(view.audio_track.smooth_curve.getData()[1])
    assert y.min() == pytest.approx(float(PLATT(np.array([-3.0]))[0])) and y.max() <= 1.0  # not the +-40 steps
    peak = float(PLATT(np.array([3.0]))[0])
    assert view.audio_track.segment_regions[0].toolTip().endswith(f"peak P(fake) {peak:.3f}")
    top, bottom = view.splitter.sizes()
    assert bottom > top  # the timelines get the room to start with
    view.splitter.moveSplitter(450, 1)
    moved = view.splitter.sizes()
    assert moved[0] > top
    assert common.view_settings().value(SPLITTER_KEY) is not None
    again = VideoView(result)
    qtbot.addWidget(again)
    again.resize(600, 700)
    again.show()
    qtbot.waitExposed(again)
    assert again.splitter.sizes() == moved
    for v in (view, again):
        qtbot.waitUntil(lambda v=v: v.frame_time is not None, timeout=15_000)
