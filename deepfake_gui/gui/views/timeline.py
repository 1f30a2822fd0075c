"""Probability-over-time plots sharing one time axis and one movable time cursor.

The video and audio views stack their plots here so a click or a drag anywhere
picks one instant for all of them (the frame to show, the playback position).
Every score plot reads P(fake) on a fixed 0-1 axis (``engine.explain.probability_track``):
the points, the detector's threshold, its inconclusive band and the file's own
probability are all on that one scale, so a file at P(fake) > 0.999 sits at the
top, not "near the threshold". Audio also shows the 1 s average of the per-step
scores (what the segment rule reads; single 20 ms steps swing by tens of logits).
Suspected segments (engine/segments.py) are shaded over the plot's height; true
segments, when a localization manifest lists the file, are a thin strip along its
bottom, so the two can be compared at a glance. Colours are Okabe-Ito (theme.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel

from deepfake_gui.core.present import fmt_prob
from deepfake_gui.engine.explain import ProbabilityTrack
from deepfake_gui.gui.views.common import DISPLAY, PROBABILITY_LABEL, accent, fill

TRUTH_ALPHA = 190  # true segments: an opaque strip
TRUTH_SPAN = (0.0, 0.08)  # the strip's share of the plot's height, from the bottom
TRUTH_LABEL = "true segment (from manifest)"
MIN_SCORE_HEIGHT = 120  # px: a probability plot below this cannot show 0, 0.5 and 1 apart
AXIS_HEIGHT = 40  # px: the time axis under the lowest plot
Y_RANGE = (-0.1, 1.1)  # room for the 0 and 1 tick labels
Y_TICKS = [[(0.0, "0"), (0.5, "0.5"), (1.0, "1")], [(0.25, ""), (0.75, "")]]
WHAT = {"frame": "frames", "window": "audio windows"}


def _rgba(role: str, alpha: int) -> tuple[int, int, int, int]:
    color = pg.mkColor(accent(role))
    return color.red(), color.green(), color.blue(), alpha


def segment_color(alpha: int | None = None) -> tuple[int, int, int, int]:
    """Suspected segments: Okabe-Ito reddish purple, unlike every line on the plot."""
    rgba = fill("segment")
    return rgba if alpha is None else (*rgba[:3], alpha)


def band_color(alpha: int | None = None) -> tuple[int, int, int, int]:
    rgba = fill("band")
    return rgba if alpha is None else (*rgba[:3], alpha)


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
    """The legend's rich text, short enough for two lines in a narrow panel (the tooltip says more).

    ``truth`` adds the true-segment strip (only when a manifest gave it).
    """
    marks = {
        "frame": f"<span style='color:{accent('frame')}'>●</span> frame",
        "window": f"<span style='color:{accent('window')}'>●</span> audio window",
        "step": f"<span style='color:{accent('smooth')}'>━</span> 1 s average",
    }
    parts = [marks[k] for k in kinds if k in marks] + [
        f"<span style='color:{accent('threshold')}'>╌</span> threshold",
        f"<span style='background:{_css(band_color(140))}'>&nbsp;&nbsp;&nbsp;</span> inconclusive band",
        f"<span style='color:{accent('file')}'>┈┈</span> file's P(fake)",
        f"<span style='background:{_css(segment_color(150))}'>&nbsp;&nbsp;&nbsp;</span> suspected segment",
    ]
    if truth:
        parts.append(f"<span style='color:{_css(truth_color(255))}'>▁▁</span> {TRUTH_LABEL}")
    return "P(fake), calibrated, 0–1: " + " · ".join(parts)


LEGEND_TOOLTIP = (
    "Each plot reads the calibrated probability of fake (0–1) of one detector, the number the verdict card "
    "prints.\nframe / audio window: the probability of each sampled frame, or of each audio window at its "
    "centre.\n1 s average: the per-step scores averaged over 1 s, what the segment rule reads (a single 20 ms "
    "step says little).\nthreshold (dashed) and inconclusive band (yellow): the detector's; the dotted line is "
    "this file's own probability from that detector.\nsuspected segment (shaded; dashed edges in a file called "
    "real): where the segment rule fired. Shading shows where a detector responded, not proof of manipulation."
    "\nClick or drag anywhere to move the cursor."
)


def legend_label(kinds: tuple[str, ...], *, truth: bool = False) -> QLabel:
    """What the marks mean, as a wrapping Qt label (plot titles cannot wrap in a narrow panel)."""
    label = QLabel(legend_text(kinds, truth=truth))
    label.setObjectName("timelineLegend")
    label.setWordWrap(True)
    label.setStyleSheet("font-size: 8pt;")
    label.setToolTip(LEGEND_TOOLTIP)
    label.ensurePolished()
    label.setMinimumHeight(2 * label.fontMetrics().lineSpacing() + 4)  # two lines: layouts miss wrapped heights
    return label


def segment_tooltip(seg: dict, peak: float | None = None) -> str:
    """One suspected segment in words (the verdict card lists the same); ``peak`` as read off the plot."""
    text = (f"suspected segment {float(seg['start_s']):.2f}–{float(seg['end_s']):.2f} s "
            f"({seg.get('track')}, {seg.get('detector')})")
    if peak is not None:
        text += f", peak P(fake) {fmt_prob(peak)}"
    if seg.get("within_real_file"):
        text += "; in a file called real: worth a look, not a finding"
    return text


@dataclass
class ScoreTrack:
    """The items of one probability plot, kept so views and tests can read what is drawn."""

    plot: pg.PlotItem
    curve: pg.PlotDataItem  # frames / windows: P(fake) per point
    smooth_curve: pg.PlotDataItem  # audio: the 1 s average of the per-step scores, as P(fake)
    threshold_line: pg.InfiniteLine
    band_region: pg.LinearRegionItem
    file_line: pg.InfiniteLine  # the file's P(fake) from this detector
    detector: str = ""
    data: ProbabilityTrack | None = None
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
            peak = self.data.peak_between(float(seg["start_s"]), float(seg["end_s"])) if self.data else None
            region.setToolTip(segment_tooltip(seg, peak))
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

    def show(self, data: ProbabilityTrack) -> None:
        """Draw one detector's probabilities: frames at their times, windows at their centres."""
        self.data, self.detector, self.band = data, data.detector, data.band
        self.curve.setData(data.times_s, data.probability)
        if data.smooth_probability is not None:
            self.smooth_curve.setData(data.smooth_times_s, data.smooth_probability)
        else:
            self.smooth_curve.setData([], [])
        self.threshold_line.setValue(data.threshold)
        self.threshold_line.setVisible(DISPLAY.show_threshold)
        self.band_region.setVisible(data.band is not None and DISPLAY.show_band)
        if data.band is not None:
            self.band_region.setRegion(data.band)
        self.file_line.setVisible(data.file_probability is not None)
        if data.file_probability is not None:
            self.file_line.setValue(data.file_probability)
            self.file_line.label.setFormat(f"file {fmt_prob(data.file_probability)} ({data.file_verdict or '—'})")
            below = (1, 0) if data.file_probability > 0.5 else (1, 1)  # keep the label inside the plot
            self.file_line.label.anchors = [below, below]
            self.file_line.label.updatePosition()
        missing = " (inconclusive band unknown)" if data.band is None else ""
        self.plot.setTitle(f"<span style='font-size:8pt'>{WHAT.get(data.kind, data.kind)}: {data.detector}"
                           f"{missing}</span>")
        self.plot.setYRange(*Y_RANGE, padding=0)


class Timeline(pg.GraphicsLayoutWidget):
    """Stacked plots over [0, duration] with X linked; ``time_picked`` on a click or a finished drag."""

    time_picked = Signal(float)
    time_dragged = Signal(float)  # while the cursor is being dragged (consumers debounce)

    def __init__(self, duration_s: float, parent=None) -> None:
        super().__init__(parent)
        self.duration_s = max(float(duration_s or 0.0), 1e-3)
        self.plots: list[pg.PlotItem] = []
        self.cursors: list[pg.InfiniteLine] = []
        self.minimums: list[int] = []  # px per plot, without the time axis
        self.heights: list[int] = []
        self._syncing = False
        self.ci.setSpacing(2)
        self.scene().sigMouseClicked.connect(self._on_click)

    # ----------------------------------------------------------------- building
    def add_plot(self, ylabel: str, *, height: int | None = None, minimum: int = 50) -> pg.PlotItem:
        """A plot on the next row; ``minimum`` px tall at least (the widget asks its layout for the sum)."""
        plot = self.addPlot(row=len(self.plots), col=0)
        plot.setLabel("left", ylabel)
        self.minimums.append(minimum)
        plot.getAxis("left").setWidth(62)
        plot.setMouseEnabled(x=True, y=False)
        plot.setXRange(0, self.duration_s, padding=0.01)
        plot.setLimits(xMin=-0.05 * self.duration_s, xMax=1.05 * self.duration_s)
        plot.showGrid(x=True, y=True, alpha=0.15)
        if self.plots:
            plot.setXLink(self.plots[0])
        self.heights.append(height or minimum)
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
        plot = self.add_plot(PROBABILITY_LABEL, height=height, minimum=MIN_SCORE_HEIGHT)
        plot.setYRange(*Y_RANGE, padding=0)
        plot.getAxis("left").setTicks(Y_TICKS)
        plot.getAxis("left").setStyle(hideOverlappingLabels=False)  # 0 and 1 sit at the plot's edges
        band = pg.LinearRegionItem((0, 0), orientation="horizontal", movable=False,
                                   brush=pg.mkBrush(*band_color()),
                                   pen=pg.mkPen(band_color(160), width=1))  # edges show a thin band
        band.setZValue(-10)
        threshold = pg.InfiniteLine(0.0, angle=0, movable=False,
                                    pen=pg.mkPen(accent("threshold"), width=1.5, style=Qt.PenStyle.DashLine))
        file_line = pg.InfiniteLine(0.0, angle=0, movable=False,
                                    pen=pg.mkPen(accent("file"), width=1.5, style=Qt.PenStyle.DotLine),
                                    label="", labelOpts={"position": 0.99, "anchors": [(1, 1), (1, 1)],
                                                         "color": accent("file")})
        file_line.setZValue(5)
        plot.addItem(band, ignoreBounds=True)
        plot.addItem(threshold, ignoreBounds=True)
        plot.addItem(file_line, ignoreBounds=True)
        smooth = plot.plot([], [], pen=pg.mkPen(accent("smooth"), width=1.2))
        color = accent(kind if kind in ("frame", "window") else "frame")
        curve = plot.plot([], [], pen=pg.mkPen(color, width=2), symbol="o", symbolSize=6,
                          symbolBrush=color, symbolPen=None)
        return ScoreTrack(plot, curve, smooth, threshold, band, file_line)

    def set_x_label(self) -> None:
        """Only the lowest plot carries the time axis; its height grows by the axis, so the data areas match."""
        for i, plot in enumerate(self.plots):
            last = i == len(self.plots) - 1
            plot.setLabel("bottom", "time (s)" if last else None)
            plot.getAxis("bottom").setStyle(showValues=last)
            extra = AXIS_HEIGHT if last else 0
            plot.setMinimumHeight(self.minimums[i] + extra)
            plot.setPreferredHeight(self.heights[i] + extra)
        self.setMinimumHeight(sum(self.minimums) + AXIS_HEIGHT + 4 * len(self.plots))

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
