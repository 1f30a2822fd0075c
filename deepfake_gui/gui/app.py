"""QApplication start-up, kept apart so the CLI imports Qt only when asked for the GUI."""

from __future__ import annotations

import sys


def run_app(paths: list[str] | None = None) -> int:
    from PySide6.QtWidgets import QApplication

    from deepfake_gui.gui.main_window import MainWindow, default_settings
    from deepfake_gui.gui.settings import AppSettings
    from deepfake_gui.gui.theme import apply_theme

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("LayerScope")
    app.setApplicationName("LayerScope")
    app.setDesktopFileName("layerscope")  # docks match the window to installer/layerscope.desktop
    _set_icon(app)
    apply_theme(app, AppSettings.load(default_settings()).theme)  # before any plot exists
    # with no files to scan yet, load the detectors in the background so the first drop starts at once
    window = MainWindow(paths or [], warm_up=not paths)
    app.aboutToQuit.connect(window.shutdown)  # the engine thread must end before Qt tears down
    window.show()
    return app.exec()


def _set_icon(app) -> None:
    from PySide6.QtGui import QIcon

    from deepfake_gui.core.config import resources_dir

    icon = resources_dir() / "icons" / "layerscope.svg"
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))
