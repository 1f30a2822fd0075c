"""Decoding in a worker process: a crash or a hang in one file is that file's error line, and the scan goes on."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deepfake_gui.core.errors import MediaError
from deepfake_gui.core.results import ScanResult
from deepfake_gui.engine import isolate
from deepfake_gui.engine.isolate import IsolatedProber
from deepfake_gui.engine.scan import ScanOptions, scan_job


def _png(path: Path) -> Path:
    Image.fromarray(np.full((16, 16, 3), 90, np.uint8)).save(path)
    return path


def _crash_or_hang(raw_path: bytes):
    """Stands in for the worker's probe: a native crash on 'crash*', a hang on 'hang*', else the real probe."""
    name = os.path.basename(os.fsdecode(raw_path))
    if name.startswith("crash"):
        os._exit(139)  # as a segfault in a decoder would end the process
    if name.startswith("hang"):
        time.sleep(60)
    return isolate._probe_in_worker(raw_path)


def test_a_decoder_crash_and_a_hang_are_error_lines_and_the_scan_goes_on(tmp_path: Path, monkeypatch) -> None:
    for name in ("a.png", "crash.png", "b.png", "hang.png", "c.png"):
        _png(tmp_path / name)
    # the spawned worker imports _crash_or_hang from this module by name; in the worker the real probe is unpatched
    monkeypatch.setattr(isolate, "_probe_in_worker", _crash_or_hang)
    options = ScanOptions(device="cpu", decode_timeout_s=5.0, prefetch=0)
    results = {Path(r.path).name: r for r in scan_job([tmp_path], options, detectors=[])
               if isinstance(r, ScanResult)}
    assert sorted(results) == ["a.png", "b.png", "c.png", "crash.png", "hang.png"]
    assert [results[n].status for n in ("a.png", "b.png", "c.png")] == ["ok", "ok", "ok"]
    assert results["crash.png"].status == "error" and "decoder crashed" in results["crash.png"].error
    assert results["hang.png"].status == "error" and "no answer within 5 s" in results["hang.png"].error
    assert all(r.verdict is None for r in results.values() if r.status == "error")


def test_the_worker_reports_media_errors_with_their_reason(tmp_path: Path) -> None:
    bad = tmp_path / "notes.png"
    bad.write_text("not a picture\n")
    prober = IsolatedProber(timeout_s=60)
    try:
        with pytest.raises(MediaError) as err:
            prober.probe(bad)
        assert err.value.reason == "not-media" and err.value.path == str(bad)
        info = prober.probe(_png(tmp_path / "ok.png"))
        assert (info.modality, info.width, info.height) == ("image", 16, 16)
    finally:
        prober.close()
