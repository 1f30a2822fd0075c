"""Main window: a drop area for files and folders, and a status bar.

The window only collects paths and renders what the engine yields; all work runs
in the engine (wired to a worker thread in the GUI issue).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QListWidget,
    QMainWindow,
    QVBoxLayout,
    QWidget,
)

from deepfake_gui import __version__


class DropArea(QLabel):
    """Accepts dropped files and folders and reports their local paths."""

    paths_dropped = Signal(list)

    def __init__(self) -> None:
        super().__init__("Drop images, videos, sound files or folders here\n\nor use File ▸ Open")
        self.setObjectName("dropArea")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setAcceptDrops(True)
        self.setMinimumHeight(160)
        self.setStyleSheet("#dropArea { border: 2px dashed #888; border-radius: 8px; font-size: 15px; }")

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            self.paths_dropped.emit(paths)
            event.acceptProposedAction()


class MainWindow(QMainWindow):
    def __init__(self, initial_paths: list[str] | None = None) -> None:
        super().__init__()
        self.setWindowTitle(f"LayerScope {__version__}")
        self.resize(900, 600)
        self.drop_area = DropArea()
        self.queue = QListWidget()
        self.queue.setObjectName("queue")
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(self.drop_area)
        layout.addWidget(self.queue, stretch=1)
        self.setCentralWidget(central)
        self.drop_area.paths_dropped.connect(self.add_paths)
        self._build_menu()
        self.statusBar().showMessage("Ready. Detection arrives in a later version: files are listed, not scored.")
        if initial_paths:
            self.add_paths(initial_paths)

    def _build_menu(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        open_file = QAction("Open &file…", self, shortcut=QKeySequence.StandardKey.Open)
        open_file.triggered.connect(self._open_files)
        open_folder = QAction("Open f&older…", self)
        open_folder.triggered.connect(self._open_folder)
        quit_action = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        for action in (open_file, open_folder, quit_action):
            file_menu.addAction(action)

    def _open_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Open files")
        self.add_paths(files)

    def _open_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open folder")
        if folder:
            self.add_paths([folder])

    def add_paths(self, paths: list[str]) -> None:
        for p in paths:
            self.queue.addItem(str(Path(p)))
        self.statusBar().showMessage(f"{self.queue.count()} item(s) queued")
