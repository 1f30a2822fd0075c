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

    @Slot(str, object)
    def on_progress(self, _job_id: str, event: object) -> None:
        self._add("progress", event)

    @Slot(str, object)
    def on_result(self, _job_id: str, result: object) -> None:
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
    first = engine.submit_scan(paths, ScanOptions(device="cpu")).job_id
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
    job = engine.submit(lambda cancel: _ticker(1000, cancel), kind="tick").job_id
    qtbot.waitUntil(lambda: len(rec.of("progress")) >= 2, timeout=5_000)
    t0 = time.monotonic()
    engine.cancel(job)
    assert rec.wait_for(qtbot, "cancelled", timeout=5_000) == [job]
    assert time.monotonic() - t0 < 1.0
    assert rec.of("finished") == [] and rec.of("result") == []


def test_cancel_all_also_drops_queued_jobs(qtbot, engine) -> None:
    rec = Recorder(engine)
    first = engine.submit(lambda cancel: _ticker(1000, cancel)).job_id
    second = engine.submit(lambda cancel: _ticker(5, cancel)).job_id
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
    job = engine.submit(careless).job_id
    qtbot.waitUntil(lambda: bool(rec.of("progress")), timeout=5_000)
    engine.cancel(job)
    assert rec.wait_for(qtbot, "cancelled", timeout=5_000) == [job]


def test_a_failing_job_reports_and_the_next_job_runs(qtbot, engine) -> None:
    def broken(_cancel: CancelToken):
        yield Progress(0, 1)
        raise ValueError("boom")

    rec = Recorder(engine)
    bad = engine.submit(broken).job_id
    good = engine.submit(lambda cancel: _ticker(2, cancel, 0.0)).job_id
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


# --- job handles: each job's events reach its own handle only -------------------------------


class HandleLog(QObject):
    """Records one handle's signals (as a view's slots would), on the GUI thread."""

    def __init__(self, handle) -> None:
        super().__init__()
        self.events: list[tuple[str, object]] = []
        self.threads: set[int] = set()
        handle.started.connect(lambda: self._add("started", None))
        handle.progress.connect(lambda p: self._add("progress", p))
        handle.result.connect(lambda r: self._add("result", r))
        handle.finished.connect(lambda: self._add("finished", None))
        handle.cancelled.connect(lambda: self._add("cancelled", None))
        handle.failed.connect(lambda message, details: self._add("failed", (message, details)))

    def _add(self, kind: str, payload: object) -> None:
        self.threads.add(threading.get_ident())
        self.events.append((kind, payload))

    def kinds(self) -> list[str]:
        return [k for k, _ in self.events]

    def of(self, kind: str) -> list[object]:
        return [p for k, p in self.events if k == kind]


def _tagged(tag: str, n: int, cancel: CancelToken):
    for i in range(n):
        cancel.raise_if_cancelled()
        time.sleep(0.005)
        yield Progress(i, n, f"{tag} {i}")
        yield f"{tag}-{i}"


def test_two_jobs_in_flight_deliver_only_to_their_own_handles(qtbot, engine) -> None:
    first = engine.submit(lambda cancel: _tagged("a", 5, cancel), kind="a")
    second = engine.submit(lambda cancel: _tagged("b", 3, cancel), kind="b")
    assert first.job_id != second.job_id and first.state == "queued"
    log_a, log_b = HandleLog(first), HandleLog(second)
    qtbot.waitUntil(lambda: first.done and second.done, timeout=10_000)
    assert log_a.of("result") == [f"a-{i}" for i in range(5)]
    assert log_b.of("result") == [f"b-{i}" for i in range(3)]
    assert {p.message.split()[0] for p in log_a.of("progress")} == {"a"}
    assert {p.message.split()[0] for p in log_b.of("progress")} == {"b"}
    for log in (log_a, log_b):  # started first, exactly one terminal signal last, all on the GUI thread
        assert log.kinds()[0] == "started" and log.kinds()[-1] == "finished"
        assert log.kinds().count("finished") == 1 and not log.of("failed") and not log.of("cancelled")
        assert log.threads == {threading.get_ident()}
    assert first.state == second.state == "finished"


def test_a_handle_cancels_its_own_job_only(qtbot, engine) -> None:
    slow = engine.submit(lambda cancel: _ticker(1000, cancel), kind="slow")
    queued = engine.submit(lambda cancel: _ticker(3, cancel, 0.0), kind="next")
    log_slow, log_next = HandleLog(slow), HandleLog(queued)
    qtbot.waitUntil(lambda: len(log_slow.of("progress")) >= 2, timeout=5_000)
    t0 = time.monotonic()
    slow.cancel()
    qtbot.waitUntil(lambda: slow.done and queued.done, timeout=5_000)
    assert time.monotonic() - t0 < 1.0
    assert log_slow.kinds()[-1] == "cancelled" and log_slow.of("result") == [] and slow.state == "cancelled"
    assert log_next.kinds()[-1] == "finished" and log_next.of("result") == ["done"]


def test_a_handle_reports_its_jobs_failure(qtbot, engine) -> None:
    def broken(_cancel: CancelToken):
        yield Progress(0, 1)
        raise ValueError("boom")

    bad = engine.submit(broken)
    good = engine.submit(lambda cancel: _ticker(2, cancel, 0.0))
    log_bad, log_good = HandleLog(bad), HandleLog(good)
    qtbot.waitUntil(lambda: bad.done and good.done, timeout=5_000)
    ((message, details),) = log_bad.of("failed")
    assert message == "ValueError: boom" and "Traceback" in details and bad.state == "failed"
    assert log_bad.kinds()[-1] == "failed" and "finished" not in log_bad.kinds()
    assert log_good.of("failed") == [] and log_good.of("result") == ["done"]


def test_a_scan_and_warm_up_have_handles(qtbot, engine, media_files) -> None:
    warm = engine.warm_up(ScanOptions(device="cpu"))
    scan = engine.submit_scan([str(media_files["png"])], ScanOptions(device="cpu"))
    log_warm, log_scan = HandleLog(warm), HandleLog(scan)
    qtbot.waitUntil(lambda: warm.done and scan.done, timeout=20_000)
    assert log_warm.kinds() == ["started", "finished"]
    (result,) = log_scan.of("result")
    assert isinstance(result, ScanResult) and Path(result.path).name == "rgb.png"


def test_a_failing_warm_up_reports_on_its_handle(qtbot) -> None:
    def broken(_options: ScanOptions) -> list:
        raise RuntimeError("no weights")

    eng = EngineThread(resolver=broken)
    try:
        handle = eng.warm_up(ScanOptions(device="cpu"))
        log = HandleLog(handle)
        qtbot.waitUntil(lambda: handle.done, timeout=5_000)
        ((message, _details),) = log.of("failed")
        assert message == "loading detectors failed: RuntimeError: no weights"
    finally:
        eng.stop()


def test_a_handle_dies_with_its_parent_and_gets_no_more_events(qtbot, engine) -> None:
    from PySide6.QtWidgets import QWidget

    owner = QWidget()
    job = engine.submit(lambda cancel: _ticker(1000, cancel), parent=owner)
    seen: list[object] = []
    job.progress.connect(seen.append)
    qtbot.waitUntil(lambda: bool(seen), timeout=5_000)
    engine.cancel(job)
    owner.deleteLater()
    qtbot.waitUntil(lambda: engine.current_job_id is None and not engine.router.open_handles(), timeout=5_000)


def test_run_in_background_returns_a_handle(qtbot) -> None:
    from deepfake_gui.gui.views.common import run_in_background, wait_for_background

    ok = run_in_background(lambda: 6 * 7)
    bad = run_in_background(lambda: 1 / 0)
    log_ok, log_bad = HandleLog(ok), HandleLog(bad)
    assert wait_for_background(5000)
    qtbot.waitUntil(lambda: ok.done and bad.done, timeout=5000)
    assert log_ok.kinds() == ["started", "result", "finished"] and log_ok.of("result") == [42]
    assert log_bad.kinds() == ["started", "failed"]
    assert log_bad.of("failed")[0][0] == "ZeroDivisionError: division by zero"
    assert log_ok.threads == log_bad.threads == {threading.get_ident()}


def test_a_cancelled_background_call_delivers_no_result(qtbot) -> None:
    from deepfake_gui.gui.views.common import run_in_background, wait_for_background

    gate = threading.Event()
    handle = run_in_background(lambda: gate.wait(5) and "late answer")
    log = HandleLog(handle)
    handle.cancel()
    gate.set()
    assert wait_for_background(5000)
    qtbot.waitUntil(lambda: handle.done, timeout=5000)
    assert log.kinds()[-1] == "cancelled" and log.of("result") == []


def test_handle_on_connects_slots_by_signal_name(qapp) -> None:
    from deepfake_gui.gui.jobs import JobHandle

    handle = JobHandle("job-1")
    got: list[object] = []
    assert handle.on(result=got.append, failed=lambda message, details: got.append(message)) is handle
    handle.result.emit(7)
    handle.failed.emit("broke", "traceback")
    assert got == [7, "broke"]
    with pytest.raises(TypeError, match="no signal 'done'"):
        handle.on(done=got.append)
    ends: list[tuple] = []
    other = JobHandle("job-2").on(ended=lambda how, *args: ends.append((how, *args)))
    other.finished.emit()
    other.cancelled.emit()
    other.failed.emit("broke", "traceback")
    assert ends == [("finished",), ("cancelled",), ("failed", "broke", "traceback")]
