"""Where LayerScope keeps things on disk (platformdirs), overridable by env vars.

LAYERSCOPE_MODELS_DIR lets an offline lab copy weights in; LAYERSCOPE_CACHE_DIR
moves the feature cache (tests point it at a tmp dir).
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "layerscope"


def _dirs():  # platformdirs import is cheap but keep module import trivial
    import platformdirs

    return platformdirs.PlatformDirs(APP_NAME, appauthor=False)


def data_dir() -> Path:
    env = os.environ.get("LAYERSCOPE_DATA_DIR")
    return Path(env) if env else Path(_dirs().user_data_dir)


def models_dir() -> Path:
    """Local weights folder, searched before any library cache."""
    env = os.environ.get("LAYERSCOPE_MODELS_DIR")
    return Path(env) if env else data_dir() / "models"


def cache_dir() -> Path:
    env = os.environ.get("LAYERSCOPE_CACHE_DIR")
    return Path(env) if env else Path(_dirs().user_cache_dir)


def feature_cache_dir() -> Path:
    return cache_dir() / "features"


def repo_root() -> Path:
    """The source checkout (editable install), or the PyInstaller bundle: holds resources/ and models/."""
    import sys

    bundle = getattr(sys, "_MEIPASS", None)  # set by PyInstaller's bootloader: dist/layerscope/_internal
    if getattr(sys, "frozen", False) and bundle:
        return Path(bundle)
    return Path(__file__).resolve().parents[2]


def resources_dir() -> Path:
    return repo_root() / "resources"


def shipped_models_dir() -> Path:
    """Default detector bundles shipped with the app."""
    return repo_root() / "models"


def ensure_offline_default() -> None:
    """Make hub libraries fail fast instead of hanging when there is no network.

    Only `layerscope models fetch` clears this, because only there did the user ask
    for a download.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", os.environ["HF_HUB_OFFLINE"])
