"""Evidence views built from real scans: what they plot must be exactly what the engine yielded."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import media_factory
import numpy as np
import pytest
from media_factory import needs_offline, speechlike
from media_factory import write_mono_wav as _write_wav
from PIL import Image

from deepfake_gui.core.results import ScanResult

pytest.importorskip("pytestqt")



@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ScanResult]:
    """One scan of an image (smaller than a tile: part of it unscored), a voice clip and a video with sound."""
    from deepfake_gui.engine.detectors import resolve_detectors
    from deepfake_gui.engine.scan import ScanOptions, scan_job

    folder = tmp_path_factory.mktemp("views")
    rng = np.random.default_rng(1)
    Image.fromarray((rng.random((150, 200, 3)) * 255).astype(np.uint8)).save(folder / "picture.png")
    _write_wav(folder / "voice.wav", speechlike(8000, 3.0, noise=0.0), 8000)
    media_factory.write_video(folder / "clip.mp4", width=128, height=96, frames=30, fps=10, pattern=False,
                              sound="speech")
    paths = [folder / "picture.png", folder / "voice.wav", folder / "clip.mp4"]
    # the defaults plus a second audio detector (the previous telephone GE2E), so views show a detector switch
    second = Path(__file__).resolve().parents[2] / "models" / "examples" / "audio-ge2e-telephone"
    detectors = resolve_detectors(device="cpu") + resolve_detectors([str(second)], device="cpu", defaults=False)
    scanned = [e for e in scan_job(paths, ScanOptions(device="cpu"), detectors=detectors)
               if isinstance(e, ScanResult)]
    assert [r.status for r in scanned] == ["ok"] * 3, [r.error for r in scanned]
    return {r.modality: r for r in scanned}


def _shown(qtbot, widget, size=(900, 1000)):
    qtbot.addWidget(widget)
    widget.resize(*size)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _xy(item) -> tuple[np.ndarray, np.ndarray]:
    x, y = item.getData()
    return np.asarray(x), np.asarray(y)


def _centres(series) -> np.ndarray:
    return (series.times_s + series.ends_s) / 2


# --------------------------------------------------------------------- registry


@needs_offline
def test_each_modality_gets_its_view_and_the_verdict_card(qtbot, results) -> None:
    from deepfake_gui.gui.views import VIEWS, VerdictCard, evidence_widget_for

    for modality, result in results.items():
        widget = _shown(qtbot, evidence_widget_for(result))
        assert isinstance(widget.view, VIEWS[modality])
        assert isinstance(widget.card, VerdictCard)
        qtbot.waitUntil(lambda w=widget: getattr(w.view, "frame_time", None) is not None
                        or getattr(w.view, "heatmap", None) is not None
                        or getattr(w.view, "spectrogram", None) is not None, timeout=15_000)


def test_error_and_arrayless_results_show_the_card_and_say_why(qtbot) -> None:
    from PySide6.QtWidgets import QLabel

    from deepfake_gui.gui.views import evidence_widget_for

    broken = evidence_widget_for(ScanResult(path="/x/broken.mp4", status="error", error="moov atom not found"))
    qtbot.addWidget(broken)
    assert broken.view is None
    assert broken.card.verdict_label.text() == "ERROR"
    assert "moov atom" in broken.card.error_label.text()
    bare = evidence_widget_for(ScanResult(path="/x/a.png", modality="image", verdict=None))
    qtbot.addWidget(bare)
    assert isinstance(bare.view, QLabel) and "no score arrays" in bare.view.text()
    assert bare.card.verdict_label.text() == "NO VERDICT"


# ---------------------------------------------------------------------- verdict


def test_verdict_card_rows_attribution_disagreement_and_model_cards(qtbot) -> None:
    from deepfake_gui.gui.views.common import VERDICT_COLORS
    from deepfake_gui.gui.views.verdict_card import VerdictCard

    disagree = ("detectors disagree on the audio: a says real (0.01), b says fake (0.99); "
                "the audio is reported inconclusive")
    result = ScanResult(
        path="/x/voice.wav", modality="audio", verdict="inconclusive", probability=0.5, score=0.1, sha256="ab" * 32,
        detectors={n: {"track": "audio", "score": s, "probability": p, "verdict": v, "threshold": 0.7,
                       "inconclusive_band": [0.3, 0.7], "calibration": "file", "aggregation": "mean"}
                   for n, s, p, v in (("a", -4.0, 0.01, "real"), ("b", 4.0, 0.99, "fake"))},
        detector_info={"a": {"trained_on": "telephone speech", "cv_auc": 0.93, "bundle_sha256": "cd" * 32}},
        attribution=[{"class": c, "probability": p, "detector": "a"}
                     for c, p in (("griffin-lim", 0.1), ("real", 0.05), ("espeak", 0.6), ("world", 0.25))],
        caveats=["too short", disagree],
        media={"container": "wav", "codec": "pcm_s16le", "duration_s": 3.0, "sample_rate": 8000, "channels": 1,
               "byte_size": 48044, "modality": "audio"},
    )
    card = VerdictCard(result)
    qtbot.addWidget(card)
    assert card.verdict_label.text() == "INCONCLUSIVE"
    assert VERDICT_COLORS["inconclusive"] in card.verdict_label.styleSheet()
    assert len(card.detector_rows) == 2
    assert [row["verdict"].text() for row in card.detector_rows] == ["real", "fake"]
    assert [row["probability"].text() for row in card.detector_rows] == ["0.010", "0.990"]
    assert card.disagreement_label is not None and "a says real" in card.disagreement_label.text()
    assert len(card.caveat_labels) == 2
    assert card.attribution_bars == []  # an inconclusive file: no "closest source" (issue 22)
    fake = VerdictCard(dataclasses.replace(result, verdict="fake"))
    qtbot.addWidget(fake)
    assert [bar.format() for bar in fake.attribution_bars] == ["60.0%", "25.0%", "10.0%"]  # top 3, sorted, no real
    tooltip = card.detector_rows[0]["name"].toolTip()
    assert "telephone speech" in tooltip and "0.930" in tooltip
    assert "no model card" in card.detector_rows[1]["name"].toolTip()
    assert not card.model_cards_label.isVisibleTo(card)
    card.model_cards_button.setChecked(True)
    assert card.model_cards_label.isVisibleTo(card)
    assert "ab" * 32 in card.hash_label.text()
    assert "8000 Hz" in card.media_label.text() and "3.00 s" in card.media_label.text()


@needs_offline
def test_verdict_card_of_a_real_scan(qtbot, results) -> None:
    from deepfake_gui.core.present import reading_caveats
    from deepfake_gui.gui.views.verdict_card import VerdictCard

    video = results["video"]
    card = VerdictCard(video)
    qtbot.addWidget(card)
    assert card.verdict_label.text() == (video.verdict or "no verdict").upper()
    assert len(card.detector_rows) == len(video.detectors) == 4  # frames; phase, Whisper and GE2E on the sound
    assert len(card.caveat_labels) == len(reading_caveats(video))  # domain text is in the model cards
    assert len(reading_caveats(video)) < len(video.caveats)
    assert (card.disagreement_label is not None) == any("detectors disagree" in c for c in video.caveats)
    for name, row in zip(video.detectors, card.detector_rows, strict=True):
        assert row["name"].text() == name
        info = video.detector_info[name]
        # the LOGO column (unseen generators) when a detector has one; old bundles without it show a dash
        shown = info.get("logo_auc")
        assert row["auc"].text() == ("—" if shown is None else f"{shown:.3f}")
        assert video.detector_info[name]["trained_on"][:40] in row["name"].toolTip()


# ------------------------------------------------------------------------ image


@needs_offline
def test_image_overlay_is_the_heatmap_with_nan_left_clear(qtbot, results) -> None:
    from deepfake_gui.engine.explain import image_heatmap
    from deepfake_gui.gui.views.image_view import ImageView

    result = results["image"]
    view = _shown(qtbot, ImageView(result))
    qtbot.waitUntil(lambda: view.heatmap is not None, timeout=15_000)
    heat = image_heatmap(result)
    overlay = view.overlay_item.image
    assert overlay.shape == heat.values.shape == (150, 200)  # row-major: no transpose
    np.testing.assert_array_equal(overlay, heat.values)  # NaN where unscored, drawn transparent
    assert np.isnan(overlay).any()
    assert view.image_item.image.shape == (150, 200, 3)
    lo, hi = view.color_bar.levels()
    assert (lo + hi) / 2 == pytest.approx(heat.threshold_score)  # white = the threshold
    view.opacity_slider.setValue(20)
    assert view.overlay_item.opacity() == pytest.approx(0.2)
    assert "not proof" in view.caption.text()


# ------------------------------------------------------------------------ video


def _assert_on_probability_scale(track, result, data) -> None:
    """One detector's plot: every mark on the 0-1 axis and agreeing with the numbers the card prints."""
    stored = result.detectors[data.detector]
    x, y = _xy(track.curve)
    np.testing.assert_allclose(x, data.times_s)
    np.testing.assert_allclose(y, data.probability)
    assert np.all((y >= 0) & (y <= 1))
    assert track.threshold_line.value() == pytest.approx(stored["threshold"], abs=2e-3)
    assert track.band_region.getRegion() == pytest.approx(stored["inconclusive_band"], abs=2e-3)
    assert not track.band_region.movable
    assert track.file_line.isVisible() and track.file_line.value() == pytest.approx(stored["probability"])
    assert track.plot.getAxis("left").labelText == "P(fake)"
    assert track.plot.getViewBox().viewRange()[1] == pytest.approx([-0.1, 1.1])


@needs_offline
def test_video_timeline_plots_probabilities_threshold_band_file_line_and_audio(qtbot, results) -> None:
    from deepfake_gui.engine.explain import frame_series, probability_scale, probability_track, segment_series
    from deepfake_gui.gui.views.timeline import MIN_SCORE_HEIGHT
    from deepfake_gui.gui.views.video_view import VideoView

    result = results["video"]
    view = _shown(qtbot, VideoView(result))
    frames = frame_series(result)
    _assert_on_probability_scale(view.frames_track, result, probability_track(result, "frames"))
    np.testing.assert_allclose(_xy(view.frames_track.curve)[1],
                               probability_scale(result, "frames", frames.detector)(frames.scores))
    audio = probability_track(result, "audio")
    _assert_on_probability_scale(view.audio_track, result, audio)
    smooth = segment_series(result, "audio")
    sx, sy = _xy(view.audio_track.smooth_curve)  # the 1 s average, not the raw +-50 logit steps
    np.testing.assert_allclose(sx, smooth.times_s)
    np.testing.assert_allclose(sy, probability_scale(result, "audio", audio.detector)(smooth.scores))
    assert view.audio_track.plot.getViewBox().linkedView(0) is view.frames_track.plot.getViewBox()
    for track in (view.frames_track, view.audio_track):  # readable heights, one label each
        assert track.plot.size().height() >= MIN_SCORE_HEIGHT
    assert view.timeline.minimumHeight() >= 2 * MIN_SCORE_HEIGHT
    qtbot.waitUntil(lambda: view.frame_time is not None, timeout=15_000)
    assert "P(fake)" in view.frame_label.text() and "score " not in view.frame_label.text()
    sound_only = dataclasses.replace(result, arrays={k: v for k, v in result.arrays.items() if k.startswith("audio/")})
    partial = _shown(qtbot, VideoView(sound_only))
    assert partial.frames_track is None and partial.audio_track is not None
    qtbot.waitUntil(lambda: partial.frame_time is not None, timeout=15_000)


@needs_offline
def test_clicking_the_timeline_shows_that_frame(qtbot, results) -> None:
    from PySide6.QtCore import QPointF, Qt

    from deepfake_gui.engine.explain import video_frame
    from deepfake_gui.gui.views.video_view import VideoView

    result = results["video"]
    view = _shown(qtbot, VideoView(result))
    qtbot.waitUntil(lambda: view.frame_time is not None, timeout=15_000)
    target = 0.7 if abs(view.frame_time - 0.7) > 0.3 else 2.2
    vb = view.frames_track.plot.getViewBox()
    y_mid = sum(vb.viewRange()[1]) / 2
    pos = view.timeline.mapFromScene(vb.mapViewToScene(QPointF(target, y_mid)))
    qtbot.mouseClick(view.timeline.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    qtbot.waitUntil(lambda: abs(view.frame_time - target) < 0.05, timeout=15_000)
    assert view.timeline.cursor_time() == pytest.approx(view.frame_time)
    assert f"frame at {view.frame_time:.2f} s" in view.frame_label.text()
    np.testing.assert_array_equal(view.frame_item.image, video_frame(result.path, view.frame_time))


@needs_offline
def test_dragging_decodes_only_the_latest_frame(qtbot, results, monkeypatch) -> None:
    from deepfake_gui.gui.views import video_view

    result = results["video"]
    view = _shown(qtbot, video_view.VideoView(result))
    qtbot.waitUntil(lambda: view.frame_time is not None, timeout=15_000)
    calls: list[float] = []
    real = video_view.video_frame

    def counting(path, time_s):
        calls.append(time_s)
        return real(path, time_s)

    monkeypatch.setattr(video_view, "video_frame", counting)
    for t in np.linspace(0.1, 2.5, 25):
        view.timeline.set_cursor(t)
        view.timeline.time_dragged.emit(float(t))
    qtbot.waitUntil(lambda: view.frame_time == pytest.approx(2.5), timeout=15_000)
    assert calls == [pytest.approx(2.5)]  # the debounce dropped the 24 stale positions


# ------------------------------------------------------------------------ audio


@needs_offline
def test_audio_view_spectrogram_waveform_and_score_curves(qtbot, results) -> None:
    from deepfake_gui.engine.explain import audio_series, audio_spectrogram, probability_track
    from deepfake_gui.gui.views.audio_view import AudioView, multimedia

    result = results["audio"]
    view = _shown(qtbot, AudioView(result))
    qtbot.waitUntil(lambda: view.spectrogram is not None, timeout=15_000)
    spec = audio_spectrogram(result.path)
    assert view.spectrogram_item.image.shape == spec.db.shape
    rect = view.spectrogram_item.mapRectToParent(view.spectrogram_item.boundingRect())
    assert rect.left() == pytest.approx(0.0, abs=0.05) and rect.right() == pytest.approx(3.0, abs=0.05)
    assert view.envelope is not None and 0 < len(view.envelope.low) <= 2001
    assert np.all(view.envelope.low <= view.envelope.high) and np.max(view.envelope.high) <= 1.0
    window = audio_series(result, "window")
    data = probability_track(result, "audio")
    x, _y = _xy(view.score_track.curve)
    np.testing.assert_allclose(x, _centres(window))
    _assert_on_probability_scale(view.score_track, result, data)
    np.testing.assert_allclose(_xy(view.score_track.smooth_curve)[1], data.smooth_probability)
    for plot in (view.spec_plot, view.score_track.plot):
        assert plot.getViewBox().linkedView(0) is view.wave_plot.getViewBox()
    assert view.play_button.isVisibleTo(view) == (multimedia() is not None)
    other = view.detector_combo.itemText(1)
    view.detector_combo.setCurrentIndex(1)
    switched = probability_track(result, "audio", other)
    np.testing.assert_allclose(_xy(view.score_track.curve)[1], switched.probability)
    _assert_on_probability_scale(view.score_track, result, switched)


@needs_offline
def test_playback_moves_the_cursor_and_clicks_seek(qtbot, results, monkeypatch) -> None:
    """QtMultimedia is often missing on test machines: a stand-in player checks the wiring."""
    import enum

    from PySide6.QtCore import QObject, Signal

    from deepfake_gui.gui.views import audio_view

    class FakePlayer(QObject):
        positionChanged = Signal(int)
        playbackStateChanged = Signal(object)
        PlaybackState = enum.Enum("PlaybackState", "StoppedState PlayingState PausedState")

        def __init__(self, parent=None) -> None:
            super().__init__(parent)
            self.state, self.position, self.source = self.PlaybackState.StoppedState, None, None

        def setAudioOutput(self, output) -> None:
            self.output = output

        def setSource(self, url) -> None:
            self.source = url.toLocalFile()

        def setPosition(self, ms: int) -> None:
            self.position = ms

        def playbackState(self):
            return self.state

        def play(self) -> None:
            self.state = self.PlaybackState.PlayingState
            self.playbackStateChanged.emit(self.state)

        def pause(self) -> None:
            self.state = self.PlaybackState.PausedState
            self.playbackStateChanged.emit(self.state)

    class FakeOutput(QObject):
        pass

    monkeypatch.setattr(audio_view, "multimedia", lambda: (FakePlayer, FakeOutput))
    result = results["audio"]
    view = _shown(qtbot, audio_view.AudioView(result))
    assert view.play_button.isVisibleTo(view)
    view.timeline.pick(0.5)
    view.play_button.click()
    assert view.player.source == result.path and view.player.position == 500
    assert "Pause" in view.play_button.text()
    view.player.positionChanged.emit(1500)
    assert view.timeline.cursor_time() == pytest.approx(1.5)
    view.timeline.pick(2.0)
    assert view.player.position == 2000
    view.play_button.click()
    assert "Play" in view.play_button.text()
    qtbot.waitUntil(lambda: view.spectrogram is not None, timeout=15_000)


def test_threshold_display_settings_hide_the_line_and_the_band(qtbot, results, monkeypatch) -> None:
    from deepfake_gui.gui.views.audio_view import AudioView
    from deepfake_gui.gui.views.common import DISPLAY

    monkeypatch.setattr(DISPLAY, "show_threshold", False)
    monkeypatch.setattr(DISPLAY, "show_band", False)
    view = _shown(qtbot, AudioView(results["audio"]))
    assert not view.score_track.threshold_line.isVisible()
    assert not view.score_track.band_region.isVisible()
    monkeypatch.setattr(DISPLAY, "show_threshold", True)
    monkeypatch.setattr(DISPLAY, "show_band", True)
    shown = _shown(qtbot, AudioView(results["audio"]))
    assert shown.score_track.threshold_line.isVisible() and shown.score_track.band_region.isVisible()


def test_verdict_card_shows_provenance_as_its_own_line(qtbot) -> None:
    from deepfake_gui.gui.views.verdict_card import VerdictCard

    provenance = {"summary": "PNG text chunk written by AUTOMATIC1111; no Content Credentials.",
                  "generator_hints": [{"source": "png:parameters", "meaning": "written by AUTOMATIC1111"}],
                  "c2pa": {"present": False, "valid": None}, "ai_metadata": True}
    result = ScanResult(path="/tmp/x.png", modality="image", verdict="real", probability=0.1,
                        provenance=provenance)
    card = VerdictCard(result)
    qtbot.addWidget(card)
    assert card.provenance_label.text() == provenance["summary"]
    assert "AUTOMATIC1111" in card.findChild(type(card.provenance_label), "provenanceHints").text()


def test_background_jobs_may_not_hold_widgets(qtbot) -> None:
    """A widget whose last reference dies on a pool thread deadlocks Qt: such jobs are refused up front."""
    import functools

    from PySide6.QtWidgets import QLabel

    from deepfake_gui.gui.views.common import run_in_background, wait_for_background

    label = QLabel()
    qtbot.addWidget(label)
    for job in (lambda: label.text(), functools.partial(str, label), label.text):
        with pytest.raises(TypeError, match="captures a QObject"):
            run_in_background(job, label.setText, label.setText)
    path = "plain data"
    relay = run_in_background(lambda: path.upper(), label.setText, label.setText)
    assert wait_for_background(5000)
    qtbot.waitUntil(lambda: label.text() == "PLAIN DATA", timeout=5000)
    assert relay is not None


def test_model_card_shows_the_robustness_table() -> None:
    from deepfake_gui.engine.verdicts import robustness_summary
    from deepfake_gui.gui.views.verdict_card import model_card_text

    table = {"method": "grouped 5-fold", "augment": "social", "in_augmentation": ["jpeg75"],
             "conditions": {"clean": {"auc": 0.99123, "n": 10}, "jpeg75": {"auc": 0.8512, "n": 10},
                            "webp75": {"auc": None, "n": 0}}}
    summary = robustness_summary(table)
    assert summary["auc"] == {"clean": 0.9912, "jpeg75": 0.8512, "webp75": None}
    assert robustness_summary(None) is None and robustness_summary({"conditions": 3}) is None
    text = model_card_text("image-effnet", {"cv_auc": 0.99, "robustness": summary})
    assert "clean 0.991 · jpeg75 0.851 · webp75 —" in text and "trained with social augmentation" in text
    assert "measured under laundering:</b> not measured" in model_card_text("x", {"cv_auc": 0.9})
