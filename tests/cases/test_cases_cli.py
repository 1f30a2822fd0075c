"""`layerscope scan --case` and `layerscope cases`: stored as results arrive, readable after a kill -9.

The detectors are stood in for (this is about the case, not the scores), so
each test takes a moment; the kill test drives the real CLI in a subprocess.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deepfake_gui import cli
from deepfake_gui.cases import CaseStore, default_db_path
from deepfake_gui.core.results import ScanResult
from deepfake_gui.engine import detectors as detectors_module
from deepfake_gui.engine import scan as scan_module

# The child process: a stand-in scan_file that finishes files 0-2 and hangs on file 3 (the one in flight).
CHILD = """
import sys, time
import numpy as np
from deepfake_gui.core.results import ScanResult
from deepfake_gui.engine import detectors, scan

detectors.resolve_detectors = lambda *a, **k: []

def scan_file(path, info, dets, options, cancel, done=0, total=1, decoder=None):
    if done >= 3:
        time.sleep(600)
    yield from ()
    r = ScanResult(path=str(path), verdict="fake", probability=0.9)
    r.arrays = {"image/stand-in": {"heatmap": np.full((4, 4), done, np.float32), "image_shape": (4, 4)}}
    return r

scan.scan_file = scan_file
from deepfake_gui.cli import main
sys.exit(main(["scan", *sys.argv[1:]]))
"""


def _images(folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        p = folder / f"img{i}.png"
        Image.fromarray(np.full((8, 8, 3), 20 * i, np.uint8)).save(p)
        paths.append(p)
    return paths


def _stand_in(path, info, detectors, options, cancel, done=0, total=1, decoder=None):
    yield from ()
    r = ScanResult(path=str(path), verdict="real" if done % 2 else "fake", probability=0.2 if done % 2 else 0.8)
    r.arrays = {"image/stand-in": {"heatmap": np.full((3, 3), done, np.float32)}}
    return r


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LAYERSCOPE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(detectors_module, "resolve_detectors", lambda *a, **k: [])
    monkeypatch.setattr(scan_module, "scan_file", _stand_in)
    return tmp_path / "data"


def test_scan_into_a_case_then_list_and_show(data_dir: Path, tmp_path: Path, capsys) -> None:
    paths = _images(tmp_path / "ev", 2)
    assert cli.main(["scan", *map(str, paths), "--case", "Port 7"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [Path(x["path"]).name for x in lines] == ["img0.png", "img1.png"] and "arrays" not in lines[0]
    assert cli.main(["scan", str(paths[0]), "--case", "port 7"]) == 0  # a rescan: version 2, same case
    capsys.readouterr()

    assert cli.main(["cases", "list", "--json"]) == 0
    (case,) = json.loads(capsys.readouterr().out)
    assert (case["name"], case["files"], case["results"]) == ("Port 7", 2, 3)

    assert cli.main(["cases", "show", "Port 7", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    rows = {r["file"]: r for r in shown["files"]}
    assert rows["img0.png"]["versions"] == 2 and rows["img1.png"]["verdict"] == "real"
    assert rows["img1.png"]["probability"] == pytest.approx(0.2)
    assert rows["img0.png"]["review_status"] == "to check" and len(rows["img0.png"]["sha256"]) == 64

    assert cli.main(["cases", "show", "Port 7"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith('Case "Port 7": 2 file(s), created ')
    assert table[1].split()[:3] == ["file", "verdict", "probability"]
    img1 = next(line for line in table if line.startswith("img1.png")).split()
    assert img1[1:5] == ["real", "0.200", "to", "check"] and img1[5] == rows["img1.png"]["sha256"][:12]

    with CaseStore.open("Port 7") as store:
        (first, _second) = store.results()
    np.testing.assert_array_equal(first.arrays["image/stand-in"]["heatmap"], np.zeros((3, 3), np.float32))


def test_cases_rename_delete_and_errors(data_dir: Path, tmp_path: Path, capsys) -> None:
    assert cli.main(["scan", str(_images(tmp_path / "ev", 1)[0]), "--case", "old"]) == 0
    assert cli.main(["cases", "rename", "old", "new"]) == 0
    assert cli.main(["cases", "show", "old"]) == 1
    assert "no case named 'old'" in capsys.readouterr().err
    assert cli.main(["cases", "delete", "new"]) == 1  # needs --yes
    assert cli.main(["cases", "delete", "new", "--yes"]) == 0
    assert cli.main(["scan", str(tmp_path / "ev"), "--case", "bad:name"]) == 2  # a usage error
    err = capsys.readouterr().err
    assert "case name 'bad:name': it cannot contain ':'" in err
    assert cli.main(["cases", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert (tmp_path / "ev" / "img0.png").exists()  # deleting a case never touches the evidence


def test_a_scan_killed_mid_way_loses_only_the_file_in_flight(tmp_path: Path) -> None:
    paths = _images(tmp_path / "ev", 6)
    data = tmp_path / "data"
    env = {**os.environ, "LAYERSCOPE_DATA_DIR": str(data)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, *map(str, paths), "--case", "killed", "--device", "cpu"],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    watchdog = threading.Timer(120, child.kill)  # never hang the suite if the child misbehaves
    watchdog.start()
    try:
        # a JSON line is printed only once its result is committed: three lines = three results on disk
        printed = [json.loads(child.stdout.readline()) for _ in range(3)]
        assert [Path(p["path"]).name for p in printed] == ["img0.png", "img1.png", "img2.png"]
        child.send_signal(signal.SIGKILL)  # while img3.png is in flight
        child.wait()
    finally:
        watchdog.cancel()
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL

    db = data / "cases" / "cases.sqlite"
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    with CaseStore.open("killed", db_path=db) as store:
        results = store.results()
        assert [Path(r.path).name for r in results] == ["img0.png", "img1.png", "img2.png"]
        for i, r in enumerate(results):
            assert r.arrays["image/stand-in"]["image_shape"] == (4, 4)
            np.testing.assert_array_equal(r.arrays["image/stand-in"]["heatmap"], np.full((4, 4), i, np.float32))
        store.add_result(ScanResult(path=str(paths[3]), verdict="real"))  # and it is writable again
        assert len(store.results(arrays=False)) == 4
    assert default_db_path() != db  # the test never touched the session's database


def test_show_does_not_say_case_twice(data_dir: Path, tmp_path: Path, capsys) -> None:
    assert cli.main(["scan", str(_images(tmp_path / "ev", 1)[0]), "--case", "case 12"]) == 0
    capsys.readouterr()
    assert cli.main(["cases", "show", "case 12"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith('"case 12": 1 file(s)') and "case case" not in first.casefold()
