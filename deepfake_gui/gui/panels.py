"""The main window's small parts: the drop target, the batch table, the evidence area, problems, detector status.

Kept out of main_window.py so that file holds only the batch workflow; each part
is a plain widget with signals, testable alone.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QItemSelectionModel, QObject, Qt, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QDockWidget,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from deepfake_gui.core.results import ScanResult
from deepfake_gui.gui.batch_model import COLUMNS, RESULT_ROLE, ResultFilterProxy, ResultTableModel, copy_text
from deepfake_gui.gui.models.common import Bar
from deepfake_gui.gui.models.main_window import MODALITY_CHOICES, TOOL_TABS, VERDICT_CHOICES
from deepfake_gui.gui.widgets import FileDrops, choice_combo

PANEL_HEIGHT = 110  # pixels: about four problems before it scrolls
PLACEHOLDER = "Select a file in the table to see its verdict card and its evidence"


class DropArea(QLabel):
    """Accepts dropped files and folders and reports their local paths."""

    paths_dropped = Signal(list)

    def __init__(self) -> None:
        super().__init__("Drop images, videos, sound files or folders here\nor use File ▸ Open")
        self.setObjectName("dropArea")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumHeight(80)
        self.setStyleSheet("#dropArea { border: 2px dashed #888; border-radius: 8px; font-size: 14px; }")
        self.drops = FileDrops(self)
        self.drops.paths_dropped.connect(self.paths_dropped)


class BatchTable(QTableView):
    """The batch: sortable, resizable columns, Ctrl+C copies the full values, a message when no row is shown."""

    def __init__(self, proxy: ResultFilterProxy) -> None:
        super().__init__()
        self.setObjectName("batchTable")
        self.setModel(proxy)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.verticalHeader().hide()
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)  # every column: the user's to resize
        header.setMinimumSectionSize(48)
        for i, column in enumerate(COLUMNS):
            header.resizeSection(i, column.width)
        header.setStretchLastSection(True)  # the hash takes what is left; a narrow Status stays readable
        copy = QAction("Copy", self)
        copy.setShortcut(QKeySequence.StandardKey.Copy)
        copy.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        copy.triggered.connect(self.copy_selection)
        self.addAction(copy)
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # scan order until a header is clicked
        self.setSortingEnabled(True)
        self.empty_label = QLabel(self.viewport())  # what to do when no row is shown
        self.empty_label.setObjectName("tableEmpty")
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setStyleSheet("color: palette(mid); font-size: 11pt; padding: 12px;")
        self.viewport().installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Keep the empty-table message over the whole viewport as it resizes."""
        if watched is self.viewport() and event.type() == QEvent.Type.Resize:
            self.empty_label.setGeometry(self.viewport().rect())
        return super().eventFilter(watched, event)

    def show_empty(self, text: str) -> None:
        """``text`` over the table ("": rows are shown, no message)."""
        self.empty_label.setText(text)
        self.empty_label.setVisible(bool(text))

    def copy_selection(self) -> str:
        """Copy the selected rows with full values (whole SHA-256 and path) to the clipboard."""
        text = copy_text(self.selectionModel().selectedIndexes())
        QApplication.clipboard().setText(text)
        return text


class BatchPanel(QWidget):
    """The Batch tab's left side: the drop area, the filters, the table, the queue and the progress row."""

    filters_changed = Signal()

    def __init__(self, model: ResultTableModel, proxy: ResultFilterProxy) -> None:
        super().__init__()
        self.model, self.proxy = model, proxy
        self.drop_area = DropArea()
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
        self.table = BatchTable(proxy)
        self.queue = QListWidget()
        self.queue.setObjectName("queue")
        self.queue.setMaximumHeight(80)
        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("scanProgress")
        self.progress_bar.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelButton")
        self.progress_message = QLabel()
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress_bar, stretch=1)
        progress_row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
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

    def show_queue(self, paths: list[str]) -> None:
        if [self.queue.item(i).text() for i in range(self.queue.count())] != paths:
            self.queue.clear()
            self.queue.addItems(paths)
        self.queue.setVisible(bool(paths))
        self.queue_label.setVisible(bool(paths))

    def show_progress(self, bar: Bar, message: str) -> None:
        self.progress_bar.setRange(0, bar.maximum)
        self.progress_bar.setValue(bar.value)
        self.progress_bar.setFormat(bar.text)
        self.progress_message.setText(message)

    def current_result(self) -> ScanResult | None:
        current = self.table.selectionModel().currentIndex()
        return current.data(RESULT_ROLE) if current.isValid() else None

    def select_path(self, path: str) -> bool:
        """Select a file's row by path; False when it is not in the table or filtered out."""
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
        """Select a visible row, making it current (so its evidence is shown)."""
        index = self.proxy.index(proxy_row, 0)
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        self.table.selectionModel().setCurrentIndex(index, flags)

    def _apply_filters(self) -> None:
        self.proxy.set_verdict_filter(self.verdict_combo.currentData())
        self.proxy.set_modality_filter(self.modality_combo.currentData())
        self.filters_changed.emit()


class ToolTabs(QTabWidget):
    """The window's tabs: the batch, then each tool (TOOL_TABS), built the first time it is asked for.

    ``tool_built(key, widget)`` lets the window wire a new tool; ``tool_shown(key, widget)`` says a
    tool's tab became the current one.
    """

    tool_built = Signal(str, object)
    tool_shown = Signal(str, object)

    def __init__(self, batch: QWidget, engine: Any, device: Callable[[], str]) -> None:
        super().__init__()
        self.setObjectName("mainTabs")
        self.setDocumentMode(True)
        self.addTab(batch, "Batch")
        self.engine, self.device = engine, device
        self.tools: dict[str, QWidget] = {}
        for key, (title, _factory) in TOOL_TABS.items():
            holder = QWidget()
            holder.setObjectName(f"{key}Tab")
            QVBoxLayout(holder).setContentsMargins(0, 0, 0, 0)
            self.addTab(holder, title)
        self.currentChanged.connect(self._on_changed)

    def tool(self, key: str) -> QWidget:
        """The explorer or the probe lab (they import pyqtgraph and scikit-learn helpers: only when asked for)."""
        if key not in self.tools:
            module_name, class_name = TOOL_TABS[key][1].split(":")
            widget = getattr(importlib.import_module(module_name), class_name)(self.engine, device=self.device())
            self.widget(list(TOOL_TABS).index(key) + 1).layout().addWidget(widget)
            self.tools[key] = widget
            self.tool_built.emit(key, widget)
        return self.tools[key]

    def show_tool(self, key: str) -> QWidget:
        widget = self.tool(key)
        self.setCurrentIndex(list(TOOL_TABS).index(key) + 1)
        return widget

    @Slot(int)
    def _on_changed(self, index: int) -> None:
        if index > 0:
            key = list(TOOL_TABS)[index - 1]
            self.tool_shown.emit(key, self.tool(key))


class EvidenceArea(QStackedWidget):
    """The right-hand side: the selected file's view, or a placeholder saying what to do."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("evidence_area")
        self.placeholder = QLabel(PLACEHOLDER)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.addWidget(self.placeholder)
        self.shown: QWidget | None = None

    def show_widget(self, widget: QWidget | None) -> None:
        """Show a view of the selected result (None: the placeholder).

        The previous widget is taken out, not deleted: a view that keeps a reference can
        reuse it, one that does not lets it be collected.
        """
        old = self.shown
        if widget is not old and old is not None:
            self.removeWidget(old)
            old.setParent(None)
        self.shown = widget
        if widget is None:
            self.setCurrentWidget(self.placeholder)
            return
        if self.indexOf(widget) < 0:
            self.addWidget(widget)
        self.setCurrentWidget(widget)


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
        if not self.isVisible():
            self.show()
            window = self.parent()
            if isinstance(window, QMainWindow):  # a few lines tall: the table keeps the room
                window.resizeDocks([self], [PANEL_HEIGHT], Qt.Orientation.Vertical)

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
