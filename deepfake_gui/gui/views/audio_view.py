"""A sound file's evidence: waveform, log-mel spectrogram and scores on one time axis, with playback.

The waveform is a min/max envelope computed while streaming the file, and the
spectrogram comes from ``explain.audio_spectrogram``; both run off the GUI
thread, so an hour-long file does not freeze the window. Playback needs
QtMultimedia and an audio output; without them the play button is hidden.
The score plot shades the detector's suspected segments and, when a
localization manifest lists the file, the true segments in a strip below.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QUrl, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from deepfake_gui.core.results import ScanResult
from deepfake_gui.engine.explain import (
    Envelope,
    audio_series,
    audio_spectrogram,
    probability_track,
    suspected_segments,
    true_segments,
    waveform_envelope,
)
from deepfake_gui.gui.views.common import (
    accent,
    detector_picker,
    detectors_for,
    media_duration,
    run_in_background,
)
from deepfake_gui.gui.views.timeline import ScoreTrack, Timeline, legend_label, legend_text

HZ_TICKS = (100, 250, 500, 1000, 2000, 4000, 8000, 16000)


def _load(path: str, duration_s: float) -> tuple[Envelope, Any, dict | None]:
    return waveform_envelope(path, duration_s), audio_spectrogram(path), true_segments(path)


@lru_cache(maxsize=1)
def multimedia() -> tuple[Any, Any] | None:
    """(QMediaPlayer, QAudioOutput) classes if sound can be played here, else None."""
    try:
        from PySide6.QtMultimedia import QAudioOutput, QMediaDevices, QMediaPlayer
    except (ImportError, OSError):  # e.g. libpulse missing
        return None
    return (QMediaPlayer, QAudioOutput) if QMediaDevices.audioOutputs() else None


def hz_ticks(freqs_hz: np.ndarray) -> list[tuple[float, str]]:
    """Tick positions on the mel-bin axis for round frequencies (bins are centred at i + 0.5)."""
    centres = np.arange(len(freqs_hz)) + 0.5
    ticks = []
    for f in HZ_TICKS:
        if freqs_hz[0] <= f <= freqs_hz[-1]:
            ticks.append((float(np.interp(f, freqs_hz, centres)), f"{f / 1000:g}k" if f >= 1000 else f"{f}"))
    return ticks


class AudioView(QWidget):
    """Waveform, spectrogram (with colour bar) and window/step scores, linked in time, with a play cursor."""

    loaded = Signal()

    def __init__(self, result: ScanResult, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result = result
        names = detectors_for(result, "audio")
        if not names:
            raise KeyError(f"{result.path}: no audio arrays")
        self.window = audio_series(result, "window", names[0])  # KeyError early if the scan kept no arrays
        self.steps = audio_series(result, "step", names[0])
        self.spectrogram = None
        self.envelope: Envelope | None = None
        self.truth: dict[str, list[tuple[float, float]]] | None = None  # from a localization manifest
        self.player = None
        self.duration_s = media_duration(result, self.window)
        self.timeline = Timeline(self.duration_s)
        self._build_plots()
        picker, self.detector_combo = detector_picker(names, "audio detector")
        self.detector_combo.currentTextChanged.connect(self._show_detector)
        self._show_detector(names[0])
        self._build_layout(picker)
        self.timeline.time_picked.connect(self._seek)
        self.status_label.setText("loading the waveform and spectrogram…")
        path, duration = result.path, self.duration_s  # the job must not hold the widget (see common.py)
        self._load_job = run_in_background(lambda: _load(path, duration), self._on_loaded,
                                        self._on_failed)

    def _build_plots(self) -> None:
        self.wave_plot = self.timeline.add_plot("amplitude", height=70, minimum=60)
        wave = accent("wave")
        self.wave_low = pg.PlotDataItem([], [], pen=pg.mkPen(wave, width=1))
        self.wave_high = pg.PlotDataItem([], [], pen=pg.mkPen(wave, width=1))
        self.wave_fill = pg.FillBetweenItem(self.wave_low, self.wave_high, brush=pg.mkBrush(wave))
        for item in (self.wave_low, self.wave_high, self.wave_fill):
            self.wave_plot.addItem(item)
        self.wave_plot.setYRange(-1, 1, padding=0.02)
        self.wave_plot.getAxis("left").enableAutoSIPrefix(False)
        self.spec_plot = self.timeline.add_plot("Hz (mel)", height=150, minimum=110)
        self.spec_plot.showGrid(x=False, y=False)
        self.spectrogram_item = pg.ImageItem(axisOrder="row-major")
        self.spec_plot.addItem(self.spectrogram_item)
        self.color_bar = pg.ColorBarItem(colorMap="inferno", label="power (dB)", interactive=False, width=12)
        self.color_bar.setImageItem(self.spectrogram_item)
        self.timeline.addItem(self.color_bar, row=1, col=1)
        self.score_track: ScoreTrack = self.timeline.add_score_track(height=150, kind="window")

    def _build_layout(self, picker: QWidget) -> None:
        self.play_button = QPushButton("▶ Play")
        self.play_button.setObjectName("playButton")
        self.play_button.clicked.connect(self._toggle_play)
        self.play_button.setVisible(multimedia() is not None)
        self.status_label = QLabel()
        self.status_label.setObjectName("audioStatus")
        self.status_label.setWordWrap(True)
        controls = QHBoxLayout()
        controls.addWidget(self.play_button)
        controls.addWidget(picker, stretch=1)
        hint = self.legend = legend_label(("window", "step"))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self.timeline, stretch=1)
        layout.addWidget(self.status_label)
        layout.addWidget(hint)

    def _show_detector(self, detector: str) -> None:
        self.window = audio_series(self.result, "window", detector)
        self.steps = audio_series(self.result, "step", detector)
        self.score_track.show(probability_track(self.result, "audio", detector))
        self.score_track.show_segments(suspected_segments(self.result, "audio", detector))

    # ------------------------------------------------------------------ loading
    @Slot(object)
    def _on_loaded(self, payload: tuple[Envelope, Any, dict | None]) -> None:
        self.envelope, spec, self.truth = payload
        self.score_track.show_truth((self.truth or {}).get("audio"))
        if self.score_track.truth:
            self.legend.setText(legend_text(("window", "step"), truth=True))
        self.wave_low.setData(self.envelope.times_s, self.envelope.low)
        self.wave_high.setData(self.envelope.times_s, self.envelope.high)
        peak = float(np.max(np.abs(np.concatenate([self.envelope.low, self.envelope.high])), initial=0.0))
        self.wave_plot.setYRange(-max(peak, 1e-3), max(peak, 1e-3), padding=0.05)
        self.spectrogram = spec
        self._draw_spectrogram(spec)
        self.status_label.setText(f"spectrogram: {spec.db.shape[0]} mel bands × {spec.db.shape[1]} columns, "
                                  f"{spec.sample_rate} Hz; scores from {self.window.detector}")
        self.loaded.emit()

    def _draw_spectrogram(self, spec: Any) -> None:
        n_mels, n_cols = spec.db.shape
        self.spectrogram_item.setImage(spec.db, autoLevels=False)
        if n_cols:
            step = float(np.median(np.diff(spec.times_s))) if n_cols > 1 else self.duration_s
            x0 = float(spec.times_s[0]) - step / 2
            self.spectrogram_item.setRect(x0, 0.0, step * n_cols, float(n_mels))
        finite = spec.db[np.isfinite(spec.db)]
        top = float(finite.max()) if finite.size else 0.0
        self.color_bar.setLevels((top - float(spec.top_db), top))
        self.spec_plot.setYRange(0, n_mels, padding=0)
        self.spec_plot.getAxis("left").setTicks([hz_ticks(np.asarray(spec.freqs_hz))])

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.status_label.setText(f"could not load the sound: {message}")

    # ----------------------------------------------------------------- playback
    def _toggle_play(self) -> None:
        classes = multimedia()
        if classes is None:
            return
        if self.player is None:
            player_cls, output_cls = classes
            self.player = player_cls(self)
            self.audio_output = output_cls(self)
            self.player.setAudioOutput(self.audio_output)
            self.player.setSource(QUrl.fromLocalFile(self.result.path))
            self.player.positionChanged.connect(lambda ms: self.timeline.set_cursor(ms / 1000))
            self.player.playbackStateChanged.connect(self._on_playback_state)
            self.player.setPosition(int(self.timeline.cursor_time() * 1000))
        if self.player.playbackState() == self.player.PlaybackState.PlayingState:
            self.player.pause()
        else:
            self.player.play()

    def _on_playback_state(self, state: Any) -> None:
        playing = self.player is not None and state == self.player.PlaybackState.PlayingState
        self.play_button.setText("⏸ Pause" if playing else "▶ Play")

    def _seek(self, time_s: float) -> None:
        if self.player is not None:
            self.player.setPosition(int(time_s * 1000))
