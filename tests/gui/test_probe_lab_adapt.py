"""The probe lab's "Add genuine references" flow on a real engine thread: check, histogram, adapt, save, activate."""

from __future__ import annotations

import shutil
from pathlib import Path

import media_factory
import numpy as np
import pytest
from PIL import Image

pytest.importorskip("pytestqt")

from deepfake_gui.engine.adapt import AdaptReport, ReferenceCheck
from deepfake_gui.gui.views.common import wait_for_background
from deepfake_gui.gui.views.probe_lab import ProbeLab, ReferencePanel
from deepfake_gui.gui.worker import EngineThread
from deepfake_gui.probes.bundle import load_bundle

TIMEOUT_MS = 180_000


@pytest.fixture(scope="module")
def base_and_refs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A base detector (test-efficientnet) trained on smooth vs blocky images, 12 tinted "new camera" references."""
    from deepfake_gui.engine.train import TrainOptions, TrainReport, train_job

    root = tmp_path_factory.mktemp("adapt-gui")
    rng = np.random.default_rng(0)
    media_factory.write_smooth_blocky_set(root / "train", 8, rng)  # the references continue the same stream
    opts = TrainOptions(data=root / "train", encoder="test-efficientnet", out=root / "base", sweep=False, layer=2,
                        folds=3, device="cpu", attribution=False)
    base = next(e for e in train_job(opts) if isinstance(e, TrainReport)).bundle_path
    refs = root / "camera"
    refs.mkdir()
    for i in range(12):
        img = media_factory.smooth_field(rng, (60, 20, -40)).astype(int) + rng.integers(-12, 13, (64, 64, 3))
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(refs / f"cam{i:02d}.png")
    suspects = root / "suspects"
    suspects.mkdir()
    shutil.copy(refs / "cam00.png", suspects / "same_as_a_reference.png")
    shutil.copy(root / "train" / "fake" / "blocky" / "img0.png", suspects / "blocky.png")
    return base, refs, suspects


@pytest.fixture
def engine():
    engine = EngineThread()
    yield engine
    assert engine.stop()


@pytest.fixture
def lab(qtbot, engine: EngineThread, tmp_path: Path):
    lab = ProbeLab(engine, device="cpu", folds=3, staging=tmp_path / "staging", detectors_dir=tmp_path / "detectors")
    qtbot.addWidget(lab)
    lab.show()
    yield lab
    wait_for_background()


def _idle(qtbot, panel: ReferencePanel) -> None:
    qtbot.waitUntil(lambda: panel._job is None, timeout=TIMEOUT_MS)


def test_check_draws_the_histograms_then_adapt_saves_and_activates(qtbot, lab: ProbeLab, monkeypatch,
                                                                   base_and_refs, tmp_path: Path) -> None:
    from PySide6.QtWidgets import QFileDialog

    base, refs, suspects = base_and_refs
    panel = lab.references
    panel.set_base(base)
    picks = iter([str(refs), str(suspects)])
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: next(picks)))
    panel.add_folder_button.click()
    panel.add_suspect_button.click()
    assert [panel.folder_list.item(0).text(), panel.suspect_list.item(0).text()] == [str(refs), str(suspects)]
    panel.reference_name.setText("Device: test camera")

    assert panel.run_check() is not None
    assert panel.run_check() is None  # one job at a time
    assert lab.cancel_button.isEnabled() and lab.progress_bar.maximum() == 0  # busy, and Cancel stops it
    _idle(qtbot, panel)
    assert lab.progress_bar.format() == "done" and not lab.cancel_button.isEnabled()
    assert lab.status_label.text().startswith("References checked")
    check = panel.check
    assert isinstance(check, ReferenceCheck), lab.status_label.text()
    # the histograms are the base detector's probabilities of the references and of the suspects
    x, y = panel.ref_hist.getData()
    probs = [r.probability for r in check.usable]
    assert np.allclose(x, ReferencePanel.BINS) and np.allclose(y, np.histogram(probs, ReferencePanel.BINS)[0])
    assert y.sum() == 12
    _, ys = panel.suspect_hist.getData()
    assert ys.sum() == 2
    assert panel.threshold_line.value() == pytest.approx(check.band[1])
    assert [Path(p).name for p in check.overlaps] == ["same_as_a_reference.png"]
    assert "also references" in panel.info_label.text()
    assert panel.flagged_list.count() == len(check.flagged)

    activated: list[str] = []
    lab.detector_activated.connect(activated.append)
    assert panel.run_adapt() is not None
    _idle(qtbot, panel)
    assert isinstance(panel.report, AdaptReport), lab.status_label.text()
    assert len(activated) == 1, lab.status_label.text()
    saved = Path(activated[0])
    assert saved.parent == tmp_path / "detectors" and (saved / "MODEL_CARD.md").is_file()
    bundle = load_bundle(saved)
    refs_record = bundle.meta["adaptation"]["reference_set"]
    assert refs_record["name"] == "Device: test camera" and refs_record["n_files"] == 12
    assert bundle.meta["adaptation"]["base"]["name"] == load_bundle(base).name
    assert "saved" in panel.info_label.text() and "made it active" in lab.status_label.text()
    assert str(saved) in lab.status_label.text()  # the completion message gives the output path
    assert lab.progress_bar.format() == "done" and not lab.cancel_button.isEnabled()


def test_adapt_shows_progress_and_cancel_stops_it(qtbot, lab: ProbeLab, base_and_refs) -> None:
    base, refs, _ = base_and_refs
    panel = lab.references
    panel.set_base(base)
    panel.add_folder(refs)
    assert panel.run_adapt() is not None
    assert lab.cancel_button.isEnabled() and not panel.adapt_button.isEnabled()
    qtbot.waitUntil(lambda: "Adapting:" in lab.status_label.text() or panel._job is None, timeout=TIMEOUT_MS)
    lab.cancel_button.click()
    _idle(qtbot, panel)
    if panel.report is None:  # cancelled before it finished (a fast machine may finish first)
        assert lab.status_label.text() == "Adapting cancelled" and lab.progress_bar.format() == "cancelled"
    assert not lab.cancel_button.isEnabled() and panel.adapt_button.isEnabled()


def test_adapt_without_folders_says_so(qtbot, lab: ProbeLab, base_and_refs) -> None:
    panel = lab.references
    panel.set_base(base_and_refs[0])
    assert panel.run_adapt() is None
    assert "genuine files" in lab.status_label.text()


def test_too_few_references_fails_with_the_reason(qtbot, lab: ProbeLab, base_and_refs, tmp_path: Path) -> None:
    base, refs, _ = base_and_refs
    few = tmp_path / "few"
    few.mkdir()
    for p in sorted(refs.iterdir())[:3]:
        shutil.copy(p, few / p.name)
    panel = lab.references
    panel.set_base(base)
    panel.add_folder(few)
    assert panel.run_adapt() is not None
    _idle(qtbot, panel)
    assert "at least 10" in lab.status_label.text() and panel.report is None
