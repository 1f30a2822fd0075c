"""The main window's jobs on the engine thread: scans, the search for moved files, loading the detectors.

Each job is submitted here and its handle connected here: every event goes to the window's
model (``WindowModel``, gui/models/main_window.py), then ``changed`` asks the window to draw
the model again. ``scanned`` carries each ScanResult (a row for the table), ``relocations``
what a search for moved files found (the table's rows follow their files). The handles are
children of this object, itself a child of the window, so a closed window gets no late event.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from deepfake_gui.engine.relocate import Relocations
from deepfake_gui.engine.scan import ScanOptions
from deepfake_gui.gui.jobs import JobHandle
from deepfake_gui.gui.models.main_window import Scan, WindowModel


class ScanJobs(QObject):
    """Submits the window's jobs and hands their events to its model; see the module docstring."""

    changed = Signal()
    scanned = Signal(object)
    relocations = Signal(object)

    def __init__(self, engine: Any, model: WindowModel, parent: QObject) -> None:
        super().__init__(parent)
        self.engine, self.model = engine, model

    def scan(self, paths: list[str], options: ScanOptions) -> JobHandle:
        handle = self.engine.submit_scan(paths, options, parent=self)
        scan = self.model.scan_submitted(handle, paths)
        handle.on(
            started=self._then(self.model.job_started),
            progress=self._then(self.model.job_progress),
            result=functools.partial(self._on_scan_result, scan),
            ended=self._then(self.model.scan_ended, scan),
        )
        self.changed.emit()
        return handle

    def find_moved(self, wanted: list[Any], folder: str) -> JobHandle:
        """Look for ``wanted`` files by SHA-256 in ``folder``."""
        handle = self.engine.submit(self.model.find_moved(wanted, folder), "relocate", parent=self)
        handle.on(
            started=self._then(self.model.job_started),
            progress=self._then(self.model.job_progress),
            result=self._on_relocations,
            ended=self._then(self.model.relocate_ended),
        )
        self.model.relocate_job = handle
        self.changed.emit()
        return handle

    def warm_up(self, options: ScanOptions) -> JobHandle:
        """Load the detectors for ``options`` now; a failure to load goes to the Problems list."""
        handle = self.engine.warm_up(options, parent=self)
        handle.failed.connect(self._then(self.model.warm_up_failed))
        return handle

    def _then(self, method: Callable[..., Any], *bound: Any) -> Callable[..., None]:
        """A receiver that hands its arguments to a model method, then says the model changed."""
        return functools.partial(self._call, method, *bound)

    def _call(self, method: Callable[..., Any], *args: Any) -> None:
        method(*args)
        self.changed.emit()

    def _on_scan_result(self, scan: Scan, result: object) -> None:
        if self.model.scan_result(scan, result):
            self.scanned.emit(result)
        self.changed.emit()

    def _on_relocations(self, result: object) -> None:
        if isinstance(result, Relocations):
            self.relocations.emit(result)
