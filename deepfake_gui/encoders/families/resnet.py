"""torchvision ResNet, read after the stem, after every residual block, and at the pool.

The blocks are run in an explicit loop (no hooks) so the order of ``layer_names``
is the order of computation and nothing is left registered on the module.
Pooling (spec.pooling == "gap"): global average pooling of each block's output,
so widths differ by stage (64 / 256 / 512 / 1024 / 2048 for ResNet-101) and
``LayerFeatures.pooled`` must be used per layer, not ``stacked()``. "pool" is the
network's own 2048-d average-pooled output, i.e. the GAP of the last block (kept as
its own layer because it is what the ImageNet classifier reads). Tokens are every
block's map average-pooled onto the last stage's grid (7 x 7 at 224 px), see
:func:`image_common.map_tokens`; "pool" uses the layer4 map.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from deepfake_gui.core.errors import WeightsUnavailableError
from deepfake_gui.encoders.base import EncoderSpec, LayerFeatures
from deepfake_gui.encoders.families.image_common import CNNEncoder, gap

STAGES = ("layer1", "layer2", "layer3", "layer4")


def resnet_layer_names(model: nn.Module) -> tuple[str, ...]:
    """The names this family reads from a torchvision ResNet, in forward order."""
    blocks = tuple(f"{stage}.{i}" for stage in STAGES for i in range(len(getattr(model, stage))))
    return ("stem", *blocks, "pool")


class ResNetEncoder(CNNEncoder):
    """A torchvision ``ResNet`` (any depth or block type) read block by block."""

    model_layer_names = staticmethod(resnet_layer_names)

    def _forward(self, batch: torch.Tensor, tokens: bool) -> LayerFeatures:
        maps = self.feature_maps(batch, len(self.spec.layer_names) - 2)
        pooled = [gap(f) for f in maps]
        pooled.append(torch.flatten(self.model.avgpool(maps[-1]), 1))  # "pool": what the fc layer reads
        return self._layer_features([*maps, maps[-1]], tokens, pooled)

    def feature_maps(self, batch: torch.Tensor, last_layer: int) -> list[torch.Tensor]:
        """Stem and block maps up to ``last_layer`` ("pool" is the last block's map, as in tokens)."""
        m = self.model
        x = m.maxpool(m.relu(m.bn1(m.conv1(batch))))
        maps = [x]
        for stage in STAGES:
            for block in getattr(m, stage):
                if len(maps) > last_layer:
                    return maps
                x = block(x)
                maps.append(x)
        if len(maps) <= last_layer:
            maps.append(x)
        return maps


def build(spec: EncoderSpec, device: str, weights_path: Path | None) -> ResNetEncoder:
    """torchvision resnet101 with the ImageNet state_dict from ``weights_path`` (strict, weights_only)."""
    from torchvision.models import resnet101

    if weights_path is None or not Path(weights_path).is_file():
        raise WeightsUnavailableError(
            f"encoder {spec.name} needs {spec.weights[0].filename}, got {weights_path}. "
            f"Get it with: {spec.install_hint}"
        )
    model = resnet101(weights=None)
    state = torch.load(weights_path, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return ResNetEncoder(spec, device, model)


def tiny_model() -> nn.Module:
    """ResNet with one BasicBlock per stage (same class and forward as the real one), seed 0."""
    from torchvision.models.resnet import BasicBlock, ResNet

    torch.manual_seed(0)
    return ResNet(BasicBlock, [1, 1, 1, 1], num_classes=10)


def build_tiny(spec: EncoderSpec, device: str, weights_path: Path | None = None) -> ResNetEncoder:
    return ResNetEncoder(spec, device, tiny_model())
