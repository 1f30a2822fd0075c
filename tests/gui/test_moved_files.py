"""Issue 22 item 4 in the app: a file moved after its scan is found again by SHA-256 in a folder the user picks."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSettings

from deepfake_gui.core.hashing import sha256_file
from deepfake_gui.core.results import ScanResult
from deepfake_gui.engine.scan import ScanOptions
from deepfake_gui.gui.main_window import MainWindow
from deepfake_gui.gui.worker import EngineThread

pytest.importorskip("pytestqt")


def _scanned(path: Path) -> ScanResult:
    size = path.stat().st_size
    return ScanResult(path=str(path), sha256=sha256_file(path), modality="image", verdict="real", probability=0.1,
                      media={"modality": "image", "width": 30, "height": 20, "byte_size": size},
                      integrity={"size": size, "unchanged_during_scan": True})


@pytest.fixture
def window(qtbot, tmp_path: Path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(None, engine=EngineThread(resolver=lambda _o: []), settings=settings,
                     options=ScanOptions(device="cpu"))
    qtbot.addWidget(win)
    yield win
    win.close()


@pytest.fixture
def moved(tmp_path: Path) -> tuple[list[ScanResult], Path]:
    """Two pictures as scanned, then one moved (and renamed) into a new folder; the other stays."""
    rng = np.random.default_rng(1)
    (tmp_path / "scan").mkdir()
    paths = []
    for name in ("first.png", "second.png"):
        path = tmp_path / "scan" / name
        Image.fromarray((rng.random((20, 30, 3)) * 255).astype(np.uint8)).save(path)
        paths.append(path)
    results = [_scanned(p) for p in paths]
    new_home = tmp_path / "evidence" / "sorted"
    new_home.mkdir(parents=True)
    shutil.move(paths[0], new_home / "exhibit-1.png")
    return results, new_home


def test_a_missing_file_offers_a_folder_and_the_row_follows_it(qtbot, window, moved, monkeypatch, tmp_path) -> None:
    from PySide6.QtWidgets import QFileDialog

    results, new_home = moved
    window.model.extend(results)
    window.select_row(0)
    evidence = window.evidence_widget()
    assert evidence.missing_bar is not None and results[0].path in evidence.missing_bar.label.text()
    window.select_row(1)
    assert window.evidence_widget().missing_bar is None  # the second file is where it was scanned

    window.select_row(0)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(tmp_path / "evidence")))
    window.evidence_widget().missing_bar.button.click()
    assert window.is_scanning() and window.cancel_button.isEnabled()  # a job with its progress bar and Cancel
    qtbot.waitUntil(lambda: not window.is_scanning(), timeout=20_000)

    found = str(new_home / "exhibit-1.png")
    assert window.model.result_at(0).path == found and window.model.row_of(found) == 0
    assert window.relocated == {found: results[0].path}
    message = window.statusBar().currentMessage()
    assert message == f"Found 1 of 1 moved file(s) by SHA-256 in {tmp_path / 'evidence'}: first.png"
    assert window.selected_result().path == found and window.evidence_widget().missing_bar is None
    assert window.find_moved_files(str(tmp_path)) is None  # nothing is missing any more
    assert "where it was scanned" in window.statusBar().currentMessage()


def test_the_exported_report_says_where_the_file_was_found(qtbot, window, moved, monkeypatch, tmp_path) -> None:
    from PySide6.QtWidgets import QFileDialog

    from deepfake_gui.gui.report_export import ReportExport

    results, new_home = moved
    window.model.extend(results)
    window.find_moved_files(str(new_home))
    qtbot.waitUntil(lambda: not window.is_scanning(), timeout=20_000)
    target = tmp_path / "report.html"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a: (str(target), "")))
    window.export_report()
    (job,) = window.findChildren(ReportExport)
    with qtbot.waitSignal(job.finished, timeout=60_000):
        pass
    page = target.read_text(encoding="utf-8")
    assert f"Not at its stored path {results[0].path}: found at the path above by its SHA-256" in page
    assert str(new_home / "exhibit-1.png") in page and "no longer at" not in page


def test_a_file_in_no_folder_is_listed_as_a_problem(qtbot, window, moved, tmp_path) -> None:
    results, _new_home = moved
    window.model.extend(results)
    (tmp_path / "empty").mkdir()
    assert window.find_moved_files(str(tmp_path / "empty")) is not None
    qtbot.waitUntil(lambda: not window.is_scanning(), timeout=20_000)
    assert window.statusBar().currentMessage() == f"None of the 1 missing file(s) is in {tmp_path / 'empty'}"
    assert window.error_panel.count() == 1 and window.model.result_at(0).path == results[0].path


def test_the_open_case_follows_a_moved_file(qtbot, window, moved, tmp_path) -> None:
    """Found again while a case is open: the case stores the new path, so it opens there next time."""
    from deepfake_gui.cases import CaseStore

    results, new_home = moved
    window.cases.db_path = tmp_path / "cases.sqlite"
    assert window.cases.create_named("Harbour") == "Harbour"
    for result in results:
        window.cases.record(result)
    window.model.extend(results)
    window.find_moved_files(str(new_home))
    qtbot.waitUntil(lambda: not window.is_scanning(), timeout=20_000)
    found = str(new_home / "exhibit-1.png")
    with CaseStore.open("Harbour", db_path=tmp_path / "cases.sqlite") as store:
        first, second = store.entries(arrays=False)
        assert (first.path, first.result.path, first.moved_from) == (found, found, results[0].path)
        assert (second.path, second.moved_from) == (results[1].path, None)
    assert window.error_panel.count() == 0
    from deepfake_gui.report.sources import case_report_inputs

    _results, meta = case_report_inputs("Harbour", db_path=tmp_path / "cases.sqlite")
    assert meta.relocated == {found: results[0].path}  # a report of the case says where it was scanned
