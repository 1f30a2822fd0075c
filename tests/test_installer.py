"""The installer's files agree with each other and with the app (fast: PyInstaller never runs here).

The bundle build itself takes many minutes; it is checked by installer/build.sh followed by
installer/check_bundle.sh, not by pytest.
"""

from __future__ import annotations

import ast
import configparser
import contextlib
import importlib.util
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INSTALLER = ROOT / "installer"
SPEC = INSTALLER / "layerscope.spec"
DESKTOP = INSTALLER / "layerscope.desktop"
ICONS = ROOT / "resources" / "icons"


def spec_constants() -> dict[str, object]:
    """Module-level literal assignments of the spec (APP_NAME, ICON_NAME), read without running it."""
    tree = ast.parse(SPEC.read_text(encoding="utf-8"), filename=str(SPEC))
    out: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            with contextlib.suppress(ValueError):  # not a literal (ROOT, CPU_ONLY, ...)
                out[node.targets[0].id] = ast.literal_eval(node.value)
    return out


def desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive in .desktop files
    parser.read_string(DESKTOP.read_text(encoding="utf-8"))
    return parser["Desktop Entry"]


def test_spec_compiles_and_names_the_app() -> None:
    compile(SPEC.read_text(encoding="utf-8"), str(SPEC), "exec")
    names = spec_constants()
    assert names["APP_NAME"] == "layerscope"
    assert names["ICON_NAME"] == "layerscope"
    source = SPEC.read_text(encoding="utf-8")
    assert "name=APP_NAME" in source.split("exe = EXE(", 1)[1].split(")", 1)[0]
    assert "name=APP_NAME" in source.split("coll = COLLECT(", 1)[1]


def test_desktop_entry_has_required_keys_and_matches_the_spec() -> None:
    entry = desktop_entry()
    names = spec_constants()
    assert entry["Type"] == "Application"
    assert entry["Name"] == "LayerScope"
    assert entry["Terminal"] == "false"
    assert entry["Categories"].endswith(";")
    exec_args = shlex.split(entry["Exec"])
    assert exec_args[0] == names["APP_NAME"]
    assert exec_args[1:] == ["%F"]  # several files at once: `layerscope FILE...` opens the app on them
    assert entry["TryExec"] == names["APP_NAME"]
    assert entry["Icon"] == names["ICON_NAME"]
    assert entry["MimeType"].endswith(";")
    assert {"image/png", "video/mp4", "audio/wav"} <= set(entry["MimeType"].rstrip(";").split(";"))


def _load_make_icon():
    spec = importlib.util.spec_from_file_location("make_icon", INSTALLER / "make_icon.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_icons_exist_and_svg_is_the_generated_one() -> None:
    from PIL import Image

    icon = spec_constants()["ICON_NAME"]
    svg_path, png_path = ICONS / f"{icon}.svg", ICONS / f"{icon}.png"
    root = ET.fromstring(svg_path.read_text(encoding="utf-8"))
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("viewBox") == "0 0 256 256"
    assert svg_path.read_text(encoding="utf-8") == _load_make_icon().svg()  # regenerate with make_icon.py
    with Image.open(png_path) as png:
        assert png.size == (256, 256)
        assert png.mode == "RGBA"
        assert png.getpixel((0, 0))[3] == 0  # transparent outside the rounded square
        assert png.getpixel((128, 30))[3] == 255


def test_spec_collects_every_package_that_carries_weights() -> None:
    """A new encoder whose weights live in a pip package must be added to the spec's data files."""
    from deepfake_gui.encoders.registry import get_spec, list_encoders

    source = SPEC.read_text(encoding="utf-8")
    packages = {w.ref.split(":", 1)[0] for name in list_encoders(include_test=False)
                for w in get_spec(name).weights if w.kind == "package"}
    assert packages  # the shipped detectors depend on them
    missing = sorted(p for p in packages if f'"{p}"' not in source)
    assert not missing, f"installer/layerscope.spec does not collect {missing}"


def test_spec_ships_the_default_detectors_and_resources() -> None:
    source = SPEC.read_text(encoding="utf-8")
    assert '(str(ROOT / "models"), "models")' in source
    assert '(str(ROOT / "resources"), "resources")' in source
    bundles = sorted(p.parent.name for p in (ROOT / "models").glob("*/detector.json"))
    assert bundles, "models/ holds no detector bundle"


def test_frozen_app_finds_resources_and_models_in_the_bundle(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from deepfake_gui.core import config

    assert config.shipped_models_dir() == ROOT / "models"
    assert config.resources_dir() == ROOT / "resources"
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert config.repo_root() == tmp_path
    assert config.shipped_models_dir() == tmp_path / "models"
    assert config.resources_dir() == tmp_path / "resources"


@pytest.mark.parametrize("script", ["build.sh", "check_bundle.sh", "install_desktop.sh"])
def test_shell_scripts_parse(script: str) -> None:
    proc = subprocess.run(["bash", "-n", str(INSTALLER / script)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr


def test_build_outputs_are_git_ignored() -> None:
    lines = {line.strip() for line in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()}
    assert {"build/", "dist/"} <= lines


def test_pyproject_licence_is_an_spdx_string_and_builds_without_deprecation_warning(tmp_path: Path) -> None:
    """setuptools stops building `license = {text = ...}` after 2027-02-18: SPDX string + license-files."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    for name in ("pyproject.toml", "LICENSE", "README.md"):
        (tmp_path / name).write_bytes((ROOT / name).read_bytes())
    (tmp_path / "deepfake_gui").mkdir()
    (tmp_path / "deepfake_gui" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "meta").mkdir()
    code = "from setuptools import build_meta as b; print(b.prepare_metadata_for_build_wheel('meta'))"
    done = subprocess.run(
        [sys.executable, "-W", "always", "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "SetuptoolsDeprecationWarning" not in done.stderr
    metadata = next((tmp_path / "meta").glob("*.dist-info/METADATA")).read_text(encoding="utf-8")
    assert "License-Expression: MIT" in metadata
    assert "License-File: LICENSE" in metadata


def test_every_package_data_folder_travels_in_the_bundle() -> None:
    """A data folder pip installs (pyproject package-data) but PyInstaller leaves out breaks only the bundle."""
    import tomllib

    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    folders = {str(Path("deepfake_gui") / p).rsplit("/", 1)[0] for p in patterns["deepfake_gui"] if "/" in p}
    spec = SPEC.read_text(encoding="utf-8")
    assert folders == {"deepfake_gui/report/templates", "deepfake_gui/engine/voice_codec_check"}
    for folder in folders:
        assert f'"{folder}"' in spec, folder
