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

Each job this view starts is connected through its own handle (gui/jobs.py), so
the other jobs on the shared engine thread (scans) never reach it. Errors go to
the status line and the problems list, never to a modal box.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from pathlib import Path
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
from deepfake_gui.engine.explore import (
    SEPARATION_METHOD,
    Clusters,
    EmbeddingSet,
    EncoderChoice,
    ExploreRequest,
    Projection,
    available_encoders,
    cluster_job,
    default_encoder_for,
    embedding_job,
    encoder_modality_for,
    majority_modality,
    tsne_job,
)
from deepfake_gui.gui.batch_model import top_attribution
from deepfake_gui.gui.jobs import JobHandle
from deepfake_gui.gui.views.common import VERDICT_COLORS, offered_encoders, run_in_background, verdict_color
from deepfake_gui.gui.widgets import choice_combo
from deepfake_gui.gui.worker import EngineThread, ProgressClock, format_eta

PROJECTIONS = (("PCA (instant)", "pca"), ("t-SNE", "tsne"))
COLOR_MODES = (("Verdict", "verdict"), ("Attribution", "attribution"), ("Cluster", "cluster"))
PALETTE = ("#1f77b4", "#ff7f0e", "#9467bd", "#17becf", "#e377c2", "#bcbd22", "#8c564b", "#7f7f7f",
           "#aec7e8", "#ffbb78", "#c5b0d5", "#9edae5")
NONE_COLOR = VERDICT_COLORS[None]
REFERENCE_ALPHA = 90
EMPTY_TEXT = ("No map yet.\n\nPick an encoder and, optionally, a reference set of known real and fake files, "
              "then press Compute: every file of the batch becomes a point, placed by what the encoder's layers "
              "see in it, so look-alike files sit together.")
BATCH_SIZE, REFERENCE_SIZE = 10, 6
SELECTED_COLOR = "#ffd54f"
VERDICT_NAMES = {"fake": "fake", "real": "real", "inconclusive": "inconclusive", None: "no verdict"}


@dataclass(eq=False)
class _Job:
    """One job this view started, with what its slots need to know about it."""

    kind: str  # "embed" | "tsne" | "cluster": what it computes (for Cancel and the pending check)
    handle: JobHandle
    title: str  # how a failure names it ("t-SNE failed: …")
    owner: EmbeddingSet | None = None  # the set a t-SNE or cluster job belongs to
    layer: int | None = None
    cancelled: bool = False  # asked to stop; its terminal signal has not arrived yet
    started: float = field(default_factory=time.monotonic)


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
        self.device, self.seed, self.reference_limit = device, seed, reference_limit
        self.results: dict[str, ScanResult] = {}
        self.reference: str | None = None
        self.embedding_set: EmbeddingSet | None = None
        self.tsne: dict[int, np.ndarray] = {}  # layer -> xy of the current set
        self.clusters: dict[int, Clusters] = {}
        self.shown_method = "pca"  # what the scatter holds now (t-SNE requested but pending shows "pca")
        self.selected_path: str | None = None
        self.legend_entries: list[tuple[str, str]] = []  # (label, colour) as shown in the legend
        self.problems: list[str] = []
        self._jobs: list[_Job] = []  # this view's jobs not ended yet
        self._clock = ProgressClock()
        self._encoder_picked_by_user = False
        self.encoder_modalities: dict[str, str] = {}
        self._hover_owner: Any = None
        self._build()
        if encoders is not None:
            self._fill_encoders(encoders)
        else:
            self.encoder_combo.addItem("checking encoders…", None)
            self.encoder_combo.setEnabled(False)
            run_in_background(available_encoders, self._on_encoders, self._on_encoders_failed)
        self._set_idle("Set a batch, pick an encoder and press Compute.")

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
        self.reference_label = QLabel("no reference set")
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
        self.layer_label = QLabel("layer —")
        self.layer_label.setObjectName("layerLabel")
        self.layer_label.setMinimumWidth(260)
        slider_row = QHBoxLayout()
        slider_row.addWidget(QLabel("Layer"))
        slider_row.addWidget(self.layer_slider, stretch=1)
        slider_row.addWidget(self.layer_label)

        self.plot_widget = pg.PlotWidget()
        self.plot_widget.setObjectName("embeddingPlot")
        self.plot = self.plot_widget.getPlotItem()
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        for axis in ("left", "bottom"):
            self.plot.getAxis(axis).setStyle(showValues=False)
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
            self.plot.addItem(item)
        self.batch_scatter.sigClicked.connect(self._on_points_clicked)
        self.batch_scatter.sigHovered.connect(self._on_points_hovered)
        self.reference_scatter.sigHovered.connect(self._on_points_hovered)

        self.legend = QLabel()
        self.legend.setObjectName("embeddingLegend")
        self.legend.setWordWrap(True)
        self.legend.setStyleSheet("font-size: 8pt;")

        self.separation_plot = pg.PlotWidget()
        self.separation_plot.setObjectName("separationPlot")
        self.separation_plot.setMaximumHeight(120)
        sep = self.separation_plot.getPlotItem()
        sep.hideButtons()
        sep.setMenuEnabled(False)
        sep.setLabel("left", "AUC")
        sep.setYRange(0.4, 1.0)
        sep.setMouseEnabled(x=False, y=False)
        self.separation_curve = sep.plot([], [], pen=pg.mkPen("#4fc3f7", width=2), symbol="o", symbolSize=5,
                                         symbolBrush="#4fc3f7")
        self.separation_marker = pg.InfiniteLine(pos=0, angle=90, pen=pg.mkPen(SELECTED_COLOR, width=2))
        sep.addItem(self.separation_marker)
        self.separation_plot.setToolTip(f"Separation of each layer: {SEPARATION_METHOD}")

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
        self.results = {r.path: r for r in results if r.status == "ok"}
        if self.embedding_set is not None and not set(self.embedding_set.batch_paths) <= set(self.results):
            self._clear_map()
        self._choose_default_encoder()
        self._redraw()
        if self.embedding_set is None:
            skipped = len(results) - len(self.results)
            self._set_status(f"{len(self.results)} file(s) in the batch" + (f" ({skipped} unreadable left out)"
                                                                             if skipped else "")
                             + ": press Compute.")

    def set_reference(self, path: str | None) -> None:
        """A labelled set to show as faint points (None removes it); recomputes when a map is shown."""
        self.reference = str(path) if path else None
        self.reference_label.setText(Path(self.reference).name if self.reference else "no reference set")
        self.reference_label.setToolTip(self.reference or "")
        if self.embedding_set is not None:
            self.compute()

    def compute(self) -> JobHandle | None:
        """Start the embedding job for the batch (and reference set); returns its job."""
        encoder = self.encoder_combo.currentData()
        if not encoder:
            self._set_status("No encoder to compute with: no weights are on this machine.", error=True)
            return None
        if not self.results and not self.reference:
            self._set_status("Nothing to map: the batch is empty and no reference set is chosen.", error=True)
            return None
        self._cancel_jobs()
        self.problems.clear()
        self.problems_list.clear()
        self.problems_list.hide()
        request = ExploreRequest(list(self.results), str(encoder), self.device, self.reference,
                                 self.reference_limit, self.seed)
        job = self._start("embed", "Computing the map", functools.partial(embedding_job, request),
                          self._on_embeddings, self._on_compute_ended)
        self._set_busy(f"Computing {encoder} features of {len(self.results)} file(s)"
                       + (" and the reference set" if self.reference else "") + "…")
        return job.handle

    def set_encoder(self, name: str) -> None:
        """Pick the encoder (as the user would); the next compute() uses it."""
        index = self.encoder_combo.findData(name)
        if index < 0:
            raise ValueError(f"encoder {name!r} is not available here")
        self.encoder_combo.setCurrentIndex(index)
        self._on_encoder_activated(index)

    def encoder(self) -> str | None:
        return self.encoder_combo.currentData()

    def set_layer(self, layer: int) -> None:
        self.layer_slider.setValue(layer)

    def current_layer(self) -> int:
        return self.layer_slider.value()

    def set_projection(self, method: str) -> None:
        self.projection_combo.setCurrentIndex(self.projection_combo.findData(method))

    def projection(self) -> str:
        return str(self.projection_combo.currentData())

    def set_color_by(self, mode: str) -> None:
        self.color_combo.setCurrentIndex(self.color_combo.findData(mode))

    def color_by(self) -> str:
        return str(self.color_combo.currentData())

    def select_path(self, path: str | None) -> None:
        """Ring a batch point (a file selected elsewhere, e.g. in the table)."""
        self.selected_path = path
        self._draw_selection()

    @Slot()
    def cancel(self) -> None:
        """Cancel this view's jobs; the map shown stays."""
        if self._jobs:
            self._cancel_jobs()
            self.progress_bar.setFormat("Cancelling…")

    def displayed_coordinates(self) -> np.ndarray:
        """(n_batch, 2) coordinates in the batch scatter now."""
        x, y = self.batch_scatter.getData()
        return np.column_stack([np.asarray(x, float), np.asarray(y, float)]) if x is not None else np.zeros((0, 2))

    # ----------------------------------------------------------- job events
    def _start(self, kind: str, title: str, factory: Any, on_result: Any, on_end: Any,
               owner: EmbeddingSet | None = None, layer: int | None = None) -> _Job:
        """Submit a job and connect its handle: ``on_result(job, result)``, ``on_end(job, cancelled)``."""
        handle = self.engine.submit(factory, kind, parent=self)
        job = _Job(kind, handle, title, owner, layer)
        self._jobs.append(job)
        handle.on(
            started=self._on_job_started,
            progress=self._on_progress,
            result=functools.partial(on_result, job),
            finished=functools.partial(on_end, job, False),
            cancelled=functools.partial(on_end, job, True),
            failed=functools.partial(self._on_job_failed, job),
        )
        return job

    @Slot()
    def _on_job_started(self) -> None:
        self._clock = ProgressClock()

    @Slot(object)
    def _on_progress(self, event: Progress) -> None:
        self._clock.update(event)
        if self._clock.fraction is None:
            self.progress_bar.setRange(0, 0)
        else:
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(round(self._clock.fraction * 1000))
        eta = format_eta(self._clock.eta_s)
        self.progress_bar.setFormat(event.message + (f" · ETA {eta}" if eta else ""))

    def _on_embeddings(self, job: _Job, result: object) -> None:
        if isinstance(result, EmbeddingSet) and not job.cancelled:  # cancelled: superseded by a newer Compute
            self._show_set(result)

    def _on_projection(self, job: _Job, result: object) -> None:
        if isinstance(result, Projection) and job.owner is self.embedding_set:
            self.tsne[result.layer] = result.xy
            if result.layer == self.current_layer() and self.projection() == "tsne":
                self._redraw()

    def _on_clusters(self, job: _Job, result: object) -> None:
        if isinstance(result, Clusters) and job.owner is self.embedding_set:
            self.clusters[result.layer] = result
            if result.layer == self.current_layer() and self.color_by() == "cluster":
                self._redraw()

    def _on_compute_ended(self, job: _Job, cancelled: bool) -> None:
        self._end_job(job, self._done_message(job, cancelled))

    def _on_layer_job_ended(self, job: _Job, _cancelled: bool) -> None:
        """t-SNE and clusters update the map and legend; stale ones are cancelled quietly when the layer moves on."""
        self._end_job(job)

    def _done_message(self, job: _Job, cancelled: bool) -> str | None:
        """How a Compute ended: the map is ready (and how long it took), or cancelled.

        None for a Compute that a newer one replaced: the newer one's status stands.
        """
        if any(j.kind == "embed" for j in self._jobs if j is not job):
            return None
        if cancelled or job.cancelled:
            return "Cancelled" + ("; the map shown is the previous one." if self.embedding_set is not None else ".")
        if self.embedding_set is None:
            return None
        return f"Map ready in {time.monotonic() - job.started:.0f} s: {self._summary()}"

    def _on_job_failed(self, job: _Job, message: str, _details: str) -> None:
        self._add_problem(f"{job.title} failed: {message}")
        self._end_job(job, f"{job.title} failed: {message}", error=True)

    @Slot(object)
    def _on_encoders(self, choices: list[EncoderChoice]) -> None:
        self._fill_encoders(offered_encoders(choices))  # no random-weight test encoders for users

    @Slot(str)
    def _on_encoders_failed(self, message: str) -> None:
        self.encoder_combo.clear()
        self._set_status(f"Could not list the encoders: {message}", error=True)

    # --------------------------------------------------------------- UI events
    @Slot(int)
    def _on_layer_changed(self, layer: int) -> None:
        if self.embedding_set is None:
            return
        self._cancel_jobs(kinds=("tsne", "cluster"), keep_layer=layer)  # a dragged slider queues nothing stale
        self._update_layer_label()
        self._redraw()
        self._request_missing()
        self.layer_changed.emit(layer)

    @Slot(int)
    def _on_projection_changed(self, _index: int) -> None:
        self._redraw()
        self._request_missing()

    @Slot(int)
    def _on_color_changed(self, _index: int) -> None:
        self._redraw()
        self._request_missing()

    @Slot(int)
    def _on_encoder_activated(self, _index: int) -> None:
        self._encoder_picked_by_user = True
        if self.embedding_set is not None and self.encoder_combo.currentData() != self.embedding_set.encoder:
            self._set_status(f"Encoder changed to {self.encoder_combo.currentData()}: press Compute to map with it.")

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
        names = [self._hover_name(item, str(p.data())) for p in list(points)[:4]]
        more = len(points) - len(names)
        self.hover_text.setText("\n".join(names) + (f"\n… and {more} more" if more > 0 else ""))
        self.hover_text.setPos(points[0].pos())
        self.hover_text.show()
        self._hover_owner = item

    def _hover_name(self, item: Any, path: str) -> str:
        if item is self.reference_scatter and self.embedding_set is not None:
            row = self.embedding_set.paths.index(path) if path in self.embedding_set.paths else -1
            gen = self.embedding_set.generators[row] if row >= 0 else None
            return f"reference · {gen or '?'} · {Path(path).name}"
        return Path(path).name

    # --------------------------------------------------------------- internals
    def _fill_encoders(self, choices: list[EncoderChoice]) -> None:
        self.encoder_combo.clear()
        self.encoder_modalities = {}
        for choice in choices:
            label = f"{choice.name} ({choice.modality}{', random weights' if choice.random_init else ''})"
            self.encoder_combo.addItem(label, choice.name)
            self.encoder_modalities[choice.name] = choice.modality
        self.encoder_combo.setEnabled(bool(choices))
        if not choices:
            self._set_status("No encoder has its weights on this machine; see `layerscope models list`.", error=True)
        self._choose_default_encoder()

    def _choose_default_encoder(self) -> None:
        """The default detector's encoder for the batch's majority modality, unless the user picked one."""
        names = [self.encoder_combo.itemData(i) for i in range(self.encoder_combo.count())]
        names = [n for n in names if n]
        if self._encoder_picked_by_user or not names:
            return
        modality = majority_modality([r.modality for r in self.results.values()])
        try:
            preferred = default_encoder_for(modality)
        except Exception:
            preferred = None
        same_kind = [n for n in names if self.encoder_modalities.get(n) == encoder_modality_for(modality)]
        choice = preferred if preferred in names else (same_kind or names)[0]
        self.encoder_combo.setCurrentIndex(self.encoder_combo.findData(choice))

    def _show_set(self, embedding_set: EmbeddingSet) -> None:
        self.embedding_set = embedding_set
        self.plot_stack.setCurrentWidget(self.plot_widget)
        self.separation_plot.show()
        self.tsne.clear()
        self.clusters.clear()
        n_layers = embedding_set.n_layers
        best = embedding_set.best_layer
        start = best if best is not None else n_layers // 2  # the middle layers are where the signal usually is
        self.layer_slider.blockSignals(True)
        self.layer_slider.setRange(0, n_layers - 1)
        self.layer_slider.setValue(start)
        self.layer_slider.blockSignals(False)
        self.layer_slider.setEnabled(n_layers > 1)
        self._draw_separation()
        self._update_layer_label()
        self._redraw()
        for failure in embedding_set.failed:
            self._add_problem(failure.error)
        for failure in embedding_set.reference_failed:
            self._add_problem(f"reference: {failure.error}")
        self.embeddings_ready.emit(embedding_set)
        self._request_missing()
        self.layer_changed.emit(start)

    def _summary(self) -> str:
        s = self.embedding_set
        if s is None:
            return ""
        parts = [f"{len(s.batch_index)} file(s) mapped with {s.encoder}"]
        if len(s.reference_index):
            parts.append(f"{len(s.reference_index)} reference item(s)")
        if s.failed:
            parts.append(f"{len(s.failed)} file(s) could not be embedded (listed below)")
        if s.reference_failed:
            parts.append(f"{len(s.reference_failed)} reference file(s) skipped")
        tried = set(s.batch_paths) | {f.path for f in s.failed}
        new = [p for p in self.results if p not in tried]
        if new:
            parts.append(f"{len(new)} new file(s) in the batch not mapped yet: press Compute")
        text = "; ".join(parts) + f" ({s.cached} from the feature cache)."
        if s.random_init:
            text += " Random weights: the map shows the architecture, not what pretraining learnt."
        if s.separation is None:
            text += f" {s.separation_note[:1].upper()}{s.separation_note[1:]}."
        return text

    def _clear_map(self) -> None:
        self._cancel_jobs(kinds=("tsne", "cluster"))
        self.embedding_set = None
        self.tsne.clear()
        self.clusters.clear()
        self.layer_slider.setEnabled(False)
        self.layer_label.setText("layer —")
        self.separation_curve.setData([], [])
        self.plot_stack.setCurrentWidget(self.empty_label)
        self.separation_plot.hide()
        self._redraw()

    def _current_xy(self) -> np.ndarray | None:
        s = self.embedding_set
        if s is None:
            return None
        layer = self.current_layer()
        if self.projection() == "tsne" and layer in self.tsne:
            self.shown_method = "tsne"
            return self.tsne[layer]
        self.shown_method = "pca"
        return s.pca[layer]

    def _redraw(self) -> None:
        s = self.embedding_set
        xy = self._current_xy()
        if s is None or xy is None:
            self.batch_scatter.setData([], [])
            self.reference_scatter.setData([], [])
            self.selection_marker.setData([], [])
            self.hover_text.hide()
            self._set_legend([])
            if s is not None:
                self._set_status(f"Layer {s.layer_names[self.current_layer()]} cannot be mapped: "
                                 f"{s.pca_errors.get(self.current_layer(), 'unknown reason')}", error=True)
            return
        batch, ref = s.batch_index, s.reference_index
        batch_colors, ref_colors, legend = self._colors(s)
        self.batch_scatter.setData(x=xy[batch, 0], y=xy[batch, 1], data=[s.paths[i] for i in batch],
                                   brush=[_brush(c) for c in batch_colors])
        self.reference_scatter.setData(x=xy[ref, 0], y=xy[ref, 1], data=[s.paths[i] for i in ref],
                                       brush=[_brush(c, REFERENCE_ALPHA) for c in ref_colors])
        self._set_legend(legend)
        self._draw_selection()
        self.hover_text.hide()
        status = self._summary()
        if self.projection() == "tsne" and self.shown_method != "tsne":
            status = f"t-SNE of layer {s.layer_names[self.current_layer()]} is computing: PCA preview shown. " + status
        self._set_status(status)

    def _colors(self, s: EmbeddingSet) -> tuple[list[str], list[str], list[tuple[str, str]]]:
        """Colours of batch and reference rows for the colour mode, and the legend entries."""
        mode = self.color_by()
        batch_paths = [s.paths[i] for i in s.batch_index]
        ref_gens = [s.generators[i] or "?" for i in s.reference_index]
        legend: list[tuple[str, str]] = []
        if mode == "verdict":
            verdicts = [getattr(self.results.get(p), "verdict", None) for p in batch_paths]
            batch = [verdict_color(v) for v in verdicts]
            legend = [(VERDICT_NAMES.get(v, str(v)), verdict_color(v)) for v in _ordered(verdicts, VERDICT_NAMES)]
            ref = [verdict_color("real" if g == "real" else "fake") for g in ref_gens]
            legend += [(f"reference: {g}", verdict_color(g)) for g in _ordered(
                ["real" if g == "real" else "fake" for g in ref_gens], VERDICT_NAMES)]
            return batch, ref, legend
        if mode == "attribution":
            classes = [self._attribution(p) for p in batch_paths]
            palette = _palette(sorted({c for c in classes if c} | {g for g in ref_gens if g != "real"}))
            palette["real"] = verdict_color("real")
            batch = [palette[c] if c else NONE_COLOR for c in classes]
            legend = [(c or "no attribution", palette[c] if c else NONE_COLOR)
                      for c in sorted(set(classes), key=lambda c: (c is None, c or ""))]
            ref = [palette.get(g, NONE_COLOR) for g in ref_gens]
            legend += [(f"reference: {g}", palette.get(g, NONE_COLOR)) for g in sorted(set(ref_gens))]
            return batch, ref, legend
        clusters = self.clusters.get(self.current_layer())
        ref = [NONE_COLOR] * len(ref_gens)
        if clusters is None:
            return [NONE_COLOR] * len(batch_paths), ref, [("clusters: computing…", NONE_COLOR)]
        batch = [PALETTE[int(c) % len(PALETTE)] for c in clusters.labels]
        legend = [(f"cluster {c + 1}", PALETTE[c % len(PALETTE)]) for c in range(clusters.k)]
        if ref_gens:
            legend.append(("reference (not clustered)", NONE_COLOR))
        return batch, ref, legend

    def _attribution(self, path: str) -> str | None:
        result = self.results.get(path)
        top = top_attribution(result) if result is not None else None
        return str(top["class"]) if top else None

    def _set_legend(self, entries: list[tuple[str, str]]) -> None:
        self.legend_entries = entries
        def mark(name: str, color: str) -> str:
            faint = QColor(color)
            if name.startswith("reference"):
                faint.setAlpha(REFERENCE_ALPHA)
            rgba = f"rgba({faint.red()},{faint.green()},{faint.blue()},{faint.alphaF():.2f})"
            return f"<span style='color:{rgba}'>●</span> {name}"

        self.legend.setText(" &nbsp; ".join(mark(name, c) for name, c in entries))

    def _draw_selection(self) -> None:
        s = self.embedding_set
        xy = self._current_xy() if s is not None else None
        if xy is None or self.selected_path not in (s.batch_paths if s else []):
            self.selection_marker.setData([], [])
            return
        row = s.paths.index(self.selected_path)  # type: ignore[union-attr, arg-type]
        self.selection_marker.setData(x=[xy[row, 0]], y=[xy[row, 1]])

    def _draw_separation(self) -> None:
        s = self.embedding_set
        sep_plot = self.separation_plot.getPlotItem()
        if s is None or s.separation is None:
            self.separation_curve.setData([], [])
            sep_plot.setTitle("<span style='font-size:8pt'>add a labelled reference set to see how each layer "
                              "separates real from fake</span>")
            self.separation_marker.setValue(self.current_layer())
            return
        x = np.arange(s.n_layers, dtype=float)
        y = np.asarray(s.separation, dtype=float)
        finite = np.isfinite(y)
        self.separation_curve.setData(x[finite], y[finite])
        sep_plot.getAxis("bottom").setTicks([[(i, n) for i, n in enumerate(s.layer_names)]])
        low = float(np.nanmin(y)) if finite.any() else 0.5
        sep_plot.setYRange(min(0.4, low - 0.05), 1.02)
        sep_plot.setXRange(-0.5, s.n_layers - 0.5)
        sep_plot.setTitle("<span style='font-size:8pt'>separation of the reference set per layer "
                          "(grouped CV AUC, real vs fake)</span>")
        self.separation_marker.setValue(self.current_layer())

    def _update_layer_label(self) -> None:
        s = self.embedding_set
        if s is None:
            return
        layer = self.current_layer()
        text = f"{layer + 1}/{s.n_layers}: {s.layer_names[layer]}"
        if s.separation is not None and np.isfinite(s.separation[layer]):
            text += f" · separation AUC {s.separation[layer]:.2f}"
            if layer == s.best_layer:
                text += " (best)"
        self.layer_label.setText(text)
        self.layer_label.setToolTip(s.separation_note)
        self.separation_marker.setValue(layer)

    def _request_missing(self) -> None:
        """Queue the t-SNE or clusters the current view needs and does not have."""
        s = self.embedding_set
        if s is None:
            return
        layer = self.current_layer()
        pending = {(j.kind, j.layer) for j in self._jobs if j.owner is s and not j.cancelled}
        if self.projection() == "tsne" and layer not in self.tsne and ("tsne", layer) not in pending:
            self._start_layer_job(s, "tsne", "t-SNE", "t-SNE", layer,
                                  functools.partial(tsne_job, s, layer, self.seed), self._on_projection)
        if self.color_by() == "cluster" and layer not in self.clusters and ("cluster", layer) not in pending:
            if len(s.batch_index) < 3:
                self._set_status("Clusters need at least 3 mapped batch files.", error=True)
            else:
                self._start_layer_job(s, "cluster", "Clustering", "clusters", layer,
                                      functools.partial(cluster_job, s, layer, self.seed), self._on_clusters)

    def _start_layer_job(self, s: EmbeddingSet, kind: str, title: str, what: str, layer: int, factory: Any,
                         on_result: Any) -> None:
        """A t-SNE or clustering of one layer of ``s``; ``what`` names it on the progress bar."""
        self._start(kind, title, factory, on_result, self._on_layer_job_ended, s, layer)
        self.cancel_button.setEnabled(True)
        self.progress_bar.setRange(0, 0)
        self.progress_bar.setFormat(f"{what} of layer {s.layer_names[layer]}…")

    def _cancel_jobs(self, kinds: tuple[str, ...] = ("embed", "tsne", "cluster"), keep_layer: int | None = None
                     ) -> None:
        for job in list(self._jobs):
            if job.kind in kinds and (keep_layer is None or job.layer != keep_layer):
                job.cancelled = True
                job.handle.cancel()

    def _end_job(self, job: _Job, message: str | None = None, error: bool = False) -> None:
        if job in self._jobs:
            self._jobs.remove(job)
        if message:
            self._set_status(message, error=error)
        if not self._jobs:
            self._set_idle(None)

    def _set_busy(self, message: str) -> None:
        self.cancel_button.setEnabled(True)
        self.progress_bar.setRange(0, 0)
        self.progress_bar.setFormat("starting…")
        self._set_status(message)

    def _set_idle(self, message: str | None) -> None:
        self.cancel_button.setEnabled(False)
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(1 if self.embedding_set is not None else 0)
        self.progress_bar.setFormat("ready" if self.embedding_set is not None else "")
        if message:
            self._set_status(message)

    def _set_status(self, text: str, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet("color: #ff7043;" if error else "")

    def _add_problem(self, text: str) -> None:
        self.problems.append(text)
        self.problems_list.addItem(text)
        self.problems_list.show()

    def closeEvent(self, event: Any) -> None:
        self._cancel_jobs()
        super().closeEvent(event)


def _palette(names: list[str]) -> dict[str, str]:
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def _ordered(values: list[Any], order: dict[Any, str]) -> list[Any]:
    """The distinct values, in the order of ``order``'s keys (unknown ones last)."""
    keys = list(order)
    return sorted(set(values), key=lambda v: keys.index(v) if v in keys else len(keys))
