"""The resident-memory budget: a file that would take the scan's process past the models plus N bytes is an error
line ("took more than N of memory"), and the batch goes on. Tested with a small budget and a picture that decodes
to more than it (a PNG of zeros: 100 KB on disk, 96 MB decoded)."""

from __future__ import annotations

import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deepfake_gui import cli
from deepfake_gui.core.errors import FileStopped
from deepfake_gui.core.results import ScanResult
from deepfake_gui.engine.memory import MemoryGuard, rss_bytes
from deepfake_gui.engine.scan import ScanOptions, scan_job

from .test_isolation import STAND_INS, _png

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the resident size from /proc")

BUDGET = 48 << 20
BIG_W, BIG_H = 8000, 4000  # 96 MB as RGB


def _big_png(path: Path) -> Path:
    """A black 8000 x 4000 PNG written row by row (no 96 MB array in the test process)."""
    import struct

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    packer, row = zlib.compressobj(9), b"\x00" + bytes(BIG_W * 3)  # filter byte, then a black row
    raw = b"".join(packer.compress(row) for _ in range(BIG_H)) + packer.flush()
    header = struct.pack(">IIBBBBB", BIG_W, BIG_H, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b""))
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("budget")
    _png(root / "a.png", 10, side=64)
    _big_png(root / "b_big.png")
    _png(root / "c.png", 30, side=64)
    return root


def _scan(root: Path, timeout_s: float | None, budget: int | None) -> dict[str, ScanResult]:
    options = ScanOptions(device="cpu", decode_timeout_s=timeout_s, memory_budget_bytes=budget)
    return {Path(r.path).name: r for r in scan_job([root], options, detectors=STAND_INS)
            if isinstance(r, ScanResult)}


@pytest.mark.parametrize("timeout_s", [30.0, None], ids=["isolated", "in-process"])
def test_a_file_beyond_the_memory_budget_is_an_error_line_and_the_batch_goes_on(folder: Path, stand_ins: None,
                                                                                timeout_s: float | None) -> None:
    free = _scan(folder, timeout_s, None)  # no budget: the big picture is scored (and every module is imported)
    assert [r.status for r in free.values()] == ["ok", "ok", "ok"]
    assert free["b_big.png"].detectors["stand-in-image"]["shape"] == [BIG_H, BIG_W, 3]
    results = _scan(folder, timeout_s, BUDGET)
    assert list(results) == ["a.png", "b_big.png", "c.png"]
    big = results["b_big.png"]
    assert big.status == "error" and big.error.startswith(str(folder / "b_big.png"))
    assert "took more than 48 MB of memory" in big.error and "the scan went on" in big.error
    assert big.verdict is None and big.probability is None and big.detectors == {}
    if timeout_s is not None:  # from the worker, the 96 MB are refused before they are allocated here
        assert "refused before being allocated" in big.error
    for name in ("a.png", "c.png"):  # the picture after the big one is scored: its memory was given back
        assert results[name].status == "ok", results[name].error
        assert results[name].detectors["stand-in-image"]["shape"] == [64, 64, 3]


def test_the_guard_refuses_before_allocating_and_after_the_fact() -> None:
    guard = MemoryGuard(BUDGET, interval_s=0.01)
    guard.start()
    try:
        assert guard.limit == guard.baseline + BUDGET
        guard.reserve("small", 1 << 20)  # fits
        with pytest.raises(FileStopped) as err:
            guard.reserve("/evidence/big.png", BUDGET + (1 << 20))
        assert err.value.reason == "too-large" and err.value.path == "/evidence/big.png"
        guard.begin_file()
        block = np.ones(BUDGET + (16 << 20), np.uint8)  # touched: resident
        assert rss_bytes() > guard.limit
        with pytest.raises(FileStopped, match="took more than 48 MB of memory"):
            guard.check("/evidence/big.png")
        del block
        guard.recover()
        guard.check("/evidence/next.png")  # the next file starts from the baseline again
    finally:
        guard.close()


def test_the_watchdog_sees_a_peak_that_is_gone_by_the_check() -> None:
    guard = MemoryGuard(BUDGET, interval_s=0.01)
    guard.start()
    try:
        guard.begin_file()
        block = np.ones(BUDGET + (16 << 20), np.uint8)
        import time

        time.sleep(0.2)  # the watchdog samples every 10 ms here
        del block
        with pytest.raises(FileStopped):
            guard.check("/evidence/spiky.png")
    finally:
        guard.close()


@pytest.mark.parametrize("value", ["-1", "nan"])
def test_a_bad_memory_budget_is_a_usage_error(tmp_path: Path, value: str, no_models: list[int]) -> None:
    _png(tmp_path / "a.png")
    assert cli.main(["scan", str(tmp_path), "--memory-budget", value]) == 2
    assert no_models == []  # refused before any model loads


@pytest.fixture
def stand_ins(monkeypatch: pytest.MonkeyPatch) -> None:
    from . import test_isolation

    monkeypatch.setattr("deepfake_gui.engine.score_image.score_image_array", test_isolation._score_picture)
    monkeypatch.setattr("deepfake_gui.engine.verdicts.finish_result", test_isolation._finish)
    monkeypatch.setattr("deepfake_gui.engine.scan._add_segments", lambda *a, **k: None)
    monkeypatch.setattr("deepfake_gui.engine.gate.apply_gate", lambda result, *a, **k: result)


def test_image_fixture_is_what_it_claims(folder: Path) -> None:
    with Image.open(folder / "b_big.png") as im:
        assert im.size == (BIG_W, BIG_H) and im.mode == "RGB"
    assert (folder / "b_big.png").stat().st_size < 1 << 20
