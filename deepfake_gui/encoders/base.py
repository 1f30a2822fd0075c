"""The one interface every encoder family implements.

An Encoder turns a batch of decoded media into the hidden states of *every*
layer, because the forensic signal lives in the middle layers, not the output.
Pooling (CLS token or mean over tokens) is fixed per family and documented in
its spec, so probes trained on one machine mean the same thing on another.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Modality = Literal["image", "audio"]


@dataclass(frozen=True)
class WeightSource:
    """One place a family's weights can come from, in search order."""

    kind: Literal["package", "hf", "open_clip", "torchvision", "none"]
    ref: str  # package:relative/path, hf repo id, open_clip "arch/tag", torchvision enum name
    filename: str | None = None
    sha256: str | None = None
    size_bytes: int | None = None
    url: str | None = None


@dataclass(frozen=True)
class EncoderSpec:
    """Architecture as data (open_clip style); the module is built lazily."""

    name: str
    modality: Modality
    family: str
    layer_names: tuple[str, ...]
    pooling: str  # "cls", "mean", "gap", "last-step": how a layer becomes one vector
    preprocessing: dict[str, Any]  # JSON-able: sample_rate, or size/mean/std/resize
    preprocessing_version: str
    builder: str  # "module:function" imported on first use
    licence: str
    weights: tuple[WeightSource, ...] = ()
    size_bytes: int | None = None
    description: str = ""
    random_init: bool = False  # tiny test variants: never a real detector
    install_hint: str = ""  # what gets the weights when they are missing
    token_rate_hz: float | None = None  # audio: token states per second
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def num_layers(self) -> int:
        return len(self.layer_names)


@dataclass
class LayerFeatures:
    """Hidden states of every requested layer for a batch of N items.

    ``pooled[l]`` is (N, D_l) float32 on the CPU. ``tokens[l]`` (on request) is
    (N, T, D_l) float32 on the encoder's device so a probe can score every patch
    or time step with one matmul. Images give ``token_grid`` (h, w) for the
    patch tokens (row-major); audio gives ``token_times`` (T,) in seconds, the
    centre of each step.
    """

    layer_names: list[str]
    pooled: list[Any]  # list[torch.Tensor]
    tokens: list[Any] | None = None
    token_grid: tuple[int, int] | None = None
    token_times: np.ndarray | None = None

    def stacked(self) -> np.ndarray:
        """(N, L, D) numpy array; only when every layer has the same width."""
        dims = {int(p.shape[1]) for p in self.pooled}
        if len(dims) != 1:
            raise ValueError(f"layers differ in width {sorted(dims)}: use .pooled per layer")
        return np.stack([p.numpy() for p in self.pooled], axis=1)

    def layer(self, index: int) -> np.ndarray:
        return self.pooled[index].numpy()


class Encoder(ABC):
    """A built encoder on a device. Subclasses implement preprocess and _forward."""

    def __init__(self, spec: EncoderSpec, device: str = "auto", weights_sha256: str | None = None) -> None:
        from deepfake_gui.encoders.device import resolve_device

        self.spec = spec
        self.device = resolve_device(device)
        self.weights_sha256 = weights_sha256 or ("random-init" if spec.random_init else None)

    # -- identity -----------------------------------------------------------
    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def modality(self) -> Modality:
        return self.spec.modality

    @property
    def layer_names(self) -> list[str]:
        return list(self.spec.layer_names)

    # -- work ---------------------------------------------------------------
    @abstractmethod
    def preprocess(self, items: Sequence[np.ndarray]) -> Any:
        """Decoded media (RGB uint8 HxWx3, or mono float32 at spec sample_rate) -> model input."""

    @abstractmethod
    def _forward(self, batch: Any, tokens: bool) -> LayerFeatures:
        """Run the model on a preprocessed batch already on self.device."""

    # Families that can stop early set this and accept ``last_layer`` in _forward
    # (compute layers 0..last_layer only); the others run whole and are trimmed.
    supports_early_exit: bool = False

    def forward(self, batch: Any, *, tokens: bool = False, layers: Sequence[int] | None = None) -> LayerFeatures:
        """Every layer's features, or with ``layers`` only layers 0..max(layers).

        ``layers`` is an early exit for scans: a detector reads a few layers, so
        the layers after its deepest one need not run. The layers that are
        returned are the same numbers a full forward gives (same ops, same
        order); list positions stay the layer indices. With tokens, a layer
        inside the prefix that is not in ``layers`` gets ``None`` tokens.
        """
        import torch

        from deepfake_gui.encoders.device import autocast_context, to_device

        last = self._last_layer(layers)
        batch = to_device(batch, self.device)
        with torch.inference_mode(), autocast_context(self.device):
            if last is not None and self.supports_early_exit:
                feats = self._forward(batch, tokens, last_layer=last)  # type: ignore[call-arg]
            else:
                feats = self._forward(batch, tokens)
        if last is not None:
            _trim(feats, last, set(layers or ()))
        feats.pooled = [p.detach().float().cpu() for p in feats.pooled]
        if feats.tokens is not None:
            feats.tokens = [None if t is None else t.detach().float() for t in feats.tokens]
        return feats

    def encode(self, items: Sequence[np.ndarray], *, tokens: bool = False,
               layers: Sequence[int] | None = None) -> LayerFeatures:
        """preprocess + forward; audio items of different lengths are run one length at a time."""
        return self.forward(self.preprocess(items), tokens=tokens, layers=layers)

    def _last_layer(self, layers: Sequence[int] | None) -> int | None:
        """The deepest layer asked for, or None when that is the last layer anyway (nothing to skip)."""
        if layers is None or len(layers) == 0:
            return None
        last = max(int(i) for i in layers)
        if min(int(i) for i in layers) < 0 or last >= self.spec.num_layers:
            raise ValueError(f"{self.name}: layers {list(layers)} out of range 0..{self.spec.num_layers - 1}")
        return None if last == self.spec.num_layers - 1 else last


def _trim(feats: LayerFeatures, last: int, wanted: set[int]) -> None:
    """Keep layers 0..last; drop the tokens of layers nobody asked for (they can be large)."""
    feats.layer_names = list(feats.layer_names[: last + 1])
    feats.pooled = list(feats.pooled[: last + 1])
    if feats.tokens is not None:
        feats.tokens = [t if i in wanted else None for i, t in enumerate(feats.tokens[: last + 1])]
