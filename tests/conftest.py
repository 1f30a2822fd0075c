"""Session-wide test setup: an isolated environment and generated media fixtures.

The environment variables are set at import time, before any test module (or the
code under test) reads them, so no test can touch the user's real cache or data
folders, reach the network for weights, or need a display for Qt.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

_SESSION_HOME = Path(tempfile.mkdtemp(prefix="layerscope-tests-"))
atexit.register(shutil.rmtree, _SESSION_HOME, ignore_errors=True)

os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["LAYERSCOPE_CACHE_DIR"] = str(_SESSION_HOME / "cache")
os.environ["LAYERSCOPE_DATA_DIR"] = str(_SESSION_HOME / "data")
os.environ["LAYERSCOPE_TEST_ENCODERS"] = "1"  # the GUI tests pick the fast random-weight test-* encoders


@pytest.fixture(scope="session")
def media_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every generated media fixture (see tests/media_factory.py), built once: name -> path."""
    import media_factory

    return media_factory.build_all(tmp_path_factory.mktemp("media"))


@pytest.fixture(scope="session")
def media_dir(media_files: dict[str, Path]) -> Path:
    """The one folder holding all of media_files (good, broken and fake files alike)."""
    (folder,) = {p.parent for p in media_files.values()}
    return folder


@pytest.fixture(scope="session")
def long_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 s of 320x240 video for the streaming-memory test (built only if that test runs)."""
    import media_factory

    return media_factory.write_long_video(tmp_path_factory.mktemp("long") / "long_60s.mp4")


@pytest.fixture(scope="module")
def detectors():
    """The shipped detectors on the CPU (tests that use it are marked media_factory.needs_offline)."""
    from deepfake_gui.engine.detectors import resolve_detectors

    return resolve_detectors(device="cpu")
