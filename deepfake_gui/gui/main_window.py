"""Main window: drop files, watch them scanned, sort and filter the verdicts, pick one for its evidence.

The window only collects paths and renders what the engine yields: every job runs
on the EngineThread (gui/worker.py), so the window keeps drawing while files are
scored. Evidence views (gui/views/) plug into the right-hand ``evidence_area``
through ``result_selected`` and ``set_evidence_widget``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QItemSelectionModel, QModelIndex, QSettings, Qt, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from deepfake_gui import __version__
from deepfake_gui.core.jobs import Progress
from deepfake_gui.core.results import ScanResult
from deepfake_gui.engine.relocate import Relocations, relocate_job, wanted_for
from deepfake_gui.engine.scan import ScanOptions
from deepfake_gui.gui.about import AboutDialog, ShortcutsDialog, menu_actions, shortcuts_help
from deepfake_gui.gui.batch_model import (
    COLUMNS,
    RESULT_ROLE,
    ResultFilterProxy,
    ResultTableModel,
    copy_text,
    error_reason,
)
from deepfake_gui.gui.cases import CaseController
from deepfake_gui.gui.jobs import JobHandle
from deepfake_gui.gui.panels import DetectorStatus, DropArea, ErrorPanel
from deepfake_gui.gui.settings import AppSettings, SettingsDialog, apply_models_folder, needs_reload
from deepfake_gui.gui.theme import ThemeMenu, apply_theme
from deepfake_gui.gui.widgets import FileDrops, choice_combo
from deepfake_gui.gui.worker import EngineThread, ProgressClock, format_eta

MAX_RECENT = 10
PLACEHOLDER = "Select a file in the table to see its verdict card and its evidence"
# Tools beside the batch, each built on first use (they import pyqtgraph and scikit-learn helpers).
TOOL_TABS: dict[str, tuple[str, str]] = {
    "explorer": ("Embedding explorer", "deepfake_gui.gui.views.embeddings:EmbeddingExplorer"),
    "lab": ("Probe lab", "deepfake_gui.gui.views.probe_lab:ProbeLab"),
}
RECENT_KEY = "recent_files"
VERDICT_CHOICES = (("All verdicts", None), ("Fake", "fake"), ("Real", "real"),
                   ("Inconclusive", "inconclusive"), ("No verdict", "none"))
MODALITY_CHOICES = (("All media", None), ("Images", "image"), ("Videos", "video"), ("Audio", "audio"),
                    ("Unreadable", "unknown"))


def default_settings() -> QSettings:
    """An ini file in the app's data folder: one place for all its state, and LAYERSCOPE_DATA_DIR moves it."""
    from deepfake_gui.core.config import data_dir

    return QSettings(str(data_dir() / "gui.ini"), QSettings.Format.IniFormat)


@dataclass
class _Scan:
    """One scan this window started: its handle, its rows in the queue, and what it has yielded so far."""

    handle: JobHandle
    items: list[QListWidgetItem] = field(default_factory=list)
    done: int = 0
    errors: int = 0


class MainWindow(QMainWindow):
    """The batch view. ``result_selected`` carries the selected row's ScanResult (None when nothing is)."""

    result_selected = Signal(object)

    def __init__(self, paths: Sequence[str] | None = None, *, engine: EngineThread | None = None,
                 settings: QSettings | None = None, options: ScanOptions | None = None,
                 warm_up: bool = False) -> None:
        super().__init__()
        self.setWindowTitle(f"LayerScope {__version__}")
        self.resize(1200, 720)
        self.settings = settings or default_settings()
        self.app_settings = AppSettings.load(self.settings)
        apply_models_folder(self.app_settings.models_folder)  # before warm_up loads detectors
        self.scan_options = options or self.app_settings.scan_options(ScanOptions())
        _apply_display(self.app_settings)
        self.engine = engine or EngineThread()
        self.model = ResultTableModel(self)
        self.proxy = ResultFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self._scans: list[_Scan] = []  # this window's pending and running scans, in submission order
        self._relocate_job: JobHandle | None = None  # the running search for moved files
        self._relocate_message = ""
        self.relocated: dict[str, str] = {}  # path found by SHA-256 -> the path stored at scan time
        self._clock = ProgressClock()
        self._selected: ScanResult | None = None
        self._evidence_widget: QWidget | None = None
        self._shut_down = False
        self._build_central()
        self.error_panel = ErrorPanel(self)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.error_panel)
        self.error_panel.hide()
        self.detector_status = DetectorStatus()
        self.statusBar().addPermanentWidget(self.detector_status)
        self._build_menus()
        self._connect_engine()
        self.result_selected.connect(self._show_evidence)
        self.drops = FileDrops(self)  # the whole window takes drops, as the drop area does
        self.drops.paths_dropped.connect(self.add_paths)
        self._restore_geometry()
        self._set_idle("Ready: drop files or folders, or use File ▸ Open.")
        if warm_up:
            self._warm_up()
        if paths:
            self.add_paths(list(paths))

    # ------------------------------------------------------------------ layout
    def _build_central(self) -> None:
        self.drop_area = DropArea()
        self.drop_area.paths_dropped.connect(self.add_paths)
        self.verdict_combo = choice_combo("verdictFilter", VERDICT_CHOICES)
        self.modality_combo = choice_combo("modalityFilter", MODALITY_CHOICES)
        self.verdict_combo.currentIndexChanged.connect(self._apply_filters)
        self.modality_combo.currentIndexChanged.connect(self._apply_filters)
        self.shown_label = QLabel()
        filters = QHBoxLayout()
        for widget in (QLabel("Show"), self.verdict_combo, self.modality_combo):
            filters.addWidget(widget)
        filters.addStretch(1)
        filters.addWidget(self.shown_label)
        self.table = self._build_table()
        self.queue = QListWidget()
        self.queue.setObjectName("queue")
        self.queue.setMaximumHeight(80)
        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("scanProgress")
        self.progress_bar.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.clicked.connect(self.cancel_scans)
        self.progress_message = QLabel()
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress_bar, stretch=1)
        progress_row.addWidget(self.cancel_button)
        left = QWidget()
        layout = QVBoxLayout(left)
        layout.addWidget(self.drop_area)
        layout.addLayout(filters)
        layout.addWidget(self.table, stretch=1)
        self.queue_label = QLabel("Queue")
        layout.addWidget(self.queue_label)
        layout.addWidget(self.queue)
        self.queue_label.hide()  # shown only while files wait: the table gets the room otherwise
        self.queue.hide()
        layout.addLayout(progress_row)
        layout.addWidget(self.progress_message)
        self.evidence_area = QStackedWidget()
        self.evidence_area.setObjectName("evidence_area")
        self.evidence_placeholder = QLabel(PLACEHOLDER)
        self.evidence_placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.evidence_placeholder.setWordWrap(True)
        self.evidence_area.addWidget(self.evidence_placeholder)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.evidence_area)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([620, 580])  # the evidence needs room: plots, the frame and the verdict card
        self.tabs = QTabWidget()
        self.tabs.setObjectName("mainTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.splitter, "Batch")
        self._tools: dict[str, QWidget] = {}
        for key, (title, _factory) in TOOL_TABS.items():
            holder = QWidget()
            holder.setObjectName(f"{key}Tab")
            QVBoxLayout(holder).setContentsMargins(0, 0, 0, 0)
            self.tabs.addTab(holder, title)
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self.setCentralWidget(self.tabs)
        for signal in (self.proxy.rowsInserted, self.proxy.rowsRemoved, self.proxy.modelReset,
                       self.proxy.layoutChanged):
            signal.connect(self._update_shown_label)
        self.model.dataChanged.connect(self._on_model_data_changed)

    def _build_table(self) -> QTableView:
        table = QTableView()
        table.setObjectName("batchTable")
        table.setModel(self.proxy)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setAlternatingRowColors(True)
        table.verticalHeader().hide()
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)  # every column: the user's to resize
        header.setMinimumSectionSize(48)
        for i, column in enumerate(COLUMNS):
            header.resizeSection(i, column.width)
        header.setStretchLastSection(True)  # the hash takes what is left; a narrow Status stays readable
        copy = QAction("Copy", table)
        copy.setShortcut(QKeySequence.StandardKey.Copy)
        copy.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        copy.triggered.connect(self.copy_selection)
        table.addAction(copy)
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # scan order until a header is clicked
        table.setSortingEnabled(True)
        table.selectionModel().currentRowChanged.connect(self._on_current_row_changed)
        self.table_empty_label = QLabel(table.viewport())  # what to do when no row is shown (see _update_shown_label)
        self.table_empty_label.setObjectName("tableEmpty")
        self.table_empty_label.setWordWrap(True)
        self.table_empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.table_empty_label.setStyleSheet("color: palette(mid); font-size: 11pt; padding: 12px;")
        table.viewport().installEventFilter(self)
        return table

    def eventFilter(self, watched: Any, event: Any) -> bool:
        """Keep the empty-table message over the whole viewport as it resizes."""
        table = getattr(self, "table", None)  # events can arrive while the table is being built
        if table is not None and watched is table.viewport() and event.type() == QEvent.Type.Resize:
            self.table_empty_label.setGeometry(watched.rect())
        return super().eventFilter(watched, event)

    def copy_selection(self) -> str:
        """Copy the selected rows with full values (whole SHA-256 and path) to the clipboard."""
        text = copy_text(self.table.selectionModel().selectedIndexes())
        QApplication.clipboard().setText(text)
        return text

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_file_action = _action(self, "Open &file…", self._open_files, QKeySequence.StandardKey.Open)
        self.open_folder_action = _action(self, "Open f&older…", self._open_folder, "Ctrl+Shift+O")
        file_menu.addAction(self.open_file_action)
        file_menu.addAction(self.open_folder_action)
        file_menu.addSeparator()
        self.cases = CaseController(self)
        self.case_actions = self.cases.add_actions(file_menu)
        self.cases.case_opened.connect(self._on_case_opened)
        self.cases.case_closed.connect(self._on_case_closed)
        self.cases.case_renamed.connect(self._set_case_title)
        self.cases.record_failed.connect(self._on_case_record_failed)
        file_menu.addSeparator()
        self.recent_menu = file_menu.addMenu("&Recent files")
        self._rebuild_recent_menu()
        self.export_report_action = _action(self, "&Export report…", self.export_report, "Ctrl+Shift+E")
        file_menu.addAction(self.export_report_action)
        self.find_moved_action = _action(self, "Find &moved files…", self._find_moved_from_menu)
        self.find_moved_action.setToolTip("Files that are no longer where they were scanned: found again by "
                                          "their SHA-256 in a folder you choose")
        file_menu.addAction(self.find_moved_action)
        file_menu.addSeparator()
        file_menu.addAction(_action(self, "&Quit", self.close, QKeySequence.StandardKey.Quit))
        scan_menu = self.menuBar().addMenu("&Scan")
        self.rescan_action = _action(self, "&Rescan all", self.rescan, "Ctrl+R")
        self.rescan_selected_action = _action(self, "Rescan &selected", self.rescan_selected, "Ctrl+Shift+R")
        self.cancel_action = _action(self, "&Cancel", self.cancel_scans)
        for action in (self.rescan_action, self.rescan_selected_action, self.cancel_action):
            scan_menu.addAction(action)
        scan_menu.addSeparator()
        self.use_defaults_action = _action(self, "Use &default detectors", self.use_default_detectors)
        self.use_defaults_action.setEnabled(bool(self.scan_options.detectors))
        scan_menu.addAction(self.use_defaults_action)
        tools_menu = self.menuBar().addMenu("&Tools")
        self.explorer_action = _action(self, "&Embedding explorer", self._show_explorer, "Ctrl+E")
        self.lab_action = _action(self, "&Probe lab", self._show_lab, "Ctrl+L")
        tools_menu.addAction(self.explorer_action)
        tools_menu.addAction(self.lab_action)
        tools_menu.addSeparator()
        self.settings_action = _action(self, "&Settings…", self.show_settings, "Ctrl+,")
        self.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        tools_menu.addAction(self.settings_action)
        view_menu = self.menuBar().addMenu("&View")
        view_menu.addAction(self.error_panel.toggleViewAction())
        self.theme_menu = ThemeMenu(self.app_settings.theme, self)
        self.theme_menu.theme_chosen.connect(self.set_theme)
        view_menu.addMenu(self.theme_menu)
        help_menu = self.menuBar().addMenu("&Help")
        self.shortcuts_action = _action(self, "&Keyboard shortcuts", self.show_shortcuts, "Ctrl+/")
        self.about_action = _action(self, "&About LayerScope", self.show_about)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        help_menu.addAction(self.shortcuts_action)
        help_menu.addAction(self.about_action)

    def _connect_engine(self) -> None:
        self.engine.worker.detectors_ready.connect(self.detector_status.show_detectors,
                                                   Qt.ConnectionType.QueuedConnection)

    # --------------------------------------------------------------- public API
    @Slot(list)
    def add_paths(self, paths: Sequence[str]) -> JobHandle | None:
        """Queue files and folders and start scanning them; returns the scan's job handle."""
        clean = [str(Path(p)) for p in paths if p]
        if not clean:
            return None
        self._remember(clean)
        return self._submit(clean)

    def rescan(self) -> JobHandle | None:
        """Scan every file in the table again (rows are replaced, not duplicated)."""
        return self._submit([r.path for r in self.model.results()])

    def rescan_selected(self) -> JobHandle | None:
        rows = self.table.selectionModel().selectedRows()
        return self._submit([self.proxy.data(index, RESULT_ROLE).path for index in rows])

    @Slot()
    def cancel_scans(self) -> None:
        """Cancel this window's running and queued scans (and a search for moved files); other views' jobs go on."""
        for handle in self._handles():
            handle.cancel()
        if self.is_scanning():
            self.progress_message.setText("Cancelling…")

    def is_scanning(self) -> bool:
        return bool(self._handles())

    def _handles(self) -> list[JobHandle]:
        return [scan.handle for scan in self._scans] + ([self._relocate_job] if self._relocate_job else [])

    def selected_result(self) -> ScanResult | None:
        return self._selected

    def set_evidence_widget(self, widget: QWidget | None) -> None:
        """Show a view of the selected result on the right (None: the placeholder).

        The previous widget is taken out of the window, not deleted: a view that
        keeps a reference can reuse it, one that does not lets it be collected.
        """
        old = self._evidence_widget
        if widget is not old and old is not None:
            self.evidence_area.removeWidget(old)
            old.setParent(None)
        self._evidence_widget = widget
        if widget is None:
            self.evidence_area.setCurrentWidget(self.evidence_placeholder)
            return
        if self.evidence_area.indexOf(widget) < 0:
            self.evidence_area.addWidget(widget)
        self.evidence_area.setCurrentWidget(widget)

    def _show_evidence(self, result: ScanResult | None) -> None:
        """The selected file's verdict card and evidence view (views/ picks one by modality)."""
        from deepfake_gui.gui.views import evidence_widget_for

        widget = None if result is None else evidence_widget_for(result, self)
        if widget is not None and hasattr(widget, "locate_requested"):
            widget.locate_requested.connect(self._find_moved_from_menu)
        self.set_evidence_widget(widget)

    def evidence_widget(self) -> QWidget | None:
        return self._evidence_widget

    def recent_files(self) -> list[str]:
        value = self.settings.value(RECENT_KEY, [])
        if isinstance(value, str):  # QSettings returns a one-item list as a plain string
            value = [value] if value else []
        return [str(v) for v in value or []][:MAX_RECENT]

    def shutdown(self) -> None:
        """Stop the engine thread (cancel, quit, wait) and save the layout; safe to call twice."""
        if self._shut_down:
            return
        self._shut_down = True
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/splitter", self.splitter.saveState())
        self.settings.sync()
        self.cases.close_case()
        self.engine.stop()

    # ----------------------------------------------------------- Qt overrides
    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)

    # ----------------------------------------------------------- job events
    @Slot()
    def _on_job_started(self) -> None:
        """One of this window's jobs (a scan, the search for moved files) began: a fresh clock."""
        self._clock = ProgressClock()
        self.progress_bar.setRange(0, 0)
        self.progress_bar.setFormat("starting…")

    @Slot(object)
    def _on_progress(self, event: Progress) -> None:
        self._clock.update(event)
        self.progress_message.setText(event.message)
        if self._clock.fraction is None:
            self.progress_bar.setRange(0, 0)
            self.progress_bar.setFormat(event.message)
            return
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(round(self._clock.fraction * 1000))
        eta = format_eta(self._clock.eta_s)
        self.progress_bar.setFormat(f"{event.done}/{event.total} files" + (f" · ETA {eta}" if eta else ""))

    def _on_scan_result(self, scan: _Scan, result: object) -> None:
        if not isinstance(result, ScanResult):
            return
        self.model.upsert(result)
        self.cases.record(result)  # into the open case, if any (one small transaction)
        scan.done += 1
        if result.status != "ok":
            scan.errors += 1
            self.error_panel.add(Path(result.path).name, error_reason(result) or "could not be scanned",
                                 f"{result.path}\n\n{result.error or ''}")

    def _on_scan_finished(self, scan: _Scan) -> None:
        self._end_scan(scan, f"Scanned {scan.done} file(s)" + (f", {scan.errors} with errors" if scan.errors else ""))

    def _on_scan_cancelled(self, scan: _Scan) -> None:
        self._end_scan(scan, "Scan cancelled")

    def _on_scan_failed(self, scan: _Scan, message: str, details: str) -> None:
        self.error_panel.add("Scan failed", message, details)
        self._end_scan(scan, "Scan failed: see Problems")

    @Slot(object)
    def _on_relocations(self, result: object) -> None:
        if isinstance(result, Relocations):
            self._apply_relocations(result)

    @Slot()
    def _on_relocate_finished(self) -> None:
        self._end_relocate(self._relocate_message)

    @Slot()
    def _on_relocate_cancelled(self) -> None:
        self._end_relocate("Search for moved files cancelled")

    @Slot(str, str)
    def _on_relocate_failed(self, message: str, details: str) -> None:
        self.error_panel.add("Find moved files", message, details)
        self._end_relocate("The search for moved files failed: see Problems")

    @Slot(str, str)
    def _on_warm_up_failed(self, message: str, details: str) -> None:
        self.error_panel.add("Detectors", message, details)

    # --------------------------------------------------------------- internals
    def _submit(self, paths: list[str]) -> str | None:
        if not paths:
            return None
        handle = self.engine.submit_scan(paths, self.scan_options, parent=self)
        scan = _Scan(handle)
        for path in paths:
            item = QListWidgetItem(path)
            self.queue.addItem(item)
            scan.items.append(item)
        self._scans.append(scan)
        handle.on(
            started=self._on_job_started,
            progress=self._on_progress,
            result=functools.partial(self._on_scan_result, scan),
            finished=functools.partial(self._on_scan_finished, scan),
            cancelled=functools.partial(self._on_scan_cancelled, scan),
            failed=functools.partial(self._on_scan_failed, scan),
        )
        self.queue.show()
        self.queue_label.show()
        self._set_busy(True)
        self._update_shown_label()
        self.statusBar().showMessage(f"{self.queue.count()} item(s) queued")
        return handle

    def _end_scan(self, scan: _Scan, message: str) -> None:
        if scan in self._scans:
            self._scans.remove(scan)
        for item in scan.items:
            self.queue.takeItem(self.queue.row(item))
        self._job_ended(message)

    def _end_relocate(self, message: str) -> None:
        self._relocate_job = None
        self._job_ended(message)

    def _job_ended(self, message: str) -> None:
        self.queue.setVisible(self.queue.count() > 0)
        self.queue_label.setVisible(self.queue.count() > 0)
        self.statusBar().showMessage(message, 10_000)
        if not self.is_scanning():
            self._set_idle(message)

    def _warm_up(self) -> JobHandle:
        """Load the detectors for the current options now; a failure to load goes to the Problems list."""
        handle = self.engine.warm_up(self.scan_options, parent=self)
        handle.failed.connect(self._on_warm_up_failed)
        return handle

    def _set_busy(self, busy: bool) -> None:
        self.cancel_button.setEnabled(busy)
        self.cancel_action.setEnabled(busy)

    def _set_idle(self, message: str) -> None:
        self._set_busy(False)
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(1 if self.model.rowCount() else 0)
        self.progress_bar.setFormat(message)
        self.progress_message.setText("")
        self._update_shown_label()

    def _apply_filters(self) -> None:
        self.proxy.set_verdict_filter(self.verdict_combo.currentData())
        self.proxy.set_modality_filter(self.modality_combo.currentData())
        self._update_shown_label()

    def _update_shown_label(self, *_args: object) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        self.shown_label.setText(f"{shown} of {total} shown")
        self.table_empty_label.setText(empty_table_text(shown, total, self.is_scanning()))
        self.table_empty_label.setVisible(shown == 0)

    @Slot(QModelIndex, QModelIndex)
    def _on_current_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._select(current.data(RESULT_ROLE) if current.isValid() else None)

    def _on_model_data_changed(self, *_args: object) -> None:
        """A rescan replaced the selected row's result: pass the new one on."""
        current = self.table.selectionModel().currentIndex()
        if current.isValid():
            self._select(current.data(RESULT_ROLE))

    def _select(self, result: ScanResult | None) -> None:
        if result is self._selected:
            return
        self._selected = result
        self.result_selected.emit(result)

    @Slot(str, list)
    def _on_case_opened(self, name: str, results: list) -> None:
        """A case's stored results fill the table; their evidence views need no rescan (arrays are stored)."""
        self._select(None)
        self.model.clear()
        self.model.extend(results)
        self._set_case_title(name)
        self._update_shown_label()
        self.statusBar().showMessage(f"Case {name}: {len(results)} file(s); new scans are added to it", 10_000)

    @Slot()
    def _on_case_closed(self) -> None:
        self._select(None)
        self.model.clear()
        self.setWindowTitle(f"LayerScope {__version__}")
        self._update_shown_label()

    @Slot(str)
    def _set_case_title(self, name: str) -> None:
        self.setWindowTitle(f"{name} — LayerScope {__version__}")

    @Slot(str, str)
    def _on_case_record_failed(self, path: str, message: str) -> None:
        self.error_panel.add(Path(path).name, f"not saved in the case: {message}", f"{path}\n\n{message}")

    @Slot()
    def export_report(self) -> None:
        """HTML or PDF of the table's files (the open case's name, review states and notes when there is one)."""
        from deepfake_gui.gui.report_export import export_report

        results = self.model.results()
        if not results:
            self.statusBar().showMessage("Nothing to report: scan files or open a case first", 10_000)
            return
        meta = None
        if self.cases.current_name:
            from deepfake_gui.report import case_report_inputs

            try:
                _stored, meta = case_report_inputs(self.cases.current_name)
            except Exception as exc:  # the report still works without the case's notes
                self.error_panel.add("Report", f"case details unavailable: {exc}")
        if self.relocated:  # the report says where each moved file was found; its review state follows it
            from deepfake_gui.report import CaseMeta
            from deepfake_gui.report.sources import follow_relocations

            meta = follow_relocations(meta or CaseMeta(source="the results open in the app"), dict(self.relocated))
        export_report(self, results, meta)

    @Slot()
    def find_moved_files(self, folder: str | None = None) -> JobHandle | None:
        """Look for the table's missing files by SHA-256 in a folder (asked for when not given); returns the job."""
        wanted = wanted_for(self.model.results())
        if not wanted:
            self.statusBar().showMessage("Every file in the table is where it was scanned", 10_000)
            return None
        if self._relocate_job is not None:
            return None
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, f"Folder where the {len(wanted)} moved file(s) may be")
            if not folder:
                return None
        factory = functools.partial(relocate_job, wanted, [folder])
        handle = self.engine.submit(factory, "relocate", parent=self)
        handle.on(
            started=self._on_job_started,
            progress=self._on_progress,
            result=self._on_relocations,
            finished=self._on_relocate_finished,
            cancelled=self._on_relocate_cancelled,
            failed=self._on_relocate_failed,
        )
        self._relocate_job = handle
        self._relocate_message = f"Looked for {len(wanted)} moved file(s) in {folder}"
        self._set_busy(True)
        self.progress_bar.setRange(0, 0)
        self.progress_bar.setFormat(f"Looking for {len(wanted)} moved file(s) by SHA-256 in {folder}…")
        return handle

    @Slot()
    def _find_moved_from_menu(self) -> None:
        self.find_moved_files()

    def _apply_relocations(self, found: Relocations) -> None:
        """Rows follow their files to the paths found; the message says how many were found and where."""
        for old, new in found.found.items():
            if self.model.relocate(old, new) is not None:
                self.relocated[new] = self.relocated.pop(old, old)
        where = ", ".join(found.folders)
        if found.found:
            names = ", ".join(Path(old).name for old in found.found)
            self._relocate_message = (f"Found {len(found.found)} of {len(found.found) + len(found.missing)} moved "
                                      f"file(s) by SHA-256 in {where}: {names}")
        else:
            self._relocate_message = f"None of the {len(found.missing)} missing file(s) is in {where}"
        for old in found.missing:
            self.error_panel.add(Path(old).name, f"not found by its SHA-256 in {where}", old)

    def show_settings(self) -> SettingsDialog:
        dialog = SettingsDialog(self.app_settings, self)
        dialog.settings_accepted.connect(self.apply_settings)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()  # window-modal, does not block the event loop
        return dialog

    @Slot(object)
    def apply_settings(self, new: AppSettings) -> None:
        """Save and apply: the theme at once, device and models folder by reloading the detectors."""
        old, self.app_settings = self.app_settings, new
        new.save(self.settings)
        apply_models_folder(new.models_folder)
        self.scan_options = new.scan_options(self.scan_options)  # keeps the chosen detectors
        _apply_display(new)
        if self._selected is not None and (old.show_threshold, old.show_band) != (new.show_threshold, new.show_band):
            self._show_evidence(self._selected)
        if new.theme != old.theme:
            self.set_theme(new.theme)
        reload = needs_reload(old, new)
        if reload:
            self._warm_up()
        self.statusBar().showMessage("Settings saved" + ("; reloading the detectors" if reload else ""), 10_000)

    @Slot(str)
    def set_theme(self, name: str) -> None:
        applied = apply_theme(QApplication.instance(), name)
        self.theme_menu.set_current(applied)
        if applied != self.app_settings.theme:
            self.app_settings = dataclasses.replace(self.app_settings, theme=applied)
            self.app_settings.save(self.settings)
        if self._selected is not None:  # views pick their colours when built: rebuild the shown one
            self._show_evidence(self._selected)

    def show_about(self) -> AboutDialog:
        detectors = self.detector_status.detectors
        dialog = AboutDialog(detectors[0]["device"] if detectors else "", self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def show_shortcuts(self) -> ShortcutsDialog:
        return shortcuts_help(menu_actions(self.menuBar()), self)

    def tool(self, key: str) -> QWidget:
        """The explorer or the probe lab, built the first time it is asked for."""
        if key not in self._tools:
            import importlib

            module_name, class_name = TOOL_TABS[key][1].split(":")
            widget = getattr(importlib.import_module(module_name), class_name)(self.engine,
                                                                               device=self.scan_options.device)
            holder = self.tabs.widget(list(TOOL_TABS).index(key) + 1)
            holder.layout().addWidget(widget)
            self._tools[key] = widget
            self._connect_tool(key, widget)
        return self._tools[key]

    def show_tool(self, key: str) -> QWidget:
        widget = self.tool(key)
        self.tabs.setCurrentIndex(list(TOOL_TABS).index(key) + 1)
        return widget

    def _connect_tool(self, key: str, widget: QWidget) -> None:
        if key == "explorer":
            widget.file_selected.connect(self._on_explorer_file_selected)
            self.result_selected.connect(self._highlight_in_explorer)
            widget.set_batch(self.model.results())
        elif key == "lab":
            widget.detector_activated.connect(self.activate_detector)

    @Slot(int)
    def _on_tab_changed(self, index: int) -> None:
        if index == 0:
            return
        key = list(TOOL_TABS)[index - 1]
        widget = self.tool(key)
        if key == "explorer":
            widget.set_batch(self.model.results())

    @Slot(object)
    def _highlight_in_explorer(self, result: ScanResult | None) -> None:
        if result is not None and "explorer" in self._tools:
            self._tools["explorer"].select_path(result.path)

    @Slot(str)
    def _on_explorer_file_selected(self, path: str) -> None:
        name = Path(path).name
        if self.select_path(path):
            self.statusBar().showMessage(f"{name} selected in the batch table (Batch tab shows its evidence)", 8000)
        else:
            self.statusBar().showMessage(f"{name} is hidden by the table's filters", 8000)

    @Slot(str)
    def activate_detector(self, folder: str) -> None:
        """Scan with a saved detector from now on: like --detector, it replaces its modality's defaults."""
        modality = _bundle_modality(folder)
        detectors = [d for d in self.scan_options.detectors if _bundle_modality(d) != modality] + [folder]
        self.scan_options = dataclasses.replace(self.scan_options, detectors=detectors)
        self._warm_up()
        self.use_defaults_action.setEnabled(True)
        self.statusBar().showMessage(f"Detector {Path(folder).name} is active for the next scans "
                                     "(Scan ▸ Use default detectors undoes it)", 10_000)

    @Slot()
    def use_default_detectors(self) -> None:
        self.scan_options = dataclasses.replace(self.scan_options, detectors=[])
        self._warm_up()
        self.use_defaults_action.setEnabled(False)
        self.statusBar().showMessage("Default detectors active for the next scans", 10_000)

    def select_path(self, path: str) -> bool:
        """Select a file's row by path (from the explorer); False when it is not in the table or filtered out."""
        source_row = self.model.row_of(path)
        if source_row is None:
            return False
        index = self.proxy.mapFromSource(self.model.index(source_row, 0))
        if not index.isValid():
            return False
        self.select_row(index.row())
        self.table.scrollTo(index)
        return True

    def select_row(self, proxy_row: int) -> None:
        """Select a visible row (keyboard/tests), making it current so its evidence is shown."""
        index = self.proxy.index(proxy_row, 0)
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        self.table.selectionModel().setCurrentIndex(index, flags)

    def _show_explorer(self) -> None:
        self.show_tool("explorer")

    def _show_lab(self) -> None:
        self.show_tool("lab")

    def _open_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Open files")
        self.add_paths(files)

    def _open_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open folder")
        if folder:
            self.add_paths([folder])

    def _remember(self, paths: list[str]) -> None:
        recent = [p for p in reversed(paths)] + [p for p in self.recent_files() if p not in paths]
        self.settings.setValue(RECENT_KEY, recent[:MAX_RECENT])
        self._rebuild_recent_menu()

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.recent_files()
        for path in recent:
            action = self.recent_menu.addAction(path.replace("&", "&&"))
            action.setData(path)
            action.triggered.connect(self._open_recent)
        if recent:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list").triggered.connect(self._clear_recent)
        self.recent_menu.setEnabled(bool(recent))

    @Slot()
    def _open_recent(self) -> None:
        action = self.sender()
        path = action.data() if isinstance(action, QAction) else None
        if not path:
            return
        if Path(path).exists():
            self.add_paths([path])
        else:
            self.settings.setValue(RECENT_KEY, [p for p in self.recent_files() if p != path])
            self._rebuild_recent_menu()
            self.statusBar().showMessage(f"{path} no longer exists", 10_000)

    def _clear_recent(self) -> None:
        self.settings.setValue(RECENT_KEY, [])
        self._rebuild_recent_menu()

    def _restore_geometry(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry:
            self.restoreGeometry(geometry)
        splitter = self.settings.value("window/splitter")
        if splitter:
            self.splitter.restoreState(splitter)


def empty_table_text(shown: int, total: int, scanning: bool) -> str:
    """What an empty batch table tells the user to do (nothing when rows are shown)."""
    if shown:
        return ""
    if total:
        return (f"No file matches the filters ({total} hidden): choose All verdicts and All media above "
                "to see them again.")
    if scanning:
        return "Scanning: each file appears here as soon as it is scored."
    return ("No files yet. Drop images, videos, sound files or whole folders here, or use File ▸ Open; "
            "File ▸ Open case… brings back an earlier investigation.")


def _action(parent: QMainWindow, text: str, slot: Any, shortcut: Any = None) -> QAction:
    action = QAction(text, parent)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    action.triggered.connect(slot)
    return action


def _apply_display(settings: AppSettings) -> None:
    from deepfake_gui.gui.views.common import DISPLAY

    DISPLAY.show_threshold, DISPLAY.show_band = settings.show_threshold, settings.show_band


def _bundle_modality(spec: str) -> str | None:
    """A detector bundle's modality from its detector.json (a few hundred bytes: fine on the GUI thread)."""
    import json

    try:
        return json.loads((Path(spec) / "detector.json").read_text(encoding="utf-8")).get("modality")
    except (OSError, ValueError):
        return None
