"""Where the evidence lies: suspected and true segments on the timelines, the manifest mask on the image,
and the segments and localization figures on the verdict card. Results are built by hand (synthetic
arrays and segments) over generated media, so what is drawn can be compared with what was given."""

from __future__ import annotations

import json
from pathlib import Path

import media_factory
import numpy as np
import pyqtgraph as pg
import pytest
from media_factory import needs_offline
from PIL import Image
from PySide6.QtCore import Qt

from deepfake_gui.core.results import ScanResult

pytest.importorskip("pytestqt")


MANIFEST_HEAD = "path,modality,label,generator,group,mask_path,video_segments,audio_segments,duration_s,details\n"
LOCALIZATION = {
    "note": "where the detector responded, not proof", "source": "docs/measurements/localization_model_card.json",
    "detector": "frames-det",
    "figures": {
        "video/frames": {"frame_auc": 0.919, "frame_auc_ci95": [0.875, 0.958], "frame_eer": 0.108, "frame_s": 0.04,
                         "segment_iou": 0.621, "true_segments_found": 0.8, "controls_with_segments": 0.1},
        "image/heatmap": {"pixel_auc": 0.703, "pixel_auc_ci95": [0.655, 0.749], "pointing_game": 0.512,
                          "iou_best_threshold": 0.268, "iou_detector_threshold": 0.155},
    },
}


def _segment(start: float, end: float, track: str, detector: str, peak: float, real: bool = False) -> dict:
    return {"start_s": start, "end_s": end, "duration_s": end - start, "track": track, "detector": detector,
            "peak_score": 2.0, "mean_score": 1.0, "peak_probability": peak, "within_real_file": real}


def _audio_arrays(duration: float, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    starts = np.arange(0.0, duration - 0.5, 0.5)
    steps = np.arange(0.01, duration, 0.02)
    return {"window_bounds_s": np.stack([starts, np.minimum(starts + 1.0, duration)], axis=1),
            "window_scores": rng.normal(size=len(starts)), "step_times_s": steps,
            "step_scores": rng.normal(size=len(steps)), "threshold_score": 0.3, "band_score": [0.1, 0.3]}


def _frame_arrays(duration: float) -> dict:
    times = np.arange(0.0, duration, 0.5)
    return {"frame_times_s": times, "frame_scores": np.sin(times), "threshold_score": 0.0}


def _shown(qtbot, widget, size=(900, 900)):
    qtbot.addWidget(widget)
    widget.resize(*size)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _bounds(track) -> list[tuple[float, float]]:
    return [tuple(float(v) for v in r.getRegion()) for r in track.segment_regions]


@pytest.fixture
def video_result(tmp_path: Path) -> ScanResult:
    """A 3 s clip with sound, a frames segment and an audio segment flagged inside a file called real."""
    path = media_factory.write_video(tmp_path / "clip.mp4", width=64, height=48, frames=30, fps=10, pattern=False)
    segments = [_segment(1.0, 2.0, "frames", "frames-det", 0.93),
                _segment(0.5, 1.25, "audio", "audio-a", 0.71, real=True),
                _segment(2.0, 2.75, "audio", "audio-b", 0.88)]
    return ScanResult(path=str(path), modality="video", status="ok", verdict="real", probability=0.2,
                      media={"duration_s": 3.0}, segments=segments,
                      detectors={"frames-det": {"track": "frames", "verdict": "real", "probability": 0.2}},
                      detector_info={"frames-det": {"trained_on": "photos", "cv_auc": 0.9,
                                                    "localization": LOCALIZATION}},
                      arrays={"frames/frames-det": _frame_arrays(3.0), "audio/audio-a": _audio_arrays(3.0),
                              "audio/audio-b": _audio_arrays(3.0, seed=1)})


# ------------------------------------------------------------------ timelines


def test_video_timeline_shades_each_tracks_segments_and_follows_the_detector(qtbot, video_result) -> None:
    from deepfake_gui.gui.views.video_view import VideoView

    view = _shown(qtbot, VideoView(video_result))
    assert _bounds(view.frames_track) == [(1.0, 2.0)]
    assert view.frames_track.segments == [s for s in video_result.segments if s["track"] == "frames"]
    assert view.audio_combo.currentText() == "audio-a"  # no series: the arrays' order
    assert _bounds(view.audio_track) == [(0.5, 1.25)]
    flagged = view.audio_track.segment_regions[0]  # "within a file called real": dashed edges and a note
    assert flagged.lines[0].pen.style() == Qt.PenStyle.DashLine and "called real" in flagged.toolTip()
    view.audio_combo.setCurrentText("audio-b")
    assert _bounds(view.audio_track) == [(2.0, 2.75)]
    shaded = [i for i in view.audio_track.plot.items if isinstance(i, pg.LinearRegionItem) and i.span == (0, 1)
              and i.orientation == "vertical"]
    assert shaded == view.audio_track.segment_regions  # the first detector's region was removed from the plot
    assert not any(r.movable for r in view.audio_track.segment_regions)
    assert view.frames_track.segment_regions[0].lines[0].pen.style() == Qt.PenStyle.SolidLine
    assert "suspected segment" in view.legend.text() and "not proof" in view.legend.toolTip()
    qtbot.waitUntil(lambda: view.truth_checked, timeout=15_000)
    assert view.truth is None and view.frames_track.truth_regions == []  # no manifest next to this file
    assert "from manifest" not in view.legend.text()
    qtbot.waitUntil(lambda: view.frame_time is not None, timeout=15_000)


def test_video_timeline_shows_true_segments_from_a_manifest(qtbot, video_result, tmp_path) -> None:
    from deepfake_gui.gui.views.timeline import TRUTH_SPAN
    from deepfake_gui.gui.views.video_view import VideoView

    (tmp_path / "manifest.csv").write_text(
        MANIFEST_HEAD + 'clip.mp4,video,partial,ae+world,g1,,"[[0.8,1.9]]","[[2.1,2.6],[0.2,0.4]]",3.0,{}\n')
    view = _shown(qtbot, VideoView(video_result))
    qtbot.waitUntil(lambda: view.truth_checked, timeout=15_000)
    assert view.truth == {"frames": [(0.8, 1.9)], "audio": [(2.1, 2.6), (0.2, 0.4)]}
    assert [tuple(r.getRegion()) for r in view.frames_track.truth_regions] == [(0.8, 1.9)]
    assert [tuple(r.getRegion()) for r in view.audio_track.truth_regions] == [(2.1, 2.6), (0.2, 0.4)]
    assert all(r.span == TRUTH_SPAN for r in view.audio_track.truth_regions)  # a strip along the bottom
    assert "true segment (from manifest)" in view.legend.text()
    assert _bounds(view.frames_track) == [(1.0, 2.0)]  # the suspected shading is still there
    qtbot.waitUntil(lambda: view.frame_time is not None, timeout=15_000)


def test_audio_view_shades_segments_and_the_manifests_truth(qtbot, tmp_path) -> None:
    from deepfake_gui.gui.views.audio_view import AudioView

    rate = 8000
    t = np.arange(3 * rate) / rate
    path = media_factory.write_mono_wav(tmp_path / "voice.wav", 0.3 * np.sin(2 * np.pi * 220 * t), rate)
    (tmp_path / "manifest.csv").write_text(MANIFEST_HEAD + 'voice.wav,audio,partial,world,g1,,,"[[1.1,1.9]]",3.0,{}\n')
    result = ScanResult(path=str(path), modality="audio", status="ok", verdict="fake", media={"duration_s": 3.0},
                        segments=[_segment(1.0, 2.0, "audio", "audio-a", 0.9), _segment(0.1, 0.9, "audio", "b", 0.8)],
                        arrays={"audio/audio-a": _audio_arrays(3.0)})
    view = _shown(qtbot, AudioView(result))
    assert _bounds(view.score_track) == [(1.0, 2.0)]  # only the shown detector's segments
    qtbot.waitUntil(lambda: view.spectrogram is not None, timeout=15_000)
    assert view.truth == {"audio": [(1.1, 1.9)]}
    assert [tuple(r.getRegion()) for r in view.score_track.truth_regions] == [(1.1, 1.9)]
    assert "from manifest" in view.legend.text()


# ---------------------------------------------------------------------- image


def test_image_view_toggles_the_manifest_mask(qtbot, tmp_path) -> None:
    from deepfake_gui.engine.explain import true_mask
    from deepfake_gui.gui.views.image_view import ImageView

    rng = np.random.default_rng(0)
    (tmp_path / "partial").mkdir()
    Image.fromarray((rng.random((40, 60, 3)) * 255).astype(np.uint8)).save(tmp_path / "partial" / "tile.png")
    mask = np.zeros((40, 60), np.uint8)
    mask[10:25, 20:45] = 255
    Image.fromarray(mask).save(tmp_path / "partial" / "tile_mask.png")
    (tmp_path / "manifest.csv").write_text(
        MANIFEST_HEAD + "partial/tile.png,image,partial,ae,g1,partial/tile_mask.png,,,,{}\n")
    heat = rng.normal(size=(40, 60)).astype(np.float32)
    result = ScanResult(path=str(tmp_path / "partial" / "tile.png"), modality="image", status="ok",
                        arrays={"image/img-det": {"heatmap": heat, "image_shape": (40, 60), "threshold_score": 0.0}})
    view = _shown(qtbot, ImageView(result))
    qtbot.waitUntil(lambda: view.heatmap is not None, timeout=15_000)
    np.testing.assert_array_equal(view.mask, mask > 127)
    np.testing.assert_array_equal(true_mask(result.path), mask > 127)
    assert view.mask_check.isVisibleTo(view) and not view.mask_item.isVisible()
    view.mask_check.setChecked(True)
    assert view.mask_item.isVisible()
    drawn = view.mask_item.image
    np.testing.assert_array_equal(drawn[..., 3] > 0, mask > 127)  # tinted exactly over the mask
    edge = drawn[..., 3] == 255
    assert edge[10, 30] and edge[24, 30] and not edge[17, 32]  # outline on the border, not inside
    assert "manifest" in view.caption.text()
    view.mask_check.setChecked(False)
    assert not view.mask_item.isVisible()


def test_image_view_without_a_manifest_has_no_mask_toggle(qtbot, tmp_path) -> None:
    from deepfake_gui.gui.views.image_view import ImageView

    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(tmp_path / "plain.png")
    result = ScanResult(path=str(tmp_path / "plain.png"), modality="image", status="ok", arrays={
        "image/d": {"heatmap": np.zeros((20, 30), np.float32), "image_shape": (20, 30), "threshold_score": 0.0}})
    view = _shown(qtbot, ImageView(result))
    qtbot.waitUntil(lambda: view.heatmap is not None, timeout=15_000)
    assert view.mask is None and not view.mask_check.isVisibleTo(view)


# ---------------------------------------------------------------------- card


def test_verdict_card_lists_segments_flags_real_and_shows_localization(qtbot, video_result) -> None:
    from deepfake_gui.core.present import fmt_prob
    from deepfake_gui.engine.explain import probability_track, segment_peak
    from deepfake_gui.gui.views.verdict_card import VerdictCard

    card = VerdictCard(video_result)
    qtbot.addWidget(card)
    texts = [label.text() for label in card.segment_labels]
    by_start = sorted(video_result.segments, key=lambda s: s["start_s"])
    peaks = [fmt_prob(segment_peak(video_result, s)) for s in by_start]  # read off the plotted series
    assert peaks[0] != "0.710"  # not the stored field, which the plot did not show
    assert texts[0].startswith(f"0.50–1.25 s · audio · audio-a · peak P(fake) {peaks[0]}")  # sorted by start
    assert "within a file called real" in texts[0]
    frames = probability_track(video_result, "frames", "frames-det")
    assert peaks[1] == fmt_prob(float(frames.probability[(frames.times_s >= 1.0) & (frames.times_s <= 2.0)].max()))
    assert texts[1] == f"1.00–2.00 s · frames · frames-det · peak P(fake) {peaks[1]}"
    assert texts[2].startswith("2.00–2.75 s · audio · audio-b") and "called real" not in texts[2]
    assert card.where_note is not None and "not proof" in card.where_note.text()
    cards = card.model_cards_label.text()
    assert "measured localization" in cards
    assert "frame AUC 0.919 (95% CI 0.875–0.958) per 40 ms" in cards and "segment IoU 0.621" in cards
    assert "pixel AUC 0.703" in cards and "pointing game 51%" in cards


def test_verdict_card_says_when_no_segment_was_found(qtbot) -> None:
    from deepfake_gui.gui.views.verdict_card import VerdictCard

    result = ScanResult(path="/x/v.wav", modality="audio", status="ok", verdict="real",
                        detectors={"a": {"track": "audio"}}, detector_info={"a": {"trained_on": "x"}})
    card = VerdictCard(result)
    qtbot.addWidget(card)
    assert card.segment_labels == []
    assert card.findChild(type(card.where_note), "segment").text() == "none found by the segment rule"
    assert "measured localization:</b> not measured" in card.model_cards_label.text()


# ------------------------------------------------------------------ bundles


def test_shipped_bundles_carry_the_measured_localization_figures() -> None:
    root = Path(__file__).resolve().parents[2]
    card = json.loads((root / "docs" / "measurements" / "localization_model_card.json").read_text())
    for folder, figures in card["detectors"].items():
        meta = json.loads((root / "models" / folder / "detector.json").read_text())
        assert meta["localization"]["detector"] == meta["name"] == figures["name"]
        assert meta["localization"]["figures"] == {k: v for k, v in figures.items() if k != "name"}


@needs_offline
def test_scanned_results_bring_the_localization_figures_to_the_card(qtbot, tmp_path) -> None:
    from deepfake_gui.engine.detectors import resolve_detectors
    from deepfake_gui.engine.scan import ScanOptions, scan_job
    from deepfake_gui.gui.views.verdict_card import VerdictCard

    rate = 16_000
    t = np.arange(2 * rate) / rate
    path = media_factory.write_mono_wav(tmp_path / "tone.wav", 0.3 * np.sin(2 * np.pi * 180 * t), rate)
    # the previous telephone detectors carry measured localization figures (so do the new defaults)
    examples = Path(__file__).resolve().parents[2] / "models" / "examples"
    detectors = resolve_detectors([str(examples / "audio-whisper-telephone"), str(examples / "audio-ge2e-telephone")],
                                  device="cpu", defaults=False)
    (result,) = [e for e in scan_job([path], ScanOptions(device="cpu"), detectors=detectors)
                 if isinstance(e, ScanResult)]
    assert result.status == "ok", result.error
    for name in result.detectors:
        assert result.detector_info[name]["localization"]["figures"]["audio/audio"]["frame_auc"] > 0.5
    card = VerdictCard(result)
    qtbot.addWidget(card)
    assert "audio set, audio track: frame AUC" in card.model_cards_label.text()
    assert card.where_note is not None
