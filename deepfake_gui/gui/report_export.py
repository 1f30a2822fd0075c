"""File ▸ Export report: ask where, then render the report on the views' pool, never on the GUI thread.

The background job gets plain data only (results, a CaseMeta, a path), as
``run_in_background`` requires; the answer comes back through an ``ReportExport``
QObject that lives on the GUI thread and says what happened in the status bar.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QWidget

from deepfake_gui.core.results import ScanResult
from deepfake_gui.gui.views.common import run_in_background
from deepfake_gui.report import CaseMeta, write_report

FILTERS = "HTML report (*.html);;PDF report (*.pdf)"
_RUNNING: set[ReportExport] = set()  # PySide6 drops unreferenced QObjects: keep each export alive until done


class ReportExport(QObject):
    """One export in flight; ``finished(path)`` or ``failed(message)`` is emitted on the GUI thread."""

    finished = Signal(str)
    failed = Signal(str)

    def __init__(self, parent: QWidget | None, out: Path) -> None:
        super().__init__(parent)
        self.out = out
        self._relay = None

    def start(self, results: Sequence[ScanResult], case_meta: CaseMeta) -> None:
        job = functools.partial(write_report, list(results), self.out, case_meta)  # plain data only
        _RUNNING.add(self)
        self._status(f"Writing report {self.out.name}…")
        self._relay = run_in_background(job, self._on_done, self._on_failed)

    def _on_done(self, path: object) -> None:
        _RUNNING.discard(self)
        self._status(f"Report written: {path}")
        self.finished.emit(str(path))

    def _on_failed(self, message: str) -> None:
        _RUNNING.discard(self)
        self._status("Report not written")
        self.failed.emit(message)
        parent = self.parent()
        if isinstance(parent, QWidget):
            box = QMessageBox(QMessageBox.Icon.Warning, "Export report",
                              f"The report {self.out.name} could not be written:\n{message}", parent=parent)
            box.open()  # window-modal, never blocks the event loop

    def _status(self, text: str) -> None:
        window = self.parent().window() if isinstance(self.parent(), QWidget) else None
        if isinstance(window, QMainWindow):
            window.statusBar().showMessage(text, 10_000)


def default_name(case_meta: CaseMeta | None) -> str:
    stem = re.sub(r"[^\w.-]+", "_", (case_meta.name if case_meta and case_meta.name else "layerscope")).strip("_")
    return f"{stem or 'layerscope'}_report.html"


def export_report(parent: QWidget | None, results: Sequence[ScanResult],
                  case_meta: CaseMeta | dict | None = None, start_dir: str | Path | None = None) -> Path | None:
    """Ask for a file name and start writing the report there; returns that path (None if cancelled).

    The report is written in the background; connect to ``parent.findChild(ReportExport)``'s
    ``finished``/``failed`` or watch the status bar. ``case_meta`` may be a CaseMeta or a dict of its fields.
    """
    if isinstance(case_meta, dict):
        case_meta = CaseMeta(**case_meta)
    case_meta = case_meta or CaseMeta(source="the results open in the app")
    if not results:
        QMessageBox.information(parent, "Export report", "There are no scan results to report yet.")
        return None
    start = Path(start_dir or Path.home()) / default_name(case_meta)
    name, chosen_filter = QFileDialog.getSaveFileName(parent, "Export report", str(start), FILTERS)
    if not name:
        return None
    out = Path(name)
    if out.suffix.lower() not in (".html", ".htm", ".pdf"):
        out = out.with_suffix(".pdf" if "pdf" in chosen_filter.lower() else ".html")
    ReportExport(parent, out).start(results, case_meta)
    return out
