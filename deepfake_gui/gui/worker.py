"""The engine's worker thread: one long-lived QThread that runs engine generators.

Why one thread for the app's lifetime: the GUI thread must never compute (the
window keeps drawing while files are scored), and the detectors' models stay warm
between jobs only if the same thread keeps them. Everything crosses threads by
queued signals with plain Python payloads; cancelling only sets a CancelToken.

Each submitted job gets its own ``JobHandle`` (gui/jobs.py): the worker tags every
event with its job id, and the ``EngineThread`` hands it to that job's handle on
the GUI thread. A view connects to the handles of the jobs it started and never
sees another job's events.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from deepfake_gui.core.jobs import Cancelled, CancelToken, Progress
from deepfake_gui.engine.scan import ScanOptions, scan_job
from deepfake_gui.gui.jobs import CANCELLED, FAILED, FINISHED, PROGRESS, RESULT, STARTED, JobHandle, JobRouter
from deepfake_gui.gui.models.common import ProgressClock as ProgressClock  # re-exported: the clock lives in gui/models
from deepfake_gui.gui.models.common import format_eta as format_eta
from deepfake_gui.gui.models.common import progress_fraction as progress_fraction

JobFactory = Callable[[CancelToken], Iterable[object]]  # called on the worker thread; returns an engine generator
DetectorResolver = Callable[[ScanOptions], list]
ScanFunction = Callable[..., Iterable[object]]  # scan_job's signature: (paths, options, cancel, detectors=...)

PROGRESS_INTERVAL_S = 0.05  # at most ~20 progress signals a second, so the event loop never floods


def _resolve_shipped(options: ScanOptions) -> list:
    """The engine's own detector resolution (imports torch: only ever called on the worker thread)."""
    from deepfake_gui.engine.detectors import resolve_detectors

    return resolve_detectors(options.detectors, options.device, options.use_defaults)


def _device_label(detectors: Sequence[Any], options: ScanOptions) -> str:
    """Where the encoders run, in words; the option itself when no encoder was loaded (no torch import)."""
    for active in detectors:
        device = getattr(getattr(active, "encoder", None), "device", None)
        if device is None:
            continue
        if isinstance(device, str):
            return device
        try:
            from deepfake_gui.engine.inventory import describe_device

            return describe_device(device)
        except Exception:
            return str(device)
    return str(options.device)


def describe_detectors(detectors: Sequence[Any], device: str) -> list[dict[str, Any]]:
    """Plain dicts for the GUI thread: it must not hold (or touch) the models themselves."""
    return [
        {"name": str(d.name), "modality": str(d.modality), "unavailable": d.unavailable,
         "random_init": bool(d.random_init), "device": device}
        for d in detectors
    ]


class EngineWorker(QObject):
    """Runs one job at a time on its thread; every job is a generator of Progress and results.

    Every signal carries the job's id. Ordering guarantee: for one job the GUI sees
    ``job_started(id)``, then its ``progress``/``result`` signals, then exactly one
    of ``finished``, ``failed`` or ``cancelled``.
    """

    job_started = Signal(str)
    progress = Signal(str, object)  # job id, core.jobs.Progress (throttled)
    result = Signal(str, object)  # job id, anything else the job yields (ScanResult for scans)
    finished = Signal(str)
    failed = Signal(str, str, str)  # job id, message, details (traceback)
    cancelled = Signal(str)
    detectors_ready = Signal(list)  # list of dicts: name, modality, unavailable, random_init, device

    def __init__(self, resolver: DetectorResolver | None = None, scan: ScanFunction | None = None,
                 progress_interval_s: float = PROGRESS_INTERVAL_S) -> None:
        super().__init__()
        self._resolver = resolver or _resolve_shipped
        self._scan = scan or scan_job
        self._interval = progress_interval_s
        self._detectors: list | None = None
        self._detectors_key: tuple | None = None
        self._tokens: dict[str, CancelToken] = {}
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- any thread
    def token(self, job_id: str) -> CancelToken:
        """The job's cancel token, created on first use (thread-safe: the GUI cancels jobs not yet started)."""
        with self._lock:
            return self._tokens.setdefault(job_id, CancelToken())

    def cancel(self, job_id: str | None = None) -> None:
        """Cancel one job, or every pending and running job; thread-safe, returns at once."""
        with self._lock:
            tokens = list(self._tokens.values()) if job_id is None else [self._tokens.get(job_id)]
        for token in tokens:
            if token is not None:
                token.cancel()

    def _forget(self, job_id: str) -> None:
        with self._lock:
            self._tokens.pop(job_id, None)

    # ---------------------------------------------------------- worker thread
    @Slot(str, object)
    def warm_up(self, job_id: str, options: ScanOptions) -> None:
        """Load the detectors before the first scan, so it starts at once."""
        self.job_started.emit(job_id)
        try:
            self._ensure_detectors(options)
        except Exception as exc:
            self.failed.emit(job_id, f"loading detectors failed: {type(exc).__name__}: {exc}",
                             traceback.format_exc())
        else:
            self.finished.emit(job_id)
        finally:
            self._forget(job_id)

    @Slot(str, object, object)
    def scan(self, job_id: str, paths: list[str], options: ScanOptions) -> None:
        """Scan files and folders with the cached detectors (resolved here, once, on first use)."""

        def events(cancel: CancelToken) -> Iterable[object]:
            if self._detectors is None or self._detectors_key != _detector_key(options):
                yield Progress(0, None, "loading detectors")
                self._ensure_detectors(options)
            cancel.raise_if_cancelled()
            yield from self._scan(paths, options, cancel, detectors=self._detectors)

        self.run_job(job_id, events)

    @Slot(str, object)
    def run_job(self, job_id: str, factory: JobFactory) -> None:
        """Drive any engine generator: throttled progress, results, and one terminal signal."""
        token = self.token(job_id)
        self.job_started.emit(job_id)
        job: Any = None
        throttle = _Throttle(self._interval)
        try:
            token.raise_if_cancelled()
            job = iter(factory(token))
            for event in job:
                if isinstance(event, Progress):
                    if throttle.should_emit(event):
                        self.progress.emit(job_id, event)
                else:
                    self.result.emit(job_id, event)
                token.raise_if_cancelled()  # also for generators that never check their token
        except Cancelled:
            self.cancelled.emit(job_id)
        except Exception as exc:
            self.failed.emit(job_id, f"{type(exc).__name__}: {exc}", traceback.format_exc())
        else:
            self.finished.emit(job_id)
        finally:
            close = getattr(job, "close", None)
            if close is not None:
                close()  # runs the generator's cleanup (open files, decoders) when it stopped early
            self._forget(job_id)

    def _ensure_detectors(self, options: ScanOptions) -> list:
        key = _detector_key(options)
        if self._detectors is None or self._detectors_key != key:
            if self._detectors_key is not None and self._detectors_key[-1] != key[-1]:
                from deepfake_gui.engine.inventory import release_warm_encoders

                release_warm_encoders()  # the warm encoders hold the old models folder's weights
            with _collector_paused():
                detectors = list(self._resolver(options))
            self._detectors, self._detectors_key = detectors, key
            self.detectors_ready.emit(describe_detectors(detectors, _device_label(detectors, options)))
        return self._detectors


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Hold off the cyclic garbage collector while the models load, then freeze what they allocated.

    Why: importing torch/transformers and building encoders allocates ~10^6 objects;
    each full collection that triggers meanwhile walks all of them while holding the
    GIL, starving the GUI thread for 100-400 ms at a time (measured on 2 CPU cores).
    Freezing moves the long-lived model objects out of later collections, so scans
    stay smooth too. Cost: reference cycles made during loading are never collected.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def _detector_key(options: ScanOptions) -> tuple:
    """What the loaded detectors depend on; the models folder (Settings) decides which weights encoders hold."""
    return (tuple(options.detectors), options.device, options.use_defaults,
            os.environ.get("LAYERSCOPE_MODELS_DIR", ""))


class _Throttle:
    """Lets a Progress through when the file count moves, else at most once per interval."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._last_at = float("-inf")
        self._last_key: tuple | None = None

    def should_emit(self, event: Progress) -> bool:
        now = time.monotonic()
        key = (event.done, event.total)
        if key != self._last_key or now - self._last_at >= self.interval_s:
            self._last_key, self._last_at = key, now
            return True
        return False


class EngineThread(QObject):
    """Owns the QThread and its worker; the GUI's only handle on the engine.

    Lives on the GUI thread. Jobs start by emitting a signal (never by calling the
    worker's slots directly), so they run on the worker's thread in submission order.
    Each ``submit``/``submit_scan``/``warm_up`` returns the job's ``JobHandle``: connect
    to its signals (they are emitted on the GUI thread) and call its ``cancel()``.
    """

    scan_requested = Signal(str, object, object)
    job_requested = Signal(str, object)
    warm_up_requested = Signal(str, object)

    def __init__(self, resolver: DetectorResolver | None = None, scan: ScanFunction | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.current_job_id: str | None = None  # the job the worker runs now (informational; routing is by handle)
        self.router = JobRouter(self)
        self.thread = QThread()
        self.thread.setObjectName("LayerScopeEngine")
        self.worker = EngineWorker(resolver, scan)
        self.worker.moveToThread(self.thread)
        queued = Qt.ConnectionType.QueuedConnection
        self.scan_requested.connect(self.worker.scan, queued)
        self.job_requested.connect(self.worker.run_job, queued)
        self.warm_up_requested.connect(self.worker.warm_up, queued)
        # bound slots of this GUI-thread object, queued: a lambda here would run on the worker thread
        self.worker.job_started.connect(self._on_job_started, queued)
        self.worker.progress.connect(self._on_progress, queued)
        self.worker.result.connect(self._on_result, queued)
        self.worker.finished.connect(self._on_finished, queued)
        self.worker.cancelled.connect(self._on_cancelled, queued)
        self.worker.failed.connect(self._on_failed, queued)
        self.thread.start()

    def submit_scan(self, paths: Sequence[str], options: ScanOptions | None = None, *,
                    parent: QObject | None = None) -> JobHandle:
        """Queue a scan; returns its handle at once (results are ScanResults)."""
        handle = self._open("scan", parent)
        self.scan_requested.emit(handle.job_id, [str(p) for p in paths], options or ScanOptions())
        return handle

    def submit(self, factory: JobFactory, kind: str = "job", *, parent: QObject | None = None) -> JobHandle:
        """Queue any engine generator: ``factory(cancel_token)`` is called on the worker thread.

        ``parent``: the view that started it; the handle (and its connections) dies with it.
        """
        handle = self._open(kind, parent)
        self.job_requested.emit(handle.job_id, factory)
        return handle

    def warm_up(self, options: ScanOptions | None = None, *, parent: QObject | None = None) -> JobHandle:
        """Load the detectors now (``detectors_ready`` follows); the handle reports a failure to load."""
        handle = self._open("warm-up", parent)
        self.warm_up_requested.emit(handle.job_id, options or ScanOptions())
        return handle

    def cancel(self, job: JobHandle | str | None = None) -> None:
        """Cancel one job (its handle or id), or all pending and running ones (None)."""
        self.worker.cancel(job.job_id if isinstance(job, JobHandle) else job)

    def is_running(self) -> bool:
        return self.thread.isRunning()

    def stop(self) -> bool:
        """Cancel everything, end the thread's event loop and wait for it (the running batch ends first)."""
        if not self.thread.isRunning():
            return True
        self.worker.cancel(None)
        self.thread.quit()
        return self.thread.wait()

    def __del__(self) -> None:
        """Safety net for an owner that never called stop(): Qt aborts the process if a running QThread dies."""
        with contextlib.suppress(RuntimeError, AttributeError):  # already deleted on the C++ side
            self.stop()

    def _open(self, kind: str, parent: QObject | None) -> JobHandle:
        handle = self.router.open(kind, parent=parent)
        handle.token = self.worker.token(handle.job_id)  # the token the worker checks
        return handle

    # worker -> handles, on the GUI thread, in the order the worker emitted
    @Slot(str)
    def _on_job_started(self, job_id: str) -> None:
        self.current_job_id = job_id
        self.router.deliver(job_id, STARTED)

    @Slot(str, object)
    def _on_progress(self, job_id: str, event: Progress) -> None:
        self.router.deliver(job_id, PROGRESS, event)

    @Slot(str, object)
    def _on_result(self, job_id: str, result: object) -> None:
        self.router.deliver(job_id, RESULT, result)

    @Slot(str)
    def _on_finished(self, job_id: str) -> None:
        self._ended(job_id)
        self.router.deliver(job_id, FINISHED)

    @Slot(str)
    def _on_cancelled(self, job_id: str) -> None:
        self._ended(job_id)
        self.router.deliver(job_id, CANCELLED)

    @Slot(str, str, str)
    def _on_failed(self, job_id: str, message: str, details: str) -> None:
        self._ended(job_id)
        self.router.deliver(job_id, FAILED, (message, details))

    def _ended(self, job_id: str) -> None:
        if self.current_job_id == job_id:
            self.current_job_id = None
