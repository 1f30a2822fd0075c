"""The ``ensemble`` kind: a score-level ensemble of linear probes stored inside one bundle.

    decision = intercept + sum_i weight_i * member_decision_i / scale_i

Each member is a linear probe on some layers of the bundle's encoder (its tensors under
``member<i>_``: coef, intercept, scaler_mean, scaler_std); ``scale_i`` puts the members'
logits on one scale (e.g. the spread of their out-of-fold decisions), ``weight_i`` says how
much each counts. The ensemble has its own Platt calibration, threshold and inconclusive
band in detector.json, as every calibrated kind, fitted on the *combined* decision.

Because every member is linear in the encoder's features and the combination is linear,
the ensemble is linear too: the mean of its token scores is its score of the mean
features, so it localizes (heatmaps, audio steps and windows) exactly as a single probe.

detector.json::

    "kind": "ensemble", "encoder": {...}, "layers": [the union of the members' layers],
    "ensemble": {"intercept": 0.0,
                 "members": [{"name": "...", "layers": [2], "weight": 1.0, "scale": 1.7}, ...]}

All members read the bundle's one encoder; members over different encoders would need
the scan to give a detector several encoders' token states on one grid (the protocol
already keys features by encoder name; see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from deepfake_gui.analysis.calibration import Platt
from deepfake_gui.core.errors import BundleError
from deepfake_gui.probes.bundle import PROBE_KEYS, DetectorBundle, TensorCheck, check_linear
from deepfake_gui.probes.interface import BundleDetector, Features, as_batch
from deepfake_gui.probes.linear import LinearProbe, torch_decision
from deepfake_gui.probes.registry import register_kind

MEMBER_PREFIX = "member{}_"


class EnsembleDetector(BundleDetector):
    kind = "ensemble"
    localizes = True
    description = "ensemble detector"

    def __init__(self, bundle: DetectorBundle) -> None:
        super().__init__(bundle)
        spec = self.meta["ensemble"]
        self.intercept = float(spec.get("intercept", 0.0))
        self.members: list[dict[str, Any]] = [dict(m) for m in spec["members"]]
        self.member_arrays = [{k: bundle.arrays[MEMBER_PREFIX.format(i) + k] for k in PROBE_KEYS}
                              for i in range(len(self.members))]
        self.member_probes = [LinearProbe.from_arrays(a, ["real", "fake"]) for a in self.member_arrays]
        widths = [int(a["coef"].shape[1]) for a in self.member_arrays]
        self.blocks = [(int(sum(widths[:i])), int(sum(widths[: i + 1]))) for i in range(len(widths))]
        self.factors = [float(m["weight"]) / float(m["scale"]) for m in self.members]

    @classmethod
    def check_tensors(cls, check: TensorCheck) -> int:
        meta = check.meta
        if meta["classes"] != ["real", "fake"]:
            check.fail_json("classes", f"is {meta['classes']}; an ensemble is binary: [\"real\", \"fake\"]")
        spec = meta.get("ensemble")
        if not isinstance(spec, dict) or not isinstance(spec.get("members"), list) or not spec["members"]:
            check.fail_json("ensemble", "must be an object with a non-empty 'members' list")
        if not _number(spec.get("intercept", 0.0)):
            check.fail_json("ensemble.intercept", "must be a number")
        width = 0
        for i, member in enumerate(spec["members"]):
            key = f"ensemble.members[{i}]"
            if not isinstance(member, dict) or not isinstance(member.get("name"), str):
                check.fail_json(key, "must be an object with a name")
            layers = member.get("layers")
            if not isinstance(layers, list) or not layers or not all(
                    isinstance(n, int) and not isinstance(n, bool) and n in meta["layers"] for n in layers):
                check.fail_json(f"{key}.layers", f"must list some of the bundle's layers {meta['layers']}")
            if not _number(member.get("weight")):
                check.fail_json(f"{key}.weight", "must be a number")
            if not _number(member.get("scale")) or not member["scale"] > 0:
                check.fail_json(f"{key}.scale", "must be a positive number")
            width += check_linear(check, MEMBER_PREFIX.format(i), 2, "classes", one_decision=True,
                                  what=f"ensemble member {i} ({member['name']})")
        n = len(spec["members"])
        stray = sorted(k for k in check.arrays if k.startswith("member")
                       and not any(k.startswith(MEMBER_PREFIX.format(i)) for i in range(n)))
        if stray:
            raise BundleError(f"{check.weights}: tensor(s) {stray} belong to no member of the {n} in "
                              f"{check.json.name} 'ensemble.members'")
        return width

    @property
    def n_features(self) -> int:
        return self.blocks[-1][1]

    # -- features: the members' inputs side by side ---------------------------------------------
    def inputs(self, features: Features) -> np.ndarray:
        pooled = self._pooled(features, self.encoder_name)
        parts = []
        for member, arrays in zip(self.members, self.member_arrays, strict=True):
            try:
                part = np.concatenate([np.atleast_2d(pooled[i]) for i in member["layers"]], axis=1)
            except IndexError as exc:
                raise BundleError(f"{self.bundle.path}: member {member['name']}: layer index out of range for "
                                  f"encoder {self.encoder_name}") from exc
            if part.shape[1] != arrays["coef"].shape[1]:
                raise BundleError(f"{self.bundle.path}: member {member['name']} expects {arrays['coef'].shape[1]} "
                                  f"features, encoder {self.encoder_name} gives {part.shape[1]} on layers "
                                  f"{member['layers']}")
            parts.append(part)
        return np.concatenate(parts, axis=1)

    def select(self, layer_features: Sequence[np.ndarray]) -> np.ndarray:
        return self.inputs({self.encoder_name: layer_features})

    def decision(self, X: np.ndarray) -> np.ndarray:
        X = np.atleast_2d(X)
        if X.shape[1] != self.n_features:
            raise BundleError(f"{self.bundle.path}: the ensemble expects {self.n_features} features, got {X.shape[1]}")
        total = np.full(len(X), self.intercept, dtype=np.float64)
        for probe, (lo, hi), factor in zip(self.member_probes, self.blocks, self.factors, strict=True):
            total += factor * probe.decision_function(X[:, lo:hi])
        return total

    def member_decisions(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Each member's own decision (before weighting): what the ensemble combined."""
        X = np.atleast_2d(X)
        return {m["name"]: probe.decision_function(X[:, lo:hi])
                for m, probe, (lo, hi) in zip(self.members, self.member_probes, self.blocks, strict=True)}

    # -- localization ---------------------------------------------------------------------------------
    def token_inputs(self, features: Features) -> Any:
        import torch

        tokens = as_batch(features[self.encoder_name]).tokens
        parts = []
        for member in self.members:
            try:
                chosen = [tokens[i] for i in member["layers"]]  # type: ignore[index]
            except (IndexError, TypeError) as exc:
                raise BundleError(f"{self.bundle.path}: the encoder returned no token states for layers "
                                  f"{member['layers']}") from exc
            parts.extend(chosen)
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)

    def token_decision(self, tokens: Any) -> Any:
        total = None
        for arrays, (lo, hi), factor in zip(self.member_arrays, self.blocks, self.factors, strict=True):
            part = factor * torch_decision(arrays, tokens[..., lo:hi])
            total = part if total is None else total + part
        return total + self.intercept  # type: ignore[operator]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def build_ensemble(name: str, members: Sequence[Any], weights: Sequence[float], scales: Sequence[float],
                   platt: Platt, threshold: float, band: tuple[float, float], intercept: float = 0.0,
                   meta: dict[str, Any] | None = None) -> DetectorBundle:
    """An ensemble bundle (not yet saved: probes.bundle.save_bundle) from linear-probe detectors on one encoder.

    ``members``: loaded ``linear-probe`` detectors (probes.detector.LinearProbeDetector); the
    calibration (``platt``, ``threshold``, ``band``) must be fitted on the combined decision.
    """
    if not members or not len(members) == len(weights) == len(scales):
        raise ValueError("an ensemble needs members, and one weight and one scale per member")
    encoders = {(m.meta["encoder"]["name"], m.meta["encoder"].get("weights_sha256")) for m in members}
    modalities = {m.modality for m in members}
    if len(encoders) != 1 or len(modalities) != 1:
        raise ValueError(f"the members of an ensemble must share one encoder and modality, got {sorted(encoders)}")
    arrays: dict[str, np.ndarray] = {}
    specs = []
    for i, (member, weight, scale) in enumerate(zip(members, weights, scales, strict=True)):
        arrays |= {MEMBER_PREFIX.format(i) + k: np.asarray(v) for k, v in member.probe_arrays.items()}
        specs.append({"name": member.name, "layers": [int(n) for n in member.layers], "weight": float(weight),
                      "scale": float(scale)})
    first = members[0]
    card = {
        "name": name, "kind": "ensemble", "modality": first.modality, "encoder": dict(first.meta["encoder"]),
        "layers": sorted({n for s in specs for n in s["layers"]}), "classes": ["real", "fake"],
        "ensemble": {"intercept": float(intercept), "members": specs},
        "calibration": {"method": "platt", "a": float(platt.a), "b": float(platt.b)},
        "threshold": float(threshold), "inconclusive_band": [float(band[0]), float(band[1])],
    }
    return DetectorBundle(card | (meta or {}), arrays)


register_kind(EnsembleDetector.kind, EnsembleDetector)
