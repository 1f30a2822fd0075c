"""Job handles: one object per background job, carrying that job's events alone.

The shape is napari's ``thread_worker``: whoever starts a job gets a handle and
connects to *its* signals; nobody filters other jobs' events. Both ways of running
work in the background return one:

- ``EngineThread.submit(factory)`` / ``submit_scan(...)``: engine generators on the
  one long-lived engine thread (gui/worker.py);
- ``run_in_background(fn)``: short loads (a frame, a waveform) on the views' pool
  (gui/views/common.py).

Threads never touch a handle. A background thread posts ``(job id, event, payload)``
to a ``JobRouter`` through a queued signal; the router lives on the GUI thread, finds
the handle by id and emits the handle's signal there. So every handle signal is
emitted on the GUI thread, in the order the job produced its events, and a receiver
may be any callable (a bound slot, a lambda, a partial).

For one job a handle emits ``started``, then its ``progress`` and ``result`` signals,
then exactly one of ``finished``, ``failed`` or ``cancelled``. A handle made with a
``parent`` dies with it (and so do its connections): a view passes itself, and a
job's events never reach a view that is gone.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal, Slot

from deepfake_gui.core.jobs import CancelToken

STARTED, PROGRESS, RESULT = "started", "progress", "result"
FINISHED, FAILED, CANCELLED = "finished", "failed", "cancelled"
TERMINAL = (FINISHED, FAILED, CANCELLED)


def new_job_id(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:8]}"


SIGNALS = ("started", "progress", "result", "finished", "failed", "cancelled")


class JobHandle(QObject):
    """One background job, seen from the GUI thread: its signals, its state and ``cancel()``."""

    started = Signal()
    progress = Signal(object)  # core.jobs.Progress (throttled on the engine thread)
    result = Signal(object)  # each non-Progress object the job yields (or the function's return value)
    finished = Signal()
    failed = Signal(str, str)  # message, details (a traceback)
    cancelled = Signal()

    def __init__(self, job_id: str, token: CancelToken | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.job_id = job_id
        self.token = token or CancelToken()
        self.state = "queued"  # -> "running" -> "finished" | "failed" | "cancelled"

    def on(self, ended: Any = None, **slots: Any) -> JobHandle:
        """Connect slots by signal name (``handle.on(result=..., failed=...)``, like napari's ``connect=``).

        ``ended``: one receiver for every way a job ends, called as ``ended("finished")``,
        ``ended("cancelled")`` or ``ended("failed", message, details)``.
        """
        if ended is not None:
            for name in TERMINAL:
                getattr(self, name).connect(functools.partial(ended, name))
        for name, slot in slots.items():
            if name not in SIGNALS:
                raise TypeError(f"JobHandle has no signal {name!r}; it has {', '.join(SIGNALS)}")
            getattr(self, name).connect(slot)
        return self

    def cancel(self) -> None:
        """Ask the job to stop at its next check; thread-safe and returns at once (``cancelled`` follows)."""
        self.token.cancel()

    @property
    def done(self) -> bool:
        """The job ended (its terminal signal has been emitted)."""
        return self.state in TERMINAL

    def __repr__(self) -> str:
        return f"<JobHandle {self.job_id} {self.state}>"

    def _deliver(self, event: str, payload: Any) -> None:
        """Emit the event on this handle (GUI thread only; called by the router)."""
        if event == STARTED:
            self.state = "running"
            self.started.emit()
        elif event == PROGRESS:
            self.progress.emit(payload)
        elif event == RESULT:
            self.result.emit(payload)
        elif event == FAILED:
            self.state = FAILED
            message, details = payload
            self.failed.emit(message, details)
        elif event in (FINISHED, CANCELLED):
            self.state = event
            (self.finished if event == FINISHED else self.cancelled).emit()


class JobRouter(QObject):
    """Lives on the GUI thread; delivers each posted event to its job's handle.

    Holds every open handle until its terminal event, so a handle nobody else
    references still gets its events (and is never destroyed off the GUI thread).
    """

    posted = Signal(str, str, object)  # job id, event, payload: emitted from any thread

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._open: dict[str, JobHandle] = {}
        self.posted.connect(self.deliver, Qt.ConnectionType.QueuedConnection)

    def open(self, kind: str, token: CancelToken | None = None, parent: QObject | None = None) -> JobHandle:
        """A new handle (GUI thread); its events may be posted from now on."""
        handle = JobHandle(new_job_id(kind), token, parent)
        self._open[handle.job_id] = handle
        return handle

    def post(self, job_id: str, event: str, payload: Any = None) -> None:
        """Any thread: queue ``event`` for the job's handle."""
        self.posted.emit(job_id, event, payload)

    def handle(self, job_id: str) -> JobHandle | None:
        return self._open.get(job_id)

    def open_handles(self) -> list[JobHandle]:
        return list(self._open.values())

    @Slot(str, str, object)
    def deliver(self, job_id: str, event: str, payload: Any = None) -> None:
        """GUI thread: emit ``event`` on the job's handle; a terminal event closes it."""
        handle = self._open.pop(job_id, None) if event in TERMINAL else self._open.get(job_id)
        if handle is None or not shiboken6.isValid(handle):  # unknown, or its parent (a view) is gone
            return
        handle._deliver(event, payload)
        if event in TERMINAL and handle.parent() is not None:
            handle.setParent(None)  # ended: freed once its owner drops it, not when the owner dies
