"""Issue 22 item 4: evidence that moved after the scan is found again by its SHA-256 in folders the user names.

The results are made by hand from real files (no detector needed): a picture and a voice-like WAV,
scanned paths absolute, hashes and sizes as a scan records them. Then the files move, and the
report must find them by hash, draw them from their new place and say where they were found.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import media_factory
import numpy as np
import pytest
from PIL import Image

from deepfake_gui.core.hashing import sha256_file
from deepfake_gui.core.results import ScanResult
from deepfake_gui.engine.relocate import Wanted, apply_relocations, find_moved, relocate_job, wanted_for
from deepfake_gui.report import CaseMeta, case_inputs_from_entries, render_html
from deepfake_gui.report.sources import relocate_inputs

DATA_URI = re.compile(r'src="data:image/png;base64,')


def _result(path: Path, modality: str) -> ScanResult:
    size = path.stat().st_size
    return ScanResult(path=str(path.resolve()), sha256=sha256_file(path), modality=modality,
                      media={"modality": modality, "byte_size": size}, verdict="real", probability=0.1,
                      integrity={"size": size, "unchanged_during_scan": True})


@pytest.fixture
def moved(tmp_path: Path) -> tuple[list[ScanResult], Path, Path]:
    """Two scanned files, then moved from scanned/ into archive/2026/ (beside a same-sized decoy)."""
    scanned = tmp_path / "scanned"
    scanned.mkdir()
    rng = np.random.default_rng(0)
    picture = scanned / "picture.png"
    Image.fromarray((rng.random((40, 60, 3)) * 255).astype(np.uint8)).save(picture)
    voice = media_factory.write_mono_wav(scanned / "voice.wav", media_factory.speechlike(8000, 1.5), 8000)
    results = [_result(picture, "image"), _result(voice, "audio")]
    archive = tmp_path / "archive" / "2026"
    archive.mkdir(parents=True)
    decoy = bytearray(picture.read_bytes())
    decoy[-20] ^= 0xFF  # same size, other bytes: must not be taken for the picture
    (archive / "picture.png").write_bytes(bytes(decoy))
    shutil.move(picture, archive / "renamed.png")
    shutil.move(voice, archive / "voice.wav")
    return results, tmp_path / "archive", archive


def test_a_moved_file_is_found_by_its_hash_not_its_name(moved) -> None:
    results, root, archive = moved
    assert [w.path for w in wanted_for(results)] == [r.path for r in results]
    found = find_moved(results, [root])
    assert found.found == {results[0].path: str(archive / "renamed.png"), results[1].path: str(archive / "voice.wav")}
    assert found.missing == [] and found.checked >= 2
    assert any("found picture.png at" in line and "renamed.png" in line for line in found.lines())
    stored = [r.path for r in results]
    moved_map = apply_relocations(results, found.found)
    assert [r.path for r in results] == [str(archive / "renamed.png"), str(archive / "voice.wav")]
    assert moved_map == {results[0].path: stored[0], results[1].path: stored[1]}
    assert wanted_for(results) == []  # nothing is missing any more


def test_files_of_another_size_are_not_hashed_and_the_unfound_are_listed(tmp_path: Path) -> None:
    (tmp_path / "big.bin").write_bytes(b"x" * 1000)
    events = list(relocate_job([Wanted("/gone/a.png", "ab" * 32, 10)], [tmp_path]))
    report = events[-1]
    assert report.checked == 0 and report.missing == ["/gone/a.png"] and report.found == {}
    assert report.lines() == [f"/gone/a.png: not found by its SHA-256 in {tmp_path}"]


def test_report_finds_moved_evidence_and_says_where(moved, tmp_path: Path, capsys) -> None:
    from deepfake_gui.cli import main

    results, root, archive = moved
    jsonl = tmp_path / "s.jsonl"
    jsonl.write_text("".join(json.dumps(r.to_json_dict()) + "\n" for r in results), encoding="utf-8")

    lost = tmp_path / "lost.html"
    assert main(["report", "--results", str(jsonl), "--out", str(lost)]) == 0
    page = lost.read_text(encoding="utf-8")
    assert "the file is no longer at" in page and "--look-in FOLDER" in page
    assert not DATA_URI.search(page)  # no picture, no spectrogram: the evidence is not where it was

    out = tmp_path / "found.html"
    assert main(["report", "--results", str(jsonl), "--look-in", str(tmp_path / "elsewhere-missing"),
                 "--out", str(out)]) == 1  # a folder that does not exist is refused, not ignored
    (tmp_path / "empty").mkdir()
    assert main(["report", "--results", str(jsonl), "--look-in", str(tmp_path / "empty"), "--look-in", str(root),
                 "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"found picture.png at {archive / 'renamed.png'} by its SHA-256 (it was scanned at {results[0].path})" in err
    assert f"found voice.wav at {archive / 'voice.wav'}" in err
    page = out.read_text(encoding="utf-8")
    assert "no longer at" not in page
    assert f"Not at its stored path {results[0].path}: found at the path above by its SHA-256" in page
    assert str(archive / "renamed.png") in page
    assert len(DATA_URI.findall(page)) == 2  # the picture's thumbnail and the voice's spectrogram, read again


def test_a_cases_review_state_follows_its_moved_file(moved) -> None:
    from types import SimpleNamespace

    results, root, archive = moved
    entries = [SimpleNamespace(path=r.path, review_status=s, notes=n, result=r)
               for r, s, n in zip(results, ("suspicious", "ok"), ("the sky", ""), strict=True)]
    chosen, meta = case_inputs_from_entries(entries, name="moved case")
    told: list[str] = []
    relocate_inputs(chosen, meta, [root], tell=told.append)
    new = str(archive / "renamed.png")
    assert meta.statuses[new] == "suspicious" and meta.file_notes[new] == "the sky"
    assert meta.relocated[new].endswith("scanned/picture.png") and len(told) == 2
    page = render_html(chosen, meta)
    assert "suspicious" in page and "the sky" in page and "Not at its stored path" in page


def test_casemeta_relocated_defaults_empty() -> None:
    assert CaseMeta().relocated == {}
