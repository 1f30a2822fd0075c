"""Detector bundles: a folder with detector.json and weights.safetensors.

Loading never executes anything from the bundle: JSON is parsed and validated
against a schema, tensors come from safetensors (a header plus raw bytes), file
names may not leave the folder, and every shape is checked before use.

What a bundle's own tensors must look like depends on its kind: the kind's class checks
them (``check_tensors``, found through probes/registry.py), with the helpers here
(``TensorCheck``, ``check_linear``, ``check_one_class``, ``check_layer_dims``). The
extras any kind may carry (attribution probe, training-domain, one-class and reference
models, adaptation record) are checked here, against the width the kind reports.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_gui import __version__
from deepfake_gui.core.errors import BundleError
from deepfake_gui.probes import registry

FORMAT = "layerscope-detector"
FORMAT_VERSION = 1
MAX_JSON_BYTES = 2_000_000
MAX_JSON_DEPTH = 32  # the shipped bundles nest 7 deep; Python's parser recurses, so a deep file must not reach it
WEIGHTS_FILE = "weights.safetensors"
MAX_WEIGHTS_BYTES = 2 << 30  # read whole to hash it: bounded like the JSON
MAX_ABS_NUMBER = 1e12  # any number in detector.json (a file claiming 1e308 describes no real detector)
MAX_PLATT = 1e6  # |a| and |b| of a Platt calibration: decision scores are O(1..100)
MAX_LAYER = 10_000

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
    arrays = {k: np.ascontiguousarray(v) for k, v in bundle.arrays.items()}
    meta = dict(bundle.meta)
    meta.setdefault("format", FORMAT)
    meta.setdefault("format_version", FORMAT_VERSION)
    meta.setdefault("app_version", __version__)
    meta.setdefault("created", dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    meta["weights_file"] = WEIGHTS_FILE
    meta["tensors"] = {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in arrays.items()}
    meta["weights_sha256"] = ""  # set below, once the file exists
    # A malformed detector is refused before anything is written.
    _validate_meta(meta, folder, weights_written=False)
    _validate_tensors(meta, arrays, folder)

    folder.mkdir(parents=True, exist_ok=True)
    weights_path = folder / WEIGHTS_FILE
    save_file(arrays, str(weights_path), metadata={"format": FORMAT})
    meta["weights_sha256"] = hashlib.sha256(weights_path.read_bytes()).hexdigest()
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
    _inside(folder, meta_path, "detector.json")
    try:
        with open(meta_path, "rb") as fh:
            raw = fh.read(MAX_JSON_BYTES + 1)  # bounded even if the file grows after a size check
    except OSError as exc:
        raise BundleError(f"{meta_path}: cannot read ({exc.strerror or exc})") from exc
    if len(raw) > MAX_JSON_BYTES:
        raise BundleError(f"{meta_path}: larger than {MAX_JSON_BYTES} bytes; refusing to parse")
    try:
        text = raw.decode("utf-8")
        _check_depth(text, meta_path)
        meta = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BundleError(f"{meta_path}: not valid JSON ({type(exc).__name__}: {str(exc)[:200]})") from exc
    if not isinstance(meta, dict):
        raise BundleError(f"{meta_path}: the top level must be a JSON object")
    _validate_meta(meta, folder)
    weights_path = folder / meta["weights_file"]
    try:
        if weights_path.stat().st_size > MAX_WEIGHTS_BYTES:
            raise BundleError(f"{weights_path}: larger than {MAX_WEIGHTS_BYTES} bytes; refusing to read it")
        digest = hashlib.sha256(weights_path.read_bytes()).hexdigest()
    except OSError as exc:
        raise BundleError(f"{weights_path}: cannot read ({exc.strerror or exc})") from exc
    if digest != meta["weights_sha256"]:
        raise BundleError(f"{weights_path}: sha256 {digest[:12]}… does not match detector.json "
                          f"({meta['weights_sha256'][:12]}…); the bundle was altered or damaged")
    arrays = _read_safetensors(weights_path)
    _validate_tensors(meta, arrays, folder)
    return DetectorBundle(meta, arrays, folder)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed in detector.json")


_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _check_depth(text: str, where: Path) -> None:
    """Refuse nesting deeper than MAX_JSON_DEPTH before parsing (the parser would hit RecursionError)."""
    depth = 0
    for match in _JSON_TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise BundleError(f"{where}: nested more than {MAX_JSON_DEPTH} levels deep; refusing to parse")
        elif token in "]}":
            depth -= 1


def _inside(folder: Path, path: Path, what: str) -> None:
    """``path`` must be a regular file whose real location is inside the bundle folder (no links out of it)."""
    real_folder, real = os.path.realpath(folder), os.path.realpath(path)
    if os.path.commonpath([real_folder, real]) != real_folder:
        raise BundleError(f"{path}: {what} resolves to {real}, outside the bundle folder; refusing to read it")
    if os.path.exists(real) and not os.path.isfile(real):
        raise BundleError(f"{path}: {what} is not a regular file")


def _finite_numbers(value: Any, where: Path, key: str = "") -> None:
    """Every number in detector.json is finite and below MAX_ABS_NUMBER in size (1e999 parses as infinity)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int | float):
        if not math.isfinite(value) or abs(value) > MAX_ABS_NUMBER:
            raise BundleError(f"{where}: {key or 'a value'} is {value!r}; numbers must be finite and at most "
                              f"{MAX_ABS_NUMBER:g} in size")
        return
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for k, v in items:
        _finite_numbers(v, where, f"{key}.{k}" if key else str(k))


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_calibration(where: Path, key: str, cal: Any, threshold: Any, band: Any) -> None:
    """A Platt calibration (a, b), a probability threshold and an inconclusive band, all stated and sane."""
    if not isinstance(cal, dict) or not all(k in cal and _number(cal[k]) for k in ("a", "b")):
        raise BundleError(f"{where}: {key} calibration must be an object whose a and b are numbers (both stated: "
                          "no default is assumed)")
    for name in ("a", "b"):
        if abs(cal[name]) > MAX_PLATT:
            raise BundleError(f"{where}: {key} calibration {name} is {cal[name]!r}; it must be a finite number "
                              f"at most {MAX_PLATT:g} in size")
    if not _number(threshold) or not 0.0 <= threshold <= 1.0:
        raise BundleError(f"{where}: {key} threshold is {threshold!r}; it must be a probability in [0, 1] "
                          "(no default is assumed)")
    if not (isinstance(band, list) and len(band) == 2 and all(_number(x) and 0.0 <= x <= 1.0 for x in band)
            and band[0] <= band[1]):
        raise BundleError(f"{where}: {key} inconclusive_band is {band!r}; it must be [low, high], probabilities "
                          "with low <= high (no default is assumed)")


def _validate_meta(meta: dict, folder: Path, weights_written: bool = True) -> None:
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
    entry = registry.kind_entry(meta["kind"], where)
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
    if weights_written and not (folder / name).is_file():
        raise BundleError(f"{where}: weights file {name} is missing")
    if any(not _number(i) or i > MAX_LAYER for i in meta["layers"]):
        raise BundleError(f"{where}: layer indices must be at most {MAX_LAYER}")
    _finite_numbers(meta, where)
    if weights_written:
        _inside(folder, folder / name, "weights_file")
    if entry.calibrated:  # verdicts come from the calibration, threshold and band: stated, never defaulted
        _check_calibration(where, "the detector", meta.get("calibration"), meta.get("threshold"),
                           meta.get("inconclusive_band"))
    else:  # e.g. one-class: the threshold that flags is a tensor; a stated one is a distance
        if "threshold" in meta and (not _number(meta["threshold"]) or meta["threshold"] < 0):
            raise BundleError(f"{where}: threshold must be a non-negative number")
        cal = meta.get("calibration")
        if cal is not None and (not isinstance(cal, dict) or any(
                k in cal and (not _number(cal[k]) or abs(cal[k]) > MAX_PLATT) for k in ("a", "b"))):
            raise BundleError(f"{where}: calibration must be an object whose a and b are finite numbers")
    entries = meta.get("scan_calibration")
    if entries is not None:
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise BundleError(f"{where}: scan_calibration must be a list of objects")
        for n, entry in enumerate(entries):
            key = f"scan_calibration[{n}]"
            _check_calibration(where, key, entry, entry.get("threshold"), entry.get("inconclusive_band"))
            if not all(_number(entry.get(k)) and entry[k] > 0 for k in ("window_s", "hop_s")):
                raise BundleError(f"{where}: {key} needs positive window_s and hop_s")
            if not isinstance(entry.get("track"), str) or not isinstance(entry.get("aggregation"), str):
                raise BundleError(f"{where}: {key} needs track and aggregation names")


def _read_safetensors(path: Path) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise BundleError(f"{path}: not a valid safetensors file ({exc}); nothing was loaded") from exc


# ------------------------------------------------------------------ tensor validation
# Every check below names the file at fault: detector.json for what the JSON says,
# the weights file for what a tensor holds, and the tensor's key either way.

PROBE_KEYS = ("coef", "intercept", "scaler_mean", "scaler_std")
ATTR_PREFIX = "attr_"
DOMAIN_PREFIX = "domain_"
ONE_CLASS_PREFIX = "oneclass_"
REFERENCE_PREFIX = "reference_"  # the genuine-reference model of an adapted detector (probes/reference.py)
_INT_KEYS = ("k", "metric_cosine")  # the only integer tensors (k-NN one-class settings)


def _is_int_key(key: str) -> bool:
    return any(key == prefix + k for prefix in ("", DOMAIN_PREFIX, ONE_CLASS_PREFIX, REFERENCE_PREFIX)
               for k in _INT_KEYS)


class TensorCheck:
    """Shared context of one bundle's validation: where to point, and helpers that raise BundleError."""

    def __init__(self, meta: dict, arrays: dict[str, np.ndarray], folder: Path) -> None:
        self.meta = meta
        self.arrays = arrays
        self.json = folder / "detector.json"
        self.weights = folder / str(meta.get("weights_file", WEIGHTS_FILE))

    def fail_tensor(self, key: str, problem: str) -> None:
        raise BundleError(f"{self.weights}: tensor {key!r} {problem}")

    def fail_json(self, key: str, problem: str) -> None:
        raise BundleError(f"{self.json}: {key!r} {problem}")

    def need(self, keys: list[str], what: str) -> None:
        missing = [k for k in keys if k not in self.arrays]
        if missing:
            raise BundleError(f"{self.weights}: {what} needs tensor(s) {missing}, which are missing")

    def shape(self, key: str, expected: tuple[int, ...], why: str = "") -> None:
        actual = tuple(int(n) for n in self.arrays[key].shape)
        if actual != tuple(expected):
            self.fail_tensor(key, f"has shape {list(actual)}, expected {list(expected)}"
                                  f"{' (' + why + ')' if why else ''}: the bundle's tensor shapes disagree")

    def matrix(self, key: str) -> tuple[int, int]:
        value = self.arrays[key]
        if value.ndim != 2 or 0 in value.shape:
            self.fail_tensor(key, f"must be a non-empty matrix, got shape {list(value.shape)}")
        return int(value.shape[0]), int(value.shape[1])

    def vector(self, key: str) -> int:
        value = self.arrays[key]
        if value.ndim != 1 or value.shape[0] == 0:
            self.fail_tensor(key, f"must be a non-empty vector, got shape {list(value.shape)}")
        return int(value.shape[0])

    def positive(self, key: str, strict: bool = True) -> None:
        value = self.arrays[key]
        if (value <= 0).any() if strict else (value < 0).any():
            self.fail_tensor(key, f"must be {'positive' if strict else 'non-negative'} everywhere "
                                  f"(min {float(value.min()):.3g})")

    def scalar(self, key: str) -> float:
        self.shape(key, (1,), "one value")
        return float(self.arrays[key][0])


def _validate_tensors(meta: dict, arrays: dict[str, np.ndarray], folder: Path) -> None:
    """Integrity (declared shapes and dtypes), finite numbers, then the layout each kind needs."""
    c = TensorCheck(meta, arrays, folder)
    declared = meta.get("tensors")
    if declared is not None:
        if not isinstance(declared, dict):
            c.fail_json("tensors", "must map tensor names to {shape, dtype}")
        for key, info in declared.items():
            if not isinstance(info, dict) or not isinstance(info.get("shape"), list) \
                    or not isinstance(info.get("dtype"), str):
                c.fail_json(f"tensors.{key}", "must be {\"shape\": [...], \"dtype\": \"...\"}")
            if key not in arrays:
                raise BundleError(f"{c.json}: tensor {key!r} is declared but missing from {c.weights.name}")
            if list(arrays[key].shape) != info["shape"]:
                c.fail_tensor(key, f"has shape {list(arrays[key].shape)}, detector.json says {info['shape']}")
            if str(arrays[key].dtype) != info["dtype"]:
                c.fail_tensor(key, f"has dtype {arrays[key].dtype}, detector.json says {info['dtype']}")
        extra = sorted(set(arrays) - set(declared))
        if declared and extra:
            raise BundleError(f"{c.weights}: tensor(s) {extra} are not declared in {c.json.name} 'tensors'")
    for key, value in arrays.items():
        if _is_int_key(key):
            if value.dtype.kind not in "iu":
                c.fail_tensor(key, f"must hold integers, got {value.dtype}")
        elif value.dtype.kind != "f":
            c.fail_tensor(key, f"must be floating point, got {value.dtype}")
        elif not np.all(np.isfinite(value)):
            c.fail_tensor(key, "holds NaN or infinite values")

    width = registry.kind_entry(meta["kind"], c.json).check_tensors(c)  # the kind's own tensors
    if meta.get("attribution_classes") is not None:
        classes = meta["attribution_classes"]
        if not isinstance(classes, list) or len(classes) < 2 or not all(isinstance(x, str) for x in classes):
            c.fail_json("attribution_classes", "must list at least two class names")
        check_linear(c, ATTR_PREFIX, len(classes), "attribution_classes", width)
    elif any(k.startswith(ATTR_PREFIX) for k in arrays):
        c.fail_json("attribution_classes", f"is missing but the weights hold {ATTR_PREFIX}* tensors")
    if any(k.startswith(DOMAIN_PREFIX) for k in arrays):
        check_one_class(c, DOMAIN_PREFIX, "the training-domain model", width)
        stated = (meta.get("domain") or {}).get("threshold")
        if stated is not None:
            _agree(c, DOMAIN_PREFIX + "threshold", "domain.threshold", stated)
    if any(k.startswith(ONE_CLASS_PREFIX) for k in arrays):
        check_one_class(c, ONE_CLASS_PREFIX, "the one-class model", width)
    if any(k.startswith(REFERENCE_PREFIX) for k in arrays):
        check_one_class(c, REFERENCE_PREFIX, "the reference-set model", width)
        if REFERENCE_PREFIX + "heldout" in arrays:
            c.vector(REFERENCE_PREFIX + "heldout")
            c.positive(REFERENCE_PREFIX + "heldout", strict=False)
        stated = (meta.get("reference") or {}).get("threshold")
        if stated is not None:
            _agree(c, REFERENCE_PREFIX + "threshold", "reference.threshold", stated)
    if meta.get("adaptation") is not None:
        _check_adaptation(c)
    if meta.get("map_head") is not None or any(k.startswith("map_") for k in arrays):
        check_map_head(c)


def _check_adaptation(c: TensorCheck) -> None:
    """An adapted detector says what it was adapted from and with which references (layerscope adapt)."""
    adaptation = c.meta["adaptation"]
    if not isinstance(adaptation, dict):
        c.fail_json("adaptation", "must be an object")
    base = adaptation.get("base")
    if not isinstance(base, dict) or not isinstance(base.get("name"), str) \
            or not isinstance(base.get("bundle_sha256"), str):
        c.fail_json("adaptation.base", "must give the base detector's name and bundle_sha256")
    weight = adaptation.get("weight")
    if not isinstance(weight, (int, float)) or isinstance(weight, bool) or not weight > 0:
        c.fail_json("adaptation.weight", f"must be a positive number, got {weight!r}")
    refs = adaptation.get("reference_set")
    if not isinstance(refs, dict):
        c.fail_json("adaptation.reference_set", "must be an object")
    n = refs.get("n_files")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        c.fail_json("adaptation.reference_set.n_files", f"must be a positive integer, got {n!r}")
    digest = refs.get("content_hash")
    if not isinstance(digest, str) or len(digest) != 64:
        c.fail_json("adaptation.reference_set.content_hash", "must be a sha256 hex digest")
    files = refs.get("files", [])
    if not isinstance(files, list) or not all(isinstance(f, dict) and isinstance(f.get("sha256"), str)
                                              for f in files):
        c.fail_json("adaptation.reference_set.files", "must list {\"name\", \"sha256\"} objects")


def _agree(c: TensorCheck, key: str, json_key: str, stated: Any) -> None:
    if not isinstance(stated, (int, float)) or isinstance(stated, bool):
        c.fail_json(json_key, "must be a number")
    stored = float(c.arrays[key][0])
    if not np.isclose(stored, float(stated), rtol=1e-5, atol=1e-6):
        raise BundleError(f"{c.json}: {json_key!r} is {stated}, but tensor {key!r} in {c.weights.name} "
                          f"holds {stored}")


def check_linear(c: TensorCheck, prefix: str, n_classes: int, json_key: str, width: int | None = None,
                 one_decision: bool = False, what: str | None = None) -> int:
    """coef (K, D), intercept (K,), scaler_mean / scaler_std (D,); K = 1 for two classes. Returns D.

    ``one_decision``: exactly one row (a fake-vs-real decision), as a detector's own probe must have.
    """
    keys = [prefix + k for k in PROBE_KEYS]
    c.need(keys, what or ("an attribution probe" if prefix else f"a {c.meta['kind']} bundle"))
    coef, intercept, mean, std = keys
    k, d = c.matrix(coef)
    if one_decision:
        expected_k: tuple[int, ...] = (1,)  # one decision: fake vs real
    else:
        expected_k = (1, 2) if n_classes == 2 else (n_classes,)
    if k not in expected_k:
        raise BundleError(f"{c.weights}: tensor {coef!r} has {k} rows, but {c.json.name} {json_key!r} lists "
                          f"{n_classes} classes (expected {' or '.join(map(str, expected_k))} rows)")
    c.shape(intercept, (k,), f"one per row of {coef}")
    c.shape(mean, (d,), f"the width of {coef}")
    c.shape(std, (d,), f"the width of {coef}")
    c.positive(std)
    if width is not None and d != width:
        c.fail_tensor(coef, f"is {d} features wide, but the detector's features are {width} wide")
    return d


def check_layer_dims(c: TensorCheck, width: int) -> None:
    """The chosen layers' widths recorded by the layer sweep must add up to the probe's width."""
    meta = c.meta
    names = meta.get("layer_names")
    if names is not None and (not isinstance(names, list) or len(names) != len(meta["layers"])):
        c.fail_json("layer_names", f"must name each of the {len(meta['layers'])} layers {meta['layers']}")
    sweep = (meta.get("metrics") or {}).get("layer_sweep")
    if not isinstance(sweep, list):
        return
    dims = {r.get("layer"): r.get("dim") for r in sweep if isinstance(r, dict)}
    if all(isinstance(dims.get(i), int) for i in meta["layers"]):
        total = sum(dims[i] for i in meta["layers"])
        if total != width:
            raise BundleError(f"{c.json}: layers {meta['layers']} are {total} features wide according to "
                              f"'metrics.layer_sweep', but the tensors in {c.weights.name} expect {width}")


def check_one_class(c: TensorCheck, prefix: str, what: str, width: int | None = None) -> int:
    """A Mahalanobis (location + precision [+ components]) or k-NN (train + k) model. Returns its input width."""
    p = prefix
    c.need([p + "scaler_mean", p + "scaler_std"], what)
    d = c.vector(p + "scaler_mean")
    c.shape(p + "scaler_std", (d,), f"the width of {p}scaler_mean")
    c.positive(p + "scaler_std")
    if width is not None and d != width:
        c.fail_tensor(p + "scaler_mean", f"is {d} features wide, but {what} must take the detector's "
                                         f"{width} features")
    if p + "precision" in c.arrays or p + "location" in c.arrays:
        c.need([p + "location", p + "precision"], f"{what} (Mahalanobis)")
        if p + "train" in c.arrays:
            c.fail_tensor(p + "train", f"cannot sit next to {p}precision: {what} is either Mahalanobis or k-NN")
        if p + "components" in c.arrays:
            k, cols = c.matrix(p + "components")
            if cols != d:
                c.fail_tensor(p + "components", f"has {cols} columns, expected {d} (the width of {p}scaler_mean)")
        else:
            k = d
        c.shape(p + "location", (k,), "one per principal axis" if k != d else "one per feature")
        c.shape(p + "precision", (k, k), f"square, {k} wide like {p}location")
        precision = c.arrays[p + "precision"].astype(np.float64)
        scale = max(float(np.abs(precision).max()), 1e-12)
        if not np.allclose(precision, precision.T, rtol=1e-4, atol=1e-5 * scale):
            c.fail_tensor(p + "precision", "is not symmetric")
        if (np.diag(precision) <= 0).any():
            c.fail_tensor(p + "precision", "has a non-positive diagonal (not a precision matrix)")
    elif p + "train" in c.arrays:
        c.need([p + "k", p + "metric_cosine"], f"{what} (k-NN)")
        n, cols = c.matrix(p + "train")
        if cols != d:
            c.fail_tensor(p + "train", f"has {cols} columns, expected {d} (the width of {p}scaler_mean)")
        k = int(c.arrays[p + "k"].ravel()[0]) if c.arrays[p + "k"].size == 1 else None
        c.shape(p + "k", (1,), "one value")
        if k is None or not 1 <= k <= n:
            c.fail_tensor(p + "k", f"is {k}, must be between 1 and the {n} training rows")
        c.shape(p + "metric_cosine", (1,), "one value")
        if int(c.arrays[p + "metric_cosine"][0]) not in (0, 1):
            c.fail_tensor(p + "metric_cosine", "must be 0 (euclidean) or 1 (cosine)")
    else:
        raise BundleError(f"{c.weights}: {what} needs either {p}location + {p}precision (Mahalanobis) "
                          f"or {p}train + {p}k (k-NN) tensors")
    if p + "threshold" not in c.arrays:
        raise BundleError(f"{c.weights}: {what} has no tensor {p + 'threshold'!r}; without a calibrated "
                          "threshold it cannot flag anything")
    c.scalar(p + "threshold")
    c.positive(p + "threshold", strict=False)
    if p + "false_alarm" in c.arrays:
        rate = c.scalar(p + "false_alarm")
        if not 0.0 < rate < 1.0:
            c.fail_tensor(p + "false_alarm", f"is {rate}, must be a rate in (0, 1)")
    return d


def check_map_head(check: Any) -> None:
    """Bundle layout of a heatmap head: both probes, the genuine scores, and detector.json's ``map_head``."""
    from deepfake_gui.probes.map_head import GENUINE_KEY, MAP_PREFIX, REGION_FEATURES, REGION_PREFIX

    meta = check.meta.get("map_head")
    if not isinstance(meta, dict):
        check.fail_json("map_head", "is missing but the weights hold map_* tensors")
    for key in ("layers", "layer_names", "grid_layer", "pixel_threshold", "region_rate", "region_extent"):
        if key not in meta:
            check.fail_json(f"map_head.{key}", "is missing")
    if not isinstance(meta["layers"], list) or not meta["layers"] or len(meta["layer_names"]) != len(meta["layers"]):
        check.fail_json("map_head.layers", "must list the layers read, one name each in map_head.layer_names")
    if not 0 < float(meta["region_rate"]) < 1:
        check.fail_json("map_head.region_rate", "must be between 0 and 1")
    check_linear(check, MAP_PREFIX, 2, "map_head", one_decision=True, what="the heatmap head")
    width = check_linear(check, REGION_PREFIX, 2, "map_head", one_decision=True, what="the heatmap head's region model")
    if width != len(REGION_FEATURES):
        check.fail_tensor(REGION_PREFIX + "coef", f"is {width} features wide, the region model reads "
                                                  f"{len(REGION_FEATURES)}")
    check.need([GENUINE_KEY], "the heatmap head")
    if check.vector(GENUINE_KEY) < 10:
        check.fail_tensor(GENUINE_KEY, "holds fewer than 10 genuine scores: too few to set a threshold")
