"""Starting the app without a display: a message naming `layerscope scan` and the system packages, not a Qt abort."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from deepfake_gui.gui.app import SYSTEM_PACKAGES, display_problem

ROOT = Path(__file__).resolve().parents[2]
ALL_LIBS = {lib: f"lib{lib}.so" for lib in SYSTEM_PACKAGES.values()}


def test_no_display_is_a_problem_naming_the_cli_and_every_package() -> None:
    message = display_problem({}, "linux", ALL_LIBS.get)
    assert message is not None
    assert "no display" in message and "layerscope scan" in message
    for package in (
        "libegl1",
        "libgl1",
        "libxkbcommon0",
        "libfontconfig1",
        "libglib2.0-0",
        "libdbus-1-3",
        "libxcb-cursor0",
    ):
        assert package in message


def test_a_display_or_a_headless_platform_passes() -> None:
    assert display_problem({"DISPLAY": ":0"}, "linux", ALL_LIBS.get) is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux", ALL_LIBS.get) is None
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux", ALL_LIBS.get) is None
    assert display_problem({"QT_QPA_PLATFORM": "vnc:size=1280x800"}, "linux", ALL_LIBS.get) is None
    assert display_problem({}, "darwin", ALL_LIBS.get) is None  # macOS / Windows always have a window server
    assert display_problem({}, "win32", ALL_LIBS.get) is None


def test_asking_for_a_platform_whose_server_is_absent_is_a_problem() -> None:
    assert display_problem({"QT_QPA_PLATFORM": "wayland", "DISPLAY": ":0"}, "linux", ALL_LIBS.get) is not None
    assert display_problem({"QT_QPA_PLATFORM": "wayland;xcb", "DISPLAY": ":0"}, "linux", ALL_LIBS.get) is None


def test_a_missing_library_names_its_package() -> None:
    libs = {lib: path for lib, path in ALL_LIBS.items() if lib != "xcb-cursor"}
    message = display_problem({"DISPLAY": ":0"}, "linux", libs.get)
    assert message is not None and "missing system libraries from libxcb-cursor0." in message
    # wayland does not load libxcb-cursor
    assert display_problem({"WAYLAND_DISPLAY": "w-0", "QT_QPA_PLATFORM": "wayland"}, "linux", libs.get) is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="only Linux can lack a display server")
def test_starting_the_app_with_no_display_exits_non_zero_with_the_message() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.pop("LAYERSCOPE_SKIP_DISPLAY_CHECK", None)
    done = subprocess.run([sys.executable, "main.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "cannot open the desktop app: no display" in done.stderr
    assert "layerscope scan" in done.stderr and "libxcb-cursor0" in done.stderr
