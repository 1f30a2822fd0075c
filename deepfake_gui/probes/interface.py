"""The Detector protocol: all that scan, evaluate, robustness, adapt and the CLI may ask of a detector.

A detector is a bundle (probes/bundle.py) of some kind (``linear-probe``, ``fusion``,
``one-class``, ``ensemble``, ...). Every kind implements :class:`Detector`; callers load
one with :func:`load_detector` (dispatching on detector.json's ``kind`` through
probes/registry.py) and never branch on the kind.

Features go in keyed by encoder name: a detector says which encoders it reads and
what of each (:meth:`Detector.feature_requests`: layers, or an encoder's projected
embedding), the engine runs each encoder once over the items and hands back an
:class:`EncodedBatch` per encoder, and the detector turns those into its input rows
(:meth:`Detector.inputs`) and decision scores (:meth:`Detector.decision`; higher =
more fake, for every kind). ``score_features`` does both.

Verdicts come from the kind's calibration (:class:`Calibration`, from detector.json);
a kind without one (one-class: a distance and its threshold) has ``file_calibration``
None. Kinds that can localize (``localizes``) also score every token state
(``token_inputs`` then ``token_decision``): a patch of a picture, a time step of a
recording. The explanation hooks (attribution over known generators, distance to the
training domain, the held-out domain gate, distance to genuine references, stored
one-class models) return None where a bundle has none.

:class:`BundleDetector` implements what every kind shares: loading, the model card,
calibration and verdicts, scan calibrations per aggregation, layer selection, and the
optional extras any bundle may carry (``attr_*``, ``domain_*``, ``gate_*``,
``reference_*``, ``oneclass_*`` tensors).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

import numpy as np

from deepfake_gui.analysis.calibration import Platt, verdict
from deepfake_gui.core.errors import BundleError
from deepfake_gui.probes import registry
from deepfake_gui.probes.bundle import (
    ATTR_PREFIX,
    DOMAIN_PREFIX,
    ONE_CLASS_PREFIX,
    PROBE_KEYS,
    DetectorBundle,
    TensorCheck,
    load_bundle,
)
from deepfake_gui.probes.linear import LinearProbe


@dataclass(frozen=True)
class FeatureRequest:
    """What a detector reads from one encoder."""

    encoder: str  # the encoder's registry name
    layers: tuple[int, ...] | None = None  # the layers it reads (the encoder may stop after the deepest); None: all
    # The encoder's projected embedding of whole pictures and its forensic prompt's embedding (CLIP), not
    # tiles or layers: such a detector scores whole decoded pictures.
    embedding: bool = False
    weights_sha256: str | None = None  # the weights it was trained on (None: not recorded)
    random_init: bool = False  # trained on an encoder with random weights (tests and demos)


@dataclass
class EncodedBatch:
    """What one encoder gave for a batch of N items; the engine fills it, a detector reads what it asked for."""

    pooled: Sequence[Any]  # per layer, (N, D_l) numpy arrays (list positions are layer indices)
    tokens: Sequence[Any] | None = None  # per layer, (N, T, D_l) tensors on the encoder's device (or None)
    layer_names: Sequence[str] = ()
    embedding: np.ndarray | None = None  # (N, E): the projected, normalised embedding, when requested
    prompt: np.ndarray | None = None  # (E,): the forensic prompt's embedding, with ``embedding``
    token_grid: tuple[int, int] | None = None  # pictures: the (h, w) grid of the patch tokens
    token_times: np.ndarray | None = None  # sound: the centre of each time step, in seconds


# encoder name -> its EncodedBatch, or simply its per-layer pooled (N, D_l) arrays
Features = Mapping[str, "EncodedBatch | Sequence[np.ndarray]"]


def as_batch(value: EncodedBatch | Sequence[np.ndarray]) -> EncodedBatch:
    return value if isinstance(value, EncodedBatch) else EncodedBatch(pooled=value)


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
        """The file-level calibration every calibrated bundle kind stores in detector.json."""
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


@runtime_checkable
class Detector(Protocol):
    """What every detector kind gives its callers. See the module docstring and docs/ARCHITECTURE.md."""

    kind: str
    bundle: DetectorBundle
    meta: dict[str, Any]  # the model card: detector.json as validated
    file_calibration: Calibration | None  # None: the kind gives no probability (one-class)
    localizes: bool  # scores every token state (patch, time step)
    map_head: Any  # probes.map_head.MapHead or None: a heatmap head of its own (pictures)
    adaptable: bool  # `layerscope adapt` can refit it with genuine references
    attribution_classes: list[str]

    # -- identity and model card
    @property
    def name(self) -> str: ...
    @property
    def modality(self) -> str: ...
    @property
    def encoder_name(self) -> str: ...  # the primary encoder (the first of encoder_names)
    @property
    def encoder_names(self) -> list[str]: ...
    @property
    def threshold(self) -> float: ...  # the threshold evaluate reports (probability, or distance without calibration)
    @property
    def band(self) -> tuple[float, float]: ...
    def training_domain(self) -> str: ...

    # -- scoring
    def feature_requests(self) -> list[FeatureRequest]: ...
    def inputs(self, features: Features) -> np.ndarray: ...
    def decision(self, X: np.ndarray) -> np.ndarray: ...
    def score_features(self, features: Features) -> np.ndarray: ...
    def probability(self, decision: np.ndarray) -> np.ndarray: ...
    def verdicts(self, probability: np.ndarray) -> list[str]: ...
    def calibration_for(self, track: str, window_s: float | None = None, hop_s: float | None = None,
                        aggregation: str = "mean") -> Calibration | None: ...
    def aggregation_for(self, track: str, requested: str, window_s: float | None = None,
                        hop_s: float | None = None) -> str: ...

    # -- localization (kinds with ``localizes``)
    def token_inputs(self, features: Features) -> Any: ...
    def token_decision(self, tokens: Any) -> Any: ...

    # -- explanation hooks (None where the bundle has none)
    def attribution(self, X: np.ndarray) -> np.ndarray | None: ...
    def out_of_domain(self, X: np.ndarray) -> np.ndarray | None: ...
    def gate_distance(self, X: np.ndarray) -> tuple[np.ndarray, float] | None: ...
    def reference_distance(self, X: np.ndarray) -> np.ndarray | None: ...
    def one_class_models(self) -> dict[str, tuple[Any, str]]: ...


def load_detector(folder: str | Path, purpose: str = "LayerScope") -> Detector:
    """The detector in a bundle folder, as the class registered for its kind.

    A folder that is not a bundle, an unknown kind (the error names the known kinds) or a
    bundle kind that is not a detector by itself (``attribution``) raise BundleError;
    ``purpose`` says who refused it ("evaluate cannot run a 'attribution' bundle").
    """
    return detector_from_bundle(load_bundle(folder), purpose)


def detector_from_bundle(bundle: DetectorBundle, purpose: str = "LayerScope") -> Detector:
    """A loaded bundle as the class registered for its kind."""
    where = bundle.path if bundle.path is not None else bundle.name
    entry = registry.kind_entry(bundle.kind, where)
    if entry.detector is None:
        raise BundleError(f"{where}: {purpose} cannot run a {bundle.kind!r} bundle (it runs "
                          f"{', '.join(registry.detector_kinds())} detectors)")
    return entry.detector(bundle)


# The one-class models any bundle may store beside its detector, by array prefix: (name, fitted on).
STORED_ONE_CLASS = {
    DOMAIN_PREFIX: ("domain", "all training items, real and fake"),
    ONE_CLASS_PREFIX: ("one-class", "real training items only"),
}


class BundleDetector:
    """What every kind shares. A kind sets ``kind``, ``check_tensors`` and ``decision``, and what it adds."""

    kind: ClassVar[str] = ""
    calibrated: ClassVar[bool] = True  # detector.json states calibration, threshold and band
    localizes: ClassVar[bool] = False
    adaptable: ClassVar[bool] = False
    description: ClassVar[str] = "detector"  # in the refusal of another kind's bundle

    def __init__(self, bundle: DetectorBundle) -> None:
        if bundle.kind != self.kind:
            raise BundleError(f"{bundle.path}: kind {bundle.kind!r} is not a {self.description}")
        self.bundle = bundle
        self.meta = bundle.meta
        self.file_calibration: Calibration | None = Calibration.from_meta(self.meta) if self.calibrated else None
        self.attribution_classes: list[str] = list(self.meta.get("attribution_classes") or [])
        self.attr_probe = None
        if self.attribution_classes:
            arrays = {k: bundle.arrays[ATTR_PREFIX + k] for k in PROBE_KEYS}
            self.attr_probe = LinearProbe.from_arrays(arrays, self.attribution_classes)
        from deepfake_gui.probes.map_head import MapHead

        # a heatmap head of its own (pictures): where the evidence lies, at a finer grid than the probe's
        self.map_head: MapHead | None = MapHead.from_bundle(self.meta.get("map_head"), bundle.arrays)

    @classmethod
    def load(cls, folder: str | Path) -> Self:
        return cls(load_bundle(folder))

    @classmethod
    def check_tensors(cls, check: TensorCheck) -> int:
        """Validate the kind's own tensors (raise BundleError); return the width of its input rows."""
        raise NotImplementedError

    # -- identity and model card ---------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.bundle.name

    @property
    def modality(self) -> str:
        return str(self.meta.get("modality", ""))

    @property
    def encoder_name(self) -> str:
        return self.encoder_names[0]

    @property
    def encoder_names(self) -> list[str]:
        return list(dict.fromkeys(r.encoder for r in self.feature_requests()))

    @property
    def layers(self) -> list[int]:
        return self.bundle.layers

    @property
    def n_features(self) -> int:
        """The width of the detector's input rows."""
        return int(self.bundle.arrays["scaler_mean"].shape[0])

    @property
    def platt(self) -> Platt:
        return self._calibration().platt

    @property
    def threshold(self) -> float:
        return self._calibration().threshold

    @property
    def band(self) -> tuple[float, float]:
        return self._calibration().band

    @property
    def cv_auc(self) -> float:
        return float((self.meta.get("metrics") or {}).get("cv_auc") or 0.0)

    @property
    def unseen_auc(self) -> float:
        """The model card's leave-one-generator-out mean AUC (0 when it has none): what predicts new fakes."""
        headline = (self.meta.get("metrics") or {}).get("headline") or {}
        return float(headline.get("mean_auc") or 0.0)

    def training_domain(self) -> str:
        """The training domain in words, for the caveat every result carries."""
        profile = self.meta.get("domain_profile") or {}
        if profile.get("description"):
            return str(profile["description"])
        training = self.meta.get("training", {})
        gens = sorted(g for g in training.get("generators", {}) if g != "real")
        return (f"{training.get('n_items', '?')} {self.modality} files from {training.get('root', '?')}"
                + (f"; fakes from {', '.join(gens)}" if gens else ""))

    # -- features --------------------------------------------------------------------------------
    def feature_requests(self) -> list[FeatureRequest]:
        """One encoder (the bundle's ``encoder``), on the bundle's layers."""
        encoder = self.meta.get("encoder") or {}
        return [FeatureRequest(str(encoder["name"]), tuple(int(i) for i in self.layers),
                               weights_sha256=encoder.get("weights_sha256"),
                               random_init=bool(encoder.get("random_init")))]

    def inputs(self, features: Features) -> np.ndarray:
        """The detector's input rows (N, n_features) from the features of its encoder(s)."""
        return self.select(self._pooled(features, self.encoder_name))

    def _pooled(self, features: Features, encoder: str) -> Sequence[np.ndarray]:
        try:
            return as_batch(features[encoder]).pooled
        except KeyError:
            raise BundleError(f"{self.bundle.path}: needs features of encoder {encoder}, got "
                              f"{', '.join(features) or 'none'}") from None

    def select(self, layer_features: Sequence[np.ndarray]) -> np.ndarray:
        """Concatenate the bundle's layers from per-layer (N, D_l) matrices of its (one) encoder."""
        try:
            X = np.concatenate([np.atleast_2d(layer_features[i]) for i in self.layers], axis=1)
        except IndexError as exc:
            raise BundleError(f"{self.bundle.path}: layer index out of range for encoder {self.encoder_name}") \
                from exc
        if X.shape[1] != self.n_features:
            raise BundleError(f"{self.bundle.path}: the {self.description} expects {self.n_features} features, "
                              f"encoder {self.encoder_name} gives {X.shape[1]} on layers {self.layers}")
        return X

    def decision(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def score_features(self, features: Features) -> np.ndarray:
        """Decision scores (higher = more fake) of N items from their features keyed by encoder name."""
        return self.decision(self.inputs(features))

    # -- calibration and verdicts ------------------------------------------------------------
    def _calibration(self) -> Calibration:
        if self.file_calibration is None:
            raise BundleError(f"{self.bundle.path}: a detector of kind {self.kind!r} gives no calibrated probability")
        return self.file_calibration

    def probability(self, decision: np.ndarray) -> np.ndarray:
        return self._calibration().probability(decision)

    def verdicts(self, probability: np.ndarray) -> list[str]:
        calibration = self._calibration()
        return [calibration.verdict(p) for p in np.atleast_1d(probability)]

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

    # -- localization --------------------------------------------------------------------------
    def token_inputs(self, features: Features) -> Any:
        """The per-token inputs of ``token_decision`` from the features of its encoder(s), with tokens."""
        self._localizing()
        tokens = as_batch(features[self.encoder_name]).tokens
        return self.select_tokens(tokens)  # type: ignore[arg-type]

    def select_tokens(self, layer_tokens: Sequence[Any]) -> Any:
        """Concatenate the bundle's layers from per-layer (N, T, D_l) token tensors -> (N, T, D)."""
        import torch

        try:
            parts = [layer_tokens[i] for i in self.layers]
        except (IndexError, TypeError) as exc:
            raise BundleError(f"{self.bundle.path}: the encoder returned no token states for layers {self.layers}") \
                from exc
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)

    def token_decision(self, tokens: Any) -> Any:
        """The decision on every token state: (N, T, D) -> (N, T) on the tokens' device."""
        self._localizing()
        raise NotImplementedError

    def _localizing(self) -> None:
        if not self.localizes:
            raise BundleError(f"{self.bundle.path}: a detector of kind {self.kind!r} gives no per-token scores")

    # -- explanation hooks: the extras any bundle may carry beside its detector ------------------
    def attribution(self, X: np.ndarray) -> np.ndarray | None:
        """Class probabilities over real + each known generator (rows sum to 1)."""
        return None if self.attr_probe is None else self.attr_probe.predict_proba(X)

    def out_of_domain(self, X: np.ndarray) -> np.ndarray | None:
        """True where an input lies further from the training data than 99% of held-out training items."""
        from deepfake_gui.probes.oneclass import out_of_domain

        if not any(k.startswith(DOMAIN_PREFIX) for k in self.bundle.arrays):
            return None
        return out_of_domain(self.bundle.arrays, X)

    def gate_distance(self, X: np.ndarray) -> tuple[np.ndarray, float] | None:
        """(distances, threshold) of the domain gate calibrated on held-out sources, if the bundle has one."""
        gate = self.meta.get("domain_gate")
        if not isinstance(gate, dict) or not any(k.startswith("gate_") for k in self.bundle.arrays):
            return None
        from deepfake_gui.probes.oneclass import domain_distance

        return domain_distance(self.bundle.arrays, X, prefix="gate_"), float(gate["threshold"])

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

    def one_class_models(self) -> dict[str, tuple[Any, str]]:
        """Every one-class model stored beside the detector: name -> (model with its threshold, fitted on)."""
        from deepfake_gui.probes.oneclass import load_one_class

        models: dict[str, tuple[Any, str]] = {}
        for prefix, (name, fitted_on) in STORED_ONE_CLASS.items():
            if any(k.startswith(prefix) for k in self.bundle.arrays):
                models[name] = (load_one_class(self.bundle.arrays, prefix), fitted_on)
        return models

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, kind={self.kind!r}, encoders={self.encoder_names})"
