"""A detector on a random-weight encoder is scored for testing but never gives a verdict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from media_factory import write_mono_wav as _wav
from media_factory import write_tone_hiss_set

from deepfake_gui.core.results import ScanResult
from deepfake_gui.engine.scan import ScanOptions, scan_job

RATE = 16000


@pytest.fixture(scope="module")
def random_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from deepfake_gui.engine.train import TrainOptions, train_job

    root = tmp_path_factory.mktemp("toy")
    write_tone_hiss_set(root, rate=RATE)
    out = root / "bundle"
    for _ in train_job(TrainOptions(data=root, encoder="test-ge2e", out=out, sweep=False, layer=1, folds=3,
                                    device="cpu", attribution=False)):
        pass
    return out


def test_random_init_detector_never_gives_a_verdict(random_bundle: Path, tmp_path: Path) -> None:
    from deepfake_gui.engine.detectors import resolve_detectors

    detectors = resolve_detectors([str(random_bundle)], "cpu", defaults=False)
    assert detectors[0].random_init and detectors[0].unavailable is None
    clip = _wav(tmp_path / "clip.wav", 0.2 * np.sin(2 * np.pi * 220 * np.arange(2 * RATE) / RATE))
    (result,) = [e for e in scan_job([clip], ScanOptions(device="cpu"), detectors=detectors)
                 if isinstance(e, ScanResult)]
    assert result.status == "ok"
    assert result.verdict is None and result.probability is None and result.score is None
    (info,) = result.detectors.values()
    assert info["verdict"] is None and info["score"] is not None  # shown for testing, not as a verdict
    assert any("random weights" in c and "not a verdict" in c for c in result.caveats)
    assert any(c.startswith("no verdict") for c in result.caveats)
