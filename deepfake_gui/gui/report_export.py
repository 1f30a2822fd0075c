"""File ▸ Export report: ask where, then render the report on the views' pool, never on the GUI thread.

The background job gets plain data only (results, a CaseMeta, a path and an
``ExportState``), as ``run_in_background`` requires; the answer comes back through a
``ReportExport`` QObject on the GUI thread. A report of a few videos takes a minute
(figures, then the PDF), so a progress dialog names the file being drawn, offers
Cancel, and a message with the output path says when it is done.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QProgressDialog, QWidget

from deepfake_gui.core.results import ScanResult
from deepfake_gui.gui.views.common import run_in_background
from deepfake_gui.report import CaseMeta, write_report

FILTERS = "HTML report (*.html);;PDF report (*.pdf)"
_RUNNING: set[ReportExport] = set()  # PySide6 drops unreferenced QObjects: keep each export alive until done


POLL_MS = 100  # the dialog reads the job's progress at this pace (no signal floods from the pool thread)


class ExportCancelled(Exception):
    """Raised inside the job at the next file once the user pressed Cancel."""


@dataclass
class ExportState:
    """Plain, thread-safe progress shared with the job (a QObject must not cross into the pool thread)."""

    done: int = 0
    total: int = 0
    name: str = ""
    cancel: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def update(self, done: int, total: int, name: str) -> None:
        if self.cancel.is_set():
            raise ExportCancelled
        with self.lock:
            self.done, self.total, self.name = done, total, name

    def read(self) -> tuple[int, int, str]:
        with self.lock:
            return self.done, self.total, self.name


def _write(results: list[ScanResult], out: Path, case_meta: CaseMeta, state: ExportState) -> str:
    """The background job: the report, or nothing at all when cancelled (a half-written file is removed)."""
    try:
        path = write_report(results, out, case_meta, state.update)
    except ExportCancelled:
        return ""
    if state.cancel.is_set():  # cancelled during the PDF step, which cannot stop half-way
        with contextlib.suppress(OSError):
            Path(path).unlink()
        return ""
    return str(path)


class ReportExport(QObject):
    """One export in flight; ``finished(path)``, ``failed(message)`` or ``cancelled()`` on the GUI thread."""

    finished = Signal(str)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, parent: QWidget | None, out: Path) -> None:
        super().__init__(parent)
        self.out = out
        self.state = ExportState()
        self.dialog: QProgressDialog | None = None
        self.message_box: QMessageBox | None = None
        self._job = None  # the export's JobHandle
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._show_progress)

    def start(self, results: Sequence[ScanResult], case_meta: CaseMeta) -> None:
        state, out, items = self.state, self.out, list(results)
        _RUNNING.add(self)
        self._status(f"Writing report {self.out.name}…")
        parent = self.parent()
        self.dialog = QProgressDialog(f"Writing {self.out.name}…", "Cancel", 0, len(items),
                                      parent if isinstance(parent, QWidget) else None)
        self.dialog.setObjectName("reportProgress")
        self.dialog.setWindowTitle("Export report")
        self.dialog.setWindowModality(Qt.WindowModality.WindowModal)
        self.dialog.setMinimumDuration(0)
        self.dialog.setAutoClose(False)
        self.dialog.setAutoReset(False)
        self.dialog.canceled.connect(self.cancel)
        self.dialog.show()
        self._timer.start()
        self._job = run_in_background(lambda: _write(items, out, case_meta, state), self._on_done, self._on_failed)

    def cancel(self) -> None:
        """Stop at the next file (the PDF step runs to its end, then its file is removed)."""
        self.state.cancel.set()
        if self.dialog is not None:
            self.dialog.setLabelText("Cancelling…")
        self._status("Cancelling the report…")

    def _show_progress(self) -> None:
        if self.dialog is None or self.state.cancel.is_set():
            return
        done, total, name = self.state.read()
        if total and done >= total:  # every figure drawn: the HTML is written, or the PDF laid out
            self.dialog.setRange(0, 0)  # busy: no per-page progress from WeasyPrint
            what = "PDF" if self.out.suffix.lower() == ".pdf" else "HTML"
            self.dialog.setLabelText(f"Writing the {what} file {self.out.name}…")
        else:
            self.dialog.setValue(done)
            self.dialog.setLabelText(f"Drawing the figures of file {done + 1} of {total}: {name}" if total
                                     else f"Writing {self.out.name}…")

    def _finish(self) -> None:
        _RUNNING.discard(self)
        self._timer.stop()
        if self.dialog is not None:
            self.dialog.close()

    def _on_done(self, path: object) -> None:
        self._finish()
        if not path:
            self._status("Report cancelled: nothing written")
            self.cancelled.emit()
            return
        self._status(f"Report written: {path}")
        self._tell(QMessageBox.Icon.Information, f"The report was written to\n{path}")
        self.finished.emit(str(path))

    def _on_failed(self, message: str) -> None:
        self._finish()
        self._status("Report not written")
        self.failed.emit(message)
        self._tell(QMessageBox.Icon.Warning, f"The report {self.out.name} could not be written:\n{message}")

    def _tell(self, icon: QMessageBox.Icon, text: str) -> None:
        parent = self.parent()
        if isinstance(parent, QWidget):
            self.message_box = QMessageBox(icon, "Export report", text, parent=parent)
            self.message_box.setObjectName("reportMessage")
            self.message_box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.message_box.open()  # window-modal, never blocks the event loop

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
