"""One file score from many window/frame scores, and one video score from its tracks.

Scores here are probe decision scores (logits), before calibration: aggregating
logits keeps a single confident window visible, which averaging probabilities of
a mostly-real file would wash out. The file score is calibrated afterwards.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

AGGREGATIONS = ("logsumexp", "max", "mean")
FUSION_RULES = ("max", "mean")


def _clean(scores: Sequence[float] | np.ndarray, weights: Sequence[float] | np.ndarray | None,
           ) -> tuple[np.ndarray, np.ndarray]:
    """Scores and weights as float64 arrays with NaN scores (and zero weights) dropped."""
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if s.size == 0:
        raise ValueError("cannot aggregate an empty score series (no windows or frames were scored)")
    if weights is None:
        w = np.ones_like(s)
    else:
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
        if w.shape != s.shape:
            raise ValueError(f"weights has {w.size} entries but scores has {s.size}")
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError("weights must be finite and non-negative")
    keep = ~np.isnan(s) & (w > 0)
    if not np.any(~np.isnan(s)):
        raise ValueError("cannot aggregate: every score is NaN")
    if not np.any(keep):
        raise ValueError("cannot aggregate: every non-NaN score has zero weight")
    s, w = s[keep], w[keep]
    if not np.all(np.isfinite(s)):
        raise ValueError("cannot aggregate infinite scores; probe decision scores must be finite")
    return s, w


def aggregate(
    scores: Sequence[float] | np.ndarray,
    method: str = "logsumexp",
    temperature: float = 1.0,
    weights: Sequence[float] | np.ndarray | None = None,
) -> float:
    """Fold a series of decision scores into one; NaN entries are ignored.

    ``logsumexp`` is the mean-normalised soft maximum ``t * log(mean(exp(s / t)))``
    (a weighted mean with ``weights``): a constant series gives that constant and the
    result always lies between the mean (t -> inf) and the max (t -> 0), so a short
    fake segment in a long real file still raises the score without one noisy window
    deciding alone. ``weights`` (e.g. window lengths) apply to all three methods; a
    zero weight drops that entry.
    """
    if method not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation {method!r}; choose one of {', '.join(AGGREGATIONS)}")
    s, w = _clean(scores, weights)
    top = float(s.max())
    mean = float(np.sum(w * s) / np.sum(w))
    if method == "max":
        return top
    if method == "mean":
        return mean
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
    z = s / temperature
    m = float(z.max())
    value = temperature * (m + math.log(float(np.sum(w * np.exp(z - m)) / np.sum(w))))
    # Jensen guarantees mean <= value <= max; clip away rounding so a constant series is exact
    return min(max(value, mean), top)


def fuse_modalities(components: Mapping[str, float | None], rule: str = "max") -> tuple[float, str]:
    """One file score from per-track decision scores, e.g. ``{"frames": 1.2, "audio": -0.3}``.

    Rules:
      * ``max`` (default): the file is as fake as its most fake track. A real picture
        with a cloned voice (or a face swap over real speech) is still a fake, so one
        clean track must not dilute the other.
      * ``mean``: the average of the tracks, for detectors whose tracks are expected to
        agree; it lowers false alarms from one noisy track but can hide a one-track fake.

    Components that are None or NaN (track absent or not scored) are skipped; if none
    remain a ValueError is raised. Returns (score, a short explanation for the report).
    """
    if rule not in FUSION_RULES:
        raise ValueError(f"unknown fusion rule {rule!r}; choose one of {', '.join(FUSION_RULES)}")
    present = {name: float(v) for name, v in components.items() if v is not None and not math.isnan(float(v))}
    if not present:
        names = ", ".join(components) or "none given"
        raise ValueError(f"no track was scored (components: {names})")
    if len(present) == 1:
        ((name, value),) = present.items()
        skipped = [n for n in components if n != name]
        note = f" ({', '.join(skipped)} not scored)" if skipped else ""
        return value, f"only {name} was scored{note}: {value:.2f}"
    listing = ", ".join(f"{name} {value:.2f}" for name, value in present.items())
    if rule == "mean":
        value = sum(present.values()) / len(present)
        return value, f"mean of {listing}"
    value = max(present.values())
    leaders = [name for name, v in present.items() if v == value]
    if len(leaders) > 1:
        return value, f"{' and '.join(leaders)} agree at {value:.2f} (max of {listing})"
    others = ", ".join(f"{name} {v:.2f}" for name, v in present.items() if name != leaders[0])
    return value, f"driven by {leaders[0]} ({value:.2f}; {others})"
