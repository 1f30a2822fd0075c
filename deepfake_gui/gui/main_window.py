"""Main window: drop files, watch them scanned, sort and filter the verdicts, pick one for its evidence.

The window only collects paths and renders what the engine yields: every job runs
on the EngineThread (gui/worker.py), so the window keeps drawing while files are
scored. Evidence views (gui/views/) plug into the right-hand ``evidence_area``
through ``result_selected`` and ``set_evidence_widget``.

What the window knows and decides beyond the rows (its scans and the queue, the search for
moved files, the selection, the active detectors, every message) is ``WindowModel``
(gui/models/main_window.py, no Qt); the rows are the Qt table model ``model``
(gui/batch_model.py). The menus are built by gui/menus.py, the table and the evidence
area are gui/panels.py widgets.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QModelIndex, QSettings, Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QMainWindow, QSplitter, QWidget

from deepfake_gui.core.results import ScanResult
from deepfake_gui.engine.relocate import Relocations
from deepfake_gui.engine.scan import ScanOptions
from deepfake_gui.gui.about import AboutDialog, ShortcutsDialog, menu_actions, shortcuts_help
from deepfake_gui.gui.batch_model import RESULT_ROLE, ResultFilterProxy, ResultTableModel
from deepfake_gui.gui.jobs import JobHandle
from deepfake_gui.gui.menus import build_menus
from deepfake_gui.gui.models.main_window import MAX_RECENT as MAX_RECENT  # re-exported where they were
from deepfake_gui.gui.models.main_window import TOOL_TABS as TOOL_TABS
from deepfake_gui.gui.models.main_window import WindowModel, empty_table_text, window_title
from deepfake_gui.gui.panels import PLACEHOLDER as PLACEHOLDER
from deepfake_gui.gui.panels import BatchPanel, DetectorStatus, ErrorPanel, EvidenceArea, ToolTabs
from deepfake_gui.gui.scan_jobs import ScanJobs
from deepfake_gui.gui.settings import AppSettings, apply_models_folder, needs_reload
from deepfake_gui.gui.theme import apply_theme
from deepfake_gui.gui.widgets import FileDrops
from deepfake_gui.gui.worker import EngineThread


def default_settings() -> QSettings:
    """An ini file in the app's data folder: one place for all its state, and LAYERSCOPE_DATA_DIR moves it."""
    from deepfake_gui.core.config import data_dir

    return QSettings(str(data_dir() / "gui.ini"), QSettings.Format.IniFormat)


class MainWindow(QMainWindow):
    """The batch view. ``result_selected`` carries the selected row's ScanResult (None when nothing is)."""

    result_selected = Signal(object)

    def __init__(self, paths: Sequence[str] | None = None, *, engine: EngineThread | None = None,
                 settings: QSettings | None = None, options: ScanOptions | None = None,
                 warm_up: bool = False) -> None:
        super().__init__()
        self.setWindowTitle(window_title(None))
        self.resize(1200, 720)
        self.settings = settings or default_settings()
        self.app_settings = AppSettings.load(self.settings)
        apply_models_folder(self.app_settings.models_folder)  # before warm_up loads detectors
        self.window_model = WindowModel(options or self.app_settings.scan_options(ScanOptions()))
        _apply_display(self.app_settings)
        self.engine = engine or EngineThread()
        self.jobs = ScanJobs(self.engine, self.window_model, self)
        self.model = ResultTableModel(self)
        self.proxy = ResultFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self._shut_down = False
        self._build()
        build_menus(self)
        self._connect()
        self._restore_geometry()
        self.window_model.set_idle("Ready: drop files or folders, or use File ▸ Open.")
        self._render()
        if warm_up:
            self._warm_up()
        if paths:
            self.add_paths(list(paths))

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.batch = BatchPanel(self.model, self.proxy)
        b = self.batch
        self.drop_area, self.verdict_combo, self.modality_combo, self.shown_label = (
            b.drop_area, b.verdict_combo, b.modality_combo, b.shown_label)
        self.table, self.table_empty_label, self.queue, self.queue_label = (
            b.table, b.table.empty_label, b.queue, b.queue_label)
        self.progress_bar, self.cancel_button, self.progress_message = (
            b.progress_bar, b.cancel_button, b.progress_message)
        self.evidence_area = EvidenceArea()
        self.evidence_placeholder = self.evidence_area.placeholder
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.batch)
        self.splitter.addWidget(self.evidence_area)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([620, 580])  # the evidence needs room: plots, the frame and the verdict card
        self.tabs = ToolTabs(self.splitter, self.engine, lambda: self.scan_options.device)
        self.setCentralWidget(self.tabs)
        self.error_panel = ErrorPanel(self)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.error_panel)
        self.error_panel.hide()
        self.detector_status = DetectorStatus()
        self.statusBar().addPermanentWidget(self.detector_status)

    def _connect(self) -> None:
        """The user's actions and the rows' changes, forwarded to the model."""
        self.drop_area.paths_dropped.connect(self.add_paths)
        self.drops = FileDrops(self)  # the whole window takes drops, as the drop area does
        self.drops.paths_dropped.connect(self.add_paths)
        self.batch.filters_changed.connect(self._render_rows)
        self.cancel_button.clicked.connect(self.cancel_scans)
        self.jobs.changed.connect(self._render)
        self.jobs.scanned.connect(self._add_row)
        self.jobs.relocations.connect(self._on_relocations)
        self.tabs.tool_built.connect(self._on_tool_built)
        self.tabs.tool_shown.connect(self._on_tool_shown)
        for signal in (self.proxy.rowsInserted, self.proxy.rowsRemoved, self.proxy.modelReset,
                       self.proxy.layoutChanged):
            signal.connect(self._render_rows)
        self.model.dataChanged.connect(self._on_model_data_changed)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_row_changed)
        self.recent_menu.path_chosen.connect(lambda path: self.add_paths([path]))
        self.recent_menu.path_gone.connect(self._forward(self.window_model.recent_gone))
        self.cases.case_opened.connect(self._on_case_opened)
        self.cases.case_closed.connect(self._on_case_closed)
        self.cases.case_renamed.connect(lambda name: self.setWindowTitle(window_title(name)))
        self.cases.record_failed.connect(self._forward(self.window_model.case_record_failed))
        self.theme_menu.theme_chosen.connect(self.set_theme)
        self.engine.worker.detectors_ready.connect(self.detector_status.show_detectors,
                                                   Qt.ConnectionType.QueuedConnection)
        self.result_selected.connect(self._show_evidence)

    # --------------------------------------------------------------- public API
    @Slot(list)
    def add_paths(self, paths: Sequence[str]) -> JobHandle | None:
        """Queue files and folders and start scanning them; returns the scan's job handle."""
        clean = self.window_model.clean_paths(paths)
        if not clean:
            return None
        self.recent_menu.remember(clean)
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
        self.window_model.cancel()
        self._render()

    def is_scanning(self) -> bool:
        return self.window_model.is_scanning()

    def selected_result(self) -> ScanResult | None:
        return self.window_model.selected

    scan_options = property(lambda self: self.window_model.scan_options)
    relocated = property(lambda self: self.window_model.relocated)

    def copy_selection(self) -> str:
        """Copy the selected rows with full values (whole SHA-256 and path) to the clipboard."""
        return self.table.copy_selection()

    def set_evidence_widget(self, widget: QWidget | None) -> None:
        """Show a view of the selected result on the right (None: the placeholder); the old one is not deleted."""
        self.evidence_area.show_widget(widget)

    def evidence_widget(self) -> QWidget | None:
        return self.evidence_area.shown

    def recent_files(self) -> list[str]:
        return self.recent_menu.paths()

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

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)

    # ----------------------------------------------------------- scans and moved files
    def _submit(self, paths: list[str]) -> JobHandle | None:
        return self.jobs.scan(paths, self.scan_options) if paths else None

    def _add_row(self, result: ScanResult) -> None:
        self.model.upsert(result)
        self.cases.record(result)  # into the open case, if any (one small transaction)

    @Slot()
    def find_moved_files(self, folder: str | None = None) -> JobHandle | None:
        """Look for the table's missing files by SHA-256 in a folder (asked for when not given); returns the job."""
        wanted = self.window_model.moved_files_wanted(self.model.results())
        self._render()
        if wanted is None:
            return None
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, f"Folder where the {len(wanted)} moved file(s) may be")
            if not folder:
                return None
        return self.jobs.find_moved(wanted, folder)

    @Slot()
    def find_moved_from_menu(self) -> None:
        self.find_moved_files()

    def _on_relocations(self, found: Relocations) -> None:
        """Rows follow their files to the paths found; the model words what was found and where."""
        moved = {old: new for old, new in found.found.items() if self.model.relocate(old, new) is not None}
        self.cases.record_moves(moved)  # the open case follows its files too
        self.window_model.relocations_found(found, moved)
        self._render()

    # ----------------------------------------------------------- drawing the model
    def _forward(self, method: Callable[..., Any]) -> Callable[..., None]:
        """A receiver that hands its arguments to a model method, then draws the model."""
        def receive(*args: Any) -> None:
            method(*args)
            self._render()

        return receive

    def _render(self) -> None:
        m = self.window_model
        for text, ms in m.take_notices():
            self.statusBar().showMessage(text, ms)
        for problem in m.take_problems():
            self.error_panel.add(problem.title, problem.message, problem.details)
        self.batch.show_queue(m.queue())
        for widget in (self.cancel_button, self.cancel_action):
            widget.setEnabled(m.is_scanning())
        self.use_defaults_action.setEnabled(m.use_defaults_enabled)
        self.batch.show_progress(m.bar, m.progress_message)
        self._render_rows()

    def _render_rows(self, *_args: object) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        self.window_model.rows = total
        self.shown_label.setText(self.window_model.shown_text(shown, total))
        self.table.show_empty(empty_table_text(shown, total, self.is_scanning()))

    # ----------------------------------------------------------- selection
    @Slot(QModelIndex, QModelIndex)
    def _on_current_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._select(current.data(RESULT_ROLE) if current.isValid() else None)

    def _on_model_data_changed(self, *_args: object) -> None:
        """A rescan replaced the selected row's result: pass the new one on."""
        if self.batch.current_result() is not None:
            self._select(self.batch.current_result())

    def _select(self, result: ScanResult | None) -> None:
        if self.window_model.select(result):
            self.result_selected.emit(result)

    def select_path(self, path: str) -> bool:
        """Select a file's row by path (from the explorer); False when it is not in the table or filtered out."""
        return self.batch.select_path(path)

    def select_row(self, proxy_row: int) -> None:
        """Select a visible row (keyboard/tests), making it current so its evidence is shown."""
        self.batch.select_row(proxy_row)

    def _show_evidence(self, result: ScanResult | None) -> None:
        """The selected file's verdict card and evidence view (views/ picks one by modality)."""
        from deepfake_gui.gui.views import evidence_widget_for

        widget = None if result is None else evidence_widget_for(result, self)
        if widget is not None and hasattr(widget, "locate_requested"):
            widget.locate_requested.connect(self.find_moved_from_menu)
        self.set_evidence_widget(widget)

    # ----------------------------------------------------------- cases, detectors, settings, report
    @Slot(str, list)
    def _on_case_opened(self, name: str, results: list) -> None:
        """A case's stored results fill the table; their evidence views need no rescan (arrays are stored)."""
        self._select(None)
        self.model.clear()
        self.model.extend(results)
        self.setWindowTitle(window_title(name))
        self.window_model.case_opened(name, len(results))
        self._render()

    @Slot()
    def _on_case_closed(self) -> None:
        self._select(None)
        self.model.clear()
        self.setWindowTitle(window_title(None))
        self._render()

    @Slot(str)
    def activate_detector(self, folder: str) -> None:
        """Scan with a saved detector from now on: like --detector, it replaces its modality's defaults."""
        self.window_model.activate_detector(folder)
        self._warm_up()
        self._render()

    @Slot()
    def use_default_detectors(self) -> None:
        self.window_model.use_default_detectors()
        self._warm_up()
        self._render()

    def _warm_up(self) -> JobHandle:
        """Load the detectors for the current options now; a failure to load goes to the Problems list."""
        return self.jobs.warm_up(self.scan_options)

    @Slot(object)
    def apply_settings(self, new: AppSettings) -> None:
        """Save and apply: the theme at once, device and models folder by reloading the detectors."""
        old, self.app_settings = self.app_settings, new
        new.save(self.settings)
        apply_models_folder(new.models_folder)
        _apply_display(new)
        reload = needs_reload(old, new)
        if self.window_model.settings_applied(old, new, reload):
            self._show_evidence(self.window_model.selected)
        if new.theme != old.theme:
            self.set_theme(new.theme)
        if reload:
            self._warm_up()
        self._render()

    @Slot(str)
    def set_theme(self, name: str) -> None:
        applied = apply_theme(QApplication.instance(), name)
        self.theme_menu.set_current(applied)
        if applied != self.app_settings.theme:
            self.app_settings = dataclasses.replace(self.app_settings, theme=applied)
            self.app_settings.save(self.settings)
        if self.window_model.selected is not None:  # views pick their colours when built: rebuild the shown one
            self._show_evidence(self.window_model.selected)

    def show_about(self) -> AboutDialog:
        detectors = self.detector_status.detectors
        dialog = AboutDialog(detectors[0]["device"] if detectors else "", self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def show_shortcuts(self) -> ShortcutsDialog:
        return shortcuts_help(menu_actions(self.menuBar()), self)

    @Slot()
    def export_report(self) -> None:
        """HTML or PDF of the table's files (the open case's name, review states and notes when there is one)."""
        from deepfake_gui.gui.report_export import export_report

        results = self.model.results()
        ok, meta = self.window_model.report_meta(results, self.cases.current_name)
        self._render()
        if ok:
            export_report(self, results, meta)

    # ----------------------------------------------------------- tools
    def tool(self, key: str) -> QWidget:
        """The explorer or the probe lab, built the first time it is asked for."""
        return self.tabs.tool(key)

    def show_tool(self, key: str) -> QWidget:
        return self.tabs.show_tool(key)

    _tools = property(lambda self: self.tabs.tools)

    def _on_tool_built(self, key: str, widget: Any) -> None:
        if key == "explorer":
            widget.file_selected.connect(self._on_explorer_file_selected)
            self.result_selected.connect(lambda r: widget.select_path(r.path) if r is not None else None)
            widget.set_batch(self.model.results())
        elif key == "lab":
            widget.detector_activated.connect(self.activate_detector)

    def _on_tool_shown(self, key: str, widget: Any) -> None:
        if key == "explorer":
            widget.set_batch(self.model.results())

    @Slot(str)
    def _on_explorer_file_selected(self, path: str) -> None:
        self.window_model.explorer_selected(path, self.select_path(path))
        self._render()

    # ----------------------------------------------------------- layout saved
    def _restore_geometry(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry:
            self.restoreGeometry(geometry)
        splitter = self.settings.value("window/splitter")
        if splitter:
            self.splitter.restoreState(splitter)


def _apply_display(settings: AppSettings) -> None:
    from deepfake_gui.gui.views.common import DISPLAY

    DISPLAY.show_threshold, DISPLAY.show_band = settings.show_threshold, settings.show_band
