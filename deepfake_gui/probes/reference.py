"""Distance to a set of known-genuine references (a person, a device, a channel).

Why beside the probe score and never instead of it: a probe adapted with genuine
recordings of one speaker still only knows the fakes it was trained on. How far a
suspect file lies from that speaker's genuine material on the detector's layer is
a second, independent line of evidence ("unlike the 40 authentic interviews"), and
it needs no fake at all. It is a Mahalanobis distance on PCA of the references
(probes/oneclass.py), its threshold the 95th percentile of *held-out* reference
distances (grouped), so about 1 genuine file in 20 of that kind is flagged.

Everything is plain arrays under ``reference_*`` in the detector bundle; nothing is pickled.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from deepfake_gui.core.errors import LayerScopeError

REFERENCE_PREFIX = "reference_"
REFERENCE_PERCENTILE = 95.0  # held-out genuine references above the threshold: 5%
MIN_REFERENCE_FILES = 10
MIN_REFERENCE_AUDIO_S = 60.0
HELDOUT_KEY = REFERENCE_PREFIX + "heldout"  # sorted held-out distances, for the percentile of a new input


def fit_reference_model(X_ref: np.ndarray, groups: Sequence[str] | np.ndarray, *, n_components: int | None = 64,
                        percentile: float = REFERENCE_PERCENTILE, seed: int = 0) -> tuple[dict[str, np.ndarray], dict]:
    """Mahalanobis (PCA + Ledoit-Wolf) model of the references, threshold from grouped held-out distances.

    Returns the ``reference_*`` arrays and the JSON record (method, threshold, percentile, meaning).
    """
    from deepfake_gui.probes.oneclass import MahalanobisDetector, heldout_scores

    X_ref = np.asarray(X_ref, dtype=np.float64)
    groups = np.asarray(groups)
    if len(X_ref) < 4 or len(set(groups.tolist())) < 2:
        raise LayerScopeError(f"the reference model needs at least 4 references in 2 groups, got {len(X_ref)}")

    def factory() -> MahalanobisDetector:
        return MahalanobisDetector(n_components=n_components)

    n_splits = min(5, len(set(groups.tolist())))
    oof = heldout_scores(X_ref, groups, factory, n_splits, seed)
    threshold = float(np.percentile(oof, percentile))
    model = factory().fit(X_ref)
    model.threshold_ = threshold
    model.false_alarm_ = 1.0 - percentile / 100.0
    arrays = {REFERENCE_PREFIX + k: v for k, v in model.to_arrays().items()}
    arrays[HELDOUT_KEY] = np.sort(oof).astype(np.float32)
    record = {"method": "mahalanobis (PCA + Ledoit-Wolf) on the genuine references, chosen layer(s)",
              "threshold": threshold, "percentile": percentile, "n_heldout": len(oof),
              "meaning": meaning(percentile)}
    return arrays, record


def meaning(percentile: float) -> str:
    return (f"inputs above the threshold are further from the genuine references than {percentile:g}% of "
            "held-out references; a hint, not a verdict: the probe score stays the verdict")


def has_reference_model(arrays: dict[str, np.ndarray]) -> bool:
    return REFERENCE_PREFIX + "threshold" in arrays


def reference_distance(arrays: dict[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    """Squared Mahalanobis distance of each row of X from the references."""
    from deepfake_gui.probes.oneclass import MahalanobisDetector

    own = {k[len(REFERENCE_PREFIX):]: v for k, v in arrays.items()
           if k.startswith(REFERENCE_PREFIX) and k != HELDOUT_KEY}
    if "precision" not in own:
        raise LayerScopeError("this detector has no reference-set model (it was not adapted with `layerscope adapt`)")
    return MahalanobisDetector.from_arrays(own).score_samples(X)


def heldout_percentile(arrays: dict[str, np.ndarray], distance: float) -> float | None:
    """Percent of held-out references closer than ``distance`` (100 = further than every one)."""
    held = arrays.get(HELDOUT_KEY)
    if held is None or held.size == 0:
        return None
    return float(100.0 * np.searchsorted(np.sort(held.astype(np.float64)), distance, side="right") / held.size)


def reference_line(active_detector: Any, pooled_features: Sequence[np.ndarray] | np.ndarray) -> dict | None:
    """The verdict's own line for the reference distance, or None when the detector has no reference set.

    ``active_detector``: an engine.detectors.ActiveDetector, a probes.detector.Detector or a
    DetectorBundle. ``pooled_features``: the file-level features, either per layer (a list of
    (D_l,) or (1, D_l) arrays, all layers of the encoder) or already the detector's (D,) / (N, D)
    row(s); several rows (windows) are averaged into one file-level row first, as training did.
    """
    detector = getattr(active_detector, "detector", active_detector)
    bundle = getattr(detector, "bundle", detector)
    arrays, meta = bundle.arrays, bundle.meta
    if not has_reference_model(arrays):
        return None
    width = int(arrays[REFERENCE_PREFIX + "scaler_mean"].shape[0])
    if isinstance(pooled_features, np.ndarray) and pooled_features.ndim <= 2 \
            and pooled_features.shape[-1] == width:
        X = np.atleast_2d(pooled_features)
    else:
        layers = list(meta["layers"])
        X = np.concatenate([np.atleast_2d(pooled_features[i]) for i in layers], axis=1)
    if X.shape[1] != width:
        raise LayerScopeError(f"{bundle.path}: the reference model takes {width} features, got {X.shape[1]}")
    X = X.astype(np.float64).mean(axis=0, keepdims=True)
    distance = float(reference_distance(arrays, X)[0])
    threshold = float(arrays[REFERENCE_PREFIX + "threshold"][0])
    record = meta.get("reference") or {}
    reference_set = (meta.get("adaptation") or {}).get("reference_set") or {}
    percentile = float(record.get("percentile", REFERENCE_PERCENTILE))
    return {"distance": round(distance, 4), "threshold": round(threshold, 4),
            "percentile": heldout_percentile(arrays, distance), "threshold_percentile": percentile,
            "flagged": distance > threshold, "reference_set": reference_set.get("name"),
            "n_references": reference_set.get("n_files"), "meaning": record.get("meaning") or meaning(percentile)}


def reference_hashes(meta: dict) -> dict[str, str]:
    """sha256 -> file name of every reference the bundle was adapted with."""
    files = ((meta.get("adaptation") or {}).get("reference_set") or {}).get("files") or []
    return {str(f["sha256"]): str(f.get("name", "")) for f in files if isinstance(f, dict) and "sha256" in f}


def describe_reference_set(meta: dict) -> str | None:
    """"adapted to: <name> (N files)" for a verdict card, or None for a detector that was not adapted."""
    refs = (meta.get("adaptation") or {}).get("reference_set")
    if not refs:
        return None
    return f"adapted to: {refs.get('name')} ({refs.get('n_files')} genuine files)"
