"""Cases in the GUI: a reopened case draws the same evidence views; the dialog and the controller."""

from __future__ import annotations

from pathlib import Path

import media_factory
import numpy as np
import pytest
from media_factory import needs_offline
from PIL import Image

from deepfake_gui.cases import CaseStore, list_cases
from deepfake_gui.core.results import ScanResult

pytest.importorskip("pytestqt")



@pytest.fixture(scope="module")
def reopened(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[ScanResult], list[ScanResult]]:
    """A real scan of an image, a WAV and a video with sound, stored in a case and read back."""
    from deepfake_gui.engine.detectors import resolve_detectors
    from deepfake_gui.engine.scan import ScanOptions, scan_job

    folder = tmp_path_factory.mktemp("case-views")
    rng = np.random.default_rng(2)
    Image.fromarray((rng.random((60, 80, 3)) * 255).astype(np.uint8)).save(folder / "picture.png")
    media_factory.write_mono_wav(folder / "voice.wav", 0.2 * np.sin(2 * np.pi * 180 * np.arange(24000) / 8000), 8000)
    media_factory.write_video(folder / "clip.mp4", width=64, height=48, frames=20, fps=10, pattern=False)
    paths = [folder / "picture.png", folder / "voice.wav", folder / "clip.mp4"]
    scanned = [e for e in scan_job(paths, ScanOptions(device="cpu"), detectors=resolve_detectors(device="cpu"))
               if isinstance(e, ScanResult)]
    assert [r.status for r in scanned] == ["ok"] * 3, [r.error for r in scanned]
    db = folder / "cases.sqlite"
    with CaseStore.create("views", db_path=db) as store:
        for r in scanned:
            store.add_result(r)
    with CaseStore.open("views", db_path=db) as store:
        return scanned, store.results()


def _same(a, b) -> None:
    assert type(a) is type(b)
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, list | tuple):
        for x, y in zip(a, b, strict=True):
            _same(x, y)
    else:
        assert a == b


@needs_offline
def test_a_reopened_case_draws_the_same_evidence(qtbot, reopened) -> None:
    from deepfake_gui.engine.explain import image_heatmap, probability_track
    from deepfake_gui.gui.views import VIEWS, evidence_widget_for

    scanned, back = reopened
    for original, result in zip(scanned, back, strict=True):
        _same(original.arrays, result.arrays)  # video frames and its audio track included
        widget = evidence_widget_for(result)
        qtbot.addWidget(widget)
        assert isinstance(widget.view, VIEWS[result.modality]), result.modality
    image, audio = back[0], back[1]
    shown = evidence_widget_for(image)
    qtbot.addWidget(shown)
    shown.resize(900, 900)
    shown.show()
    qtbot.waitExposed(shown)
    qtbot.waitUntil(lambda: shown.view.heatmap is not None, timeout=15_000)
    np.testing.assert_array_equal(shown.view.overlay_item.image, image_heatmap(scanned[0]).values)
    sound = evidence_widget_for(audio)
    qtbot.addWidget(sound)
    np.testing.assert_allclose(sound.view.score_track.curve.getData()[1],
                               probability_track(scanned[1], "audio").probability)


def _stand_in(path: Path, verdict: str = "fake") -> ScanResult:
    r = ScanResult(path=str(path), sha256="c" * 64, modality="image", verdict=verdict, probability=0.7)
    r.arrays = {"image/x": {"heatmap": np.eye(3, dtype=np.float32), "image_shape": (3, 3)}}
    return r


def test_case_dialog_new_rename_delete_open(qtbot, tmp_path: Path) -> None:
    from deepfake_gui.gui.cases import CaseDialog

    db = tmp_path / "cases.sqlite"
    for name in ("Beta", "alpha"):
        CaseStore.create(name, db_path=db).close()
    dialog = CaseDialog(db_path=db, current="beta")
    qtbot.addWidget(dialog)
    assert dialog.names() == ["alpha", "Beta"] and dialog.selected_name() == "Beta"
    with qtbot.waitSignal(dialog.case_renamed) as renamed:
        assert dialog.rename_selected("Gamma") == "Gamma"
    assert renamed.args == ["Beta", "Gamma"] and dialog.names() == ["alpha", "Gamma"]
    assert dialog.rename_selected("ALPHA") is None  # taken: said in the dialog, nothing changes
    assert dialog.error.isVisibleTo(dialog) and "already exists" in dialog.error.text()
    dialog.select("alpha")
    with qtbot.waitSignal(dialog.case_deleted):
        assert dialog.delete_selected() == "alpha"
    assert dialog.names() == ["Gamma"]
    assert dialog.new_case("bad/name") is None and "'/'" in dialog.error.text()
    assert dialog.new_case("  Delta ") == "Delta" and dialog.chosen == "Delta" and dialog.result() == 1
    other = CaseDialog(db_path=db)
    qtbot.addWidget(other)
    other.select("gamma")
    other.open_selected()
    assert other.chosen == "Gamma" and other.result() == 1
    assert [c.name for c in list_cases(db)] == ["Delta", "Gamma"]


def test_controller_stores_results_and_reopens_the_case(qtbot, tmp_path: Path, monkeypatch) -> None:
    from PySide6.QtWidgets import QMainWindow

    from deepfake_gui.gui.cases import CaseController

    window = QMainWindow()
    qtbot.addWidget(window)
    warnings: list[str] = []
    controller = CaseController(window, db_path=tmp_path / "cases.sqlite")
    monkeypatch.setattr(controller, "_warn", lambda title, message: warnings.append(message))
    actions = controller.add_actions(window.menuBar().addMenu("&File"))
    assert [a.text() for a in actions.values()] == ["Open &case…", "&New case…", "Rena&me case…", "C&lose case"]
    assert not actions["close"].isEnabled() and controller.record(_stand_in(tmp_path / "a.png")) is None

    with qtbot.waitSignal(controller.case_opened) as opened:
        assert controller.create_named("Harbour") == "Harbour"
    assert opened.args == ["Harbour", []] and actions["close"].isEnabled() and actions["rename"].isEnabled()
    assert controller.record(_stand_in(tmp_path / "a.png")) is not None
    assert controller.record(_stand_in(tmp_path / "b.png", "real")) is not None
    with qtbot.waitSignal(controller.case_renamed) as renamed:
        controller.rename_to("Harbour 2")
    assert renamed.args == ["Harbour 2"] and controller.current_name == "Harbour 2"
    with qtbot.waitSignal(controller.case_closed):
        controller.close_case()
    assert controller.current_name is None and not actions["rename"].isEnabled()

    with qtbot.waitSignal(controller.case_opened) as opened:
        controller.open_named("harbour 2")
    name, results = opened.args
    assert name == "Harbour 2" and [r.verdict for r in results] == ["fake", "real"]
    _same(results[0].arrays, _stand_in(tmp_path / "a.png").arrays)

    assert controller.open_named("nope") is None and "no case named 'nope'" in warnings[-1]
    assert controller.create_named("") is None and "cannot be empty" in warnings[-1]
    assert controller.current_name == "Harbour 2"  # a failed open keeps the open case
    bad = _stand_in(tmp_path / "c.png")
    bad.arrays = {"x": object()}
    with qtbot.waitSignal(controller.record_failed) as failed:
        assert controller.record(bad) is None
    assert failed.args[0] == bad.path and "not stored in case" in failed.args[1]


def test_an_empty_case_list_says_how_to_make_one(qtbot, tmp_path: Path) -> None:
    from deepfake_gui.gui.cases import CaseDialog

    dialog = CaseDialog(db_path=tmp_path / "cases.sqlite")
    qtbot.addWidget(dialog)
    assert dialog.names() == [] and dialog.empty_label.isVisibleTo(dialog)
    assert dialog.empty_label.text().startswith("No cases yet. New… makes one")
    assert dialog.new_case("First") == "First"
    dialog.refresh()
    assert not dialog.empty_label.isVisibleTo(dialog)
