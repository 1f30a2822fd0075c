"""On-disk cache of per-layer pooled features.

Keyed by (file sha256, encoder, weights sha256, preprocessing version, variant),
so a changed file, new weights or new preprocessing can never return stale
features. Entries are safetensors (no pickle) with a checksum in the metadata;
a corrupt entry is deleted and recomputed.

Many writers at once (GUI and CLI, threads, cluster workers on a shared disk)
are safe: each writes a uniquely named temporary file and renames it into place,
so a reader sees a whole entry or none. The cache has a size limit
(LAYERSCOPE_CACHE_MAX_BYTES, default 20 GB): reading an entry touches its mtime,
and when a write pushes the total over the limit the least recently used entries
are deleted down to 90% of it. The total is counted once per FeatureCache and
then kept up to date, so writes stay O(1) until an eviction is due.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import threading
import uuid
from pathlib import Path

import numpy as np

from deepfake_gui.core import config


def _payload_checksum(arrays: list[np.ndarray]) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(str(a.shape).encode())
        h.update(np.ascontiguousarray(a, dtype=np.float32).tobytes())
    return h.hexdigest()


DEFAULT_MAX_BYTES = 20 * 1024**3
EVICT_TO = 0.9  # after an eviction the cache holds at most this share of the limit


def max_bytes_from_env() -> int:
    value = os.environ.get("LAYERSCOPE_CACHE_MAX_BYTES", "")
    try:
        return int(float(value)) if value else DEFAULT_MAX_BYTES
    except ValueError:
        return DEFAULT_MAX_BYTES


class FeatureCache:
    def __init__(self, root: str | Path | None = None, max_bytes: int | None = None) -> None:
        self.root = Path(root) if root is not None else config.feature_cache_dir()
        self.max_bytes = max_bytes if max_bytes is not None else max_bytes_from_env()
        self.hits = 0
        self.misses = 0
        self.evicted = 0
        self._size: int | None = None  # bytes on disk, counted on the first write
        self._lock = threading.Lock()

    @staticmethod
    def make_key(file_sha256: str, encoder_name: str, weights_sha256: str | None, prep_version: str,
                 variant: str = "") -> str:
        raw = "|".join([file_sha256, encoder_name, weights_sha256 or "none", prep_version, variant])
        return hashlib.sha256(raw.encode()).hexdigest()

    def _path(self, encoder_name: str, key: str) -> Path:
        return self.root / encoder_name / key[:2] / f"{key}.safetensors"

    def get(self, encoder_name: str, key: str) -> list[np.ndarray] | None:
        from safetensors import SafetensorError
        from safetensors.numpy import safe_open

        path = self._path(encoder_name, key)
        if not path.is_file():
            self.misses += 1
            return None
        try:
            with safe_open(str(path), framework="numpy") as fh:
                meta = fh.metadata() or {}
                n = int(meta["layers"])
                arrays = [fh.get_tensor(f"layer{i}") for i in range(n)]
            if meta.get("key") != key or _payload_checksum(arrays) != meta.get("checksum"):
                raise ValueError("checksum mismatch")
        except (SafetensorError, OSError, ValueError, KeyError, json.JSONDecodeError):
            path.unlink(missing_ok=True)  # corrupt: recompute
            self.misses += 1
            return None
        self.hits += 1
        with contextlib.suppress(OSError):
            os.utime(path)  # "recently used" for the LRU eviction
        return arrays

    def put(self, encoder_name: str, key: str, arrays: list[np.ndarray], info: dict | None = None) -> None:
        from safetensors.numpy import save_file

        arrays = [np.ascontiguousarray(a, dtype=np.float32) for a in arrays]
        meta = {"key": key, "layers": str(len(arrays)), "checksum": _payload_checksum(arrays),
                "info": json.dumps(info or {})}
        path = self._path(encoder_name, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")  # unique per writer
        save_file({f"layer{i}": a for i, a in enumerate(arrays)}, str(tmp), metadata=meta)
        size = tmp.stat().st_size
        tmp.replace(path)  # atomic: a crash never leaves a half-written entry
        self._account(size)

    def _entries(self) -> list[Path]:
        return list(self.root.rglob("*.safetensors")) if self.root.exists() else []

    def _account(self, added: int) -> None:
        with self._lock:
            if self._size is None:
                self._size = sum(_size_of(f) for f in self._entries())
            else:
                self._size += added
            if self._size > self.max_bytes:
                self._size = self._evict(int(self.max_bytes * EVICT_TO))

    def _evict(self, target: int) -> int:
        """Delete least recently used entries until the total is at most ``target``; returns the new total."""
        entries = []
        for f in self._entries():
            try:
                st = f.stat()
            except OSError:
                continue  # another process evicted it
            entries.append((st.st_mtime, st.st_size, f))
        total = sum(size for _, size, _ in entries)
        for _, size, f in sorted(entries):
            if total <= target:
                break
            f.unlink(missing_ok=True)
            total -= size
            self.evicted += 1
        return total

    def stats(self) -> dict:
        files = self._entries()
        return {"path": str(self.root), "entries": len(files), "bytes": sum(_size_of(f) for f in files),
                "max_bytes": self.max_bytes}

    def clear(self) -> int:
        removed = self.stats()["entries"]
        if self.root.exists():
            shutil.rmtree(self.root)
        return removed


def _size_of(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
