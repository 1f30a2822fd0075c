"""The `layerscope` command line, run as a user would (subprocess, JSON on stdout)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

LAYERSCOPE = [sys.executable, "-m", "deepfake_gui.cli"]
SHARED_AUDIO = Path(__file__).resolve().parents[2] / "shared" / "data" / "audio"


def run_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([*LAYERSCOPE, *args], capture_output=True, text=True, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_help_lists_every_subcommand() -> None:
    out = run_cli("--help").stdout
    for name in ("scan", "train", "evaluate", "models", "bench"):
        assert f"    {name}" in out


def test_one_parser_built_from_one_module_per_command() -> None:
    """cli/: each command module adds its own subparser, in --help order; `main` knows every command's name."""
    import argparse

    from deepfake_gui import cli

    (commands,) = [a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert list(commands.choices) == [module.__name__.rsplit(".", 1)[1] for module in cli.COMMANDS]
    assert set(commands.choices) == set(cli.SUBCOMMANDS)
    for module in cli.COMMANDS:
        assert commands.choices[module.__name__.rsplit(".", 1)[1]].get_default("func").__module__ == module.__name__


def test_bench_help_names_its_options() -> None:
    out = run_cli("bench", "--help").stdout
    for option in ("--device", "--json", "--quick", "--video-seconds"):
        assert option in out


def _lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_scan_mixed_folder_one_json_line_per_file(media_dir: Path) -> None:
    proc = run_cli("scan", str(media_dir), check=False)
    assert proc.returncode == 1, proc.stderr  # the fixture set holds bad files: some lines are errors
    records = _lines(proc.stdout)
    visible = sorted(
        str(p) for p in media_dir.rglob("*") if p.is_file() and not any(part.startswith(".") for part in
                                                                          p.relative_to(media_dir).parts)
    )
    assert sorted(r["path"] for r in records) == visible
    for r in records:
        assert set(r) >= {"path", "sha256", "modality", "media", "status", "error", "score", "verdict"}
        if r["status"] == "ok":
            # a verdict from the shipped detectors, or a caveat saying why there is none
            assert r["verdict"] in ("fake", "real", "inconclusive") or any(
                "could not score" in c or "did not run" in c or "no verdict" in c for c in r["caveats"]), r
            if r["verdict"] is not None:
                assert 0.0 <= r["probability"] <= 1.0 and r["detectors"]
            assert r["error"] is None
            assert r["modality"] in ("image", "video", "audio")
            assert len(r["sha256"]) == 64
            assert r["media"]["byte_size"] == os.path.getsize(r["path"])
        else:
            assert r["status"] == "error"
            assert r["path"] in r["error"]
            assert r["score"] is None and r["probability"] is None and r["verdict"] is None
    statuses = {Path(r["path"]).name: r for r in records}
    assert any(r["status"] == "error" for r in records), "the fixture set holds bad files"
    assert any(r["modality"] == "video" for r in records)
    assert any(r["modality"] == "audio" for r in records)
    assert any(r["modality"] == "image" for r in records)
    assert "scanned" in proc.stderr
    assert statuses  # every name parsed


def test_scan_skips_hidden_survives_symlink_loop_and_reports_unsupported(tmp_path: Path, media_dir: Path) -> None:
    root = tmp_path / "case"
    (root / "sub").mkdir(parents=True)
    png = next(media_dir.rglob("*.png"))
    (root / "sub" / "a.png").write_bytes(png.read_bytes())
    (root / ".hidden.png").write_bytes(png.read_bytes())
    (root / "notes.txt").write_text("not media at all\n")
    (root / "sub" / "loop").symlink_to(root, target_is_directory=True)
    proc = run_cli("scan", str(root), "--out", str(tmp_path / "out.jsonl"), check=False)
    assert proc.returncode == 1, proc.stderr  # notes.txt is an error line
    assert proc.stdout == ""
    records = _lines((tmp_path / "out.jsonl").read_text())
    names = sorted(Path(r["path"]).name for r in records)
    assert names == ["a.png", "notes.txt"]
    txt = next(r for r in records if r["path"].endswith("notes.txt"))
    assert txt["status"] == "error" and "not a media file" in txt["error"]


def test_scan_missing_path_is_a_usage_error_not_a_crash(tmp_path: Path) -> None:
    proc = run_cli("scan", str(tmp_path / "nope.mp4"), check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert f"no such file or folder: {tmp_path / 'nope.mp4'}" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.skipif(not SHARED_AUDIO.is_dir(), reason="../shared/data/audio is not beside this checkout")
def test_scan_shared_audio_speaker_folder() -> None:
    folder = SHARED_AUDIO / "real" / sorted(p.name for p in (SHARED_AUDIO / "real").iterdir())[0]
    proc = run_cli("scan", str(folder))
    records = _lines(proc.stdout)
    assert len(records) == len(list(folder.glob("*.flac")))
    for r in records:
        assert r["status"] == "ok"
        assert r["modality"] == "audio" and r["media"]["codec"] == "flac"
        assert r["media"]["sample_rate"] == 8000 and r["media"]["channels"] == 1
        assert 1.0 <= r["media"]["duration_s"] <= 12.5


def test_models_list_json_is_honest() -> None:
    rows = json.loads(run_cli("models", "list", "--json").stdout)
    by_name = {r["name"]: r for r in rows}
    for key in ("name", "modality", "family", "layers", "status", "licence", "source"):
        assert all(key in r for r in rows)
    assert {"clip-vit-b-32", "resnet-101", "wav2vec2-base", "whisper-tiny-en", "ge2e-resemblyzer"} <= set(by_name)
    assert by_name["clip-vit-l-14"]["layers"] == 24
    assert all(r["status"] in ("present", "missing", "checksum-mismatch") for r in rows)
    assert "test-clip" not in by_name
