"""A loaded detector: bundle arrays + calibration, applied to encoder features.

Scan and evaluate both go through this class, so a verdict means the same
thing in every front end.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Self

import numpy as np

from deepfake_gui.analysis.calibration import Platt, verdict
from deepfake_gui.core.errors import BundleError
from deepfake_gui.probes.bundle import DetectorBundle, load_bundle
from deepfake_gui.probes.linear import LinearProbe, torch_decision

PROBE_KEYS = ("coef", "intercept", "scaler_mean", "scaler_std")
ATTR_PREFIX = "attr_"


@dataclass(frozen=True)
class Calibration:
    """Score -> probability, the EER threshold and the inconclusive band, for one way of scoring."""

    platt: Platt
    threshold: float
    band: tuple[float, float]
    source: str  # "file" (pooled features, as trained) or the matching scan setting
    held_out: bool = False  # fitted on held-out generators and sources (engine/train_protocols.py)

    @classmethod
    def from_meta(cls, meta: dict) -> Calibration:
        """The file-level calibration every bundle kind stores in detector.json."""
        cal = meta.get("calibration") or {}
        threshold = float(meta.get("threshold", 0.5))
        band = meta.get("inconclusive_band") or [threshold, threshold]
        return cls(Platt(float(cal.get("a", 1.0)), float(cal.get("b", 0.0))), threshold,
                   (float(band[0]), float(band[1])), "file", "held-out" in str(cal.get("fitted_on", "")))

    def probability(self, decision: np.ndarray) -> np.ndarray:
        return self.platt(decision)

    def verdict(self, probability: float) -> str:
        return verdict(float(probability), self.band)

    @property
    def threshold_score(self) -> float:
        """The threshold on the decision-score scale (where heatmaps and series live)."""
        return self.platt.inverse(self.threshold)

    @property
    def band_scores(self) -> list[float]:
        return [self.platt.inverse(p) for p in self.band]


class BundleDetector:
    """What every detector kind reads from its bundle: loading by folder, its name and its encoder."""

    bundle: DetectorBundle

    @classmethod
    def load(cls, folder: str | Path) -> Self:
        return cls(load_bundle(folder))  # type: ignore[call-arg]

    @property
    def name(self) -> str:
        return self.bundle.name

    @property
    def encoder_name(self) -> str:
        return self.bundle.encoder_name


class Detector(BundleDetector):
    def __init__(self, bundle: DetectorBundle) -> None:
        if bundle.kind != "linear-probe":
            raise BundleError(f"{bundle.path}: kind {bundle.kind!r} cannot be used as a linear detector")
        self.bundle = bundle
        self.meta = bundle.meta
        self.probe_arrays = {k: bundle.arrays[k] for k in PROBE_KEYS}
        self.probe = LinearProbe.from_arrays(self.probe_arrays, ["real", "fake"])
        self.file_calibration = Calibration.from_meta(self.meta)
        self.platt, self.threshold, self.band = (self.file_calibration.platt, self.file_calibration.threshold,
                                                 self.file_calibration.band)
        self.attribution_classes: list[str] = list(self.meta.get("attribution_classes") or [])
        self.attr_probe = None
        if self.attribution_classes:
            arrays = {k: bundle.arrays[ATTR_PREFIX + k] for k in PROBE_KEYS}
            self.attr_probe = LinearProbe.from_arrays(arrays, self.attribution_classes)

    @property
    def layers(self) -> list[int]:
        return self.bundle.layers

    def select(self, layer_features: list[np.ndarray]) -> np.ndarray:
        """Concatenate the bundle's layers from per-layer (N, D_l) matrices."""
        try:
            X = np.concatenate([np.atleast_2d(layer_features[i]) for i in self.layers], axis=1)
        except IndexError as exc:
            raise BundleError(f"{self.bundle.path}: layer index out of range for encoder {self.encoder_name}") \
                from exc
        if X.shape[1] != self.probe.coef_.shape[1]:
            raise BundleError(f"{self.bundle.path}: probe expects {self.probe.coef_.shape[1]} features, "
                              f"encoder {self.encoder_name} gives {X.shape[1]} on layers {self.layers}")
        return X

    def select_tokens(self, layer_tokens: list):
        """Concatenate the bundle's layers from per-layer (N, T, D_l) token tensors -> (N, T, D)."""
        import torch

        try:
            parts = [layer_tokens[i] for i in self.layers]
        except (IndexError, TypeError) as exc:
            raise BundleError(f"{self.bundle.path}: the encoder returned no token states for layers {self.layers}") \
                from exc
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)

    def calibration_for(self, track: str, window_s: float | None = None, hop_s: float | None = None,
                        aggregation: str = "mean") -> Calibration | None:
        """The calibration fitted for this way of aggregating windows, or None if there is none.

        Aggregations other than the mean over all frames shift the score (a soft
        maximum of windows is never below their mean), so their probabilities must
        come from a calibration fitted on out-of-fold scores aggregated the same way.
        """
        if aggregation == "mean":
            return self.file_calibration
        for entry in self.meta.get("scan_calibration") or []:
            if (entry.get("track") == track and entry.get("aggregation") == aggregation
                    and window_s is not None and hop_s is not None
                    and abs(float(entry.get("window_s", -1)) - window_s) < 1e-6
                    and abs(float(entry.get("hop_s", -1)) - hop_s) < 1e-6):
                band = entry["inconclusive_band"]
                return Calibration(Platt(float(entry["a"]), float(entry["b"])), float(entry["threshold"]),
                                   (float(band[0]), float(band[1])),
                                   f"{track} {window_s:g} s windows, {hop_s:g} s hop, {aggregation}")
        return None

    def aggregation_for(self, track: str, requested: str, window_s: float | None = None,
                        hop_s: float | None = None) -> str:
        """The aggregation a scan should use: the requested one if this bundle is calibrated for it, else the
        one its calibration was fitted for (``meta["scan_aggregation"]``, e.g. the mean of a held-out
        calibration), so a probability never comes from a calibration fitted on another quantity."""
        preferred = (self.meta.get("scan_aggregation") or {}).get(track)
        if not preferred or requested == preferred:
            return requested
        if track == "audio" and self.calibration_for(track, window_s, hop_s, requested) is not None:
            return requested
        return str(preferred)

    def gate_distance(self, X: np.ndarray) -> tuple[np.ndarray, float] | None:
        """(distances, threshold) of the domain gate calibrated on held-out sources, if the bundle has one."""
        gate = self.meta.get("domain_gate")
        if not isinstance(gate, dict) or not any(k.startswith("gate_") for k in self.bundle.arrays):
            return None
        from deepfake_gui.probes.oneclass import domain_distance

        return domain_distance(self.bundle.arrays, X, prefix="gate_"), float(gate["threshold"])

    def decision(self, X: np.ndarray) -> np.ndarray:
        return self.probe.decision_function(X)

    def probability(self, decision: np.ndarray) -> np.ndarray:
        return self.platt(decision)

    def verdicts(self, probability: np.ndarray) -> list[str]:
        return [verdict(float(p), self.band) for p in np.atleast_1d(probability)]

    def attribution(self, X: np.ndarray) -> np.ndarray | None:
        """Class probabilities over real + each known generator (rows sum to 1)."""
        return None if self.attr_probe is None else self.attr_probe.predict_proba(X)

    def out_of_domain(self, X: np.ndarray) -> np.ndarray | None:
        """True where an input lies further from the training data than 99% of held-out training items."""
        from deepfake_gui.probes.oneclass import out_of_domain

        if not any(k.startswith("domain_") for k in self.bundle.arrays):
            return None
        return out_of_domain(self.bundle.arrays, X)

    @property
    def reference_set(self) -> dict | None:
        """The genuine references this detector was adapted with (``layerscope adapt``), or None."""
        return (self.meta.get("adaptation") or {}).get("reference_set")

    def reference_distance(self, X: np.ndarray) -> np.ndarray | None:
        """Distance of each row from the genuine references (probes/reference.py); None if not adapted."""
        from deepfake_gui.probes.reference import has_reference_model, reference_distance

        if not has_reference_model(self.bundle.arrays):
            return None
        return reference_distance(self.bundle.arrays, X)

    def token_decision(self, tokens):
        """Probe decision on every token state: (N, T, D) -> (N, T) on the tokens' device."""
        return torch_decision(self.probe_arrays, tokens)
