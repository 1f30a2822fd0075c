"""WindowModel without Qt: scans and the queue, progress, moved files, detectors, messages, enabled actions."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from deepfake_gui.core.jobs import Progress
from deepfake_gui.core.results import ScanResult
from deepfake_gui.engine.relocate import Relocations, relocate_job
from deepfake_gui.engine.scan import ScanOptions
from deepfake_gui.gui.models.main_window import (
    MAX_RECENT,
    Problem,
    WindowModel,
    empty_table_text,
    recent_list,
    remembered,
    window_title,
)
from gui_models.stand_ins import Handle


@pytest.fixture
def model() -> WindowModel:
    m = WindowModel(ScanOptions(device="cpu"))
    m.set_idle("Ready")
    return m


def test_a_scan_fills_the_queue_counts_its_files_and_ends_idle(model: WindowModel) -> None:
    assert not model.is_scanning() and model.bar.text == "Ready" and model.bar.value == 0
    scan = model.scan_submitted(Handle(), ["/a.png", "/b.wav"])
    assert model.queue() == ["/a.png", "/b.wav"] and model.is_scanning()
    assert model.take_notices() == [("2 item(s) queued", 0)]
    model.job_started()
    assert model.bar.maximum == 0 and model.bar.text == "starting…"
    model.job_progress(Progress(1, 2, "a.png: batch 5", 5, 10))
    assert model.bar.maximum == 1000 and model.bar.value == 750 and model.bar.text == "1/2 files"
    assert model.progress_message == "a.png: batch 5"
    model.job_progress(Progress(0, None, "loading detectors"))
    assert model.bar.maximum == 0 and model.bar.text == "loading detectors"
    assert model.scan_result(scan, ScanResult("/a.png", modality="image", verdict="fake"))
    assert model.scan_result(scan, ScanResult("/b.wav", status="error", error="/b.wav: not a media file"))
    assert not model.scan_result(scan, Progress(2, 2))
    assert model.take_problems() == [Problem("b.wav", "not a media file", "/b.wav\n\n/b.wav: not a media file")]
    model.rows = 2
    model.scan_ended(scan, "finished")
    assert model.queue() == [] and not model.is_scanning()
    assert model.take_notices() == [("Scanned 2 file(s), 1 with errors", 10_000)]
    assert model.bar.maximum == 1 and model.bar.value == 1 and model.bar.text == "Scanned 2 file(s), 1 with errors"
    assert model.progress_message == ""


def test_cancel_and_failure_while_another_scan_waits(model: WindowModel) -> None:
    first, second = Handle(), Handle()
    one = model.scan_submitted(first, ["/a.png"])
    two = model.scan_submitted(second, ["/b.png", "/c.png"])
    model.cancel()
    assert first.cancelled and second.cancelled and model.progress_message == "Cancelling…"
    model.scan_ended(one, "cancelled")
    assert model.queue() == ["/b.png", "/c.png"] and model.is_scanning()
    assert model.take_notices()[-1] == ("Scan cancelled", 10_000)
    assert model.bar.text != "Scan cancelled"  # still busy: the second scan's bar stays
    model.scan_ended(two, "failed", "RuntimeError: weights file is corrupt", "Traceback")
    assert model.take_problems() == [Problem("Scan failed", "RuntimeError: weights file is corrupt", "Traceback")]
    assert model.bar.text == "Scan failed: see Problems" and model.bar.value == 0  # no rows


def test_moved_files_are_looked_for_once_and_the_rows_follow_them(model: WindowModel, tmp_path: Path) -> None:
    here = tmp_path / "here.png"
    here.write_bytes(b"x")
    assert model.moved_files_wanted([ScanResult(str(here), sha256="a" * 64)]) is None
    assert model.take_notices() == [("Every file in the table is where it was scanned", 10_000)]
    gone = [ScanResult(str(tmp_path / f"gone{i}.png"), sha256=f"{i}" * 64) for i in range(2)]
    wanted = model.moved_files_wanted(gone)
    assert [w.path for w in wanted] == [r.path for r in gone]
    factory = model.find_moved(wanted, "/evidence")
    assert factory.func is relocate_job and factory.args == (wanted, ["/evidence"])
    assert model.bar.text == "Looking for 2 moved file(s) by SHA-256 in /evidence…" and model.bar.maximum == 0
    model.relocate_job = Handle()
    assert model.is_scanning() and model.moved_files_wanted(gone) is None  # one search at a time
    found = Relocations({gone[0].path: "/evidence/exhibit.png"}, [gone[1].path], ["/evidence"], 3)
    model.relocations_found(found, {gone[0].path: "/evidence/exhibit.png"})
    assert model.relocated == {"/evidence/exhibit.png": gone[0].path}
    assert model.take_problems() == [Problem("gone1.png", "not found by its SHA-256 in /evidence", gone[1].path)]
    model.relocate_ended("finished")
    assert model.relocate_job is None and not model.is_scanning()
    assert model.take_notices()[-1] == ("Found 1 of 2 moved file(s) by SHA-256 in /evidence: gone0.png", 10_000)
    model.relocations_found(Relocations({}, ["/x.png"], ["/e"]), {})
    assert model.relocate_message == "None of the 1 missing file(s) is in /e"


def _bundle(folder: Path, modality: str) -> str:
    folder.mkdir(parents=True)
    (folder / "detector.json").write_text(json.dumps({"name": folder.name, "modality": modality}))
    return str(folder)


def test_an_activated_detector_replaces_only_its_modality(model: WindowModel, tmp_path: Path) -> None:
    assert not model.use_defaults_enabled
    first, audio, second = (_bundle(tmp_path / n, m) for n, m in (("a", "image"), ("v", "audio"), ("b", "image")))
    for folder in (first, audio, second):
        model.activate_detector(folder)
    assert model.scan_options.detectors == [audio, second] and model.use_defaults_enabled
    assert model.take_notices()[-1][0] == ("Detector b is active for the next scans "
                                           "(Scan ▸ Use default detectors undoes it)")
    model.use_default_detectors()
    assert model.scan_options.detectors == [] and not model.use_defaults_enabled


@dataclasses.dataclass(frozen=True)
class Prefs:
    show_threshold: bool = True
    show_band: bool = True
    frames_per_second: float = 2.0

    def scan_options(self, base: ScanOptions) -> ScanOptions:
        return dataclasses.replace(base, frames_per_second=self.frames_per_second)


def test_settings_change_the_next_scans_and_say_when_the_evidence_is_redrawn(model: WindowModel) -> None:
    model.activate_detector("/nowhere")
    assert not model.settings_applied(Prefs(), Prefs(frames_per_second=1.0), reload=False)
    assert model.scan_options.frames_per_second == 1.0 and model.scan_options.detectors == ["/nowhere"]
    assert model.take_notices()[-1] == ("Settings saved", 10_000)
    model.select(ScanResult("/a.png"))
    assert model.settings_applied(Prefs(), Prefs(show_band=False), reload=True)
    assert model.take_notices()[-1] == ("Settings saved; reloading the detectors", 10_000)


def test_selection_cases_and_what_the_table_and_title_say(model: WindowModel) -> None:
    result = ScanResult("/a.png")
    assert model.select(result) and not model.select(result) and model.selected is result
    model.case_opened("Harbour", 3)
    assert model.selected is None and model.take_notices() == [
        ("Case Harbour: 3 file(s); new scans are added to it", 10_000)]
    model.case_record_failed("/x/a.png", "disk full")
    assert model.take_problems() == [Problem("a.png", "not saved in the case: disk full", "/x/a.png\n\ndisk full")]
    model.explorer_selected("/x/b.png", shown=False)
    assert model.take_notices() == [("b.png is hidden by the table's filters", 8000)]
    assert window_title("Harbour").startswith("Harbour — LayerScope ") and window_title(None).startswith("LayerScope")
    assert model.shown_text(1, 6) == "1 of 6 shown"
    assert empty_table_text(2, 6, False) == ""
    assert empty_table_text(0, 4, False).startswith("No file matches the filters (4 hidden)")
    assert empty_table_text(0, 0, True) == "Scanning: each file appears here as soon as it is scored."
    assert empty_table_text(0, 0, False).startswith("No files yet.")


def test_recent_files_and_an_empty_report(model: WindowModel) -> None:
    assert recent_list("/one") == ["/one"] and recent_list("") == [] and recent_list(None) == []
    recent = remembered([], [f"/f{i}" for i in range(12)])
    assert recent == [f"/f{i}" for i in range(11, 1, -1)] and len(recent) == MAX_RECENT
    assert remembered(recent, ["/f5"])[:2] == ["/f5", "/f11"] and remembered(recent, ["/f5"]).count("/f5") == 1
    assert model.report_meta([], None) == (False, None)
    assert model.take_notices() == [("Nothing to report: scan files or open a case first", 10_000)]
    assert model.report_meta([ScanResult("/a.png")], None) == (True, None)
    model.relocated["/new.png"] = "/old.png"
    ok, meta = model.report_meta([ScanResult("/new.png")], None)
    assert ok and meta.relocated == {"/new.png": "/old.png"}
