"""On-disk cache of per-layer pooled features.

Keyed by (file sha256, encoder, weights sha256, preprocessing version, variant),
so a changed file, new weights or new preprocessing can never return stale
features. Entries are safetensors (no pickle) with a checksum in the metadata;
a corrupt entry is deleted and recomputed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np

from deepfake_gui.core import config


def _payload_checksum(arrays: list[np.ndarray]) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(str(a.shape).encode())
        h.update(np.ascontiguousarray(a, dtype=np.float32).tobytes())
    return h.hexdigest()


class FeatureCache:
    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else config.feature_cache_dir()
        self.hits = 0
        self.misses = 0

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
        return arrays

    def put(self, encoder_name: str, key: str, arrays: list[np.ndarray], info: dict | None = None) -> None:
        from safetensors.numpy import save_file

        arrays = [np.ascontiguousarray(a, dtype=np.float32) for a in arrays]
        meta = {"key": key, "layers": str(len(arrays)), "checksum": _payload_checksum(arrays),
                "info": json.dumps(info or {})}
        path = self._path(encoder_name, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        save_file({f"layer{i}": a for i, a in enumerate(arrays)}, str(tmp), metadata=meta)
        tmp.replace(path)  # atomic: a crash never leaves a half-written entry

    def stats(self) -> dict:
        files = list(self.root.rglob("*.safetensors")) if self.root.exists() else []
        return {"path": str(self.root), "entries": len(files), "bytes": sum(f.stat().st_size for f in files)}

    def clear(self) -> int:
        removed = self.stats()["entries"]
        if self.root.exists():
            shutil.rmtree(self.root)
        return removed
