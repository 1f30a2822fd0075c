"""Main window: drop files, watch them scanned, sort and filter the verdicts, pick one for its evidence.

The window only collects paths and renders what the engine yields: every job runs
on the EngineThread (gui/worker.py), so the window keeps drawing while files are
scored. Evidence views (gui/views/) plug into the right-hand ``evidence_area``
through ``result_selected`` and ``set_evidence_widget``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSettings, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from deepfake_gui import __version__
from deepfake_gui.core.jobs import Progress
from deepfake_gui.core.results import ScanResult
from deepfake_gui.engine.scan import ScanOptions
from deepfake_gui.gui.batch_model import COLUMN_INDEX, RESULT_ROLE, ResultFilterProxy, ResultTableModel
from deepfake_gui.gui.worker import EngineThread, ProgressClock, format_eta

MAX_RECENT = 10
RECENT_KEY = "recent_files"
VERDICT_CHOICES = (("All verdicts", None), ("Fake", "fake"), ("Real", "real"),
                   ("Inconclusive", "inconclusive"), ("No verdict", "none"))
MODALITY_CHOICES = (("All media", None), ("Images", "image"), ("Videos", "video"), ("Audio", "audio"),
                    ("Unreadable", "unknown"))


def default_settings() -> QSettings:
    """An ini file in the app's data folder: one place for all its state, and LAYERSCOPE_DATA_DIR moves it."""
    from deepfake_gui.core.config import data_dir

    return QSettings(str(data_dir() / "gui.ini"), QSettings.Format.IniFormat)


def local_paths(urls: Iterable[QUrl]) -> list[str]:
    return [u.toLocalFile() for u in urls if u.isLocalFile() and u.toLocalFile()]


class DropArea(QLabel):
    """Accepts dropped files and folders and reports their local paths."""

    paths_dropped = Signal(list)

    def __init__(self) -> None:
        super().__init__("Drop images, videos, sound files or folders here\nor use File ▸ Open")
        self.setObjectName("dropArea")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setAcceptDrops(True)
        self.setMinimumHeight(80)
        self.setStyleSheet("#dropArea { border: 2px dashed #888; border-radius: 8px; font-size: 14px; }")

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = local_paths(event.mimeData().urls())
        if paths:
            self.paths_dropped.emit(paths)
            event.acceptProposedAction()


class ErrorPanel(QDockWidget):
    """Job and file errors, listed without interrupting the user; double-click shows the details."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Problems", parent)
        self.setObjectName("errors_dock")
        self.list = QListWidget()
        self.list.setObjectName("errors_list")
        self.setWidget(self.list)
        self.list.itemDoubleClicked.connect(self.show_details)

    def add(self, title: str, message: str, details: str = "") -> None:
        item = QListWidgetItem(f"{title}: {message}")
        item.setData(Qt.ItemDataRole.UserRole, details or message)
        item.setToolTip(message)
        self.list.addItem(item)
        self.show()

    def count(self) -> int:
        return self.list.count()

    @Slot(QListWidgetItem)
    def show_details(self, item: QListWidgetItem) -> QMessageBox:
        """A non-modal box: the app stays usable while it is open."""
        box = QMessageBox(QMessageBox.Icon.Warning, "Problem details", item.text(),
                          QMessageBox.StandardButton.Close, self)
        box.setDetailedText(str(item.data(Qt.ItemDataRole.UserRole)))
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.show()
        return box


class DetectorStatus(QWidget):
    """Status-bar part: the device, the active detectors, and a warning when one cannot be trusted."""

    def __init__(self) -> None:
        super().__init__()
        self.device_label = QLabel("Device: —")
        self.detectors_label = QLabel("Detectors: load on first scan")
        self.warning_label = QLabel()
        self.warning_label.setObjectName("detectorWarning")
        self.warning_label.setStyleSheet("#detectorWarning { color: #000; background: #ffb300; padding: 0 6px; }")
        self.warning_label.hide()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for label in (self.warning_label, self.detectors_label, self.device_label):
            layout.addWidget(label)
        self.detectors: list[dict[str, Any]] = []

    @Slot(list)
    def show_detectors(self, detectors: list[dict[str, Any]]) -> None:
        self.detectors = list(detectors)
        device = detectors[0]["device"] if detectors else "—"
        self.device_label.setText(f"Device: {device}")
        usable = [d for d in detectors if not d["unavailable"]]
        by_modality: dict[str, int] = {}
        for d in usable:
            by_modality[d["modality"]] = by_modality.get(d["modality"], 0) + 1
        summary = ", ".join(f"{n} {m}" for m, n in by_modality.items()) or "none usable"
        self.detectors_label.setText(f"Detectors: {summary}")
        self.detectors_label.setToolTip("\n".join(f"{d['name']} ({d['modality']})" for d in usable))
        problems = [d["unavailable"] for d in detectors if d["unavailable"]]
        problems += [f"detector {d['name']} has random-init weights: its scores mean nothing"
                     for d in detectors if d["random_init"] and not d["unavailable"]]
        self.warning_label.setVisible(bool(problems))
        self.warning_label.setText(f"⚠ {len(problems)} detector problem(s)" if problems else "")
        self.warning_label.setToolTip("\n".join(problems))


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
        self.scan_options = options or ScanOptions()
        self.engine = engine or EngineThread()
        self.model = ResultTableModel(self)
        self.proxy = ResultFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self._jobs: dict[str, list[QListWidgetItem]] = {}  # our pending scan jobs -> their queue items
        self._job_counts: dict[str, list[int]] = {}  # job -> [results, errors]
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
        self.setAcceptDrops(True)
        self._restore_geometry()
        self._set_idle("Ready: drop files or folders, or use File ▸ Open.")
        if warm_up:
            self.engine.warm_up(self.scan_options)
        if paths:
            self.add_paths(list(paths))

    # ------------------------------------------------------------------ layout
    def _build_central(self) -> None:
        self.drop_area = DropArea()
        self.drop_area.paths_dropped.connect(self.add_paths)
        self.verdict_combo = _combo("verdictFilter", VERDICT_CHOICES)
        self.modality_combo = _combo("modalityFilter", MODALITY_CHOICES)
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
        layout.addWidget(QLabel("Queue"))
        layout.addWidget(self.queue)
        layout.addLayout(progress_row)
        layout.addWidget(self.progress_message)
        self.evidence_area = QStackedWidget()
        self.evidence_area.setObjectName("evidence_area")
        self.evidence_placeholder = QLabel("Select a file to see its evidence")
        self.evidence_placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.evidence_placeholder.setWordWrap(True)
        self.evidence_area.addWidget(self.evidence_placeholder)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.evidence_area)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([620, 580])  # the evidence needs room: plots, the frame and the verdict card
        self.setCentralWidget(self.splitter)
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
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(COLUMN_INDEX["Status"], QHeaderView.ResizeMode.Stretch)
        header.resizeSection(COLUMN_INDEX["File"], 200)
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # scan order until a header is clicked
        table.setSortingEnabled(True)
        table.selectionModel().currentRowChanged.connect(self._on_current_row_changed)
        return table

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_file_action = _action(self, "Open &file…", self._open_files, QKeySequence.StandardKey.Open)
        self.open_folder_action = _action(self, "Open f&older…", self._open_folder, "Ctrl+Shift+O")
        file_menu.addAction(self.open_file_action)
        file_menu.addAction(self.open_folder_action)
        self.recent_menu = file_menu.addMenu("&Recent files")
        self._rebuild_recent_menu()
        file_menu.addSeparator()
        file_menu.addAction(_action(self, "&Quit", self.close, QKeySequence.StandardKey.Quit))
        scan_menu = self.menuBar().addMenu("&Scan")
        self.rescan_action = _action(self, "&Rescan all", self.rescan, "Ctrl+R")
        self.rescan_selected_action = _action(self, "Rescan &selected", self.rescan_selected, "Ctrl+Shift+R")
        self.cancel_action = _action(self, "&Cancel", self.cancel_scans)
        for action in (self.rescan_action, self.rescan_selected_action, self.cancel_action):
            scan_menu.addAction(action)
        view_menu = self.menuBar().addMenu("&View")
        view_menu.addAction(self.error_panel.toggleViewAction())

    def _connect_engine(self) -> None:
        """Bound slots of GUI-thread objects, queued: a lambda here would run on the worker thread."""
        worker, queued = self.engine.worker, Qt.ConnectionType.QueuedConnection
        worker.job_started.connect(self._on_job_started, queued)
        worker.progress.connect(self._on_progress, queued)
        worker.result.connect(self._on_result, queued)
        worker.finished.connect(self._on_job_finished, queued)
        worker.cancelled.connect(self._on_job_cancelled, queued)
        worker.failed.connect(self._on_job_failed, queued)
        worker.detectors_ready.connect(self.detector_status.show_detectors, queued)

    # --------------------------------------------------------------- public API
    @Slot(list)
    def add_paths(self, paths: Sequence[str]) -> str | None:
        """Queue files and folders and start scanning them; returns the scan's job id."""
        clean = [str(Path(p)) for p in paths if p]
        if not clean:
            return None
        self._remember(clean)
        return self._submit(clean)

    def rescan(self) -> str | None:
        """Scan every file in the table again (rows are replaced, not duplicated)."""
        return self._submit([r.path for r in self.model.results()])

    def rescan_selected(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self._submit([self.proxy.data(index, RESULT_ROLE).path for index in rows])

    @Slot()
    def cancel_scans(self) -> None:
        """Cancel this window's running and queued scans; other views' jobs keep going."""
        for job_id in list(self._jobs):
            self.engine.cancel(job_id)
        if self._jobs:
            self.progress_message.setText("Cancelling…")

    def is_scanning(self) -> bool:
        return bool(self._jobs)

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

        self.set_evidence_widget(None if result is None else evidence_widget_for(result, self))

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
        self.engine.stop()

    # ----------------------------------------------------------- Qt overrides
    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = local_paths(event.mimeData().urls())
        if paths:
            self.add_paths(paths)
            event.acceptProposedAction()

    # ----------------------------------------------------------- engine events
    @Slot(str)
    def _on_job_started(self, job_id: str) -> None:
        if job_id in self._jobs:
            self._clock = ProgressClock()
            self.progress_bar.setRange(0, 0)
            self.progress_bar.setFormat("starting…")

    @Slot(object)
    def _on_progress(self, event: Progress) -> None:
        if self.engine.current_job_id not in self._jobs:
            return  # another view's job
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

    @Slot(object)
    def _on_result(self, result: object) -> None:
        job_id = self.engine.current_job_id
        if job_id not in self._jobs or not isinstance(result, ScanResult):
            return
        self.model.upsert(result)
        counts = self._job_counts.setdefault(job_id, [0, 0])
        counts[0] += 1
        if result.status != "ok":
            counts[1] += 1
            self.error_panel.add(Path(result.path).name, result.error or "could not be scanned",
                                 f"{result.path}\n\n{result.error or ''}")

    @Slot(str)
    def _on_job_finished(self, job_id: str) -> None:
        if job_id in self._jobs:
            done, errors = self._job_counts.get(job_id, [0, 0])
            self._end_job(job_id, f"Scanned {done} file(s)" + (f", {errors} with errors" if errors else ""))

    @Slot(str)
    def _on_job_cancelled(self, job_id: str) -> None:
        if job_id in self._jobs:
            self._end_job(job_id, "Scan cancelled")

    @Slot(str, str, str)
    def _on_job_failed(self, job_id: str, message: str, details: str) -> None:
        if job_id == "warm-up":
            self.error_panel.add("Detectors", message, details)
        if job_id in self._jobs:
            self.error_panel.add("Scan failed", message, details)
            self._end_job(job_id, "Scan failed: see Problems")

    # --------------------------------------------------------------- internals
    def _submit(self, paths: list[str]) -> str | None:
        if not paths:
            return None
        job_id = self.engine.submit_scan(paths, self.scan_options)
        items = []
        for path in paths:
            item = QListWidgetItem(path)
            self.queue.addItem(item)
            items.append(item)
        self._jobs[job_id] = items
        self._set_busy(True)
        self.statusBar().showMessage(f"{self.queue.count()} item(s) queued")
        return job_id

    def _end_job(self, job_id: str, message: str) -> None:
        for item in self._jobs.pop(job_id, []):
            self.queue.takeItem(self.queue.row(item))
        self._job_counts.pop(job_id, None)
        self.statusBar().showMessage(message, 10_000)
        if not self._jobs:
            self._set_idle(message)

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
        self.shown_label.setText(f"{self.proxy.rowCount()} of {self.model.rowCount()} shown")

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
        if self._evidence_widget is None:
            self.evidence_placeholder.setText(_summary(result))
        self.result_selected.emit(result)

    def select_row(self, proxy_row: int) -> None:
        """Select a visible row (keyboard/tests), making it current so its evidence is shown."""
        index = self.proxy.index(proxy_row, 0)
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        self.table.selectionModel().setCurrentIndex(index, flags)

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


def _combo(name: str, choices: Sequence[tuple[str, str | None]]) -> QComboBox:
    combo = QComboBox()
    combo.setObjectName(name)
    for label, value in choices:
        combo.addItem(label, value)
    return combo


def _action(parent: QMainWindow, text: str, slot: Any, shortcut: Any = None) -> QAction:
    action = QAction(text, parent)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    action.triggered.connect(slot)
    return action


def _summary(result: ScanResult | None) -> str:
    """Placeholder text until the evidence views are installed."""
    if result is None:
        return "Select a file to see its evidence"
    lines = [Path(result.path).name, f"verdict: {result.verdict or 'none'}"]
    if result.probability is not None:
        lines.append(f"probability fake: {result.probability:.2f}")
    if result.error:
        lines.append(f"error: {result.error}")
    lines += result.caveats
    return "\n".join(lines)
