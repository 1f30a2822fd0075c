"""The engine thread: jobs run off the GUI thread, in order, cancellable, with cached detectors."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Slot

from deepfake_gui.core.jobs import CancelToken, Progress
from deepfake_gui.core.results import ScanResult
from deepfake_gui.engine.scan import ScanOptions
from deepfake_gui.gui.worker import EngineThread, ProgressClock, format_eta, progress_fraction


class Recorder(QObject):
    """Lives on the GUI thread, so the worker's signals reach it queued, like the window's slots."""

    def __init__(self, engine: EngineThread) -> None:
        super().__init__()
        self.events: list[tuple[str, object]] = []
        self.threads: set[int] = set()
        w = engine.worker
        w.job_started.connect(self.on_started)
        w.progress.connect(self.on_progress)
        w.result.connect(self.on_result)
        w.finished.connect(self.on_finished)
        w.cancelled.connect(self.on_cancelled)
        w.failed.connect(self.on_failed)
        w.detectors_ready.connect(self.on_detectors)

    def _add(self, kind: str, payload: object) -> None:
        self.threads.add(threading.get_ident())
        self.events.append((kind, payload))

    def of(self, kind: str) -> list[object]:
        return [p for k, p in self.events if k == kind]

    def wait_for(self, qtbot, kind: str, count: int = 1, timeout: int = 10_000) -> list[object]:
        """Wait until the GUI thread has *received* the signal (qtbot.waitSignal on a worker signal
        returns when it is emitted, before the queued signals sent earlier reach their slots)."""
        qtbot.waitUntil(lambda: len(self.of(kind)) >= count, timeout=timeout)
        return self.of(kind)

    @Slot(str)
    def on_started(self, job_id: str) -> None:
        self._add("started", job_id)

    @Slot(object)
    def on_progress(self, event: object) -> None:
        self._add("progress", event)

    @Slot(object)
    def on_result(self, result: object) -> None:
        self._add("result", result)

    @Slot(str)
    def on_finished(self, job_id: str) -> None:
        self._add("finished", job_id)

    @Slot(str)
    def on_cancelled(self, job_id: str) -> None:
        self._add("cancelled", job_id)

    @Slot(str, str, str)
    def on_failed(self, job_id: str, message: str, details: str) -> None:
        self._add("failed", (job_id, message, details))

    @Slot(list)
    def on_detectors(self, detectors: list) -> None:
        self._add("detectors", detectors)


@dataclass
class FakeDetector:
    """What the worker reads from an engine.detectors.ActiveDetector."""

    name: str
    modality: str
    unavailable: str | None = None
    random_init: bool = False
    encoder: object | None = None


@pytest.fixture
def engine(qtbot):
    calls: list[int] = []

    def resolver(_options: ScanOptions) -> list:
        calls.append(threading.get_ident())
        return []  # no detectors: the real scan_job still probes every file and yields its result

    eng = EngineThread(resolver=resolver)
    eng.resolver_calls = calls
    yield eng
    eng.stop()
    assert not eng.thread.isRunning()


def _ticker(n: int, cancel: CancelToken, step_s: float = 0.01):
    for i in range(n):
        cancel.raise_if_cancelled()
        time.sleep(step_s)
        yield Progress(i, n, f"step {i}")
    yield "done"


def test_scan_runs_on_the_worker_thread_and_detectors_are_cached(qtbot, engine, media_files) -> None:
    rec = Recorder(engine)
    paths = [str(media_files["png"]), str(media_files["tone_8k_mono.wav"])]
    first = engine.submit_scan(paths, ScanOptions(device="cpu"))
    assert rec.wait_for(qtbot, "finished", timeout=20_000) == [first]
    engine.submit_scan(paths[:1], ScanOptions(device="cpu"))
    rec.wait_for(qtbot, "finished", 2, timeout=20_000)
    results = rec.of("result")
    assert [Path(r.path).name for r in results] == ["rgb.png", "tone_8k_mono.wav", "rgb.png"]
    assert all(isinstance(r, ScanResult) and r.status == "ok" for r in results)
    assert [r.modality for r in results] == ["image", "audio", "image"]
    # resolved once, lazily, on the worker thread; both jobs reused it
    assert len(engine.resolver_calls) == 1 and engine.resolver_calls[0] != threading.get_ident()
    assert rec.of("detectors") == [[]]
    assert rec.threads == {threading.get_ident()}  # every signal was delivered on the GUI thread
    kinds = [k for k, _ in rec.events if k in ("started", "finished")]
    assert kinds == ["started", "finished", "started", "finished"]
    last = rec.of("progress")[-1]
    assert (last.done, last.total) == (1, 1)
    assert engine.current_job_id is None


def test_detectors_ready_describes_each_detector(qtbot) -> None:
    dets = [FakeDetector("img", "image"), FakeDetector("voice", "audio", unavailable="no weights"),
            FakeDetector("rnd", "image", random_init=True)]
    eng = EngineThread(resolver=lambda _o: dets)
    rec = Recorder(eng)
    try:
        eng.warm_up(ScanOptions(device="cpu"))
        (described,) = rec.wait_for(qtbot, "detectors")
        assert [d["name"] for d in described] == ["img", "voice", "rnd"]
        assert described[1]["unavailable"] == "no weights" and described[2]["random_init"] is True
        assert {d["device"] for d in described} == {"cpu"}
    finally:
        eng.stop()


def test_cancel_mid_job_ends_with_cancelled(qtbot, engine) -> None:
    rec = Recorder(engine)
    job = engine.submit(lambda cancel: _ticker(1000, cancel), kind="tick")
    qtbot.waitUntil(lambda: len(rec.of("progress")) >= 2, timeout=5_000)
    t0 = time.monotonic()
    engine.cancel(job)
    assert rec.wait_for(qtbot, "cancelled", timeout=5_000) == [job]
    assert time.monotonic() - t0 < 1.0
    assert rec.of("finished") == [] and rec.of("result") == []


def test_cancel_all_also_drops_queued_jobs(qtbot, engine) -> None:
    rec = Recorder(engine)
    first = engine.submit(lambda cancel: _ticker(1000, cancel))
    second = engine.submit(lambda cancel: _ticker(5, cancel))
    qtbot.waitUntil(lambda: bool(rec.of("progress")), timeout=5_000)
    engine.cancel()
    assert rec.wait_for(qtbot, "cancelled", 2, timeout=5_000) == [first, second]
    assert rec.of("result") == []


def test_a_job_that_does_not_check_its_token_is_still_cancelled(qtbot, engine) -> None:
    def careless(_cancel: CancelToken):
        for i in range(10_000):
            time.sleep(0.005)
            yield Progress(i, 10_000)

    rec = Recorder(engine)
    job = engine.submit(careless)
    qtbot.waitUntil(lambda: bool(rec.of("progress")), timeout=5_000)
    engine.cancel(job)
    assert rec.wait_for(qtbot, "cancelled", timeout=5_000) == [job]


def test_a_failing_job_reports_and_the_next_job_runs(qtbot, engine) -> None:
    def broken(_cancel: CancelToken):
        yield Progress(0, 1)
        raise ValueError("boom")

    rec = Recorder(engine)
    bad = engine.submit(broken)
    good = engine.submit(lambda cancel: _ticker(2, cancel, 0.0))
    rec.wait_for(qtbot, "finished")
    ((job_id, message, details),) = rec.of("failed")
    assert job_id == bad and message == "ValueError: boom" and "Traceback" in details
    assert rec.of("finished") == [good] and rec.of("result") == ["done"]


def test_progress_is_throttled_but_file_steps_get_through(qtbot, engine) -> None:
    def chatty(_cancel: CancelToken):
        for done in range(3):
            for item in range(500):
                yield Progress(done, 3, "", item, 500)
        yield Progress(3, 3)

    rec = Recorder(engine)
    engine.submit(chatty)
    rec.wait_for(qtbot, "finished")
    seen = rec.of("progress")
    assert len(seen) < 40  # 1501 events in well under a second
    assert [p.done for p in seen][-1] == 3 and {0, 1, 2} <= {p.done for p in seen}


def test_stop_during_a_job_ends_the_thread(qtbot) -> None:
    eng = EngineThread(resolver=lambda _o: [])
    rec = Recorder(eng)
    eng.submit(lambda cancel: _ticker(10_000, cancel))
    qtbot.waitUntil(lambda: bool(rec.of("progress")), timeout=5_000)
    t0 = time.monotonic()
    assert eng.stop() is True
    assert not eng.thread.isRunning() and time.monotonic() - t0 < 2.0


def test_progress_fraction_counts_batches_inside_the_current_file() -> None:
    assert progress_fraction(Progress(0, None)) is None
    assert progress_fraction(Progress(0, 0)) == 1.0
    assert progress_fraction(Progress(1, 4)) == 0.25
    assert progress_fraction(Progress(1, 4, "", 1, 2)) == pytest.approx(0.375)
    assert progress_fraction(Progress(1, 4, "", 3, None)) == 0.25  # unknown batch count: whole files only
    assert progress_fraction(Progress(4, 4, "", 1, 2)) == 1.0


def test_progress_clock_eta() -> None:
    clock = ProgressClock()
    clock.update(Progress(0, None, "loading detectors"), now=0.0)
    assert clock.fraction is None and clock.eta_s is None
    clock.update(Progress(0, 4), now=10.0)  # the clock starts here, not while detectors load
    clock.update(Progress(1, 4), now=12.0)
    assert clock.fraction == 0.25 and clock.eta_s == pytest.approx(6.0)
    assert format_eta(clock.eta_s) == "0:06" and format_eta(3725) == "1:02:05" and format_eta(None) == ""
