"""Every path given or found gets one result line; odd names never stop a batch and are carried losslessly."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deepfake_gui import cli
from deepfake_gui.cases import CaseStore
from deepfake_gui.core.results import ScanResult
from deepfake_gui.engine.scan import ScanOptions, scan_job
from deepfake_gui.media import walk as walk_module
from deepfake_gui.media.walk import iter_input_files, walk_inputs

BAD_NAME = b"bad\xffname.png"


def _png(path: Path | bytes, shade: int = 90) -> Path:
    Image.fromarray(np.full((16, 16, 3), shade, np.uint8)).save(path)
    return Path(os.fsdecode(path))


def _scan(paths) -> list[ScanResult]:
    return [e for e in scan_job(paths, ScanOptions(device="cpu"), detectors=[]) if isinstance(e, ScanResult)]


def test_special_files_get_an_error_line_with_the_reason(tmp_path: Path) -> None:
    _png(tmp_path / "a.png")
    os.mkfifo(tmp_path / "pipe.png")
    results = {Path(r.path).name: r for r in _scan([tmp_path])}
    assert sorted(results) == ["a.png", "pipe.png"]
    pipe = results["pipe.png"]
    assert pipe.status == "error" and "FIFO" in pipe.error and str(tmp_path / "pipe.png") in pipe.error
    assert pipe.verdict is None and pipe.probability is None and pipe.score is None
    assert [p.name for p in iter_input_files([tmp_path])] == ["a.png"]  # training sets still take only files


def test_a_folder_that_cannot_be_read_gets_an_error_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _png(tmp_path / "a.png")
    locked = tmp_path / "locked"
    locked.mkdir()
    _png(locked / "hidden-from-us.png")
    real_scandir = os.scandir

    def scandir(path):  # chmod 000 does not stop root, so the refusal is stood in for
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(walk_module.os, "scandir", scandir)
    results = {Path(r.path).name: r for r in _scan([tmp_path])}
    assert sorted(results) == ["a.png", "locked"]
    assert results["locked"].status == "error"
    assert "cannot read folder: Permission denied" in results["locked"].error


def test_paths_are_absolute_in_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _png(tmp_path / "a.png")
    monkeypatch.chdir(tmp_path)
    (result,) = _scan(["a.png"])
    assert result.path == str(tmp_path / "a.png")
    assert [e.path for e in walk_inputs(["a.png"], absolute=False)] == [Path("a.png")]


def test_a_name_that_is_not_utf8_is_carried_in_json_with_its_bytes(tmp_path: Path) -> None:
    bad = _png(os.fsencode(tmp_path) + b"/" + BAD_NAME)
    (result,) = _scan([tmp_path])
    assert result.status == "ok" and result.path == str(bad)
    data = result.to_json_dict()
    line = json.dumps(data, ensure_ascii=False).encode("utf-8")  # strict UTF-8: no lone surrogates
    assert data["path"] == str(tmp_path / "bad\ufffdname.png")
    assert bytes.fromhex(data["path_bytes"]) == os.fsencode(bad)
    assert "path_bytes" not in ScanResult(path=str(tmp_path / "plain.png")).to_json_dict()
    back = ScanResult.from_json_dict(json.loads(line.decode("utf-8")))
    assert back.path == str(bad) and os.path.exists(back.path)


def test_scan_out_and_case_survive_a_name_that_is_not_utf8(tmp_path: Path, no_models: list[int],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAYERSCOPE_DATA_DIR", str(tmp_path / "data"))
    folder = tmp_path / "ev"
    folder.mkdir()
    _png(folder / "good.png")
    bad = _png(os.fsencode(folder) + b"/" + BAD_NAME, shade=30)
    out = tmp_path / "out.jsonl"
    assert cli.main(["scan", str(folder), "--out", str(out), "--case", "odd names"]) == 0
    lines = [json.loads(x) for x in out.read_bytes().decode("utf-8").splitlines()]
    assert [Path(r["path"]).name for r in lines] == ["bad\ufffdname.png", "good.png"]
    assert os.fsdecode(bytes.fromhex(lines[0]["path_bytes"])) == str(bad)
    with CaseStore.open("odd names") as store:
        entries = {Path(e.path).name: e for e in store.entries(arrays=False)}
        assert sorted(entries) == ["bad\\xffname.png", "good.png"]  # lossless key, valid UTF-8
        assert entries["bad\\xffname.png"].result.path == str(bad)  # the exact name comes back
        store.set_review(str(bad), "suspicious")  # found by its real name
        assert store.entry(str(bad), arrays=False).review_status == "suspicious"
        db = store.db_path
    conn = sqlite3.connect(db)
    stored = [row[0] for row in conn.execute("SELECT result_json FROM results")]
    conn.close()
    assert all(isinstance(json.loads(text)["path"], str) for text in stored)


def test_a_report_renders_a_name_that_is_not_utf8(tmp_path: Path) -> None:
    from deepfake_gui.report import write_report

    bad = _png(os.fsencode(tmp_path) + b"/" + BAD_NAME)
    results = _scan([bad])
    html = write_report(results, tmp_path / "report.html").read_bytes().decode("utf-8")
    assert "bad\ufffdname.png" in html


def test_the_results_file_inside_the_scanned_folder_is_not_scanned(tmp_path: Path, no_models: list[int]) -> None:
    """``scan FOLDER --out FOLDER/results.jsonl``: the results file exists when the folder is walked; it used to
    get an error line ("not a media file") and turn the exit code to 1."""
    _png(tmp_path / "a.png")
    out = tmp_path / "results.jsonl"
    assert cli.main(["scan", str(tmp_path), "--out", str(out)]) == 0
    assert [Path(json.loads(x)["path"]).name for x in out.read_text().splitlines()] == ["a.png"]
    assert [e.path.name for e in walk_inputs([tmp_path, out], skip=[out])] == ["a.png"]  # named or found
