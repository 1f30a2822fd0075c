"""ScanResult.arrays to bytes and back, without pickle.

The arrays are a small tree (dicts of numpy arrays, floats, tuples, lists).
Every ndarray goes into one safetensors blob; the rest of the tree becomes a
JSON index whose tagged objects point at the tensors. Types are kept exactly
(tuple stays tuple, float32 stays float32) so a reopened case draws the same
evidence views as the scan did.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np

FORMAT = "layerscope-arrays/1"
_SAFETENSORS_DTYPES = {"bool", "uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64",
                       "float16", "float32", "float64"}


def encode_arrays(tree: dict[str, Any]) -> tuple[str, bytes]:
    """(JSON index, safetensors bytes) for one result's arrays."""
    from safetensors.numpy import save

    tensors: dict[str, np.ndarray] = {}
    index = {"format": FORMAT, "tree": _encode(tree, tensors)}
    blob = save(tensors) if tensors else b""
    return json.dumps(index, allow_nan=True, ensure_ascii=False), blob


def decode_arrays(index_json: str, blob: bytes) -> dict[str, Any]:
    """The tree ``encode_arrays`` was given, arrays restored bit for bit."""
    from safetensors.numpy import load

    index = json.loads(index_json)
    if index.get("format") != FORMAT:
        raise ValueError(f"unknown arrays format {index.get('format')!r}")
    tensors = load(bytes(blob)) if blob else {}
    return _decode(index["tree"], tensors)


def _encode(value: Any, tensors: dict[str, np.ndarray]) -> Any:
    if isinstance(value, np.ndarray):
        key = f"t{len(tensors)}"
        if value.dtype.name in _SAFETENSORS_DTYPES and value.dtype.isnative:
            tensors[key] = np.ascontiguousarray(value)
            return {"$array": key}
        if value.dtype.hasobject:
            raise TypeError(f"object arrays cannot be stored without pickle (dtype {value.dtype})")
        buf = io.BytesIO()
        np.save(buf, value, allow_pickle=False)  # complex, strings, big-endian: .npy, no pickle
        tensors[key] = np.frombuffer(buf.getvalue(), dtype=np.uint8)
        return {"$npy": key}
    if isinstance(value, np.generic):
        return {"$scalar": [value.dtype.str, value.item()]}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("array trees need string keys")
        encoded = {k: _encode(v, tensors) for k, v in value.items()}
        return {"$dict": encoded} if any(k.startswith("$") for k in value) else encoded
    if isinstance(value, tuple):
        return {"$tuple": [_encode(v, tensors) for v in value]}
    if isinstance(value, list):
        return [_encode(v, tensors) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot store a {type(value).__name__} in a case")


def _decode(value: Any, tensors: dict[str, np.ndarray]) -> Any:
    if isinstance(value, list):
        return [_decode(v, tensors) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((tag, inner),) = value.items()
        if tag == "$array":
            return tensors[inner]
        if tag == "$npy":
            return np.load(io.BytesIO(tensors[inner].tobytes()), allow_pickle=False)
        if tag == "$scalar":
            return np.dtype(inner[0]).type(inner[1])
        if tag == "$tuple":
            return tuple(_decode(v, tensors) for v in inner)
        if tag == "$dict":
            return {k: _decode(v, tensors) for k, v in inner.items()}
    return {k: _decode(v, tensors) for k, v in value.items()}
