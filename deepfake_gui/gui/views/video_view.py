"""A video's evidence: the frame at the cursor, per-frame scores, and the sound track's scores below.

Clicking or dragging on the timeline asks for one frame. Requests are debounced
and decoded one at a time on the views' pool (the newest wins), so scrubbing
never queues a backlog of decodes or blocks the GUI thread. Each track shades its
detector's suspected segments; the true segments, when a localization manifest
lists the file, are looked up off the GUI thread and drawn as a strip below them.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

from deepfake_gui.core.present import fmt_prob
from deepfake_gui.core.results import ScanResult
from deepfake_gui.engine.explain import (
    ProbabilityTrack,
    TimeSeries,
    audio_series,
    frame_series,
    probability_track,
    suspected_segments,
    true_segments,
    video_frame,
)
from deepfake_gui.gui.views.common import (
    detector_picker,
    detectors_for,
    media_duration,
    remember_splitter,
    run_in_background,
)
from deepfake_gui.gui.views.timeline import ScoreTrack, Timeline, legend_label, legend_text

DEBOUNCE_MS = 40
SPLITTER_KEY = "video_view/splitter"  # the frame / timelines split, remembered across files and sessions
SPLITTER_DEFAULT = [340, 660]  # the timelines are the evidence: two thirds of the height to start with


class FrameLoader:
    """Debounced, one-at-a-time frame decoding; ``on_frame(time_s, rgb)`` runs on the GUI thread."""

    def __init__(self, owner: VideoView, path: str) -> None:
        self.owner, self.path = owner, path
        self.busy = False
        self.pending: float | None = None
        self.timer = QTimer(owner)
        self.timer.setSingleShot(True)
        self.timer.setInterval(DEBOUNCE_MS)
        self.timer.timeout.connect(self._start_pending)
        self.job: object = None  # the JobHandle of the frame being decoded

    def request(self, time_s: float, *, now: bool = False) -> None:
        self.pending = float(time_s)
        if now:
            self.timer.stop()
            self._start_pending()
        else:
            self.timer.start()

    def _start_pending(self) -> None:
        if self.busy or self.pending is None:
            return
        t, path = self.pending, self.path
        self.pending, self.busy = None, True
        self.job = run_in_background(lambda: (t, video_frame(path, t)), self.owner._on_frame,
                                     self.owner._on_frame_failed)

    def finished(self) -> None:
        self.busy = False
        self._start_pending()


class VideoView(QWidget):
    """Frame viewer above a frames score timeline and the audio track's scores (linked time axes)."""

    frame_shown = Signal(float)
    truth_loaded = Signal(object)  # the manifest's true segments per track, or None when none lists the file

    def __init__(self, result: ScanResult, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result = result
        self.frame_time: float | None = None
        self.truth: dict[str, list[tuple[float, float]]] | None = None
        self.truth_checked = False
        frame_names, audio_names = detectors_for(result, "frames"), detectors_for(result, "audio")
        if not frame_names and not audio_names:
            raise KeyError(f"{result.path}: no frames or audio arrays")
        self.frames: TimeSeries | None = frame_series(result, frame_names[0]) if frame_names else None
        self.audio_window = audio_series(result, "window", audio_names[0]) if audio_names else None
        self.duration_s = media_duration(result, self.frames, self.audio_window)
        self._build_frame_viewer()
        self.timeline = Timeline(self.duration_s)
        self.frames_track: ScoreTrack | None = None
        self.frames_probability: ProbabilityTrack | None = None  # what the frames plot draws
        self.audio_track: ScoreTrack | None = None
        frames_picker, self.frames_combo = detector_picker(frame_names, "frames detector")
        audio_picker, self.audio_combo = detector_picker(audio_names, "audio detector")
        if frame_names:
            self.frames_track = self.timeline.add_score_track(kind="frame")
            self.frames_combo.currentTextChanged.connect(self._show_frames)
            self._show_frames(frame_names[0])
        if audio_names:
            self.audio_track = self.timeline.add_score_track(kind="window")
            self.audio_combo.currentTextChanged.connect(self._show_audio)
            self._show_audio(audio_names[0])
        self._layout(frames_picker, audio_picker)
        self.loader = FrameLoader(self, result.path)
        self.timeline.time_picked.connect(lambda t: self.loader.request(t, now=True))
        self.timeline.time_dragged.connect(self.loader.request)
        start = 0.0
        if self.frames is not None and len(self.frames.scores):
            start = float(self.frames.times_s[int(np.nanargmax(self.frames.scores))])  # the least real-looking
        self.timeline.set_cursor(start)
        self.loader.request(start, now=True)
        path = result.path  # the job must not hold the widget (see common.py)
        self._truth_job = run_in_background(lambda: true_segments(path), self._on_truth, self._on_truth_failed)

    def _build_frame_viewer(self) -> None:
        self.frame_widget = pg.GraphicsLayoutWidget()
        self.frame_box = self.frame_widget.addViewBox(lockAspect=True, invertY=True)
        self.frame_item = pg.ImageItem(axisOrder="row-major")
        self.frame_box.addItem(self.frame_item)
        self.frame_label = QLabel("loading the frame…")
        self.frame_label.setObjectName("frameLabel")
        self.frame_label.setWordWrap(True)

    def _layout(self, *pickers: QWidget) -> None:
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.frame_widget, stretch=1)
        top_layout.addWidget(self.frame_label)
        bottom = QWidget()
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 0, 0, 0)
        for picker in pickers:
            bottom_layout.addWidget(picker)
        bottom_layout.addWidget(self.timeline, stretch=1)
        self.legend_kinds = (("frame",) if self.frames_track else ()) + (
            ("window", "step") if self.audio_track else ())
        self.legend = legend_label(self.legend_kinds)
        bottom_layout.addWidget(self.legend)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("videoSplitter")
        self.splitter.addWidget(top)
        self.splitter.addWidget(bottom)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 2)
        top.setMinimumHeight(80)
        remember_splitter(self.splitter, SPLITTER_KEY, SPLITTER_DEFAULT)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)

    # ------------------------------------------------------------------ tracks
    def _show_frames(self, detector: str) -> None:
        if self.frames_track is None:
            return
        self.frames = frame_series(self.result, detector)
        self.frames_probability = probability_track(self.result, "frames", detector)
        self.frames_track.show(self.frames_probability)
        self.frames_track.show_segments(suspected_segments(self.result, "frames", detector))

    def _show_audio(self, detector: str) -> None:
        if self.audio_track is None:
            return
        self.audio_window = audio_series(self.result, "window", detector)
        self.audio_track.show(probability_track(self.result, "audio", detector))
        self.audio_track.show_segments(suspected_segments(self.result, "audio", detector))

    @Slot(object)
    def _on_truth(self, truth: dict[str, list[tuple[float, float]]] | None) -> None:
        self.truth, self.truth_checked = truth, True
        for track, name in ((self.frames_track, "frames"), (self.audio_track, "audio")):
            if track is not None:
                track.show_truth((truth or {}).get(name))
        if any(track is not None and track.truth for track in (self.frames_track, self.audio_track)):
            self.legend.setText(legend_text(self.legend_kinds, truth=True))
        self.truth_loaded.emit(truth)

    @Slot(str)
    def _on_truth_failed(self, message: str) -> None:  # a broken manifest: the scores are still worth showing
        self.truth_checked = True
        self.legend.setToolTip(f"could not read the true segments: {message}")

    # ------------------------------------------------------------------ frames
    @Slot(object)
    def _on_frame(self, payload: tuple[float, np.ndarray]) -> None:
        time_s, image = payload
        self.frame_item.setImage(image, autoLevels=False, levels=(0, 255))
        if self.frame_time is None:
            self.frame_box.autoRange(padding=0.01)
        self.frame_time = time_s
        self.frame_label.setText(self._frame_text(time_s))
        self.loader.finished()
        self.frame_shown.emit(time_s)

    @Slot(str)
    def _on_frame_failed(self, message: str) -> None:
        self.frame_label.setText(f"could not decode the frame: {message}")
        self.loader.finished()

    def _frame_text(self, time_s: float) -> str:
        text = f"frame at {time_s:.2f} s"
        track = self.frames_probability
        if track is not None and len(track.times_s):
            i = int(np.argmin(np.abs(track.times_s - time_s)))
            p = float(track.probability[i])
            side = "above" if p >= track.threshold else "below"
            text += (f" · nearest scored frame {track.times_s[i]:.2f} s: P(fake) {fmt_prob(p)} "
                     f"({side} the threshold {fmt_prob(track.threshold)})")
        return text
