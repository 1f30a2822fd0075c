"""`layerscope scan` exit codes: 0 every file has a result, 1 some files are errors, 2 usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deepfake_gui import cli


def _png(path: Path) -> Path:
    Image.fromarray(np.full((16, 16, 3), 90, np.uint8)).save(path)
    return path


def test_every_file_with_a_result_exits_0(tmp_path: Path, no_models: list[int], capsys) -> None:
    good = _png(tmp_path / "a.png")
    assert cli.main(["scan", str(good)]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["status"] == "ok"


def test_some_files_with_errors_exit_1(tmp_path: Path, no_models: list[int], capsys) -> None:
    _png(tmp_path / "a.png")
    (tmp_path / "b.png").write_bytes(b"not a picture at all")
    assert cli.main(["scan", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    statuses = {Path(r["path"]).name: r["status"] for r in map(json.loads, captured.out.splitlines())}
    assert statuses == {"a.png": "ok", "b.png": "error"}
    assert "2 files: 1 ok, 0 partial, 1 with errors" in captured.err


def test_a_missing_path_exits_2_before_any_model_loads(tmp_path: Path, no_models: list[int], capsys) -> None:
    good = _png(tmp_path / "a.png")
    out = tmp_path / "out.jsonl"
    out.write_text("kept\n")
    rc = cli.main(["scan", str(good), str(tmp_path / "typo.png"), "--out", str(out)])
    assert rc == 2
    assert no_models == []  # no detector was loaded
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"no such file or folder: {tmp_path / 'typo.png'}" in captured.err
    assert out.read_text() == "kept\n"  # --out is not truncated by a usage error


@pytest.mark.parametrize("args", [["--window", "0"], ["--case", "bad:name"]])
def test_bad_settings_exit_2_before_any_model_loads(tmp_path: Path, no_models: list[int], args: list[str],
                                                      capsys) -> None:
    good = _png(tmp_path / "a.png")
    assert cli.main(["scan", str(good), *args]) == 2
    assert no_models == []
    assert "layerscope: error:" in capsys.readouterr().err


def test_a_dangling_link_given_by_name_is_an_error_line_not_a_usage_error(tmp_path: Path, no_models: list[int],
                                                                          capsys) -> None:
    link = tmp_path / "gone.png"
    link.symlink_to(tmp_path / "deleted.png")
    assert cli.main(["scan", str(link)]) == 1
    (line,) = map(json.loads, capsys.readouterr().out.splitlines())
    assert line["status"] == "error" and "no such file" in line["error"]


def test_a_result_that_is_not_valid_json_becomes_its_files_error_line(tmp_path: Path, no_models: list[int],
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      capsys) -> None:
    from deepfake_gui.core.results import ScanResult
    from deepfake_gui.engine import scan as scan_module

    def infinite(path, info, detectors, options, cancel, done=0, total=1, decoder=None):
        yield from ()
        return ScanResult(path=str(path), verdict="fake", probability=float("inf"))

    monkeypatch.setattr(scan_module, "scan_file", infinite)
    _png(tmp_path / "a.png")
    _png(tmp_path / "b.png")
    assert cli.main(["scan", str(tmp_path)]) == 1
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [Path(r["path"]).name for r in lines] == ["a.png", "b.png"]  # the batch went on
    assert all(r["status"] == "error" and "could not be written as JSON" in r["error"] for r in lines)
    assert all(r["verdict"] is None and r["probability"] is None for r in lines)
