"""Score-over-time plots sharing one time axis and one movable time cursor.

The video and audio views stack their plots here so a click or a drag anywhere
picks one instant for all of them (the frame to show, the playback position).
Suspected segments (engine/segments.py) are shaded over the whole height of a
score plot; true segments, when a localization manifest lists the file, are a
thin strip along its bottom, so the two can be compared at a glance.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel

from deepfake_gui.engine.explain import TimeSeries
from deepfake_gui.gui.views.common import BAND_BRUSH, DISPLAY, SCORE_LABEL, accent

STEP_ALPHA = 110  # the per-step curve: the plot's foreground colour, faint behind the window scores
SEGMENT_ALPHA = 50  # suspected segments: the threshold's colour, faint (the scores stay readable through it)
TRUTH_ALPHA = 190  # true segments: an opaque strip
TRUTH_SPAN = (0.0, 0.08)  # the strip's share of the plot's height, from the bottom
TRUTH_LABEL = "true segment (from manifest)"


def step_color() -> tuple[int, int, int, int]:
    color = pg.mkColor(pg.getConfigOption("foreground"))
    return color.red(), color.green(), color.blue(), STEP_ALPHA


def _rgba(role: str, alpha: int) -> tuple[int, int, int, int]:
    color = pg.mkColor(accent(role))
    return color.red(), color.green(), color.blue(), alpha


def segment_color(alpha: int = SEGMENT_ALPHA) -> tuple[int, int, int, int]:
    """Suspected segments wear the threshold's colour: it is where the scores crossed a threshold."""
    return _rgba("threshold", alpha)


def truth_color(alpha: int = TRUTH_ALPHA) -> tuple[int, int, int, int]:
    """True segments wear the waveform's colour, unlike any score mark, on either theme."""
    return _rgba("wave", alpha)


def _css(rgba: tuple[int, int, int, int]) -> str:
    """The colour a translucent mark shows on the plot background, as #rrggbb (what a legend swatch needs)."""
    back = pg.mkColor(pg.getConfigOption("background"))
    a = rgba[3] / 255
    mix = [round(a * c + (1 - a) * b) for c, b in zip(rgba[:3], (back.red(), back.green(), back.blue()), strict=True)]
    return "#{:02x}{:02x}{:02x}".format(*mix)


def legend_text(kinds: tuple[str, ...], *, truth: bool = False) -> str:
    """The legend's rich text; ``truth`` adds the true-segment strip (only when a manifest gave it)."""
    marks = {
        "frame": f"<span style='color:{accent('frame')}'>●</span> score of each sampled frame",
        "window": f"<span style='color:{accent('window')}'>●</span> score of each window (at its centre)",
        "step": "<span style='color:#9e9e9e'>━</span> per-step score inside the windows",
    }
    parts = [marks[k] for k in kinds if k in marks] + [
        f"<span style='color:{accent('threshold')}'>╌</span> detector threshold",
        "<span style='color:#e6a700'>■</span> inconclusive band",
        f"<span style='background:{_css(segment_color(90))}'>&nbsp;&nbsp;&nbsp;</span> suspected segment "
        "(the segment rule: smoothed scores over its threshold; dashed edges: in a file called real)",
    ]
    if truth:
        parts.append(f"<span style='color:{_css(truth_color(255))}'>▁▁</span> {TRUTH_LABEL}")
    parts.append(f"<span style='color:{accent('cursor')}'>┃</span> cursor: click or drag")
    return (f"Scores are decision scores (logits; higher leans fake). {' · '.join(parts)}. "
            "Shading shows where the detector responded, not proof of manipulation.")


def legend_label(kinds: tuple[str, ...], *, truth: bool = False) -> QLabel:
    """What the marks mean, as a wrapping Qt label (plot titles cannot wrap in a narrow panel)."""
    label = QLabel(legend_text(kinds, truth=truth))
    label.setObjectName("timelineLegend")
    label.setWordWrap(True)
    label.setStyleSheet("font-size: 8pt;")
    return label


def segment_tooltip(seg: dict) -> str:
    """One suspected segment in words (the verdict card lists the same)."""
    peak = seg.get("peak_probability")
    text = (f"suspected segment {float(seg['start_s']):.2f}–{float(seg['end_s']):.2f} s "
            f"({seg.get('track')}, {seg.get('detector')})")
    if peak is not None:
        text += f", peak P(fake) {float(peak):.3f}"
    if seg.get("within_real_file"):
        text += "; in a file called real: worth a look, not a finding"
    return text


@dataclass
class ScoreTrack:
    """The items of one score plot, kept so views and tests can read what is drawn."""

    plot: pg.PlotItem
    curve: pg.PlotDataItem
    step_curve: pg.PlotDataItem
    threshold_line: pg.InfiniteLine
    band_region: pg.LinearRegionItem
    detector: str = ""
    band: tuple[float, float] | None = field(default=None)
    segments: list[dict] = field(default_factory=list)  # the suspected segments drawn (dicts as in the JSON)
    segment_regions: list[pg.LinearRegionItem] = field(default_factory=list)
    truth: list[tuple[float, float]] = field(default_factory=list)  # true segments drawn (from a manifest)
    truth_regions: list[pg.LinearRegionItem] = field(default_factory=list)

    def show_segments(self, segments: list[dict]) -> None:
        """Shade each suspected segment over the plot's height; dashed edges when the file was called real."""
        for region in self.segment_regions:
            self.plot.removeItem(region)
        self.segments, self.segment_regions = list(segments), []
        for seg in self.segments:
            real = bool(seg.get("within_real_file"))
            pen = pg.mkPen(segment_color(230), width=1.5,
                           style=Qt.PenStyle.DashLine if real else Qt.PenStyle.SolidLine)
            region = pg.LinearRegionItem((float(seg["start_s"]), float(seg["end_s"])), orientation="vertical",
                                         movable=False, brush=pg.mkBrush(*segment_color()), pen=pen)
            region.setZValue(-15)  # behind the inconclusive band and the curves
            region.setToolTip(segment_tooltip(seg))
            self.plot.addItem(region, ignoreBounds=True)
            self.segment_regions.append(region)

    def show_truth(self, spans: list[tuple[float, float]] | None) -> None:
        """The true segments as a thin strip along the plot's bottom (span is a share of the height)."""
        for region in self.truth_regions:
            self.plot.removeItem(region)
        self.truth, self.truth_regions = [(float(a), float(b)) for a, b in spans or ()], []
        for start, end in self.truth:
            region = pg.LinearRegionItem((start, end), orientation="vertical", movable=False, span=TRUTH_SPAN,
                                         brush=pg.mkBrush(*truth_color()), pen=pg.mkPen(truth_color(255), width=1))
            region.setZValue(-5)
            region.setToolTip(f"{TRUTH_LABEL}: {start:.2f}–{end:.2f} s")
            self.plot.addItem(region, ignoreBounds=True)
            self.truth_regions.append(region)

    def show(self, series: TimeSeries, band: tuple[float, float] | None, steps: TimeSeries | None = None) -> None:
        """Draw one detector's scores: windows at their centres, frames at their times."""
        x = series.times_s if series.ends_s is None else (series.times_s + series.ends_s) / 2
        self.curve.setData(np.asarray(x, float), np.asarray(series.scores, float))
        if steps is not None:
            self.step_curve.setData(np.asarray(steps.times_s, float), np.asarray(steps.scores, float))
        else:
            self.step_curve.setData([], [])
        self.threshold_line.setValue(series.threshold_score)
        self.detector, self.band = series.detector, band
        self.threshold_line.setVisible(DISPLAY.show_threshold)
        self.band_region.setVisible(band is not None and DISPLAY.show_band)
        if band is not None:
            self.band_region.setRegion(band)
        self._fit_y(series, steps)
        what = {"frame": "frames", "window": "audio windows"}.get(series.kind, series.kind)
        missing = " (inconclusive band unknown)" if band is None else ""
        self.plot.setTitle(f"<span style='font-size:8pt'>{what}: {series.detector}{missing}</span>")

    def _fit_y(self, series: TimeSeries, steps: TimeSeries | None) -> None:
        """Keep the threshold and band in view with the data, however far apart they are."""
        values = [np.asarray(series.scores, float)]
        step_scores = np.asarray(steps.scores, float) if steps is not None else np.zeros(0)
        if np.isfinite(step_scores).any():  # single steps are noisy: their outliers may leave the view
            values.append(np.nanpercentile(step_scores, [2, 98]))
        values.append(np.array([series.threshold_score, *(self.band or ())], float))
        allv = np.concatenate(values)
        allv = allv[np.isfinite(allv)]
        if allv.size:
            lo, hi = float(allv.min()), float(allv.max())
            pad = max(0.08 * (hi - lo), 0.5)
            self.plot.setYRange(lo - pad, hi + pad, padding=0)


class Timeline(pg.GraphicsLayoutWidget):
    """Stacked plots over [0, duration] with X linked; ``time_picked`` on a click or a finished drag."""

    time_picked = Signal(float)
    time_dragged = Signal(float)  # while the cursor is being dragged (consumers debounce)

    def __init__(self, duration_s: float, parent=None) -> None:
        super().__init__(parent)
        self.duration_s = max(float(duration_s or 0.0), 1e-3)
        self.plots: list[pg.PlotItem] = []
        self.cursors: list[pg.InfiniteLine] = []
        self._syncing = False
        self.ci.setSpacing(2)
        self.scene().sigMouseClicked.connect(self._on_click)

    # ----------------------------------------------------------------- building
    def add_plot(self, ylabel: str, *, height: int | None = None, xlabel: bool = False) -> pg.PlotItem:
        plot = self.addPlot(row=len(self.plots), col=0)
        plot.setLabel("left", ylabel)
        plot.getAxis("left").setWidth(62)
        plot.setMouseEnabled(x=True, y=False)
        plot.setXRange(0, self.duration_s, padding=0.01)
        plot.setLimits(xMin=-0.05 * self.duration_s, xMax=1.05 * self.duration_s)
        plot.showGrid(x=True, y=True, alpha=0.15)
        if self.plots:
            plot.setXLink(self.plots[0])
        if height is not None:
            plot.setPreferredHeight(height)
        cursor = pg.InfiniteLine(0.0, angle=90, movable=True, pen=pg.mkPen(accent("cursor"), width=2),
                                 hoverPen=pg.mkPen(pg.getConfigOption("foreground"), width=3),
                                 bounds=(0, self.duration_s))
        cursor.setZValue(20)
        cursor.sigPositionChanged.connect(self._on_cursor_moved)
        cursor.sigPositionChangeFinished.connect(self._on_cursor_released)
        plot.addItem(cursor, ignoreBounds=True)
        self.plots.append(plot)
        self.cursors.append(cursor)
        self.set_x_label()
        return plot

    def add_score_track(self, *, height: int | None = None, kind: str = "frame") -> ScoreTrack:
        plot = self.add_plot(SCORE_LABEL, height=height)
        band = pg.LinearRegionItem((0, 0), orientation="horizontal", movable=False, brush=pg.mkBrush(*BAND_BRUSH),
                                   pen=pg.mkPen(BAND_BRUSH[:3] + (150,), width=1))  # edges show a thin band
        band.setZValue(-10)
        threshold = pg.InfiniteLine(0.0, angle=0, movable=False,
                                    pen=pg.mkPen(accent("threshold"), width=1.5, style=Qt.PenStyle.DashLine))
        plot.addItem(band, ignoreBounds=True)
        plot.addItem(threshold, ignoreBounds=True)
        steps = plot.plot([], [], pen=pg.mkPen(step_color(), width=1))
        color = accent(kind if kind in ("frame", "window") else "frame")
        curve = plot.plot([], [], pen=pg.mkPen(color, width=2), symbol="o", symbolSize=6,
                          symbolBrush=color, symbolPen=None)
        return ScoreTrack(plot, curve, steps, threshold, band)

    def set_x_label(self) -> None:
        """Only the lowest plot carries the time axis label (the others share it)."""
        for i, plot in enumerate(self.plots):
            last = i == len(self.plots) - 1
            plot.setLabel("bottom", "time (s)" if last else None)
            plot.getAxis("bottom").setStyle(showValues=last)

    # ------------------------------------------------------------------ cursor
    def cursor_time(self) -> float:
        return float(self.cursors[0].value()) if self.cursors else 0.0

    def set_cursor(self, time_s: float) -> None:
        """Move every cursor without announcing it (playback, programmatic seeks)."""
        t = float(np.clip(time_s, 0.0, self.duration_s))
        self._syncing = True
        try:
            for cursor in self.cursors:
                cursor.setValue(t)
        finally:
            self._syncing = False

    def pick(self, time_s: float) -> None:
        """What a click does: move the cursor there and announce it."""
        self.set_cursor(time_s)
        self.time_picked.emit(self.cursor_time())

    def _on_cursor_moved(self, line: pg.InfiniteLine) -> None:
        if self._syncing:
            return
        self.set_cursor(line.value())
        self.time_dragged.emit(self.cursor_time())

    def _on_cursor_released(self, line: pg.InfiniteLine) -> None:
        self.time_picked.emit(float(line.value()))

    def _on_click(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        pos = event.scenePos()
        for plot in self.plots:
            if plot.vb.sceneBoundingRect().contains(pos):
                self.pick(plot.vb.mapSceneToView(pos).x())
                return
