"""QApplication start-up, kept apart so the CLI imports Qt only when asked for the GUI."""

from __future__ import annotations

import sys


def run_app(paths: list[str] | None = None) -> int:
    from PySide6.QtWidgets import QApplication

    from deepfake_gui.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("LayerScope")
    window = MainWindow(paths or [])
    window.show()
    return app.exec()
