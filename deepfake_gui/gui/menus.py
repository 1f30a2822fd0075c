"""The main window's menus: File (with the recent files), Scan, Tools, View and Help.

Kept apart from main_window.py so that file holds the batch workflow; every action is an
attribute of the window (``window.rescan_action``, ...), as the shortcuts dialog and the
tests find them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSettings, Qt, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMenu, QWidget

from deepfake_gui.gui.cases import CaseController
from deepfake_gui.gui.models.main_window import recent_list, remembered
from deepfake_gui.gui.settings import SettingsDialog
from deepfake_gui.gui.theme import ThemeMenu

if TYPE_CHECKING:
    from deepfake_gui.gui.main_window import MainWindow

RECENT_KEY = "recent_files"


def action(parent: QMainWindow, text: str, slot: Any, shortcut: Any = None) -> QAction:
    act = QAction(text, parent)
    if shortcut is not None:
        act.setShortcut(QKeySequence(shortcut))
    act.triggered.connect(slot)
    return act


class RecentMenu(QMenu):
    """File ▸ Recent files: the files and folders opened last, kept in the window's settings.

    ``path_chosen(path)``: open it again; ``path_gone(path)``: it no longer exists (and left the list).
    """

    path_chosen = Signal(str)
    path_gone = Signal(str)

    def __init__(self, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__("&Recent files", parent)
        self.settings = settings
        self.rebuild()

    def paths(self) -> list[str]:
        return recent_list(self.settings.value(RECENT_KEY, []))

    def remember(self, paths: list[str]) -> None:
        self._store(remembered(self.paths(), paths))

    def forget(self, path: str) -> None:
        self._store([p for p in self.paths() if p != path])

    def rebuild(self) -> None:
        self.clear()
        recent = self.paths()
        for path in recent:
            act = self.addAction(path.replace("&", "&&"))
            act.setData(path)
            act.triggered.connect(self._chosen)
        if recent:
            self.addSeparator()
            self.addAction("Clear list").triggered.connect(lambda *_: self._store([]))
        self.setEnabled(bool(recent))

    def _store(self, paths: list[str]) -> None:
        self.settings.setValue(RECENT_KEY, paths)
        self.rebuild()

    @Slot()
    def _chosen(self) -> None:
        act = self.sender()
        path = act.data() if isinstance(act, QAction) else None
        if not path:
            return
        if Path(path).exists():
            self.path_chosen.emit(path)
        else:
            self.forget(path)
            self.path_gone.emit(path)


def build_menus(window: MainWindow) -> None:
    """The window's menu bar; the actions become attributes of ``window``."""
    w = window
    file_menu = w.menuBar().addMenu("&File")
    w.open_file_action = action(w, "Open &file…", lambda *_: open_files(w), QKeySequence.StandardKey.Open)
    w.open_folder_action = action(w, "Open f&older…", lambda *_: open_folder(w), "Ctrl+Shift+O")
    file_menu.addAction(w.open_file_action)
    file_menu.addAction(w.open_folder_action)
    file_menu.addSeparator()
    w.cases = CaseController(w)
    w.case_actions = w.cases.add_actions(file_menu)
    file_menu.addSeparator()
    w.recent_menu = RecentMenu(w.settings, w)
    file_menu.addMenu(w.recent_menu)
    w.export_report_action = action(w, "&Export report…", w.export_report, "Ctrl+Shift+E")
    file_menu.addAction(w.export_report_action)
    w.find_moved_action = action(w, "Find &moved files…", w.find_moved_from_menu)
    w.find_moved_action.setToolTip("Files that are no longer where they were scanned: found again by "
                                   "their SHA-256 in a folder you choose")
    file_menu.addAction(w.find_moved_action)
    file_menu.addSeparator()
    file_menu.addAction(action(w, "&Quit", w.close, QKeySequence.StandardKey.Quit))
    scan_menu = w.menuBar().addMenu("&Scan")
    w.rescan_action = action(w, "&Rescan all", w.rescan, "Ctrl+R")
    w.rescan_selected_action = action(w, "Rescan &selected", w.rescan_selected, "Ctrl+Shift+R")
    w.cancel_action = action(w, "&Cancel", w.cancel_scans)
    for act in (w.rescan_action, w.rescan_selected_action, w.cancel_action):
        scan_menu.addAction(act)
    scan_menu.addSeparator()
    w.use_defaults_action = action(w, "Use &default detectors", w.use_default_detectors)
    scan_menu.addAction(w.use_defaults_action)
    tools_menu = w.menuBar().addMenu("&Tools")
    w.explorer_action = action(w, "&Embedding explorer", lambda *_: w.show_tool("explorer"), "Ctrl+E")
    w.lab_action = action(w, "&Probe lab", lambda *_: w.show_tool("lab"), "Ctrl+L")
    tools_menu.addAction(w.explorer_action)
    tools_menu.addAction(w.lab_action)
    tools_menu.addSeparator()
    w.settings_action = action(w, "&Settings…", lambda *_: show_settings(w), "Ctrl+,")
    w.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
    tools_menu.addAction(w.settings_action)
    view_menu = w.menuBar().addMenu("&View")
    view_menu.addAction(w.error_panel.toggleViewAction())
    w.theme_menu = ThemeMenu(w.app_settings.theme, w)
    view_menu.addMenu(w.theme_menu)
    help_menu = w.menuBar().addMenu("&Help")
    w.shortcuts_action = action(w, "&Keyboard shortcuts", w.show_shortcuts, "Ctrl+/")
    w.about_action = action(w, "&About LayerScope", w.show_about)
    w.about_action.setMenuRole(QAction.MenuRole.AboutRole)
    help_menu.addAction(w.shortcuts_action)
    help_menu.addAction(w.about_action)


def open_files(window: MainWindow) -> None:
    files, _ = QFileDialog.getOpenFileNames(window, "Open files")
    window.add_paths(files)


def open_folder(window: MainWindow) -> None:
    folder = QFileDialog.getExistingDirectory(window, "Open folder")
    if folder:
        window.add_paths([folder])


def show_settings(window: MainWindow) -> SettingsDialog:
    """Tools ▸ Settings: window-modal (the event loop keeps running); accepting applies the new settings."""
    dialog = SettingsDialog(window.app_settings, window)
    dialog.settings_accepted.connect(window.apply_settings)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog
