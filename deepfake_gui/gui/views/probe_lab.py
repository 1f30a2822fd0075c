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

What the lab knows and decides (the picks, the request a sweep starts with, the curve,
the run, the map, the texts, which buttons work) is ``LabModel`` (gui/models/probe_lab.py,
no Qt); this widget draws it and forwards the user's actions. The engine thread is
shared with the main window: each lab job's handle is connected to the slots of that
kind of job (sweep, t-SNE, reference check, adapt), so no slot sees another job's events.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

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
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from deepfake_gui.core.jobs import Progress
from deepfake_gui.engine.probe_lab import (
    GROUPS_HELP,
    EncoderChoice,
    LabRequest,
    LabResult,
    LayerScore,
    encoder_choices,
    guess_modality,
)
from deepfake_gui.gui.jobs import JobHandle
from deepfake_gui.gui.models.probe_lab import (
    EMPTY_SUMMARY,
    MODALITIES,
    NAME_PLACEHOLDER,
    NO_MAP,
    SWEEP_NAME,
    LabModel,
    LayerPoints,
    curve,
)
from deepfake_gui.gui.views.common import run_in_background
from deepfake_gui.gui.views.reference_panel import ReferencePanel
from deepfake_gui.gui.widgets import button_row, choice_combo
from deepfake_gui.gui.worker import EngineThread

__all__ = ["EMPTY_SUMMARY", "ProbeLab", "ReferencePanel"]

CURVE_COLOR = "#4fc3f7"
BAND_BRUSH = (79, 195, 247, 50)
CHOSEN_COLOR = "#ff5252"
SELECTED_COLOR = "#ffd54f"
ERROR_STYLE = "color: #c62828;"


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
        self.model = LabModel(device=device, folds=folds, seed=seed, staging=staging, detectors_dir=detectors_dir)
        self._drawn: LayerPoints | None = None
        self._encoder_items: list[tuple[str, str, str, bool]] = []
        self._build()
        self._connect()
        self.refresh()
        self._load_encoders()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.references, self.folders_box = ReferencePanel(self), FolderPicks(self.model)
        self.inputs, self.outputs = LabInputs(self.folders_box, self.references), LabOutputs()
        splitter = QSplitter(Qt.Orientation.Horizontal)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.inputs)
        # as wide as its contents need (scrolled only vertically): at 1280 px the help text was cut off
        scroll.setMinimumWidth(scroll.widget().minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width()
                               + 2 * scroll.frameWidth())
        splitter.addWidget(scroll)
        splitter.addWidget(self.outputs)
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
        i, o = self.inputs, self.outputs
        self.real_list, self.fake_table = self.folders_box.real_list, self.folders_box.fake_table
        self.encoder_combo, self.name_edit, self.run_button, self.cancel_button = (
            i.encoder_combo, i.name_edit, i.run_button, i.cancel_button)
        self.auc_plot, self.auc_curve, self.band_upper = o.auc_plot, o.auc_plot.curve, o.auc_plot.band_upper
        self.chosen_line, self.selected_line = o.auc_plot.chosen_line, o.auc_plot.selected_line
        self.map_label, self.scatter, self.summary_label, self.warnings_label = (
            o.map_label, o.scatter, o.summary_label, o.warnings_label)
        self.overwrite_check, self.save_button = o.overwrite_check, o.save_button

    def _connect(self) -> None:
        """The user's actions, forwarded to the model."""
        i, o = self.inputs, self.outputs
        self.folders_box.folder_added.connect(self._guess_modality)
        i.manifest_button.clicked.connect(self._pick_manifest)
        i.clear_manifest_button.clicked.connect(lambda: self.set_manifest(None))
        i.modality_combo.activated.connect(self._on_modality_picked)
        self.encoder_combo.activated.connect(self._on_encoder_picked)
        self.name_edit.textChanged.connect(self._on_name_changed)
        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.cancel)
        self.auc_curve.sigPointsClicked.connect(self._on_curve_clicked)
        self.scatter.sigClicked.connect(self._on_scatter_clicked)
        o.pca_button.clicked.connect(self.show_pca)
        o.tsne_button.clicked.connect(self.compute_tsne)
        self.overwrite_check.toggled.connect(self._on_overwrite_toggled)
        self.save_button.clicked.connect(self.save_and_activate)

    # ------------------------------------------------------------------ picks (also for tests)
    def add_real_folder(self, path: str | Path) -> None:
        self.folders_box.add_real(path)

    def add_fake_folder(self, path: str | Path, generator: str | None = None) -> None:
        self.folders_box.add_fake(path, generator)

    def real_folders(self) -> list[str]:
        return list(self.model.real_folders)

    def fake_folders(self) -> list[tuple[str, str]]:
        return self.model.fake_folders()

    def set_manifest(self, path: str | Path | None) -> None:
        """A manifest.csv or labelled folder replaces the folder picks until cleared."""
        folder = self.model.set_manifest(path)
        self.refresh()
        if folder is not None:
            self._guess_modality(folder)

    def set_encoder(self, name: str) -> None:
        """Select an encoder by registry name (its modality too), even before the encoder list has loaded."""
        if self.model.set_encoder(name):
            self._load_encoders()
        self.refresh()

    def encoder(self) -> str | None:
        return self.model.encoder

    def request(self) -> LabRequest:
        """The picks as an engine request (validation happens in the job, off this thread)."""
        return self.model.request()

    # the model's state, as tests and the screenshot script read it
    result = property(lambda self: self.model.result)
    scores = property(lambda self: self.model.scores)
    selected_layer = property(lambda self: self.model.selected_layer)
    map_method = property(lambda self: self.model.map_method)
    saved_path = property(lambda self: self.model.saved_path)
    _tsne = property(lambda self: self.model.tsne)
    _sweep_job = property(lambda self: self.model.sweep_job)
    _tsne_job = property(lambda self: self.model.tsne_job)

    # ------------------------------------------------------------------ actions
    @Slot()
    def run(self) -> JobHandle | None:
        """Start the sweep on the engine thread; returns its job (None when it could not start)."""
        factory = self.model.start_sweep()
        if factory is None:
            self.refresh()
            return None
        self._clear_drawing()
        job = self.engine.submit(factory, "probe-lab", parent=self)
        job.on(
            started=self._on_sweep_started,
            progress=self._on_sweep_progress,
            result=self._on_sweep_result,
            ended=self._on_sweep_ended,
        )
        self.model.sweep_job = job
        self.refresh()
        return job

    @Slot()
    def cancel(self) -> None:
        """Cancel every lab job: the sweep, a t-SNE, a reference check or an adapt run."""
        for job in self.running_jobs():
            job.cancel()

    def running_jobs(self) -> list[JobHandle]:
        return self.model.running_jobs()

    @Slot()
    def compute_tsne(self) -> JobHandle | None:
        """t-SNE of the selected layer on the engine thread; shown when it arrives."""
        factory = self.model.compute_tsne()
        if factory is None:
            self.refresh()  # a t-SNE computed before is shown at once
            return None
        job = self.engine.submit(factory, "probe-lab-tsne", parent=self)
        job.on(
            progress=self.show_progress,
            result=self._on_tsne_result,
            ended=self._on_tsne_ended,
        )
        self.model.tsne_job = job
        self.refresh()
        return job

    @Slot()
    def show_pca(self) -> None:
        self.model.show_pca()
        self.refresh()

    def select_layer(self, layer: int) -> None:
        """Map the items at ``layer`` and mark it on the curve."""
        if self.model.select_layer(layer):
            self.refresh()
            self.layer_selected.emit(layer)

    @Slot()
    def save_and_activate(self) -> Path | None:
        """Copy the staged bundle into the user's detectors and emit ``detector_activated``; None on failure."""
        dest = self.model.save()
        self.refresh()
        if dest is not None:
            self.detector_activated.emit(str(dest))
        return dest

    def show_status(self, text: str, *, error: bool = False) -> None:
        self.model.set_status(text, error=error)
        self.refresh()

    def show_progress(self, event: Progress, name: str | None = None) -> None:
        """A lab job's progress on the bar; ``name``: also name the step on the status line."""
        self.model.show_progress(event, name)
        self.refresh()

    # ------------------------------------------------------------------ job events
    @Slot()
    def _on_sweep_started(self) -> None:
        self.model.sweep_started()
        self.refresh()

    @Slot(object)
    def _on_sweep_progress(self, event: Progress) -> None:
        self.show_progress(event, SWEEP_NAME)

    @Slot(object)
    def _on_sweep_result(self, result: object) -> None:
        self.model.sweep_result(result)
        if isinstance(result, LayerScore):
            self._draw_curve(self.model.scores)
        elif isinstance(result, LabResult):
            self._draw_curve(self.model.scores)
            self.refresh()
            if self.model.selected_layer is not None:
                self.layer_selected.emit(self.model.selected_layer)

    def _on_sweep_ended(self, how: str, message: str = "", details: str = "") -> None:
        self.model.end_sweep(how, message, details)
        self.refresh()

    @Slot(object)
    def _on_tsne_result(self, result: object) -> None:
        if self.model.tsne_result(result):
            self.refresh()

    def _on_tsne_ended(self, how: str, message: str = "", details: str = "") -> None:
        self.model.end_tsne(how, message, details)
        self.refresh()

    # ------------------------------------------------------------------ drawing the model
    def refresh(self) -> None:
        """Draw the model (the curve is drawn as it grows, by _draw_curve)."""
        m = self.model
        self.status_label.setText(m.status.text)
        self.status_label.setStyleSheet(ERROR_STYLE if m.status.error else "")
        self.status_label.setToolTip(m.status_tip)
        if m.bar is not None:
            self.progress_bar.setRange(0, m.bar.maximum)
            self.progress_bar.setValue(m.bar.value)
            self.progress_bar.setFormat(m.bar.text)
        actions = m.actions()
        for button, enabled in ((self.run_button, actions.run), (self.cancel_button, actions.cancel),
                                (self.save_button, actions.save), (self.outputs.tsne_button, actions.tsne),
                                (self.outputs.pca_button, actions.pca)):
            button.setEnabled(enabled)
        self.references.refresh()
        self.folders_box.setEnabled(m.manifest is None)
        self.inputs.clear_manifest_button.setEnabled(m.can_clear_manifest)
        self.inputs.manifest_label.setText(m.manifest_text)
        self.inputs.modality_combo.setCurrentIndex(self.inputs.modality_combo.findData(m.modality))
        self._render_encoders()
        self.name_edit.setPlaceholderText(m.name_placeholder)
        self.auc_plot.mark(m.result.chosen_layer if m.result else None, m.selected_layer)
        if m.points is not self._drawn:
            self._drawn = m.points
            self._draw_map(m.points)
        self.map_label.setText(m.map_label)
        self.outputs.legend_label.setText(m.legend)
        self.summary_label.setText(m.summary)
        self.warnings_label.setText(m.warnings_html())
        self.warnings_label.setVisible(bool(m.warnings))

    def _render_encoders(self) -> None:
        combo = self.encoder_combo
        items = [(c.label, c.name, c.note, c.available) for c in self.model.encoders]
        if items != self._encoder_items:
            self._encoder_items = items
            combo.clear()
            for label, name, note, available in items:
                combo.addItem(label, name)
                combo.setItemData(combo.count() - 1, note, Qt.ItemDataRole.ToolTipRole)
                combo.model().item(combo.count() - 1).setEnabled(available)  # type: ignore[attr-defined]
        combo.setCurrentIndex(combo.findData(self.model.encoder) if self.model.encoder else -1)

    def _draw_curve(self, scores: list[LayerScore]) -> None:
        self.auc_plot.draw(curve(scores))

    def _draw_map(self, points: LayerPoints | None) -> None:
        if points is None:
            self.scatter.setData([], [])
            return
        self.scatter.setData(x=points.coords[:, 0], y=points.coords[:, 1], data=points.names,
                             brush=[pg.mkBrush(c) for c in points.colors], symbol=points.symbols)
        self.outputs.map_plot.getPlotItem().autoRange()

    def _clear_results(self) -> None:
        self.model.clear_results()
        self._clear_drawing()

    def _clear_drawing(self) -> None:
        self._draw_curve([])
        self.refresh()

    # ------------------------------------------------------------------ the user's picks
    def _on_curve_clicked(self, _item: object, points: Any, *_args: object) -> None:
        if len(points):
            self.select_layer(int(round(points[0].pos().x())))

    def _on_scatter_clicked(self, _item: object, points: Any, *_args: object) -> None:
        if len(points):
            self.show_status(str(points[0].data()))

    def _pick_manifest(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Manifest (path,label,generator,group)", "", "CSV (*.csv)")
        if not path:
            path = QFileDialog.getExistingDirectory(self, "…or a folder with real/ and fake/<generator>/")
        if path:
            self.set_manifest(path)

    @Slot(bool)
    def _on_overwrite_toggled(self, checked: bool) -> None:
        self.model.overwrite = checked

    @Slot(str)
    def _on_name_changed(self, text: str) -> None:
        self.model.name = text

    # ------------------------------------------------------------------ encoder list (background)
    def _load_encoders(self) -> None:
        run_in_background(functools.partial(encoder_choices, self.model.modality), self._on_encoders,
                          self._on_encoders_failed)

    @Slot(object)
    def _on_encoders(self, choices: list[EncoderChoice]) -> None:
        self.model.encoders_listed(choices)
        self.refresh()

    @Slot(str)
    def _on_encoders_failed(self, message: str) -> None:
        self.model.encoders_failed(message)
        self.refresh()

    @Slot(int)
    def _on_encoder_picked(self, _index: int) -> None:
        self.model.pick_encoder(self.encoder_combo.currentData())

    @Slot(int)
    def _on_modality_picked(self, _index: int) -> None:
        self.model.pick_modality(self.inputs.modality_combo.currentData())
        self._load_encoders()

    def _guess_modality(self, folder: str) -> None:
        if self.model.may_guess_modality():
            run_in_background(functools.partial(guess_modality, [folder]), self._on_modality_guessed,
                              self._on_guess_failed)

    @Slot(object)
    def _on_modality_guessed(self, modality: str | None) -> None:
        if self.model.modality_guessed(modality):
            self._load_encoders()
            self.refresh()

    @Slot(str)
    def _on_guess_failed(self, _message: str) -> None:
        """A folder that cannot be listed is reported by the sweep itself, with its name."""


class FolderPicks(QGroupBox):
    """Real folders (a list) and fake folders with their generator (a table whose names can be edited).

    Picks go to the model; ``folder_added`` tells the lab a folder to guess the media kind from.
    """

    folder_added = Signal(str)

    def __init__(self, model: LabModel) -> None:
        super().__init__("Reference folders")
        self.model = model
        box = QVBoxLayout(self)
        box.addWidget(QLabel("Real files (one or more folders)"))
        self.real_list = QListWidget()
        self.real_list.setObjectName("realFolders")
        self.real_list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.real_list.setMaximumHeight(110)
        box.addWidget(self.real_list)
        add_real, remove_real = button_row(box, "Add real folder…", "Remove")
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
        add_fake, remove_fake = button_row(box, "Add fake folder…", "Remove")
        add_real.clicked.connect(lambda: self._pick("Folder of real files", self.add_real))
        add_fake.clicked.connect(lambda: self._pick("Folder of fake files (one generator)", self.add_fake))
        remove_real.clicked.connect(self._remove_real)
        remove_fake.clicked.connect(self._remove_fakes)
        for signal in (self.real_list.model().rowsRemoved, self.real_list.model().modelReset):
            signal.connect(self._on_real_list_changed)  # Remove, or the list cleared
        self.fake_table.itemChanged.connect(self._on_generator_edited)

    def add_real(self, path: str | Path) -> None:
        if self.model.add_real_folder(path):
            self.real_list.addItem(str(path))
            self.folder_added.emit(str(path))

    def add_fake(self, path: str | Path, generator: str | None = None) -> None:
        folder, generator = self.model.add_fake_folder(path, generator)
        row = self.fake_table.rowCount()
        self.fake_table.blockSignals(True)
        self.fake_table.insertRow(row)
        item = QTableWidgetItem(folder)
        item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
        item.setToolTip(folder)
        self.fake_table.setItem(row, 0, item)
        self.fake_table.setItem(row, 1, QTableWidgetItem(generator))
        self.fake_table.blockSignals(False)
        self.folder_added.emit(folder)

    def _pick(self, title: str, add: Any) -> None:
        folder = QFileDialog.getExistingDirectory(self, title)
        if folder:
            add(folder)

    def _remove_real(self) -> None:
        for item in self.real_list.selectedItems():
            self.real_list.takeItem(self.real_list.row(item))

    def _on_real_list_changed(self, *_args: object) -> None:
        self.model.real_folders = [self.real_list.item(i).text() for i in range(self.real_list.count())]

    def _remove_fakes(self) -> None:
        rows = sorted({i.row() for i in self.fake_table.selectedIndexes()}, reverse=True)
        self.model.remove_fake_rows(rows)
        for row in rows:
            self.fake_table.removeRow(row)

    def _on_generator_edited(self, item: QTableWidgetItem) -> None:
        if item.column() == 1:
            self.model.rename_generator(item.row(), item.text())


class LabInputs(QWidget):
    """The lab's left side: the reference folders or a manifest, media kind, encoder, name, Run, the references."""

    def __init__(self, folders: FolderPicks, references: QWidget) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        help_label = QLabel(GROUPS_HELP)
        help_label.setObjectName("groupsHelp")
        help_label.setWordWrap(True)
        help_label.setStyleSheet("font-size: 8pt;")
        layout.addWidget(help_label)
        self.folders_box = folders
        layout.addWidget(folders)
        manifest_row = QHBoxLayout()
        self.manifest_button = QPushButton("Use manifest or labelled folder…")
        self.manifest_button.setToolTip("A manifest.csv (path,label,generator,group), or a folder with real/ and "
                                        "fake/<generator>/ sub-folders. A manifest gives exact groups.")
        self.clear_manifest_button = QPushButton("Clear")
        manifest_row.addWidget(self.manifest_button, stretch=1)
        manifest_row.addWidget(self.clear_manifest_button)
        layout.addLayout(manifest_row)
        self.manifest_label = QLabel()
        self.manifest_label.setObjectName("manifestLabel")
        self.manifest_label.setWordWrap(True)
        layout.addWidget(self.manifest_label)
        form = QFormLayout()
        self.modality_combo = choice_combo("modalityCombo", MODALITIES)
        self.encoder_combo = QComboBox()
        self.encoder_combo.setObjectName("encoderCombo")
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("detectorName")
        self.name_edit.setPlaceholderText(NAME_PLACEHOLDER)
        form.addRow("Media", self.modality_combo)
        form.addRow("Encoder", self.encoder_combo)
        form.addRow("Detector name", self.name_edit)
        layout.addLayout(form)
        run_row = QHBoxLayout()
        self.run_button = QPushButton("Run sweep")
        self.run_button.setObjectName("runSweep")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelSweep")
        run_row.addWidget(self.run_button, stretch=1)
        run_row.addWidget(self.cancel_button)
        layout.addLayout(run_row)
        layout.addWidget(references)
        layout.addStretch(1)


class LabOutputs(QWidget):
    """The lab's right side: the AUC curve, the map of a layer, the summary and warnings, Save and activate."""

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        self.auc_plot = SweepPlot()
        layout.addWidget(self.auc_plot, stretch=3)
        map_row = QHBoxLayout()
        self.map_label = QLabel(NO_MAP)
        self.map_label.setObjectName("mapLabel")
        self.map_label.setWordWrap(True)
        self.pca_button = QPushButton("PCA")
        self.pca_button.setToolTip("Linear projection: instant")
        self.tsne_button = QPushButton("t-SNE")
        self.tsne_button.setObjectName("tsneButton")
        self.tsne_button.setToolTip("Shows local structure (generator families); takes seconds, runs in the background")
        map_row.addWidget(self.map_label, stretch=1)
        map_row.addWidget(self.pca_button)
        map_row.addWidget(self.tsne_button)
        layout.addLayout(map_row)
        self.map_plot = pg.PlotWidget()
        self.map_plot.setObjectName("mapPlot")
        self.map_plot.getPlotItem().hideAxis("left")
        self.map_plot.getPlotItem().hideAxis("bottom")
        self.scatter = pg.ScatterPlotItem(size=9, pen=pg.mkPen(None), hoverable=True, tip="{data}".format)
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
        save_row.addWidget(self.overwrite_check, stretch=1)
        save_row.addWidget(self.save_button)
        layout.addLayout(save_row)


class SweepPlot(pg.PlotWidget):
    """The cross-validated AUC per layer with its ± std band; the chosen and the selected layer marked."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("aucPlot")
        self.setTitle("<span style='font-size:9pt'>Cross-validated AUC per layer (mean ± std over "
                      "grouped folds); click a point to map that layer</span>")
        self.setLabel("left", "AUC")
        self.setYRange(0.0, 1.02, padding=0)
        self.showGrid(x=True, y=True, alpha=0.2)
        self.setMouseEnabled(x=False, y=False)
        self.band_upper = pg.PlotCurveItem(pen=pg.mkPen(None))
        self.band_lower = pg.PlotCurveItem(pen=pg.mkPen(None))
        self.band = pg.FillBetweenItem(self.band_upper, self.band_lower, brush=pg.mkBrush(*BAND_BRUSH))
        for item in (self.band_upper, self.band_lower, self.band):
            self.addItem(item)
        self.curve = self.plot([], [], pen=pg.mkPen(CURVE_COLOR, width=2), symbol="o", symbolSize=9,
                               symbolBrush=CURVE_COLOR, symbolPen=None)
        self.chosen_line = pg.InfiniteLine(0, angle=90, movable=False, label="chosen",
                                           labelOpts={"position": 0.08, "color": CHOSEN_COLOR},
                                           pen=pg.mkPen(CHOSEN_COLOR, width=1.5, style=Qt.PenStyle.DashLine))
        self.selected_line = pg.InfiniteLine(0, angle=90, movable=False, pen=pg.mkPen(SELECTED_COLOR, width=2))
        for line in (self.chosen_line, self.selected_line):
            line.hide()
            self.addItem(line, ignoreBounds=True)

    def draw(self, data: Any) -> None:
        self.curve.setData(data.x, data.auc)
        self.band_upper.setData(data.x, data.upper)
        self.band_lower.setData(data.x, data.lower)
        self.getAxis("bottom").setTicks([data.ticks])
        if data.x_range is not None:
            self.setXRange(*data.x_range, padding=0)

    def mark(self, chosen: int | None, selected: int | None) -> None:
        for line, layer in ((self.chosen_line, chosen), (self.selected_line, selected)):
            if layer is not None:
                line.setValue(float(layer))
            line.setVisible(layer is not None)
