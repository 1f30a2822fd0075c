"""A heatmap head: where in a picture a detector's evidence lies, and whether one region stands out.

Why a head of its own: the file probe reads the last stage of the encoder, pooled to 7x7 per 224 px
tile; projected back onto those tokens it scored untouched and spliced tiles alike (pixel AUC 0.56 on
the localization set). This head reads mid-level stages on their own 14x14 grid, is trained on
patches whose labels say *where* (synthetic splices of a real picture and a generated copy of the
same picture, beside whole real and whole generated pictures), and carries a second, tile-level
model that says whether one region stands out from the rest of the tile (engine/train_map_head.py).

Everything is plain arrays (safetensors) and numbers in detector.json: the patch probe
(``map_coef``, ``map_intercept``, ``map_scaler_mean``, ``map_scaler_std``), the region model over
:data:`REGION_FEATURES` (the same four names with ``map_region_``), and the out-of-fold region scores
of genuine training tiles (``map_region_genuine``), from which the region threshold for an image of
n tiles is read at run time: at most ``region_rate`` of genuine images get a region, whatever n.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deepfake_gui.probes.linear import LinearProbe

MAP_PREFIX = "map_"
REGION_PREFIX = "map_region_"
GENUINE_KEY = "map_region_genuine"
PROBE_KEYS = ("coef", "intercept", "scaler_mean", "scaler_std")
QUANTILES = (50, 75, 90, 95, 99, 100)
REGION_FEATURES = ("p50", "p75", "p90", "p95", "p99", "max", "p75-p50", "p90-p50", "p95-p50", "p99-p50",
                   "max-p50", "share above p50+2", "share above p50+4")


def smooth(maps: np.ndarray) -> np.ndarray:
    """3x3 mean of each (gh, gw) map, edges averaged over the cells that exist: one patch is noisy."""
    maps = np.asarray(maps, dtype=np.float64)
    padded = np.pad(maps, ((0, 0), (1, 1), (1, 1)), constant_values=np.nan)
    h, w = maps.shape[1:]
    stack = np.stack([padded[:, dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)])
    return np.nanmean(stack, axis=0)


def region_features(maps: np.ndarray) -> np.ndarray:
    """(N, gh, gw) smoothed maps -> (N, len(REGION_FEATURES)): how far the top of each map stands above its middle."""
    flat = np.asarray(maps, dtype=np.float64).reshape(len(maps), -1)
    q = np.percentile(flat, QUANTILES, axis=1).T  # (N, 6)
    median = q[:, :1]
    above = [(flat > median + d).mean(axis=1, keepdims=True) for d in (2.0, 4.0)]
    return np.concatenate([q, q[:, 1:] - median, *above], axis=1)


def region_inputs(maps: np.ndarray) -> np.ndarray:
    """What the region model reads of (N, gh, gw) raw tile maps: the statistics of their smoothed versions.

    One definition for training (engine/train_map_head.py) and scan (:meth:`MapHead.region_scores`).
    """
    return region_features(smooth(maps))


def probe_arrays(probe: LinearProbe, prefix: str) -> dict[str, np.ndarray]:
    return {f"{prefix}coef": probe.coef_.astype(np.float32), f"{prefix}intercept": probe.intercept_.astype(np.float32),
            f"{prefix}scaler_mean": probe.mean_.astype(np.float32),
            f"{prefix}scaler_std": probe.scale_.astype(np.float32)}


def probe_from(arrays: dict[str, np.ndarray], prefix: str) -> LinearProbe:
    return LinearProbe.from_arrays({k: arrays[prefix + k] for k in PROBE_KEYS}, ["real", "fake"])


@dataclass
class MapHead:
    """The patch probe, the region model and the thresholds; see the module docstring."""

    layers: tuple[int, ...]  # encoder layers read per patch, concatenated
    layer_names: tuple[str, ...]
    grid_layer: int  # the layer whose grid the patches live on
    probe: LinearProbe  # patch features -> score (> 0 leans generated)
    region: LinearProbe  # REGION_FEATURES of a smoothed tile map -> region score
    genuine_region_scores: np.ndarray  # out-of-fold region scores of genuine training tiles, sorted
    pixel_threshold: float  # smoothed score above which a patch is drawn as leaning generated
    region_rate: float  # the share of genuine images allowed a region
    region_extent: float  # the region: smoothed cells within this of the tile's peak
    record: dict[str, Any] = field(default_factory=dict)  # training data and measured figures

    # -- scoring
    def tile_maps(self, tokens: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
        """(N, gh*gw, D) patch features -> (N, gh, gw) scores."""
        n = tokens.shape[0]
        scores = self.probe.decision_function(tokens.reshape(-1, tokens.shape[-1]))
        return scores.reshape(n, grid[0], grid[1]).astype(np.float32)

    @staticmethod
    def smoothed(maps: np.ndarray) -> np.ndarray:
        """The maps as drawn and as the pixel threshold was set on them (3x3 mean): one patch alone is noisy."""
        return smooth(maps).astype(np.float32)

    def region_scores(self, maps: np.ndarray) -> np.ndarray:
        return self.region.decision_function(region_inputs(maps))

    def region_threshold(self, n_tiles: int) -> float:
        """The region score a genuine image of ``n_tiles`` tiles reaches on at most ``region_rate`` of them."""
        quantile = 1.0 - self.region_rate / max(1, int(n_tiles))
        return float(np.quantile(self.genuine_region_scores, min(1.0, max(0.0, quantile))))

    def region_cells(self, tile_map: np.ndarray) -> np.ndarray:
        """The suspected region of one tile: smoothed cells within ``region_extent`` of its peak."""
        smoothed = smooth(tile_map[None])[0]
        return smoothed >= smoothed.max() - self.region_extent

    # -- storage
    def to_bundle(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta = {"layers": list(self.layers), "layer_names": list(self.layer_names), "grid_layer": self.grid_layer,
                "pixel_threshold": float(self.pixel_threshold), "region_rate": float(self.region_rate),
                "region_extent": float(self.region_extent), "region_features": list(REGION_FEATURES),
                **self.record}
        arrays = {**probe_arrays(self.probe, MAP_PREFIX), **probe_arrays(self.region, REGION_PREFIX),
                  GENUINE_KEY: np.sort(self.genuine_region_scores).astype(np.float32)}
        return meta, arrays

    @classmethod
    def from_bundle(cls, meta: dict[str, Any] | None, arrays: dict[str, np.ndarray]) -> MapHead | None:
        if not meta:
            return None
        known = {"layers", "layer_names", "grid_layer", "pixel_threshold", "region_rate", "region_extent",
                 "region_features"}
        return cls(tuple(int(i) for i in meta["layers"]), tuple(meta["layer_names"]), int(meta["grid_layer"]),
                   probe_from(arrays, MAP_PREFIX), probe_from(arrays, REGION_PREFIX),
                   np.asarray(arrays[GENUINE_KEY], dtype=np.float64), float(meta["pixel_threshold"]),
                   float(meta["region_rate"]), float(meta["region_extent"]),
                   {k: v for k, v in meta.items() if k not in known})
