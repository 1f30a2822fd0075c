"""Plain result types the engine yields and every front end renders.

Score fields stay None until a detector actually ran: a null is honest, an
invented number is not.
"""

from __future__ import annotations

import os
from contextlib import suppress
from dataclasses import dataclass, field, fields
from typing import Any


def clean_text(text: str) -> str:
    """``text`` as valid UTF-8: bytes a file name held that are not UTF-8 become U+FFFD.

    Python decodes such names with surrogate escapes (PEP 383); a strict UTF-8
    writer (a JSON line, SQLite, a report) refuses those, so one odd name could
    otherwise stop a batch.
    """
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a lone surrogate that did not come from a file name
        return text.encode("utf-8", "replace").decode("utf-8")


def path_bytes(path: str) -> str | None:
    """The file name's exact bytes in hex when it is not valid UTF-8 (None when ``path`` is plain text)."""
    try:
        path.encode("utf-8")
        return None
    except UnicodeEncodeError:
        return os.fsencode(path).hex()


def clean_json(value: Any) -> Any:
    """A JSON-ready structure with every string made valid UTF-8 (see clean_text); other values unchanged."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(k) if isinstance(k, str) else k: clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    return value


@dataclass
class ScanResult:
    path: str
    status: str = "ok"  # ok | partial (scored in part: a track did not decode to the end) | error
    error: str | None = None
    sha256: str | None = None
    modality: str | None = None
    media: dict[str, Any] | None = None
    score: float | None = None
    probability: float | None = None
    verdict: str | None = None  # fake | real | inconclusive | None (no detector ran)
    detectors: dict[str, Any] = field(default_factory=dict)
    attribution: list[dict[str, Any]] = field(default_factory=list)
    caveats: list[str] = field(default_factory=list)
    series: dict[str, Any] = field(default_factory=dict)
    heatmap: dict[str, Any] | None = None
    components: dict[str, Any] = field(default_factory=dict)  # per track (frames, audio): the fused parts
    detector_info: dict[str, Any] = field(default_factory=dict)  # name -> what it was trained on, bundle hash
    # Suspected fake stretches of the audio / video tracks (engine/segments.py: rule, fields, caveat)
    segments: list[dict[str, Any]] = field(default_factory=list)
    # Metadata and Content Credentials (provenance/): shown beside the verdict, never folded into the score
    provenance: dict[str, Any] | None = None
    # Evidence integrity: size and mtime before and after the scan, the tool version, UTC timestamps
    integrity: dict[str, Any] = field(default_factory=dict)
    # Why LayerScope did not commit to real or fake (engine/gate.py): {"reasons": [{"code", "message"}],
    # "suggestion": str | None}. None when every check passed. A gated file's verdict is "inconclusive";
    # its score and probability are still shown.
    gate: dict[str, Any] | None = None
    # Full arrays (per-step series, heatmaps) for the GUI and reports; never written to the JSON line.
    arrays: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def to_json_dict(self) -> dict[str, Any]:
        """Every field but the arrays, as valid UTF-8 text; caveats ranked as the card and report show them.

        A file name that is not valid UTF-8 is written with U+FFFD in ``path``
        (and in messages) plus ``path_bytes``, its exact bytes in hex, so the
        line stays readable by strict JSON readers and the name is not lost.
        """
        from copy import deepcopy

        from deepfake_gui.core.present import ranked_caveats

        data = {f.name: deepcopy(getattr(self, f.name)) for f in fields(self) if f.name != "arrays"}
        data["caveats"] = ranked_caveats(data["caveats"], data["detectors"])  # the ones that change the reading first
        raw = path_bytes(self.path)
        if raw is None and not _needs_cleaning(data):
            return data
        data = clean_json(data)
        if raw is not None:
            data["path_bytes"] = raw
        return data

    @classmethod
    def from_json_dict(cls, data: dict[str, Any], arrays: dict[str, Any] | None = None) -> ScanResult:
        """A result stored as ``to_json_dict()`` (case database); keys from newer versions are dropped.

        ``path_bytes`` (a name that is not UTF-8) restores the exact path, so the file can be found again.
        """
        known = {f.name for f in fields(cls)} - {"arrays"}
        values = {k: v for k, v in data.items() if k in known}
        if isinstance(data.get("path_bytes"), str):
            with suppress(ValueError):  # a damaged field: keep the readable path
                values["path"] = os.fsdecode(bytes.fromhex(data["path_bytes"]))
        result = cls(**values)
        result.arrays = arrays if arrays is not None else {}
        return result


def _needs_cleaning(data: dict[str, Any]) -> bool:
    """Whether any string in ``data`` is not valid UTF-8 (one cheap encode of the whole line)."""
    import json

    try:
        json.dumps(data, ensure_ascii=False, default=str).encode("utf-8")
    except UnicodeEncodeError:
        return True
    except (TypeError, ValueError):
        return False  # NaN or odd values: left to the writer, which reports them
    return False
