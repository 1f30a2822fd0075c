"""Image preprocessing and CNN token helpers shared by the CLIP, ResNet and EfficientNet families.

Every image family resizes the shortest side, centre-crops a square and normalises,
differing only in numbers that live in ``spec.preprocessing``; the logic is written
once here so a probe trained on one family's features sees the same pixels another
family would. Work is done on uint8 tensors (antialiased, like Pillow) so bicubic
overshoot saturates at 0/255 as it does in the reference pipelines, then converted
to float32 once for the whole batch.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from torchvision.transforms import InterpolationMode

from deepfake_gui.encoders.base import Encoder, EncoderSpec, LayerFeatures

_RESIZE_RE = re.compile(r"^shortest-(?P<mode>bilinear|bicubic)(?:\((?P<short>\d+)\))?\+center-crop$")
_SCALE_RE = re.compile(r"^\(x-(?P<offset>[0-9.]+)\)/(?P<divisor>[0-9.]+)$")
_MODES = {"bilinear": InterpolationMode.BILINEAR, "bicubic": InterpolationMode.BICUBIC}
# An image more than this many times longer than wide is first cut to this aspect
# around its centre: the final square crop never reaches that far, and resizing a
# 1 x 10000 strip whole would allocate gigabytes.
MAX_ASPECT_BEFORE_RESIZE = 2


@dataclass(frozen=True)
class ImagePreprocessing:
    """Resize shortest side to ``short_side``, centre-crop ``size`` x ``size``, normalise.

    Normalisation is either ImageNet-style ``(x/255 - mean) / std`` or the TF-Lite
    style affine ``(x - offset) / divisor`` on 0..255 values (EfficientNet-Lite).
    """

    size: int
    short_side: int
    interpolation: InterpolationMode
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    offset: float = 0.0
    divisor: float = 255.0

    @classmethod
    def from_config(cls, cfg: dict[str, Any], default_mode: str = "bilinear") -> ImagePreprocessing:
        """Parse a spec's ``preprocessing`` dict; unknown strings fail at build time, not mid-scan."""
        size = int(cfg["size"])
        resize = cfg.get("resize", f"shortest-{default_mode}+center-crop")
        match = _RESIZE_RE.match(resize)
        if match is None:
            raise ValueError(f"unsupported resize rule {resize!r}; expected e.g. 'shortest-bicubic(232)+center-crop'")
        short_side = int(match["short"]) if match["short"] else size
        if short_side < size:
            raise ValueError(f"resize target {short_side} is smaller than the {size}px crop")
        mode = _MODES[match["mode"]]
        if "scale" in cfg:
            scale = _SCALE_RE.match(str(cfg["scale"]).replace(" ", ""))
            if scale is None:
                raise ValueError(f"unsupported scale rule {cfg['scale']!r}; expected '(x-127.5)/128'")
            return cls(size, short_side, mode, offset=float(scale["offset"]), divisor=float(scale["divisor"]))
        if "mean" not in cfg or "std" not in cfg:
            raise ValueError("image preprocessing needs either mean+std or scale")
        return cls(size, short_side, mode, mean=tuple(cfg["mean"]), std=tuple(cfg["std"]))  # type: ignore[arg-type]

    # ------------------------------------------------------------------ pixels
    def crop_uint8(self, item: np.ndarray, index: int = 0) -> torch.Tensor:
        """One RGB uint8 (H, W, 3) array -> (3, size, size) uint8 tensor."""
        arr = _checked(item, index)
        img = torch.from_numpy(arr).permute(2, 0, 1)  # channels-last view: the fast uint8 resize path
        return self._resize_crop(self._limit_aspect(img))

    def _limit_aspect(self, img: torch.Tensor) -> torch.Tensor:
        h, w = img.shape[-2:]
        short = min(h, w)
        if max(h, w) <= MAX_ASPECT_BEFORE_RESIZE * short:
            return img
        keep = MAX_ASPECT_BEFORE_RESIZE * short
        return TF.center_crop(img, [min(h, keep), min(w, keep)])

    def _resize_crop(self, img: torch.Tensor) -> torch.Tensor:
        img = TF.resize(img, [self.short_side], interpolation=self.interpolation, antialias=True)
        return TF.center_crop(img, [self.size, self.size])

    def normalise(self, batch_uint8: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) uint8 -> float32 model input."""
        x = batch_uint8.to(torch.float32)
        if self.mean is not None and self.std is not None:
            mean = torch.tensor(self.mean, dtype=torch.float32).view(1, 3, 1, 1) * 255.0
            std = torch.tensor(self.std, dtype=torch.float32).view(1, 3, 1, 1) * 255.0
            return (x - mean) / std
        return (x - self.offset) / self.divisor

    def __call__(self, items: Sequence[np.ndarray]) -> torch.Tensor:
        """A batch of decoded images of any sizes -> (N, 3, size, size) float32 on the CPU."""
        if len(items) == 0:
            raise ValueError("no images to preprocess")
        arrays = [_checked(item, i) for i, item in enumerate(items)]
        if len({a.shape for a in arrays}) == 1:
            # video frames and already-sized datasets: one batched resize instead of N
            stacked = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)
            batch = self._resize_crop(self._limit_aspect(stacked))
        else:
            batch = torch.stack([self.crop_uint8(a, i) for i, a in enumerate(arrays)])
        return self.normalise(batch)


def _checked(item: np.ndarray, index: int) -> np.ndarray:
    arr = np.asarray(item)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise ValueError(f"image item {index} must be RGB uint8 (H, W, 3), got {arr.dtype} {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"image item {index} is empty ({arr.shape[0]}x{arr.shape[1]})")
    return np.ascontiguousarray(arr)  # flipped or strided views cannot become tensors; no copy if already C-order


# ---------------------------------------------------------------- CNN tokens
def gap(fmap: torch.Tensor) -> torch.Tensor:
    """(N, C, h, w) -> (N, C): global average pooling, the CNN families' per-layer vector."""
    return fmap.mean(dim=(2, 3))


def map_tokens(fmap: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """(N, C, h, w) -> (N, gh*gw, C) on a shared ``grid`` (row-major).

    LayerFeatures has one ``token_grid`` for all layers, while a CNN's maps shrink
    with depth, so every map is average-pooled onto the deepest layer's grid. For the
    standard input sizes each map's side is a multiple of the grid's, the pooling is
    an exact block mean, and the mean of a layer's tokens equals its GAP vector.
    """
    if tuple(fmap.shape[-2:]) != tuple(grid):
        fmap = torch.nn.functional.adaptive_avg_pool2d(fmap, grid)
    return fmap.flatten(2).transpose(1, 2)


class CNNEncoder(Encoder):
    """What the CNN families share: the layer-name check, preprocessing, GAP per map, tokens on one grid.

    A family names the layers it reads (``model_layer_names``) and runs its own forward loop.
    """

    def __init__(self, spec: EncoderSpec, device: str, model: torch.nn.Module) -> None:
        super().__init__(spec, device)
        names = self.model_layer_names(model)
        if names != tuple(spec.layer_names):
            raise ValueError(f"{spec.name}: spec layers {spec.layer_names} do not match the model's {names}")
        self.model = model.to(self.device).eval()
        self.pre = ImagePreprocessing.from_config(spec.preprocessing)

    @staticmethod
    def model_layer_names(model: torch.nn.Module) -> tuple[str, ...]:
        raise NotImplementedError

    def preprocess(self, items: Sequence[np.ndarray]) -> torch.Tensor:
        return self.pre(items)

    def feature_maps(self, batch: torch.Tensor, last_layer: int) -> list[torch.Tensor]:
        """The raw (N, C, h, w) maps of layers 0..last_layer, at their own resolution (families that can)."""
        raise NotImplementedError(f"{self.name}: this encoder family gives no native-resolution maps")

    def patch_tokens(self, items: Sequence[np.ndarray], layers: Sequence[int],
                     grid_layer: int) -> tuple[np.ndarray, tuple[int, int]]:
        """(N, gh*gw, sum of widths) tokens of ``layers`` on ``grid_layer``'s own grid, and that grid.

        Why not ``encode(tokens=True)``: there every layer is pooled onto the deepest map's grid
        (7x7 for a 224 px tile), too coarse to say where in a tile; a heatmap head reads mid-level
        layers at 14x14. Maps finer than the grid are block-averaged onto it, coarser ones repeated.
        """
        tokens, grid, _ = self.encode_with_patches(items, [], layers, grid_layer)
        return tokens, grid

    def encode_with_patches(self, items: Sequence[np.ndarray], pooled_layers: Sequence[int], layers: Sequence[int],
                            grid_layer: int) -> tuple[np.ndarray, tuple[int, int], list[np.ndarray]]:
        """``patch_tokens`` and, from the same forward pass, the pooled vectors of layers 0..max(pooled_layers)
        exactly as ``encode`` gives them (a scan with a heatmap head runs the encoder once, not twice)."""
        from deepfake_gui.encoders.device import autocast_context, to_device

        wanted = [int(i) for i in layers]
        last = max([*wanted, grid_layer, *[int(i) for i in pooled_layers]])
        if not wanted or min(wanted) < 0 or last >= self.spec.num_layers:
            raise ValueError(f"{self.name}: layers {wanted} / grid layer {grid_layer} out of range "
                             f"0..{self.spec.num_layers - 1}")
        batch = to_device(self.preprocess(items), self.device)
        with torch.inference_mode(), autocast_context(self.device):
            maps = self.feature_maps(batch, last)
            pooled = [gap(m).detach().float().cpu().numpy() for m in maps[: max(pooled_layers) + 1]] \
                if pooled_layers else []
        grid = (int(maps[grid_layer].shape[-2]), int(maps[grid_layer].shape[-1]))
        parts = []
        for i in wanted:
            fmap = maps[i].float()
            if fmap.shape[-2] < grid[0]:
                fmap = torch.nn.functional.interpolate(fmap, size=grid, mode="nearest")
            parts.append(map_tokens(fmap, grid))
        return torch.cat(parts, dim=2).cpu().numpy(), grid, pooled

    def _layer_features(self, maps: list[torch.Tensor], tokens: bool,
                        pooled: list[torch.Tensor] | None = None,
                        grid: tuple[int, int] | None = None) -> LayerFeatures:
        """One vector per map (GAP unless given) and, on request, every map's tokens on the last map's grid.

        ``grid`` overrides the token grid when an early exit stopped before the last map.
        """
        feats = LayerFeatures(layer_names=self.layer_names[: len(maps)], pooled=pooled or [gap(f) for f in maps])
        if tokens:
            grid = grid or (int(maps[-1].shape[-2]), int(maps[-1].shape[-1]))
            feats.tokens = [map_tokens(f, grid) for f in maps]
            feats.token_grid = grid
        return feats
