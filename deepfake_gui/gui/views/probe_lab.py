"""The probe lab: build a detector for a new generator from a few dozen reference files.

The user picks real folders and fake folders (named by generator), or a manifest;
the engine thread runs the layer sweep (engine/probe_lab.py lab_job) and the lab
draws each layer's cross-validated AUC as it arrives, then a 2-D map of the items
at the selected layer (PCA at once, t-SNE on request, also on the engine thread).

Save flow: the job leaves a validated bundle in a staging folder; "Save and
activate" copies it into the user's detectors folder under the name in the name
field and emits ``detector_activated`` with that folder (the main window makes it
active). Closing the lab without saving keeps the staged run on disk (the last few
runs), but it is never used by a scan.

The engine thread is shared with the main window: each lab job's handle is
connected to the slots of that kind of job (sweep, t-SNE, reference check, adapt),
so no slot sees another job's events.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from deepfake_gui.core.errors import LayerScopeError
from deepfake_gui.core.jobs import Progress
from deepfake_gui.engine.adapt import AdaptOptions, AdaptReport, ReferenceCheck, adapt_job, check_references_job
from deepfake_gui.engine.probe_lab import (
    GROUPS_HELP,
    EncoderChoice,
    LabRequest,
    LabResult,
    LayerMap,
    LayerScore,
    adapt_staging_dir,
    base_detector_choices,
    encoder_choice,
    encoder_choices,
    guess_modality,
    lab_job,
    save_detector,
    tsne_job,
)
from deepfake_gui.gui.jobs import JobHandle
from deepfake_gui.gui.views.common import offered_encoders, run_in_background
from deepfake_gui.gui.worker import EngineThread, progress_fraction

MODALITIES = (("Images", "image"), ("Audio", "audio"))
CURVE_COLOR = "#4fc3f7"
BAND_BRUSH = (79, 195, 247, 50)
CHOSEN_COLOR = "#ff5252"
SELECTED_COLOR = "#ffd54f"
REAL_COLOR = "#66bb6a"
FAKE_PALETTE = ("#ef5350", "#ab47bc", "#ffa726", "#42a5f5", "#ec407a", "#8d6e63", "#26c6da", "#d4e157")
ERROR_STYLE = "color: #c62828;"
EMPTY_SUMMARY = ("No detector yet. Add a folder of real files and at least one folder of fakes (or a manifest), "
                 "pick an encoder, then Run sweep: the curve above fills in layer by layer.")
SWEEP_NAME = "Probe lab at work"  # how the status line names a running sweep


def generator_colors(generators: list[str]) -> dict[str, str]:
    """Real is always green; fakes take the palette in name order, so a generator keeps its colour."""
    fakes = sorted(set(generators) - {"real"})
    colors = {g: FAKE_PALETTE[i % len(FAKE_PALETTE)] for i, g in enumerate(fakes)}
    colors["real"] = REAL_COLOR
    return colors


class ProbeLab(QWidget):
    """Reference folders in, a layer-swept detector out. ``detector_activated`` carries the saved bundle folder."""

    detector_activated = Signal(str)
    layer_selected = Signal(int)

    def __init__(self, engine: EngineThread, parent: QWidget | None = None, *, device: str = "auto",
                 folds: int = 5, seed: int = 0, staging: Path | None = None,
                 detectors_dir: Path | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("probeLab")
        self.engine = engine
        self.device, self.folds, self.seed = device, folds, seed
        self.staging, self.detectors_dir = staging, detectors_dir
        self.manifest: Path | None = None
        self.result: LabResult | None = None
        self.scores: list[LayerScore] = []  # the curve as it grows
        self.selected_layer: int | None = None
        self.map_method = "pca"
        self.saved_path: Path | None = None
        self._tsne: dict[tuple[str, int], np.ndarray] = {}
        self._sweep_job: JobHandle | None = None
        self._tsne_job: JobHandle | None = None
        self._modality_pinned = False
        self._wanted_encoder: str | None = None
        self._build()
        self._set_busy(False)
        self._load_encoders()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        splitter = QSplitter(Qt.Orientation.Horizontal)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self._build_inputs())
        # as wide as its contents need (scrolled only vertically): at 1280 px the help text was cut off
        scroll.setMinimumWidth(scroll.widget().minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width()
                               + 2 * scroll.frameWidth())
        splitter.addWidget(scroll)
        splitter.addWidget(self._build_results())
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        # progress and status span the whole lab: a message with a saved folder's path must fit on its line
        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("labProgress")
        self.progress_bar.setTextVisible(True)
        self.status_label = QLabel()
        self.status_label.setObjectName("labStatus")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter, stretch=1)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status_label)

    def _build_inputs(self) -> QWidget:
        host = QWidget()
        layout = QVBoxLayout(host)
        help_label = QLabel(GROUPS_HELP)
        help_label.setObjectName("groupsHelp")
        help_label.setWordWrap(True)
        help_label.setStyleSheet("font-size: 8pt;")
        layout.addWidget(help_label)

        self.folders_box = QGroupBox("Reference folders")
        box = QVBoxLayout(self.folders_box)
        box.addWidget(QLabel("Real files (one or more folders)"))
        self.real_list = QListWidget()
        self.real_list.setObjectName("realFolders")
        self.real_list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.real_list.setMaximumHeight(110)
        box.addWidget(self.real_list)
        self.add_real_button, self.remove_real_button = _button_row(box, "Add real folder…", "Remove")
        self.add_real_button.clicked.connect(self._pick_real_folder)
        self.remove_real_button.clicked.connect(self._remove_real)
        box.addWidget(QLabel("Fake files: one folder per generator (double-click a name to edit it)"))
        self.fake_table = QTableWidget(0, 2)
        self.fake_table.setObjectName("fakeFolders")
        self.fake_table.setHorizontalHeaderLabels(["Folder", "Generator"])
        self.fake_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.fake_table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.fake_table.verticalHeader().hide()
        self.fake_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.fake_table.setMaximumHeight(140)
        box.addWidget(self.fake_table)
        self.add_fake_button, self.remove_fake_button = _button_row(box, "Add fake folder…", "Remove")
        self.add_fake_button.clicked.connect(self._pick_fake_folder)
        self.remove_fake_button.clicked.connect(self._remove_fakes)
        layout.addWidget(self.folders_box)

        manifest_row = QHBoxLayout()
        self.manifest_button = QPushButton("Use manifest or labelled folder…")
        self.manifest_button.setToolTip("A manifest.csv (path,label,generator,group), or a folder with real/ and "
                                        "fake/<generator>/ sub-folders. A manifest gives exact groups.")
        self.manifest_button.clicked.connect(self._pick_manifest)
        self.clear_manifest_button = QPushButton("Clear")
        self.clear_manifest_button.clicked.connect(lambda: self.set_manifest(None))
        manifest_row.addWidget(self.manifest_button, stretch=1)
        manifest_row.addWidget(self.clear_manifest_button)
        layout.addLayout(manifest_row)
        self.manifest_label = QLabel()
        self.manifest_label.setObjectName("manifestLabel")
        self.manifest_label.setWordWrap(True)
        layout.addWidget(self.manifest_label)

        form = QFormLayout()
        self.modality_combo = QComboBox()
        self.modality_combo.setObjectName("modalityCombo")
        for label, value in MODALITIES:
            self.modality_combo.addItem(label, value)
        self.modality_combo.activated.connect(self._on_modality_picked)
        self.encoder_combo = QComboBox()
        self.encoder_combo.setObjectName("encoderCombo")
        self.encoder_combo.activated.connect(self._on_encoder_picked)
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("detectorName")
        self.name_edit.setPlaceholderText("default: <generators>-<encoder>")
        form.addRow("Media", self.modality_combo)
        form.addRow("Encoder", self.encoder_combo)
        form.addRow("Detector name", self.name_edit)
        layout.addLayout(form)

        run_row = QHBoxLayout()
        self.run_button = QPushButton("Run sweep")
        self.run_button.setObjectName("runSweep")
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelSweep")
        self.cancel_button.clicked.connect(self.cancel)
        run_row.addWidget(self.run_button, stretch=1)
        run_row.addWidget(self.cancel_button)
        layout.addLayout(run_row)
        self.references = ReferencePanel(self)
        layout.addWidget(self.references)
        layout.addStretch(1)
        return host

    def _build_results(self) -> QWidget:
        host = QWidget()
        layout = QVBoxLayout(host)
        self.auc_plot = pg.PlotWidget()
        self.auc_plot.setObjectName("aucPlot")
        self.auc_plot.setTitle("<span style='font-size:9pt'>Cross-validated AUC per layer (mean ± std over "
                               "grouped folds); click a point to map that layer</span>")
        self.auc_plot.setLabel("left", "AUC")
        self.auc_plot.setYRange(0.0, 1.02, padding=0)
        self.auc_plot.showGrid(x=True, y=True, alpha=0.2)
        self.auc_plot.setMouseEnabled(x=False, y=False)
        self.band_upper = pg.PlotCurveItem(pen=pg.mkPen(None))
        self.band_lower = pg.PlotCurveItem(pen=pg.mkPen(None))
        self.band = pg.FillBetweenItem(self.band_upper, self.band_lower, brush=pg.mkBrush(*BAND_BRUSH))
        for item in (self.band_upper, self.band_lower, self.band):
            self.auc_plot.addItem(item)
        self.auc_curve = self.auc_plot.plot([], [], pen=pg.mkPen(CURVE_COLOR, width=2), symbol="o", symbolSize=9,
                                            symbolBrush=CURVE_COLOR, symbolPen=None)
        self.auc_curve.sigPointsClicked.connect(self._on_curve_clicked)
        self.chosen_line = pg.InfiniteLine(0, angle=90, movable=False, label="chosen",
                                           labelOpts={"position": 0.08, "color": CHOSEN_COLOR},
                                           pen=pg.mkPen(CHOSEN_COLOR, width=1.5, style=Qt.PenStyle.DashLine))
        self.selected_line = pg.InfiniteLine(0, angle=90, movable=False, pen=pg.mkPen(SELECTED_COLOR, width=2))
        for line in (self.chosen_line, self.selected_line):
            line.hide()
            self.auc_plot.addItem(line, ignoreBounds=True)
        layout.addWidget(self.auc_plot, stretch=3)

        map_row = QHBoxLayout()
        self.map_label = QLabel("Map of the items at the selected layer: run a sweep first")
        self.map_label.setObjectName("mapLabel")
        self.map_label.setWordWrap(True)
        self.pca_button = QPushButton("PCA")
        self.pca_button.setToolTip("Linear projection: instant")
        self.pca_button.clicked.connect(self.show_pca)
        self.tsne_button = QPushButton("t-SNE")
        self.tsne_button.setObjectName("tsneButton")
        self.tsne_button.setToolTip("Shows local structure (generator families); takes seconds, runs in the background")
        self.tsne_button.clicked.connect(self.compute_tsne)
        map_row.addWidget(self.map_label, stretch=1)
        map_row.addWidget(self.pca_button)
        map_row.addWidget(self.tsne_button)
        layout.addLayout(map_row)
        self.map_plot = pg.PlotWidget()
        self.map_plot.setObjectName("mapPlot")
        self.map_plot.getPlotItem().hideAxis("left")
        self.map_plot.getPlotItem().hideAxis("bottom")
        self.scatter = pg.ScatterPlotItem(size=9, pen=pg.mkPen(None), hoverable=True, tip="{data}".format)
        self.scatter.sigClicked.connect(self._on_scatter_clicked)
        self.map_plot.addItem(self.scatter)
        layout.addWidget(self.map_plot, stretch=3)
        self.legend_label = QLabel()
        self.legend_label.setObjectName("mapLegend")
        self.legend_label.setWordWrap(True)
        layout.addWidget(self.legend_label)

        self.summary_label = QLabel(EMPTY_SUMMARY)
        self.summary_label.setObjectName("labSummary")
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.summary_label)
        self.warnings_label = QLabel()
        self.warnings_label.setObjectName("labWarnings")
        self.warnings_label.setWordWrap(True)
        self.warnings_label.setStyleSheet("background: #fff3cd; color: #5d4200; border: 1px solid #e69500; "
                                          "padding: 3px;")
        self.warnings_label.hide()
        layout.addWidget(self.warnings_label)
        save_row = QHBoxLayout()
        self.overwrite_check = QCheckBox("Replace a saved detector of the same name")
        self.save_button = QPushButton("Save and activate")
        self.save_button.setObjectName("saveDetector")
        self.save_button.clicked.connect(self.save_and_activate)
        save_row.addWidget(self.overwrite_check, stretch=1)
        save_row.addWidget(self.save_button)
        layout.addLayout(save_row)
        return host

    # ------------------------------------------------------------------ picks (also for tests)
    def add_real_folder(self, path: str | Path) -> None:
        path = str(path)
        if path not in self.real_folders():
            self.real_list.addItem(path)
            self._guess_modality(path)

    def add_fake_folder(self, path: str | Path, generator: str | None = None) -> None:
        row = self.fake_table.rowCount()
        self.fake_table.insertRow(row)
        folder = QTableWidgetItem(str(path))
        folder.setFlags(folder.flags() & ~Qt.ItemFlag.ItemIsEditable)
        folder.setToolTip(str(path))
        self.fake_table.setItem(row, 0, folder)
        self.fake_table.setItem(row, 1, QTableWidgetItem(generator or Path(path).name))
        self._guess_modality(str(path))

    def real_folders(self) -> list[str]:
        return [self.real_list.item(i).text() for i in range(self.real_list.count())]

    def fake_folders(self) -> list[tuple[str, str]]:
        rows = []
        for r in range(self.fake_table.rowCount()):
            folder, gen = self.fake_table.item(r, 0), self.fake_table.item(r, 1)
            rows.append((folder.text() if folder else "", gen.text().strip() if gen else ""))
        return rows

    def set_manifest(self, path: str | Path | None) -> None:
        """A manifest.csv or labelled folder replaces the folder picks until cleared."""
        self.manifest = Path(path) if path else None
        self.folders_box.setEnabled(self.manifest is None)
        self.clear_manifest_button.setEnabled(self.manifest is not None)
        self.manifest_label.setText(f"Using {self.manifest} (the folders above are ignored)" if self.manifest
                                    else "")
        if self.manifest is not None:
            folder = self.manifest.parent if self.manifest.is_file() else self.manifest
            self._guess_modality(str(folder))

    def set_encoder(self, name: str) -> None:
        """Select an encoder by registry name (its modality too), even before the encoder list has loaded."""
        choice = encoder_choice(name)
        self._modality_pinned = True
        self._wanted_encoder = name
        if self.modality_combo.currentData() != choice.modality:
            self.modality_combo.setCurrentIndex(self.modality_combo.findData(choice.modality))
            self._load_encoders()
        index = self.encoder_combo.findData(name)
        if index < 0:
            self.encoder_combo.addItem(choice.label, name)
            index = self.encoder_combo.count() - 1
        self.encoder_combo.setCurrentIndex(index)

    def encoder(self) -> str | None:
        return self.encoder_combo.currentData()

    def request(self) -> LabRequest:
        """The picks as an engine request (validation happens in the job, off this thread)."""
        encoder = self.encoder()
        if not encoder:
            raise LayerScopeError("choose an encoder first")
        return LabRequest(encoder=encoder, real_folders=[Path(p) for p in self.real_folders()],
                          fake_folders=[(Path(f), g) for f, g in self.fake_folders()], manifest=self.manifest,
                          name=self.name_edit.text().strip() or None, device=self.device, folds=self.folds,
                          seed=self.seed, staging=self.staging)

    # ------------------------------------------------------------------ actions
    @Slot()
    def run(self) -> JobHandle | None:
        """Start the sweep on the engine thread; returns its job (None when it could not start)."""
        if self._sweep_job is not None:
            return None
        try:
            request = self.request()
        except LayerScopeError as exc:
            self.show_status(str(exc), error=True)
            return None
        self._clear_results()
        job = self.engine.submit(functools.partial(lab_job, request), "probe-lab", parent=self)
        job.on(
            started=self._on_sweep_started,
            progress=self._on_sweep_progress,
            result=self._on_sweep_result,
            finished=self._on_sweep_finished,
            cancelled=self._on_sweep_cancelled,
            failed=self._on_sweep_failed,
        )
        self._sweep_job = job
        self._set_busy(True)
        self._busy_progress("waiting for the engine…")
        self.show_status(f"Sweeping {request.encoder}…")
        return job

    @Slot()
    def cancel(self) -> None:
        """Cancel every lab job: the sweep, a t-SNE, a reference check or an adapt run."""
        for job in self.running_jobs():
            job.cancel()

    def running_jobs(self) -> list[JobHandle]:
        return [j for j in (self._sweep_job, self._tsne_job, self.references._job) if j is not None]

    @Slot()
    def compute_tsne(self) -> JobHandle | None:
        """t-SNE of the selected layer on the engine thread; shown when it arrives."""
        if self.result is None or self.selected_layer is None or self._tsne_job is not None:
            return None
        layer = self.selected_layer
        if (self.result.run_id, layer) in self._tsne:
            self.map_method = "tsne"
            self._draw_map()
            return None
        factory = functools.partial(tsne_job, self.result.features[layer], layer, self.result.run_id, self.seed)
        job = self.engine.submit(factory, "probe-lab-tsne", parent=self)
        job.on(
            progress=self._on_tsne_progress,
            result=self._on_tsne_result,
            finished=self._on_tsne_finished,
            cancelled=self._on_tsne_cancelled,
            failed=self._on_tsne_failed,
        )
        self._tsne_job = job
        self.map_method = "tsne"
        self.tsne_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self._busy_progress(f"t-SNE of layer {self._layer_name(layer)}…")
        self.map_label.setText(f"computing t-SNE of layer {self._layer_name(layer)}…")
        return job

    @Slot()
    def show_pca(self) -> None:
        self.map_method = "pca"
        self._draw_map()

    def select_layer(self, layer: int) -> None:
        """Map the items at ``layer`` and mark it on the curve."""
        if self.result is None or not 0 <= layer < len(self.result.coords):
            return
        self.selected_layer = layer
        x = self._x_of(layer)
        self.selected_line.setValue(x)
        self.selected_line.show()
        self._draw_map()
        self.layer_selected.emit(layer)

    @Slot()
    def save_and_activate(self) -> Path | None:
        """Copy the staged bundle into the user's detectors and emit ``detector_activated``; None on failure."""
        if self.result is None:
            self.show_status("Run a sweep first: there is no detector to save.", error=True)
            return None
        name = self.name_edit.text().strip() or self.result.name
        try:
            dest = save_detector(self.result.bundle_path, name, overwrite=self.overwrite_check.isChecked(),
                                 detectors_dir=self.detectors_dir)
        except (LayerScopeError, OSError) as exc:
            self.show_status(f"Not saved: {exc}", error=True)
            return None
        self.saved_path = dest
        self.show_status(f"Saved detector {name!r} to {dest} and made it active.")
        self.detector_activated.emit(str(dest))
        return dest

    def show_status(self, text: str, *, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet(ERROR_STYLE if error else "")

    # ------------------------------------------------------------------ job events
    def show_progress(self, event: Progress, name: str | None = None) -> None:
        """A lab job's progress on the bar; ``name``: also name the step on the status line."""
        fraction = progress_fraction(event)
        if fraction is None:
            self.progress_bar.setRange(0, 0)
        else:
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(round(fraction * 1000))
        self.progress_bar.setFormat(event.message or "working…")
        if name is not None:  # the status names the step the engine is on (calibration, the maps…)
            self.show_status(f"{name}: {event.message or 'working'}… (Cancel stops it)")

    def show_failure(self, what: str, message: str, details: str) -> None:
        self.show_status(f"{what} failed: {_user_message(message)}", error=True)
        self.status_label.setToolTip(details)

    @Slot()
    def _on_sweep_started(self) -> None:
        self.progress_bar.setFormat("starting…")

    @Slot(object)
    def _on_sweep_progress(self, event: Progress) -> None:
        self.show_progress(event, SWEEP_NAME)

    @Slot(object)
    def _on_sweep_result(self, result: object) -> None:
        if isinstance(result, LayerScore):
            self.scores.append(result)
            self._draw_curve(self.scores)
        elif isinstance(result, LabResult):
            self._show_result(result)

    @Slot()
    def _on_sweep_finished(self) -> None:
        self._end_sweep()
        if self.result is not None:
            s = self.result.summary
            self.show_status(f"Sweep done: chosen layer {s['layer_name']}, CV AUC {s['cv_auc']:.3f}; "
                             f"detector staged at {self.result.bundle_path}. Check the warnings, then "
                             "Save and activate.")

    @Slot()
    def _on_sweep_cancelled(self) -> None:
        self._end_sweep()
        self.show_status("Sweep cancelled.")

    @Slot(str, str)
    def _on_sweep_failed(self, message: str, details: str) -> None:
        self._end_sweep()
        self.show_failure("Sweep", message, details)

    @Slot(object)
    def _on_tsne_progress(self, event: Progress) -> None:
        self.show_progress(event)  # the map's own label says t-SNE is computing; the status keeps the sweep's outcome

    @Slot(object)
    def _on_tsne_result(self, result: object) -> None:
        if isinstance(result, LayerMap) and self.result is not None and result.run_id == self.result.run_id:
            self._tsne[(result.run_id, result.layer)] = result.coords
            if result.layer == self.selected_layer and self.map_method == "tsne":
                self._draw_map()

    @Slot()
    def _on_tsne_finished(self) -> None:
        self._end_tsne()

    @Slot()
    def _on_tsne_cancelled(self) -> None:
        self._end_tsne()
        self.show_status("t-SNE cancelled.")

    @Slot(str, str)
    def _on_tsne_failed(self, message: str, details: str) -> None:
        self._end_tsne()
        self.show_failure("t-SNE", message, details)

    # ------------------------------------------------------------------ drawing
    def _show_result(self, result: LabResult) -> None:
        self.result = result
        self.scores = list(result.layers)
        self._draw_curve(self.scores)
        chosen_x = self._x_of(result.chosen_layer)
        self.chosen_line.setValue(chosen_x)
        self.chosen_line.show()
        self.name_edit.setPlaceholderText(result.name)  # saved under this name unless one is typed
        self.map_method = "pca"
        self.select_layer(result.chosen_layer)
        self.summary_label.setText(_summary_html(result))
        self.warnings_label.setText("<br>".join(f"⚠ {w}" for w in result.warnings))
        self.warnings_label.setVisible(bool(result.warnings))

    def _draw_curve(self, scores: list[LayerScore]) -> None:
        x = np.array([s.layer for s in scores], dtype=float)
        auc = np.array([s.auc for s in scores], dtype=float)
        std = np.array([s.auc_std for s in scores], dtype=float)
        self.auc_curve.setData(x, auc)
        self.band_upper.setData(x, np.minimum(auc + std, 1.0))
        self.band_lower.setData(x, np.maximum(auc - std, 0.0))
        self.auc_plot.getAxis("bottom").setTicks([[(float(s.layer), s.name) for s in scores]])
        if scores:
            self.auc_plot.setXRange(-0.5, max(scores[0].total - 0.5, float(x.max()) + 0.5), padding=0)

    def _draw_map(self) -> None:
        result, layer = self.result, self.selected_layer
        if result is None or layer is None:
            return
        tsne = self._tsne.get((result.run_id, layer)) if self.map_method == "tsne" else None
        coords = tsne if tsne is not None else result.coords[layer]
        method = "t-SNE" if tsne is not None else "PCA"
        if coords is None:
            self.scatter.setData([], [])
            self.map_label.setText(f"Layer {self._layer_name(layer)}: all items have identical features, "
                                   "nothing to map")
            return
        colors = generator_colors(result.generators)
        names = [f"{Path(p).name} ({g})" for p, g in zip(result.paths, result.generators, strict=True)]
        self.scatter.setData(x=coords[:, 0], y=coords[:, 1], data=names,
                             brush=[pg.mkBrush(colors[g]) for g in result.generators],
                             symbol=["o" if y == 0 else "t1" for y in result.labels])
        self.map_plot.getPlotItem().autoRange()
        hint = "" if tsne is not None or self.map_method == "pca" else " (t-SNE of this layer not computed yet)"
        self.map_label.setText(f"Layer {self._layer_name(layer)} ({method}): {len(names)} items{hint}")
        counts = {g: result.generators.count(g) for g in colors}
        self.legend_label.setText(" · ".join(
            f"<span style='color:{c}'>{'●' if g == 'real' else '▲'}</span> {g} ({counts.get(g, 0)})"
            for g, c in sorted(colors.items(), key=lambda kv: (kv[0] != "real", kv[0]))))

    def _clear_results(self) -> None:
        self.result, self.scores, self.selected_layer, self.saved_path = None, [], None, None
        self._draw_curve([])
        self.chosen_line.hide()
        self.selected_line.hide()
        self.scatter.setData([], [])
        self.map_label.setText("Map of the items at the selected layer: shown when the sweep ends")
        self.legend_label.setText("")
        self.summary_label.setText("The chosen layer and its cross-validated AUC appear here when the run ends.")
        self.name_edit.setPlaceholderText("default: <generators>-<encoder>")
        self.warnings_label.hide()

    def _x_of(self, layer: int) -> float:
        return float(layer)

    def _layer_name(self, layer: int) -> str:
        names = {s.layer: s.name for s in self.scores}
        return f"{names.get(layer, layer)} ({layer})" if layer in names else str(layer)

    # ------------------------------------------------------------------ small slots
    def _set_busy(self, busy: bool) -> None:
        """``busy``: a sweep runs. Cancel stays usable while any lab job (sweep, t-SNE, check, adapt) runs."""
        self.run_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy or bool(self.running_jobs()))
        has_result = self.result is not None
        self.save_button.setEnabled(has_result and not busy)
        self.tsne_button.setEnabled(has_result and self._tsne_job is None)
        self.pca_button.setEnabled(has_result)

    def _busy_progress(self, text: str) -> None:
        self.progress_bar.setRange(0, 0)
        self.progress_bar.setFormat(text)

    def job_ended(self, text: str) -> None:
        """A lab job ended: the bar says how (``text``) once no other lab job is running."""
        self._set_busy(self._sweep_job is not None)
        if self.running_jobs():
            return
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(1 if text == "done" else 0)
        self.progress_bar.setFormat(text)

    def _end_sweep(self) -> None:
        self._sweep_job = None
        self.job_ended("done" if self.result is not None else "")

    def _end_tsne(self) -> None:
        self._tsne_job = None
        self.job_ended("done")
        self._draw_map()

    def _on_curve_clicked(self, _item: object, points: Any, *_args: object) -> None:
        if len(points):
            self.select_layer(int(round(points[0].pos().x())))

    def _on_scatter_clicked(self, _item: object, points: Any, *_args: object) -> None:
        if len(points):
            self.show_status(str(points[0].data()))

    def _pick_real_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of real files")
        if folder:
            self.add_real_folder(folder)

    def _pick_fake_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of fake files (one generator)")
        if folder:
            self.add_fake_folder(folder)

    def _pick_manifest(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Manifest (path,label,generator,group)", "", "CSV (*.csv)")
        if not path:
            path = QFileDialog.getExistingDirectory(self, "…or a folder with real/ and fake/<generator>/")
        if path:
            self.set_manifest(path)

    def _remove_real(self) -> None:
        for item in self.real_list.selectedItems():
            self.real_list.takeItem(self.real_list.row(item))

    def _remove_fakes(self) -> None:
        for row in sorted({i.row() for i in self.fake_table.selectedIndexes()}, reverse=True):
            self.fake_table.removeRow(row)

    # ------------------------------------------------------------------ encoder list (background)
    def _load_encoders(self) -> None:
        modality = self.modality_combo.currentData()
        run_in_background(functools.partial(encoder_choices, modality), self._on_encoders, self._on_encoders_failed)

    @Slot(object)
    def _on_encoders(self, choices: list[EncoderChoice]) -> None:
        if not choices or choices[0].modality != self.modality_combo.currentData():
            return  # a list for a modality no longer shown
        choices = offered_encoders(choices)  # no random-weight test encoders for users
        if not choices:
            self.encoder_combo.clear()
            self.show_status(f"No {self.modality_combo.currentText().lower()} encoder has its weights here; "
                             "see `layerscope models list`.", error=True)
            return
        keep = self._wanted_encoder or self.encoder()
        self.encoder_combo.clear()
        for choice in choices:
            self.encoder_combo.addItem(choice.label, choice.name)
            index = self.encoder_combo.count() - 1
            self.encoder_combo.setItemData(index, choice.note, Qt.ItemDataRole.ToolTipRole)
            if not choice.available:
                item = self.encoder_combo.model().item(index)  # type: ignore[attr-defined]
                item.setEnabled(False)
        index = self.encoder_combo.findData(keep) if keep else -1
        usable = [i for i, c in enumerate(choices) if c.available]
        if index >= 0 and choices[index].available:
            self.encoder_combo.setCurrentIndex(index)
        elif usable:
            self.encoder_combo.setCurrentIndex(usable[0])
        else:
            self.encoder_combo.setCurrentIndex(-1)
            self.show_status(f"No {self.modality_combo.currentText().lower()} encoder has its weights here: "
                             f"{choices[0].note}", error=True)

    @Slot(str)
    def _on_encoders_failed(self, message: str) -> None:
        self.show_status(f"Could not list the encoders: {message}", error=True)

    @Slot(int)
    def _on_encoder_picked(self, _index: int) -> None:
        self._wanted_encoder = self.encoder()

    @Slot(int)
    def _on_modality_picked(self, _index: int) -> None:
        self._modality_pinned = True
        self._wanted_encoder = None
        self._load_encoders()

    def _guess_modality(self, folder: str) -> None:
        if self._modality_pinned:
            return
        run_in_background(functools.partial(guess_modality, [folder]), self._on_modality_guessed,
                          self._on_guess_failed)

    @Slot(object)
    def _on_modality_guessed(self, modality: str | None) -> None:
        if modality is None or self._modality_pinned or modality == self.modality_combo.currentData():
            return
        self.modality_combo.setCurrentIndex(self.modality_combo.findData(modality))
        self._load_encoders()
        self.show_status(f"The folder holds {modality} files: showing {modality} encoders.")

    @Slot(str)
    def _on_guess_failed(self, _message: str) -> None:
        """A folder that cannot be listed is reported by the sweep itself, with its name."""


def _button_row(layout: QVBoxLayout, *labels: str) -> tuple[QPushButton, ...]:
    row = QHBoxLayout()
    buttons = tuple(QPushButton(label) for label in labels)
    for button in buttons:
        row.addWidget(button)
    row.addStretch(1)
    layout.addLayout(row)
    return buttons


def _user_message(message: str) -> str:
    """Drop the exception class the worker prefixes ("LayerScopeError: …"): users need the sentence."""
    head, sep, rest = message.partition(": ")
    return rest if sep and head.endswith("Error") and " " not in head else message


def _summary_html(result: LabResult) -> str:
    s = result.summary
    lo, hi = s["cv_auc_ci95"]
    lines = [
        f"<b>{result.name}</b>: {result.encoder}, layer {s['layer_name']} ({s['layer']})",
        f"CV AUC <b>{s['cv_auc']:.3f}</b> (95% CI by group {lo:.3f}–{hi:.3f}) · EER {s['cv_eer']:.3f}",
        f"{s['n_real'] + s['n_fake']} items: {s['n_real']} real, {s['n_fake']} fake, in {s['n_groups']} groups",
    ]
    if s["per_generator"]:
        lines.append("AUC per generator: " + ", ".join(f"{g} {v['auc']:.3f} (n={v['n']})"
                                                      for g, v in s["per_generator"].items()))
    attribution = result.meta.get("attribution_cv")
    if attribution:
        lines.append(f"Attribution (which generator), CV accuracy {attribution['accuracy']:.3f}")
    lines.append("All figures are out-of-fold under grouped cross-validation.")
    return "<br>".join(lines)


class ReferencePanel(QGroupBox):
    """"Add genuine references": adapt a detector to one person / device / channel (engine/adapt.py).

    Check first (the base detector scores every reference, and any suspect files, drawn as two
    histograms; references it calls fake are listed, checked = left out), then adapt: the job
    refits on the engine thread into a staging folder, and the bundle is saved under the name
    given and activated through the lab's ``detector_activated``.
    """

    BINS = np.linspace(0.0, 1.0, 21)

    def __init__(self, lab: ProbeLab) -> None:
        super().__init__("Add genuine references (person, device or channel)")
        self.setObjectName("referencePanel")
        self.lab = lab
        self.check: ReferenceCheck | None = None
        self.report: AdaptReport | None = None
        self._job: JobHandle | None = None
        layout = QVBoxLayout(self)
        intro = QLabel("Known-genuine recordings or photos of the same person, device or channel: the detector is "
                       "refitted with them as real (weight 5) and learns that domain. No fakes of it are needed; "
                       "the threshold is set so that few held-out references are called fake.")
        intro.setWordWrap(True)
        intro.setStyleSheet("font-size: 8pt;")
        layout.addWidget(intro)
        form = QFormLayout()
        self.base_combo = QComboBox()
        self.base_combo.setObjectName("baseDetector")
        self.reference_name = QLineEdit()
        self.reference_name.setObjectName("referenceName")
        self.reference_name.setPlaceholderText("e.g. Speaker: Jane Doe, phone line")
        form.addRow("Base detector", self.base_combo)
        form.addRow("Name", self.reference_name)
        layout.addLayout(form)
        layout.addWidget(QLabel("Folders of genuine files (at least 10 files; audio: 60 s)"))
        self.folder_list = QListWidget()
        self.folder_list.setObjectName("referenceFolders")
        self.folder_list.setMaximumHeight(80)
        layout.addWidget(self.folder_list)
        self.add_folder_button, self.add_suspect_button = _button_row(layout, "Add genuine folder…",
                                                                      "Add suspect folder…")
        self.add_folder_button.clicked.connect(self._pick_folder)
        self.add_suspect_button.clicked.connect(self._pick_suspects)
        self.suspect_list = QListWidget()
        self.suspect_list.setObjectName("suspectFolders")
        self.suspect_list.setMaximumHeight(50)
        layout.addWidget(self.suspect_list)
        self.check_button, self.adapt_button = _button_row(layout, "Check references", "Adapt and save")
        self.check_button.setObjectName("checkReferences")
        self.adapt_button.setObjectName("adaptAndSave")
        self.check_button.clicked.connect(self.run_check)
        self.adapt_button.clicked.connect(self.run_adapt)
        self.hist_plot = pg.PlotWidget()
        self.hist_plot.setObjectName("referenceHistogram")
        self.hist_plot.setTitle("<span style='font-size:8pt'>Base detector's P(fake): references (green) vs "
                                "suspects (red)</span>")
        self.hist_plot.setMinimumHeight(140)
        self.hist_plot.setMouseEnabled(x=False, y=False)
        empty = np.zeros(len(self.BINS) - 1)
        self.ref_hist = pg.PlotCurveItem(self.BINS, empty, stepMode="center", fillLevel=0, brush=(102, 187, 106, 120),
                                         pen=pg.mkPen(REAL_COLOR))
        self.suspect_hist = pg.PlotCurveItem(self.BINS, empty, stepMode="center", fillLevel=0, brush=(239, 83, 80, 90),
                                             pen=pg.mkPen(FAKE_PALETTE[0]))
        self.threshold_line = pg.InfiniteLine(0.5, angle=90, movable=False,
                                              pen=pg.mkPen(CHOSEN_COLOR, style=Qt.PenStyle.DashLine))
        for item in (self.ref_hist, self.suspect_hist, self.threshold_line):
            self.hist_plot.addItem(item)
        layout.addWidget(self.hist_plot)
        layout.addWidget(QLabel("References the base detector calls fake (checked = left out):"))
        self.flagged_list = QListWidget()
        self.flagged_list.setObjectName("flaggedReferences")
        self.flagged_list.setMaximumHeight(70)
        layout.addWidget(self.flagged_list)
        self.info_label = QLabel()
        self.info_label.setObjectName("referenceInfo")
        self.info_label.setWordWrap(True)
        layout.addWidget(self.info_label)
        self.reload_bases()
        self._set_busy(False)

    # -- picks (also for tests)
    def reload_bases(self) -> None:
        current = self.base_combo.currentData()
        self.base_combo.clear()
        for choice in base_detector_choices():
            self.base_combo.addItem(choice.label, str(choice.folder))
        index = self.base_combo.findData(current) if current else -1
        if index >= 0:
            self.base_combo.setCurrentIndex(index)

    def set_base(self, folder: str | Path) -> None:
        index = self.base_combo.findData(str(folder))
        if index < 0:
            self.base_combo.addItem(Path(folder).name, str(folder))
            index = self.base_combo.count() - 1
        self.base_combo.setCurrentIndex(index)

    def add_folder(self, path: str | Path) -> None:
        if str(path) not in _items(self.folder_list):
            self.folder_list.addItem(str(path))

    def add_suspects(self, path: str | Path) -> None:
        if str(path) not in _items(self.suspect_list):
            self.suspect_list.addItem(str(path))

    def dropped(self) -> list[str]:
        return [self.flagged_list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.flagged_list.count())
                if self.flagged_list.item(i).checkState() == Qt.CheckState.Checked]

    def options(self) -> AdaptOptions:
        base = self.base_combo.currentData()
        if not base:
            raise LayerScopeError("choose a base detector first")
        if not self.folder_list.count():
            raise LayerScopeError("add at least one folder of genuine files")
        return AdaptOptions(detector=Path(base), real=[Path(p) for p in _items(self.folder_list)],
                            out=adapt_staging_dir(self.lab.staging),
                            reference_name=self.reference_name.text().strip() or None,
                            exclude=[Path(p) for p in self.dropped()],
                            suspects=[Path(p) for p in _items(self.suspect_list)], device=self.lab.device,
                            folds=self.lab.folds, seed=self.lab.seed)

    # -- actions
    @Slot()
    def run_check(self) -> JobHandle | None:
        return self._submit(check_references_job, "Checking the references", "Check",
                            "Scoring the references with the base detector…")

    @Slot()
    def run_adapt(self) -> JobHandle | None:
        return self._submit(adapt_job, "Adapting", "Adapting",
                            "Adapting: refitting the detector with the references…")

    def _submit(self, job_fn: Any, name: str, what: str, message: str) -> JobHandle | None:
        """Start a check or adapt job; ``name`` heads its progress, ``what`` its ending ("Check cancelled")."""
        if self._job is not None:
            return None
        try:
            opts = self.options()
        except LayerScopeError as exc:
            self.lab.show_status(str(exc), error=True)
            return None
        job = self.lab.engine.submit(functools.partial(job_fn, opts), "probe-lab-references", parent=self)
        job.on(
            progress=functools.partial(self.lab.show_progress, name=name),
            result=self._on_result,
            finished=functools.partial(self._on_end, what, None),
            cancelled=functools.partial(self._on_end, what, "cancelled"),
            failed=functools.partial(self._on_failed, what),
        )
        self._job = job
        self._set_busy(True)
        self.lab.cancel_button.setEnabled(True)  # the lab's Cancel stops this job too
        self.lab._busy_progress("waiting for the engine…")
        self.lab.show_status(message)
        return job

    # -- job events
    @Slot(object)
    def _on_result(self, result: object) -> None:
        """Both jobs yield the check (drawn at once); adapting ends with its report (saved and activated)."""
        if isinstance(result, ReferenceCheck):
            self.show_check(result)
        elif isinstance(result, AdaptReport):
            self.report = result
            self._save(result)

    def _on_failed(self, what: str, message: str, details: str) -> None:
        self._on_end(what, f"failed: {_user_message(message)}")
        self.lab.status_label.setToolTip(details)

    def _on_end(self, what: str, problem: str | None) -> None:
        self._job = None
        self._set_busy(False)
        self.lab.job_ended("done" if problem is None else problem)
        if problem:
            self.lab.show_status(f"{what} {problem}", error=problem.startswith("failed"))

    def show_check(self, check: ReferenceCheck) -> None:
        """Histograms of the base detector's probabilities, the threshold, and the flagged references."""
        self.check = check
        refs = np.array([r.probability for r in check.usable], dtype=float)
        sus = np.array([s.probability for s in check.suspects if s.error is None], dtype=float)
        self.ref_hist.setData(self.BINS, np.histogram(refs, self.BINS)[0].astype(float))
        self.suspect_hist.setData(self.BINS, np.histogram(sus, self.BINS)[0].astype(float))
        self.threshold_line.setValue(check.band[1])
        self.flagged_list.clear()
        for r in check.flagged:
            item = QListWidgetItem(f"{Path(r.path).name}  (P(fake) {r.probability:.2f})")
            item.setData(Qt.ItemDataRole.UserRole, r.path)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            self.flagged_list.addItem(item)
        lines = [f"{len(check.usable)} references scored by {check.detector}; {len(check.flagged)} called fake"]
        if check.failed:
            lines.append(f"{len(check.failed)} unreadable, e.g. {check.failed[0].error}")
        if check.overlaps:
            lines.append(f"⚠ {len(check.overlaps)} suspect file(s) are also references (same sha256), e.g. "
                         f"{Path(check.overlaps[0]).name}: their scores prove nothing")
        self.info_label.setText("<br>".join(lines))
        self.lab.show_status("References checked: untick a flagged one to keep it, then Adapt and save.")

    def _save(self, report: AdaptReport) -> None:
        name = report.meta["name"]
        try:
            dest = save_detector(report.bundle_path, name, overwrite=self.lab.overwrite_check.isChecked(),
                                 detectors_dir=self.lab.detectors_dir)
        except (LayerScopeError, OSError) as exc:
            self.lab.show_status(f"Adapted, but not saved: {exc}", error=True)
            return
        f = report.figures
        self.info_label.setText(
            f"<b>{name}</b> saved to {dest}<br>References called fake: {f['reference_false_alarm_before']:.0%} by "
            f"the base detector, {f['reference_false_alarm_after']:.0%} after adapting (held out); training AUC "
            f"{f['training_cv_auc_after']:.3f}" + "".join(f"<br>⚠ {w}" for w in report.warnings))
        self.lab.saved_path = dest
        self.reload_bases()
        self.lab.show_status(f"Saved adapted detector {name!r} to {dest} and made it active.")
        self.lab.detector_activated.emit(str(dest))

    def _set_busy(self, busy: bool) -> None:
        self.check_button.setEnabled(not busy)
        self.adapt_button.setEnabled(not busy)

    def _pick_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of known-genuine files")
        if folder:
            self.add_folder(folder)

    def _pick_suspects(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of suspect files (for comparison)")
        if folder:
            self.add_suspects(folder)


def _items(widget: QListWidget) -> list[str]:
    return [widget.item(i).text() for i in range(widget.count())]
