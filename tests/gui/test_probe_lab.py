"""The probe lab widget on a real engine thread: what it plots is what the sweep measured."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("pytestqt")

from deepfake_gui.core.jobs import Progress
from deepfake_gui.engine.probe_lab import LabResult, LayerScore, slugify
from deepfake_gui.gui.views.common import wait_for_background
from deepfake_gui.gui.views.probe_lab import ProbeLab
from deepfake_gui.gui.worker import EngineThread

N = 8
SWEEP_TIMEOUT_MS = 180_000


def make_reference_set(root: Path) -> dict[str, Path]:
    """Real: smooth colour fields; gen_a: the same made blocky; gen_b: with a checkerboard. Same name = same group."""
    rng = np.random.default_rng(0)
    folders = {name: root / name for name in ("real", "gen_a", "gen_b")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    checker = (np.indices((64, 64)).sum(axis=0) % 2 * 2 - 1)[..., None]
    for i in range(N):
        smooth = np.asarray(Image.fromarray((rng.random((8, 8, 3)) * 255).astype(np.uint8))
                            .resize((64, 64), Image.Resampling.BICUBIC))
        blocky = np.asarray(Image.fromarray(smooth).resize((8, 8), Image.Resampling.BILINEAR)
                            .resize((64, 64), Image.Resampling.NEAREST))
        grid = np.clip(smooth.astype(int) + 40 * checker, 0, 255).astype(np.uint8)
        for name, img in (("real", smooth), ("gen_a", blocky), ("gen_b", grid)):
            Image.fromarray(img).save(folders[name] / f"img{i}.png")
    return folders


@pytest.fixture(scope="module")
def refset(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_reference_set(tmp_path_factory.mktemp("labset"))


@pytest.fixture
def engine():
    engine = EngineThread()
    yield engine
    assert engine.stop()


@pytest.fixture
def lab(qtbot, engine: EngineThread, tmp_path: Path):
    lab = ProbeLab(engine, device="cpu", folds=3, staging=tmp_path / "staging")
    qtbot.addWidget(lab)
    lab.resize(1200, 800)
    lab.show()
    qtbot.waitUntil(lambda: lab.encoder_combo.count() > 0, timeout=10_000)
    yield lab
    wait_for_background()


def _wait_idle(qtbot, lab: ProbeLab) -> None:
    qtbot.waitUntil(lambda: lab._sweep_job is None and lab._tsne_job is None, timeout=SWEEP_TIMEOUT_MS)


def _xy(item) -> tuple[np.ndarray, np.ndarray]:
    x, y = item.getData()
    return np.asarray([] if x is None else x, float), np.asarray([] if y is None else y, float)


def test_sweep_draws_the_curve_maps_layers_and_saves(qtbot, lab: ProbeLab, refset: dict[str, Path]) -> None:
    from deepfake_gui.engine.detectors import known_detector_folders

    lab.add_real_folder(refset["real"])
    lab.add_fake_folder(refset["gen_a"])
    lab.add_fake_folder(refset["gen_b"], "checker")
    lab.set_encoder("test-efficientnet")
    assert lab.fake_folders() == [(str(refset["gen_a"]), "gen_a"), (str(refset["gen_b"]), "checker")]
    assert "random weights" in lab.encoder_combo.currentText()
    selected: list[int] = []
    lab.layer_selected.connect(selected.append)
    drawn: list[int] = []  # points on the curve at each redraw: it grows one layer at a time
    draw = lab._draw_curve
    lab._draw_curve = lambda scores: (drawn.append(len(scores)), draw(scores))  # type: ignore[method-assign]
    assert lab.run() is not None
    assert lab.run() is None and not lab.run_button.isEnabled()  # one sweep at a time
    assert lab.cancel_button.isEnabled() and lab.progress_bar.maximum() == 0  # busy until the engine reports
    _wait_idle(qtbot, lab)
    result = lab.result
    assert isinstance(result, LabResult), lab.status_label.text()
    # done says so, with where the detector is staged; never a stale "Sweeping…" or "at work"
    status = lab.status_label.text()
    assert status.startswith("Sweep done") and str(result.bundle_path) in status
    assert "Sweeping" not in status and "at work" not in status
    assert lab.progress_bar.format() == "done" and not lab.cancel_button.isEnabled()
    n_layers = len(result.layers)
    assert drawn == [0, *range(1, n_layers + 1), n_layers]

    # the curve is the sweep: the per-layer AUCs the bundle stores
    sweep = json.loads((result.bundle_path / "detector.json").read_text())["metrics"]["layer_sweep"]
    x, y = _xy(lab.auc_curve)
    assert x.tolist() == [float(r["layer"]) for r in sweep]
    assert np.allclose(y, [r["auc"] for r in sweep]) and np.allclose(y, [s.auc for s in result.layers])
    _, upper = _xy(lab.band_upper)
    assert np.allclose(upper, np.minimum([r["auc"] + r["auc_std"] for r in sweep], 1.0))
    assert lab.chosen_line.value() == result.chosen_layer and lab.selected_layer == result.chosen_layer
    assert selected == [result.chosen_layer]

    # the map shows the chosen layer's PCA; picking another layer on the curve redraws it
    assert np.allclose(np.column_stack(_xy(lab.scatter)), result.coords[result.chosen_layer])
    other = (result.chosen_layer + 1) % len(result.layers)
    spot = next(p for p in lab.auc_curve.scatter.points() if round(p.pos().x()) == other)
    lab._on_curve_clicked(lab.auc_curve, [spot])
    assert lab.selected_layer == other and selected[-1] == other and lab.selected_line.value() == other
    assert np.allclose(np.column_stack(_xy(lab.scatter)), result.coords[other])
    assert "PCA" in lab.map_label.text()

    # t-SNE on the engine thread, for the selected layer, with a busy bar and Cancel
    assert lab.compute_tsne() is not None
    assert lab.cancel_button.isEnabled() and lab.progress_bar.format().startswith("t-SNE of layer")
    _wait_idle(qtbot, lab)
    assert lab.progress_bar.format() == "done" and not lab.cancel_button.isEnabled()
    tsne = lab._tsne[(result.run_id, other)]
    assert "t-SNE" in lab.map_label.text()
    assert np.allclose(np.column_stack(_xy(lab.scatter)), tsne)

    # summary with the CI, and the warnings
    s = result.summary
    summary = lab.summary_label.text()
    assert f"{s['cv_auc']:.3f}" in summary and f"{s['cv_auc_ci95'][0]:.3f}" in summary
    assert f"{N} real, {2 * N} fake, in {N} groups" in summary and "checker" in summary
    assert "random weights" in lab.warnings_label.text()
    assert not lab.warnings_label.isHidden()

    # save and activate: a bundle folder the scans will find
    lab.name_edit.setText("Checker hunter")
    with qtbot.waitSignal(lab.detector_activated, timeout=10_000) as signal:
        assert lab.save_and_activate() is not None
    folder = Path(signal.args[0])
    assert (folder / "detector.json").is_file() and folder in known_detector_folders()
    assert json.loads((folder / "detector.json").read_text())["name"] == "Checker hunter"
    assert lab.save_and_activate() is None and "already saved" in lab.status_label.text()  # no silent overwrite


def test_an_error_shows_in_the_status_line_and_the_lab_stays_usable(qtbot, lab: ProbeLab,
                                                                       refset: dict[str, Path],
                                                                       tmp_path: Path) -> None:
    empty = tmp_path / "no_reals"
    empty.mkdir()
    lab.add_real_folder(empty)
    lab.add_fake_folder(refset["gen_a"])
    lab.set_encoder("test-efficientnet")
    lab.run()
    _wait_idle(qtbot, lab)
    status = lab.status_label.text()
    assert status.startswith("Sweep failed: no real files in") and str(empty) in status
    assert "LayerScopeError" not in status and "c62828" in lab.status_label.styleSheet()
    assert lab.result is None and lab.run_button.isEnabled() and not lab.save_button.isEnabled()

    lab.real_list.clear()
    lab.add_real_folder(refset["real"])
    lab.run()
    _wait_idle(qtbot, lab)
    assert isinstance(lab.result, LabResult), lab.status_label.text()
    assert lab.status_label.styleSheet() == "" and lab.save_button.isEnabled()
    assert any("one generator only" in w for w in lab.result.warnings)
    assert lab.name_edit.text() == "" and lab.name_edit.placeholderText() == lab.result.name
    saved = lab.save_and_activate()  # no name typed: saved under the detector's default name
    assert saved is not None and saved.name == slugify(lab.result.name) and (saved / "detector.json").is_file()


def test_cancel_and_other_jobs_are_ignored(qtbot, lab: ProbeLab, engine: EngineThread,
                                           refset: dict[str, Path]) -> None:
    # another view's job on the shared engine thread: its events must not reach the lab
    def foreign(_cancel):
        yield Progress(1, 2, "someone else's scan")
        yield LayerScore(0, "stem", 0.99, 0.0, 0.0, 0.0, 1.0, 0, 1)

    finished: list[str] = []
    engine.worker.finished.connect(finished.append)
    job = engine.submit(foreign, "other").job_id
    qtbot.waitUntil(lambda: job in finished, timeout=10_000)
    assert lab.scores == [] and _xy(lab.auc_curve)[1].size == 0
    assert lab.progress_bar.format() != "someone else's scan"

    lab.add_real_folder(refset["real"])
    lab.add_fake_folder(refset["gen_a"])
    lab.set_encoder("test-efficientnet")
    lab.run()
    lab.cancel()
    _wait_idle(qtbot, lab)
    assert lab.result is None and lab.status_label.text() == "Sweep cancelled."
    assert lab.run_button.isEnabled()


def test_status_follows_the_engines_step_not_a_stale_sweeping(lab) -> None:
    """Issue 22: after "layer sweep done" the status must not keep saying "Sweeping…" for minutes."""
    from deepfake_gui.core.jobs import Progress

    lab.show_status("Sweeping test-efficientnet…")
    lab._on_sweep_progress(Progress(5, 5, "layer sweep done"))  # what the sweep's handle delivers
    assert lab.status_label.text() == "Probe lab at work: layer sweep done… (Cancel stops it)"
    lab._on_sweep_progress(Progress(2, 6, "2-D map of layer 3/6"))
    assert "2-D map of layer 3/6" in lab.status_label.text() and "Sweeping" not in lab.status_label.text()
    lab._clear_results()
    assert "Sweeping" not in lab.summary_label.text()


def test_before_a_sweep_the_lab_says_what_to_do(qtbot, lab) -> None:
    from PySide6.QtWidgets import QScrollArea

    from deepfake_gui.gui.views.probe_lab import EMPTY_SUMMARY

    lab.resize(1270, 760)  # a 1280x800 screen: the inputs are shown whole, scrolled only vertically
    scroll = lab.findChild(QScrollArea)
    qtbot.waitUntil(lambda: scroll.viewport().width() >= scroll.widget().minimumSizeHint().width(), timeout=5000)
    assert not scroll.horizontalScrollBar().isVisible()

    assert lab.summary_label.text() == EMPTY_SUMMARY and "Run sweep" in EMPTY_SUMMARY
    assert lab.map_label.text().endswith("run a sweep first")
    assert not lab.cancel_button.isEnabled() and not lab.save_button.isEnabled()
