"""Evidence integrity and provenance in every scan result (the detectors are stood in for: this is about the file)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from deepfake_gui.core.results import ScanResult
from deepfake_gui.engine import scan as scan_module
from deepfake_gui.engine.scan import ScanOptions, file_state, scan_job


def _png_with_parameters(path: Path) -> Path:
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a lighthouse at dusk\nSteps: 30, Sampler: Euler a, CFG scale: 7, Seed: 1, "
                                "Model: sd_xl_base_1.0")
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((64, 64, 3)) * 255).astype(np.uint8)).save(path, pnginfo=info)
    return path


def _stand_in(verdict: str, touch: bool = False):
    """Replaces scan_file: a fixed verdict, optionally appending to the evidence file as a writer would."""

    def scan_file(path, info, detectors, options, cancel, done=0, total=1, decoder=None):
        if touch:
            with open(path, "ab") as fh:
                fh.write(b"\0" * 16)
        yield from ()
        return ScanResult(path=str(path), verdict=verdict, probability=0.1 if verdict == "real" else 0.9)

    return scan_file


def _scan(paths, **options) -> list[ScanResult]:
    return [e for e in scan_job(paths, ScanOptions(device="cpu", **options), detectors=[])
            if isinstance(e, ScanResult)]


def test_the_evidence_file_is_unchanged_and_its_state_recorded(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(scan_module, "scan_file", _stand_in("fake"))
    path = _png_with_parameters(tmp_path / "gen.png")
    digest, state = hashlib.sha256(path.read_bytes()).hexdigest(), file_state(path)
    (result,) = _scan([path])
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest and file_state(path) == state
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gen.png"]  # nothing written beside it
    assert result.status == "ok" and result.sha256 == digest
    integrity = result.integrity
    assert integrity["unchanged_during_scan"] is True and integrity["size"] == state["size"]
    assert integrity["tool_version"] and integrity["started_utc"].endswith("+00:00")


def test_a_file_modified_during_the_scan_is_an_error(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(scan_module, "scan_file", _stand_in("real", touch=True))
    path = _png_with_parameters(tmp_path / "growing.png")
    (result,) = _scan([path])
    assert result.status == "error" and "changed during the scan" in result.error
    assert result.integrity["unchanged_during_scan"] is False


def test_generator_metadata_is_reported_and_disagreement_is_a_caveat(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(scan_module, "scan_file", _stand_in("real"))
    path = _png_with_parameters(tmp_path / "sd.png")
    (result,) = _scan([path])
    hints = result.provenance["generator_hints"]
    assert hints and hints[0]["source"].startswith("png:parameters")
    assert result.provenance["ai_metadata"] is True
    assert result.verdict == "real" and result.probability == pytest.approx(0.1)  # the score is untouched
    assert any("Provenance disagrees" in c for c in result.caveats)
    assert "provenance" in result.to_json_dict()
    (skipped,) = _scan([path], provenance=False)
    assert skipped.provenance is None
