"""The probe lab's "Add genuine references" panel: a view of ``ReferencesModel`` (gui/models/probe_lab.py)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
)

from deepfake_gui.engine.adapt import AdaptOptions
from deepfake_gui.gui.jobs import JobHandle
from deepfake_gui.gui.models.probe_lab import FAKE_PALETTE, HISTOGRAM_BINS, REAL_COLOR, ReferencesModel
from deepfake_gui.gui.widgets import button_row

if TYPE_CHECKING:
    from deepfake_gui.gui.views.probe_lab import ProbeLab

CHOSEN_COLOR = "#ff5252"


class ReferencePanel(QGroupBox):
    """"Add genuine references": adapt a detector to one person / device / channel (engine/adapt.py).

    Check first (the base detector scores every reference, and any suspect files, drawn as two
    histograms; references it calls fake are listed, checked = left out), then adapt: the job
    refits on the engine thread into a staging folder, and the bundle is saved under the name
    given and activated through the lab's ``detector_activated``.
    """

    BINS = HISTOGRAM_BINS

    def __init__(self, lab: ProbeLab) -> None:
        super().__init__("Add genuine references (person, device or channel)")
        self.setObjectName("referencePanel")
        self.lab = lab
        self.model: ReferencesModel = lab.model.references
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
        self.base_combo.activated.connect(self._on_base_picked)
        self.reference_name = QLineEdit()
        self.reference_name.setObjectName("referenceName")
        self.reference_name.setPlaceholderText("e.g. Speaker: Jane Doe, phone line")
        self.reference_name.textChanged.connect(self._on_name_changed)
        form.addRow("Base detector", self.base_combo)
        form.addRow("Name", self.reference_name)
        layout.addLayout(form)
        layout.addWidget(QLabel("Folders of genuine files (at least 10 files; audio: 60 s)"))
        self.folder_list = QListWidget()
        self.folder_list.setObjectName("referenceFolders")
        self.folder_list.setMaximumHeight(80)
        layout.addWidget(self.folder_list)
        self.add_folder_button, self.add_suspect_button = button_row(layout, "Add genuine folder…",
                                                                     "Add suspect folder…")
        self.add_folder_button.clicked.connect(self._pick_folder)
        self.add_suspect_button.clicked.connect(self._pick_suspects)
        self.suspect_list = QListWidget()
        self.suspect_list.setObjectName("suspectFolders")
        self.suspect_list.setMaximumHeight(50)
        layout.addWidget(self.suspect_list)
        self.check_button, self.adapt_button = button_row(layout, "Check references", "Adapt and save")
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
        self.ref_hist = pg.PlotCurveItem(self.BINS, self.model.reference_counts, stepMode="center", fillLevel=0,
                                         brush=(102, 187, 106, 120), pen=pg.mkPen(REAL_COLOR))
        self.suspect_hist = pg.PlotCurveItem(self.BINS, self.model.suspect_counts, stepMode="center", fillLevel=0,
                                             brush=(239, 83, 80, 90), pen=pg.mkPen(FAKE_PALETTE[0]))
        self.threshold_line = pg.InfiniteLine(self.model.threshold, angle=90, movable=False,
                                              pen=pg.mkPen(CHOSEN_COLOR, style=Qt.PenStyle.DashLine))
        for item in (self.ref_hist, self.suspect_hist, self.threshold_line):
            self.hist_plot.addItem(item)
        layout.addWidget(self.hist_plot)
        layout.addWidget(QLabel("References the base detector calls fake (checked = left out):"))
        self.flagged_list = QListWidget()
        self.flagged_list.setObjectName("flaggedReferences")
        self.flagged_list.setMaximumHeight(70)
        self.flagged_list.itemChanged.connect(self._on_flag_toggled)
        layout.addWidget(self.flagged_list)
        self.info_label = QLabel()
        self.info_label.setObjectName("referenceInfo")
        self.info_label.setWordWrap(True)
        layout.addWidget(self.info_label)
        self._shown_check = None
        self.refresh()

    # -- picks (also for tests)
    def reload_bases(self) -> None:
        self.model.reload_bases()
        self.refresh()

    def set_base(self, folder: str | Path) -> None:
        self.model.set_base(folder)
        self.refresh()

    def add_folder(self, path: str | Path) -> None:
        self.model.add_folder(path)
        self.refresh()

    def add_suspects(self, path: str | Path) -> None:
        self.model.add_suspects(path)
        self.refresh()

    def dropped(self) -> list[str]:
        return self.model.dropped()

    def options(self) -> AdaptOptions:
        return self.model.options()

    check = property(lambda self: self.model.check)
    report = property(lambda self: self.model.report)
    _job = property(lambda self: self.model.job)

    # -- actions
    @Slot()
    def run_check(self) -> JobHandle | None:
        return self._submit(adapt=False)

    @Slot()
    def run_adapt(self) -> JobHandle | None:
        return self._submit(adapt=True)

    def _submit(self, adapt: bool) -> JobHandle | None:
        """Start a check or adapt job; its progress names it on the lab's status line, its end says how it went."""
        start = self.model.start(adapt)
        if start is None:
            self.lab.refresh()
            return None
        factory, name, what = start
        job = self.lab.engine.submit(factory, "probe-lab-references", parent=self)
        job.on(
            progress=functools.partial(self.lab.show_progress, name=name),
            result=self._on_result,
            finished=functools.partial(self._on_end, what, None),
            cancelled=functools.partial(self._on_end, what, "cancelled"),
            failed=functools.partial(self._on_failed, what),
        )
        self.model.job = job
        self.lab.refresh()  # the lab's Cancel stops this job too
        return job

    # -- job events
    @Slot(object)
    def _on_result(self, result: object) -> None:
        saved = self.model.fold(result)
        self.lab.refresh()
        if saved is not None:
            self.lab.detector_activated.emit(str(saved))

    def _on_failed(self, what: str, message: str, details: str) -> None:
        self.model.failed(what, message, details)
        self.lab.refresh()

    def _on_end(self, what: str, problem: str | None) -> None:
        self.model.end(what, problem)
        self.lab.refresh()

    # -- drawing the model
    def refresh(self) -> None:
        """Draw the model (the lab's refresh calls this too)."""
        m = self.model
        if [(self.base_combo.itemText(i), self.base_combo.itemData(i))
                for i in range(self.base_combo.count())] != m.bases:
            self.base_combo.clear()
            for label, folder in m.bases:
                self.base_combo.addItem(label, folder)
        self.base_combo.setCurrentIndex(self.base_combo.findData(m.base) if m.base else -1)
        for widget, items in ((self.folder_list, m.folders), (self.suspect_list, m.suspects)):
            if [widget.item(i).text() for i in range(widget.count())] != items:
                widget.clear()
                widget.addItems(items)
        if m.check is not self._shown_check:  # a new check: its histograms and its flagged references
            self._shown_check = m.check
            self.ref_hist.setData(self.BINS, m.reference_counts)
            self.suspect_hist.setData(self.BINS, m.suspect_counts)
            self.threshold_line.setValue(m.threshold)
            self.flagged_list.blockSignals(True)
            self.flagged_list.clear()
            for path, label in m.flagged:
                item = QListWidgetItem(label)
                item.setData(Qt.ItemDataRole.UserRole, path)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked if path in m.excluded else Qt.CheckState.Unchecked)
                self.flagged_list.addItem(item)
            self.flagged_list.blockSignals(False)
        self.info_label.setText(m.info)
        self.check_button.setEnabled(m.idle)
        self.adapt_button.setEnabled(m.idle)

    # -- the user's picks
    @Slot(int)
    def _on_base_picked(self, _index: int) -> None:
        self.model.base = self.base_combo.currentData()

    @Slot(str)
    def _on_name_changed(self, text: str) -> None:
        self.model.reference_name = text

    def _on_flag_toggled(self, item: QListWidgetItem) -> None:
        self.model.keep(item.data(Qt.ItemDataRole.UserRole), item.checkState() == Qt.CheckState.Checked)

    def _pick_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of known-genuine files")
        if folder:
            self.add_folder(folder)

    def _pick_suspects(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of suspect files (for comparison)")
        if folder:
            self.add_suspects(folder)
