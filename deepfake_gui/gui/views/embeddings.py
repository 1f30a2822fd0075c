"""The embedding explorer: the batch's files as points on a 2-D map of one encoder layer.

Why: the method's central finding is that real and fake separate best in an
encoder's *middle* layers. The layer slider makes that visible: every layer's PCA
map arrives with the embedding job, so moving the slider redraws at once, and
the small curve under the map shows how well each layer separates a labelled
reference set (see engine/explore.py for what that figure is). t-SNE of a layer
is computed on request, on the engine thread; until it arrives the PCA preview
is shown, and each layer's t-SNE is kept, so moving back is instant.

Self-contained widget; the main window only has to host it and wire two things::

    explorer = EmbeddingExplorer(window.engine)       # shares the window's EngineThread
    explorer.set_batch(window.model.results())        # list[ScanResult]; again when the batch changes
    explorer.file_selected.connect(select_row_of_path)  # a batch point was clicked: its path
    explorer.compute()                                 # or let the user press Compute

API: ``set_batch(results)``, ``compute()``, ``set_reference(path | None)`` (a labelled
folder real/ + fake/<generator>/, or one holding a manifest.csv; also the "Add
reference set…" button), ``set_layer(i)``, ``set_projection("pca" | "tsne")``,
``set_color_by("verdict" | "attribution" | "cluster")``, ``select_path(path)``
(highlight a file chosen elsewhere), ``cancel()``. Signals: ``file_selected(str)``,
``layer_changed(int)``, ``embeddings_ready(object)`` (the engine's EmbeddingSet).

What the explorer knows and decides (selection, which job to start with which
request, how results are folded in, what every label says) is ``ExplorerModel``
(gui/models/embeddings.py, no Qt); this widget draws the model and forwards the
user's actions to it. Each job the model asks for is submitted here and connected
through its own handle (gui/jobs.py), so the other jobs on the shared engine thread
(scans) never reach it. Errors go to the status line and the problems list, never
to a modal box.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QProgressBar,
    QPushButton,
    QSlider,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from deepfake_gui.core.jobs import Progress
from deepfake_gui.core.results import ScanResult
from deepfake_gui.engine.explore import SEPARATION_METHOD, EmbeddingSet, EncoderChoice, available_encoders
from deepfake_gui.gui.jobs import JobHandle
from deepfake_gui.gui.models.common import Bar
from deepfake_gui.gui.models.embeddings import (
    COLOR_MODES,
    NO_LAYER,
    NO_REFERENCE,
    PROJECTIONS,
    REFERENCE_ALPHA,
    ExplorerJob,
    ExplorerModel,
    MapPoints,
    SeparationCurve,
)
from deepfake_gui.gui.views.common import offered_encoders, run_in_background
from deepfake_gui.gui.widgets import choice_combo
from deepfake_gui.gui.worker import EngineThread

EMPTY_TEXT = ("No map yet.\n\nPick an encoder and, optionally, a reference set of known real and fake files, "
              "then press Compute: every file of the batch becomes a point, placed by what the encoder's layers "
              "see in it, so look-alike files sit together.")
BATCH_SIZE, REFERENCE_SIZE = 10, 6
SELECTED_COLOR = "#ffd54f"
ERROR_STYLE = "color: #ff7043;"


def _brush(color: str, alpha: int = 255) -> QBrush:
    c = QColor(color)
    c.setAlpha(alpha)
    return QBrush(c)


class EmbeddingExplorer(QWidget):
    """Map of the batch at one encoder layer, coloured by verdict, attribution or cluster."""

    file_selected = Signal(str)
    layer_changed = Signal(int)
    embeddings_ready = Signal(object)

    def __init__(self, engine: EngineThread, parent: QWidget | None = None, *,
                 encoders: list[EncoderChoice] | None = None, device: str = "auto", seed: int = 0,
                 reference_limit: int = 400) -> None:
        super().__init__(parent)
        self.setObjectName("embeddingExplorer")
        self.engine = engine
        self.model = ExplorerModel(device=device, seed=seed, reference_limit=reference_limit, encoders=encoders)
        self._hover_owner: Any = None
        self._drawn_set: EmbeddingSet | None = None
        self._build()
        if encoders is None:
            run_in_background(available_encoders, self._on_encoders, self._on_encoders_failed)
        self._render()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.encoder_combo = QComboBox()
        self.encoder_combo.setObjectName("encoderCombo")
        self.encoder_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.encoder_combo.setToolTip("Encoders whose weights are on this machine; random-weight ones are marked")
        self.encoder_combo.activated.connect(self._on_encoder_activated)
        self.compute_button = QPushButton("Compute")
        self.compute_button.setObjectName("computeButton")
        self.compute_button.clicked.connect(self.compute)
        self.projection_combo = choice_combo("projectionCombo", PROJECTIONS)
        self.projection_combo.currentIndexChanged.connect(self._on_projection_changed)
        self.color_combo = choice_combo("colorCombo", COLOR_MODES)
        self.color_combo.currentIndexChanged.connect(self._on_color_changed)
        self.reference_button = QPushButton("Add reference set…")
        self.reference_button.setObjectName("referenceButton")
        self.reference_button.setToolTip("A labelled folder (real/ and fake/<generator>/, or a manifest.csv): "
                                         "shown as faint points, and used to measure each layer's separation")
        self.reference_button.clicked.connect(self._choose_reference)
        self.reference_label = QLabel(NO_REFERENCE)
        top = QHBoxLayout()
        for label, widget in (("Encoder", self.encoder_combo), (None, self.compute_button),
                              ("Map", self.projection_combo), ("Colour by", self.color_combo),
                              (None, self.reference_button), (None, self.reference_label)):
            if label:
                top.addWidget(QLabel(label))
            top.addWidget(widget)
        top.addStretch(1)

        self.layer_slider = QSlider(Qt.Orientation.Horizontal)
        self.layer_slider.setObjectName("layerSlider")
        self.layer_slider.setEnabled(False)
        self.layer_slider.setPageStep(1)
        self.layer_slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.layer_slider.valueChanged.connect(self._on_layer_changed)
        self.layer_label = QLabel(NO_LAYER)
        self.layer_label.setObjectName("layerLabel")
        self.layer_label.setMinimumWidth(260)
        slider_row = QHBoxLayout()
        slider_row.addWidget(QLabel("Layer"))
        slider_row.addWidget(self.layer_slider, stretch=1)
        slider_row.addWidget(self.layer_label)

        self.plot_widget = MapPlot()
        self.plot = self.plot_widget.getPlotItem()
        self.batch_scatter, self.reference_scatter = self.plot_widget.batch_scatter, self.plot_widget.reference_scatter
        self.selection_marker, self.hover_text = self.plot_widget.selection_marker, self.plot_widget.hover_text
        self.batch_scatter.sigClicked.connect(self._on_points_clicked)
        self.batch_scatter.sigHovered.connect(self._on_points_hovered)
        self.reference_scatter.sigHovered.connect(self._on_points_hovered)

        self.legend = QLabel()
        self.legend.setObjectName("embeddingLegend")
        self.legend.setWordWrap(True)
        self.legend.setStyleSheet("font-size: 8pt;")

        self.separation_plot = SeparationPlot()
        self.separation_curve, self.separation_marker = self.separation_plot.curve, self.separation_plot.marker

        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("explorerProgress")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("explorerCancel")
        self.cancel_button.clicked.connect(self.cancel)
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress_bar, stretch=1)
        progress_row.addWidget(self.cancel_button)
        self.status_label = QLabel()
        self.status_label.setObjectName("explorerStatus")
        self.status_label.setWordWrap(True)
        self.problems_list = QListWidget()
        self.problems_list.setObjectName("explorerProblems")
        self.problems_list.setMaximumHeight(80)
        self.problems_list.hide()

        # until a map exists, say what to do instead of drawing empty axes and a lone layer marker
        self.empty_label = QLabel(EMPTY_TEXT)
        self.empty_label.setObjectName("explorerEmpty")
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setStyleSheet("font-size: 11pt; padding: 24px;")
        self.plot_stack = QStackedWidget()
        self.plot_stack.addWidget(self.empty_label)
        self.plot_stack.addWidget(self.plot_widget)
        self.separation_plot.hide()

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(slider_row)
        layout.addWidget(self.plot_stack, stretch=1)
        layout.addWidget(self.legend)
        layout.addWidget(self.separation_plot)
        layout.addLayout(progress_row)
        layout.addWidget(self.status_label)
        layout.addWidget(self.problems_list)


    # --------------------------------------------------------------- public API
    def set_batch(self, results: list[ScanResult]) -> None:
        """The files to map (unreadable ones are left out). A shown map is kept while it still fits."""
        self.model.set_batch(results)
        self._sync()

    def set_reference(self, path: str | None) -> None:
        """A labelled set to show as faint points (None removes it); recomputes when a map is shown."""
        self.model.set_reference(path)
        self._sync()

    def compute(self) -> JobHandle | None:
        """Start the embedding job for the batch (and reference set); returns its job."""
        job = self.model.compute()
        self._sync()
        return job.handle if job is not None else None

    def set_encoder(self, name: str) -> None:
        """Pick the encoder (as the user would); the next compute() uses it."""
        self.model.pick_encoder(name)
        self._sync()

    def encoder(self) -> str | None:
        return self.model.encoder

    def set_layer(self, layer: int) -> None:
        self.layer_slider.setValue(layer)

    def current_layer(self) -> int:
        return self.model.layer

    def set_projection(self, method: str) -> None:
        self.projection_combo.setCurrentIndex(self.projection_combo.findData(method))

    def projection(self) -> str:
        return self.model.projection

    def set_color_by(self, mode: str) -> None:
        self.color_combo.setCurrentIndex(self.color_combo.findData(mode))

    def color_by(self) -> str:
        return self.model.color_by

    def select_path(self, path: str | None) -> None:
        """Ring a batch point (a file selected elsewhere, e.g. in the table)."""
        self.model.select_path(path)
        self._draw_selection()

    @Slot()
    def cancel(self) -> None:
        """Cancel this view's jobs; the map shown stays."""
        self.model.cancel()
        self._render_progress()

    def displayed_coordinates(self) -> np.ndarray:
        """(n_batch, 2) coordinates in the batch scatter now."""
        x, y = self.batch_scatter.getData()
        return np.column_stack([np.asarray(x, float), np.asarray(y, float)]) if x is not None else np.zeros((0, 2))

    # the model's state, as tests and the screenshot script read it
    embedding_set = property(lambda self: self.model.embedding_set)
    tsne = property(lambda self: self.model.tsne)
    clusters = property(lambda self: self.model.clusters)
    shown_method = property(lambda self: self.model.shown_method)
    problems = property(lambda self: self.model.problems)
    legend_entries = property(lambda self: self.model.legend_entries)
    _jobs = property(lambda self: self.model.jobs)

    # ----------------------------------------------------------- job events
    def _sync(self) -> None:
        """Submit the jobs the model queued, then draw it."""
        for job in self.model.take_queued():
            self._submit(job)
        self._render()

    def _submit(self, job: ExplorerJob) -> None:
        """Start a job the model asked for; its handle's events go back to the model."""
        job.handle = self.engine.submit(job.factory, job.kind, parent=self)
        job.handle.on(
            started=self.model.job_started,
            progress=self._on_progress,
            result=functools.partial(self._on_result, job),
            finished=functools.partial(self._on_ended, job, False),
            cancelled=functools.partial(self._on_ended, job, True),
            failed=functools.partial(self._on_failed, job),
        )

    @Slot(object)
    def _on_progress(self, event: Progress) -> None:
        self.model.job_progress(event)
        self._render_progress()

    def _on_result(self, job: ExplorerJob, result: object) -> None:
        shown = self.model.embedding_set
        self.model.job_result(job, result)
        self._sync()
        if self.model.embedding_set is not shown and isinstance(result, EmbeddingSet):
            self.embeddings_ready.emit(result)
            self.layer_changed.emit(self.model.layer)

    def _on_ended(self, job: ExplorerJob, cancelled: bool) -> None:
        self.model.job_ended(job, cancelled)
        self._sync()

    def _on_failed(self, job: ExplorerJob, message: str, _details: str) -> None:
        self.model.job_failed(job, message)
        self._sync()

    @Slot(object)
    def _on_encoders(self, choices: list[EncoderChoice]) -> None:
        self.model.set_encoders(offered_encoders(choices))  # no random-weight test encoders for users
        self._sync()

    @Slot(str)
    def _on_encoders_failed(self, message: str) -> None:
        self.model.encoders_failed(message)
        self._sync()

    # --------------------------------------------------------------- UI events
    @Slot(int)
    def _on_layer_changed(self, layer: int) -> None:
        if self.model.set_layer(layer):
            self._sync()
            self.layer_changed.emit(layer)

    @Slot(int)
    def _on_projection_changed(self, _index: int) -> None:
        self.model.set_projection(str(self.projection_combo.currentData()))
        self._sync()

    @Slot(int)
    def _on_color_changed(self, _index: int) -> None:
        self.model.set_color_by(str(self.color_combo.currentData()))
        self._sync()

    @Slot(int)
    def _on_encoder_activated(self, index: int) -> None:
        self.set_encoder(self.encoder_combo.itemData(index))

    @Slot()
    def _choose_reference(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Labelled reference set (real/ + fake/<generator>/, "
                                                  "or a folder with manifest.csv)")
        if folder:
            self.set_reference(folder)

    def _on_points_clicked(self, _item: Any, points: Any, _event: Any = None) -> None:
        """pyqtgraph's sigClicked(item, points, event): the first clicked batch point's path."""
        if points is None or len(points) == 0:
            return
        path = str(points[0].data())
        self.select_path(path)
        self.file_selected.emit(path)

    def _on_points_hovered(self, item: Any, points: Any, _event: Any = None) -> None:
        """pyqtgraph's sigHovered(item, points, event): the file name(s) under the cursor."""
        if points is None or len(points) == 0:
            if item is self._hover_owner:
                self.hover_text.hide()
            return
        paths = [str(p.data()) for p in list(points)]
        self.hover_text.setText(self.model.hover_text(paths, reference=item is self.reference_scatter))
        self.hover_text.setPos(points[0].pos())
        self.hover_text.show()
        self._hover_owner = item

    # --------------------------------------------------------------- drawing the model
    def _render(self) -> None:
        m = self.model
        self._render_encoders()
        self.reference_label.setText(m.reference_text)
        self.reference_label.setToolTip(m.reference or "")
        s = m.embedding_set
        if s is not None:
            self.layer_slider.blockSignals(True)
            self.layer_slider.setRange(0, s.n_layers - 1)
            self.layer_slider.setValue(m.layer)
            self.layer_slider.blockSignals(False)
        self.layer_slider.setEnabled(m.slider_enabled)
        self.layer_label.setText(m.layer_text)
        self.layer_label.setToolTip(m.layer_tip)
        self.plot_stack.setCurrentWidget(self.plot_widget if s is not None else self.empty_label)
        self.separation_plot.setVisible(s is not None)
        self._draw_separation()
        self._draw_map()
        self._render_progress()
        self.status_label.setText(m.status.text)
        self.status_label.setStyleSheet(ERROR_STYLE if m.status.error else "")
        if [self.problems_list.item(i).text() for i in range(self.problems_list.count())] != m.problems:
            self.problems_list.clear()
            self.problems_list.addItems(m.problems)
        self.problems_list.setVisible(bool(m.problems))

    def _render_encoders(self) -> None:
        combo, m = self.encoder_combo, self.model
        items = [("checking encoders…", None)] if m.encoders is None else m.encoder_items()
        if [(combo.itemText(i), combo.itemData(i)) for i in range(combo.count())] != items:
            combo.clear()
            for label, name in items:
                combo.addItem(label, name)
        combo.setEnabled(bool(m.encoders))
        combo.setCurrentIndex(combo.findData(m.encoder) if m.encoder else combo.currentIndex())

    def _render_progress(self) -> None:
        bar: Bar = self.model.bar
        self.progress_bar.setRange(0, bar.maximum)
        self.progress_bar.setValue(bar.value)
        self.progress_bar.setFormat(bar.text)
        self.cancel_button.setEnabled(self.model.cancel_enabled)

    def _draw_map(self) -> None:
        points = self.model.map_points()
        self.plot_widget.draw(points)
        self.legend.setText(self.model.legend_html() if points is not None else "")
        self._draw_selection()

    def _draw_selection(self) -> None:
        self.plot_widget.draw_selection(self.model.selection_xy())

    def _draw_separation(self) -> None:
        if self.model.embedding_set is not self._drawn_set:  # drawn once per map: its axes keep their padding
            self._drawn_set = self.model.embedding_set
            self.separation_plot.draw(self.model.separation_curve())
        self.separation_plot.marker.setValue(self.model.layer)

    def closeEvent(self, event: Any) -> None:
        self.model.close()
        super().closeEvent(event)


class MapPlot(pg.PlotWidget):
    """The map: faint reference points under the batch points, a ring on the selected file, a hover label."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("embeddingPlot")
        plot = self.getPlotItem()
        plot.hideButtons()
        plot.setMenuEnabled(False)
        for axis in ("left", "bottom"):
            plot.getAxis(axis).setStyle(showValues=False)
        self.reference_scatter = pg.ScatterPlotItem(size=REFERENCE_SIZE, pen=None, hoverable=True, tip=None)
        self.reference_scatter.setZValue(0)
        self.batch_scatter = pg.ScatterPlotItem(size=BATCH_SIZE, pen=pg.mkPen(20, 20, 20, 160), hoverable=True,
                                                tip=None)
        self.batch_scatter.setZValue(2)
        self.selection_marker = pg.ScatterPlotItem(size=BATCH_SIZE + 8, brush=None,
                                                   pen=pg.mkPen(SELECTED_COLOR, width=2))
        self.selection_marker.setZValue(3)
        self.hover_text = pg.TextItem("", color="w", anchor=(0, 1), fill=pg.mkBrush(0, 0, 0, 170))
        self.hover_text.setZValue(4)
        self.hover_text.hide()
        for item in (self.reference_scatter, self.batch_scatter, self.selection_marker, self.hover_text):
            plot.addItem(item)

    def draw(self, points: MapPoints | None) -> None:
        """The model's points (None: an empty map)."""
        self.hover_text.hide()
        if points is None:
            self.batch_scatter.setData([], [])
            self.reference_scatter.setData([], [])
            return
        self.batch_scatter.setData(x=points.batch_xy[:, 0], y=points.batch_xy[:, 1], data=points.batch_paths,
                                   brush=[_brush(c) for c in points.batch_colors])
        self.reference_scatter.setData(x=points.reference_xy[:, 0], y=points.reference_xy[:, 1],
                                       data=points.reference_paths,
                                       brush=[_brush(c, REFERENCE_ALPHA) for c in points.reference_colors])

    def draw_selection(self, xy: tuple[float, float] | None) -> None:
        self.selection_marker.setData(*(([], []) if xy is None else ([xy[0]], [xy[1]])))


class SeparationPlot(pg.PlotWidget):
    """The small curve under the map: how well each layer separates the reference set, the layer shown marked."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("separationPlot")
        self.setMaximumHeight(120)
        sep = self.getPlotItem()
        sep.hideButtons()
        sep.setMenuEnabled(False)
        sep.setLabel("left", "AUC")
        sep.setYRange(0.4, 1.0)
        sep.setMouseEnabled(x=False, y=False)
        self.curve = sep.plot([], [], pen=pg.mkPen("#4fc3f7", width=2), symbol="o", symbolSize=5,
                              symbolBrush="#4fc3f7")
        self.marker = pg.InfiniteLine(pos=0, angle=90, pen=pg.mkPen(SELECTED_COLOR, width=2))
        sep.addItem(self.marker)
        self.setToolTip(f"Separation of each layer: {SEPARATION_METHOD}")

    def draw(self, curve: SeparationCurve | None) -> None:
        """A map's curve (None: no map, an empty curve)."""
        sep = self.getPlotItem()
        if curve is None:
            self.curve.setData([], [])
            return
        self.curve.setData(curve.x, curve.y)
        if curve.ticks:
            sep.getAxis("bottom").setTicks([curve.ticks])
        if curve.y_range is not None:
            sep.setYRange(*curve.y_range)
        if curve.x_range is not None:
            sep.setXRange(*curve.x_range)
        sep.setTitle(f"<span style='font-size:8pt'>{curve.title}</span>")
