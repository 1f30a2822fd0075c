"""What one detector says about one track of one file (image, frames or audio).

Scan merges these into a ScanResult; the GUI and reports read the full arrays
(``arrays``) that are too long for the JSON lines on stdout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

SERIES_DECIMALS = 4


@dataclass
class TrackScore:
    detector: str
    track: str  # image | frames | audio
    decision: float  # aggregated probe score (logit scale)
    probability: float  # calibrated (Platt) probability that the track is fake
    verdict: str | None  # fake | real | inconclusive; None when the score must not be read as a verdict
    features: np.ndarray  # the file-level feature row (attribution, domain distance)
    aggregation: str
    series: dict[str, Any] = field(default_factory=dict)  # JSON-able, short
    arrays: dict[str, Any] = field(default_factory=dict)  # full arrays for the Python API
    caveats: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)  # measured facts scan turns into caveats
    calibration: Any = None  # probes.interface.Calibration used for probability, threshold and band


def rounded(values: Any) -> list[float]:
    """A float array as a short JSON list (NaN becomes None, which JSON can hold)."""
    arr = np.asarray(values, dtype=np.float64).ravel()
    return [None if not np.isfinite(v) else round(float(v), SERIES_DECIMALS) for v in arr]  # type: ignore[misc]

