"""Detector bundles: a folder with detector.json and weights.safetensors.

Loading never executes anything from the bundle: JSON is parsed and validated
against a schema, tensors come from safetensors (a header plus raw bytes), file
names may not leave the folder, and every shape is checked before use.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_gui import __version__
from deepfake_gui.core.errors import BundleError

FORMAT = "layerscope-detector"
FORMAT_VERSION = 1
KINDS = ("linear-probe", "attribution", "one-class", "fusion")
MAX_JSON_BYTES = 2_000_000
WEIGHTS_FILE = "weights.safetensors"

_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "format": str,
    "format_version": int,
    "name": str,
    "kind": str,
    "modality": str,
    "encoder": dict,
    "layers": list,
    "classes": list,
    "weights_file": str,
    "weights_sha256": str,
}


@dataclass
class DetectorBundle:
    meta: dict[str, Any]
    arrays: dict[str, np.ndarray]
    path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.meta["name"]

    @property
    def kind(self) -> str:
        return self.meta["kind"]

    @property
    def encoder_name(self) -> str:
        return self.meta["encoder"]["name"]

    @property
    def layers(self) -> list[int]:
        return list(self.meta["layers"])

    def content_hash(self) -> str:
        """Hash of the JSON (canonical) and the tensors: identifies this exact detector."""
        h = hashlib.sha256(json.dumps(self.meta, sort_keys=True).encode())
        for key in sorted(self.arrays):
            h.update(key.encode())
            h.update(np.ascontiguousarray(self.arrays[key]).tobytes())
        return h.hexdigest()


def save_bundle(bundle: DetectorBundle, folder: str | Path) -> Path:
    from safetensors.numpy import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {k: np.ascontiguousarray(v) for k, v in bundle.arrays.items()}
    weights_path = folder / WEIGHTS_FILE
    save_file(arrays, str(weights_path), metadata={"format": FORMAT})
    meta = dict(bundle.meta)
    meta.setdefault("format", FORMAT)
    meta.setdefault("format_version", FORMAT_VERSION)
    meta.setdefault("app_version", __version__)
    meta.setdefault("created", dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    meta["weights_file"] = WEIGHTS_FILE
    meta["weights_sha256"] = hashlib.sha256(weights_path.read_bytes()).hexdigest()
    meta["tensors"] = {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in arrays.items()}
    _validate_meta(meta, folder)
    (folder / "detector.json").write_text(json.dumps(meta, indent=2, allow_nan=False) + "\n")
    bundle.meta = meta
    bundle.path = folder
    return folder


def load_bundle(folder: str | Path) -> DetectorBundle:
    folder = Path(folder)
    meta_path = folder / "detector.json"
    if not folder.is_dir():
        raise BundleError(f"{folder}: not a detector bundle (expected a folder with detector.json)")
    if not meta_path.is_file():
        raise BundleError(f"{folder}: detector.json is missing")
    if meta_path.stat().st_size > MAX_JSON_BYTES:
        raise BundleError(f"{meta_path}: larger than {MAX_JSON_BYTES} bytes; refusing to parse")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"), parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BundleError(f"{meta_path}: not valid JSON ({exc})") from exc
    if not isinstance(meta, dict):
        raise BundleError(f"{meta_path}: the top level must be a JSON object")
    _validate_meta(meta, folder)
    weights_path = folder / meta["weights_file"]
    digest = hashlib.sha256(weights_path.read_bytes()).hexdigest()
    if digest != meta["weights_sha256"]:
        raise BundleError(f"{weights_path}: sha256 {digest[:12]}… does not match detector.json "
                          f"({meta['weights_sha256'][:12]}…); the bundle was altered or damaged")
    arrays = _read_safetensors(weights_path)
    _validate_tensors(meta, arrays, meta_path)
    return DetectorBundle(meta, arrays, folder)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed in detector.json")


def _validate_meta(meta: dict, folder: Path) -> None:
    where = folder / "detector.json"
    for key, typ in _REQUIRED.items():
        if key not in meta:
            raise BundleError(f"{where}: missing required key {key!r}")
        if not isinstance(meta[key], typ) or (typ is int and isinstance(meta[key], bool)):
            raise BundleError(f"{where}: {key!r} must be {getattr(typ, '__name__', typ)}")
    if meta["format"] != FORMAT:
        raise BundleError(f"{where}: format is {meta['format']!r}, expected {FORMAT!r}")
    if meta["format_version"] > FORMAT_VERSION:
        raise BundleError(f"{where}: format_version {meta['format_version']} is newer than this LayerScope "
                          f"({__version__}) understands; upgrade LayerScope")
    if meta["kind"] not in KINDS:
        raise BundleError(f"{where}: unknown kind {meta['kind']!r} (known: {', '.join(KINDS)})")
    if meta["modality"] not in ("image", "audio"):
        raise BundleError(f"{where}: modality must be image or audio")
    if not isinstance(meta["encoder"].get("name"), str):
        raise BundleError(f"{where}: encoder.name must be a string")
    if not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in meta["layers"]) \
            or not meta["layers"]:
        raise BundleError(f"{where}: layers must be a non-empty list of layer indices")
    if not all(isinstance(c, str) for c in meta["classes"]) or len(meta["classes"]) < 2:
        raise BundleError(f"{where}: classes must list at least two class names")
    name = meta["weights_file"]
    if Path(name).name != name or not name.endswith(".safetensors"):
        raise BundleError(f"{where}: weights_file must be a .safetensors file inside the bundle, got {name!r}")
    if not (folder / name).is_file():
        raise BundleError(f"{where}: weights file {name} is missing")
    for key in ("threshold",):
        if key in meta and not isinstance(meta[key], (int, float)):
            raise BundleError(f"{where}: {key} must be a number")
    band = meta.get("inconclusive_band")
    if band is not None and not (isinstance(band, list) and len(band) == 2 and
                                 all(isinstance(x, (int, float)) for x in band) and band[0] <= band[1]):
        raise BundleError(f"{where}: inconclusive_band must be [low, high] with low <= high")


def _read_safetensors(path: Path) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise BundleError(f"{path}: not a valid safetensors file ({exc}); nothing was loaded") from exc


def _validate_tensors(meta: dict, arrays: dict[str, np.ndarray], where: Path) -> None:
    declared = meta.get("tensors", {})
    for key, info in declared.items():
        if key not in arrays:
            raise BundleError(f"{where}: tensor {key!r} is declared but missing from {meta['weights_file']}")
        if list(arrays[key].shape) != info.get("shape"):
            raise BundleError(f"{where}: tensor {key!r} has shape {list(arrays[key].shape)}, "
                              f"detector.json says {info.get('shape')}")
    for key, value in arrays.items():
        if not np.all(np.isfinite(value)):
            raise BundleError(f"{where}: tensor {key!r} holds NaN or infinite values")
    if meta["kind"] in ("linear-probe", "attribution"):
        needed = ("coef", "intercept", "scaler_mean", "scaler_std")
        missing = [k for k in needed if k not in arrays]
        if missing:
            raise BundleError(f"{where}: a {meta['kind']} bundle needs tensors {missing}")
        k, d = arrays["coef"].shape
        if arrays["intercept"].shape != (k,) or arrays["scaler_mean"].shape != (d,) \
                or arrays["scaler_std"].shape != (d,):
            raise BundleError(f"{where}: probe tensor shapes disagree (coef {arrays['coef'].shape})")
        expected_k = 1 if meta["kind"] == "linear-probe" else len(meta["classes"])
        if k != expected_k:
            raise BundleError(f"{where}: coef has {k} rows, expected {expected_k} for {len(meta['classes'])} classes")
