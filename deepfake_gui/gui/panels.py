"""The main window's small parts: the drop target, the problems list and the detector status.

Kept out of main_window.py so that file holds only the batch workflow; each part
is a plain widget with signals, testable alone.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QWidget,
)

from deepfake_gui.gui.widgets import FileDrops

PANEL_HEIGHT = 110  # pixels: about four problems before it scrolls


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
