"""Score-over-time plots sharing one time axis and one movable time cursor.

The video and audio views stack their plots here so a click or a drag anywhere
picks one instant for all of them (the frame to show, the playback position).
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


def step_color() -> tuple[int, int, int, int]:
    color = pg.mkColor(pg.getConfigOption("foreground"))
    return color.red(), color.green(), color.blue(), STEP_ALPHA


def legend_label(kinds: tuple[str, ...]) -> QLabel:
    """What the marks mean, as a wrapping Qt label (plot titles cannot wrap in a narrow panel)."""
    marks = {
        "frame": f"<span style='color:{accent('frame')}'>●</span> score of each sampled frame",
        "window": f"<span style='color:{accent('window')}'>●</span> score of each window (at its centre)",
        "step": "<span style='color:#9e9e9e'>━</span> per-step score inside the windows",
    }
    parts = [marks[k] for k in kinds if k in marks] + [
        f"<span style='color:{accent('threshold')}'>╌</span> detector threshold",
        "<span style='color:#e6a700'>■</span> inconclusive band",
        f"<span style='color:{accent('cursor')}'>┃</span> cursor: click or drag",
    ]
    label = QLabel(f"Scores are decision scores (logits; higher leans fake). {' · '.join(parts)}")
    label.setObjectName("timelineLegend")
    label.setWordWrap(True)
    label.setStyleSheet("font-size: 8pt;")
    return label


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
