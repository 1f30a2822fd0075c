"""Plain result types the engine yields and every front end renders.

Score fields stay None until a detector actually ran: a null is honest, an
invented number is not.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


@dataclass
class ScanResult:
    path: str
    status: str = "ok"  # ok | error
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
        from copy import deepcopy

        return {f.name: deepcopy(getattr(self, f.name)) for f in fields(self) if f.name != "arrays"}

    @classmethod
    def from_json_dict(cls, data: dict[str, Any], arrays: dict[str, Any] | None = None) -> ScanResult:
        """A result stored as ``to_json_dict()`` (case database); keys from newer versions are dropped."""
        known = {f.name for f in fields(cls)} - {"arrays"}
        result = cls(**{k: v for k, v in data.items() if k in known})
        result.arrays = arrays if arrays is not None else {}
        return result
