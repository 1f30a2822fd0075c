"""Score a picture: native-resolution tiles, per-tile probe scores, and a heatmap from the token scores.

Why tiles: generator fingerprints (the decoder's upsampling pattern) live in the
pixel grid. Shrinking a 4000 px photo to the encoder's 224 px input would erase
them, and the shipped image detector was trained on 224 px tiles at native
resolution. So a large image is cut into encoder-sized tiles that are scored
as they are; an image smaller than one tile is resized (and a caveat says so).

Why the heatmap is honest: a CNN pools its maps by averaging and the probe is
linear, so the probe applied to each spatial position (a class-activation map)
averages exactly to the tile's score. For ViT encoders the same probe scores
each patch token. Either way it shows where the probe responded, not proof.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass

import numpy as np

from deepfake_gui.core.jobs import CancelToken, Progress
from deepfake_gui.engine.track import TrackScore, rounded


@dataclass(frozen=True)
class ImageOptions:
    max_tiles: int = 64  # per image; a larger image is covered by evenly spread tiles
    aggregation: str = "logsumexp"  # tiles -> image score
    heatmap_max_side: int = 512  # the stored map; the API upsamples to the original size
    batch_size: int = 16

    def __post_init__(self) -> None:
        if self.max_tiles < 1:
            raise ValueError(f"max_tiles must be at least 1, got {self.max_tiles}")


@dataclass(frozen=True)
class TilePlan:
    mode: str  # "tiles": native-resolution crops; "resize": the whole image resized by the encoder
    boxes: tuple[tuple[int, int, int, int], ...]  # (y0, x0, y1, x1) in original pixels


def plan_tiles(height: int, width: int, size: int, max_tiles: int = 64) -> TilePlan:
    """Tiles of ``size`` covering the image (the last row/column end-aligned), at most ``max_tiles``."""
    from deepfake_gui.encoders.tiling import tile_boxes

    mode, boxes = tile_boxes(height, width, size, max_tiles)
    return TilePlan(mode, tuple(boxes))


def crops(image: np.ndarray, plan: TilePlan) -> list[np.ndarray]:
    if plan.mode == "resize":
        return [image]
    return [image[y0:y1, x0:x1] for y0, x0, y1, x1 in plan.boxes]


def encode_crops(active, items: list[np.ndarray], *, tokens: bool, batch_size: int,
                 cancel: CancelToken) -> tuple[np.ndarray, np.ndarray | None]:
    """The detector's input rows (N, D) and, with ``tokens``, its token scores (N, gh, gw).

    Each encoder the detector reads runs once per batch (engine/detector_features.py); the
    patch grid is the primary encoder's.
    """
    from deepfake_gui.engine.detector_features import encode_items

    detector, encoders = active.detector, active.warm_encoders()
    head = getattr(detector, "map_head", None)
    rows, maps = [], []
    for begin in range(0, len(items), batch_size):
        cancel.raise_if_cancelled()
        batch = items[begin : begin + batch_size]
        if tokens and head is not None:  # the heatmap head reads mid-level layers on their own, finer grid
            batches, tile_maps = _encode_with_head(detector, encoders, head, batch)
            rows.append(detector.inputs(batches))
            maps.append(tile_maps)
            continue
        batches = encode_items(detector, encoders, batch, tokens=tokens)
        rows.append(detector.inputs(batches))
        if tokens:
            primary = batches[detector.encoder_name]
            if primary.token_grid is None:
                raise ValueError(f"{detector.encoder_name} returned no patch grid for its token states")
            gh, gw = primary.token_grid
            scores = detector.token_decision(detector.token_inputs(batches)).float().cpu().numpy()
            maps.append(scores.reshape(-1, gh, gw))
    return np.concatenate(rows), (np.concatenate(maps) if tokens else None)


def _encode_with_head(detector, encoders: dict, head, batch: list[np.ndarray]) -> tuple[dict, np.ndarray]:
    """The probe's pooled features and the head's tile maps from one forward pass of the (single) encoder."""
    from deepfake_gui.probes.interface import EncodedBatch

    (request,) = detector.feature_requests()  # a heatmap head belongs to a one-encoder picture detector
    encoder = encoders[request.encoder]
    probe_layers = list(request.layers) if request.layers else list(range(encoder.spec.num_layers))
    patch_tokens, grid, pooled = encoder.encode_with_patches(batch, probe_layers, head.layers, head.grid_layer)
    names = list(encoder.spec.layer_names[: len(pooled)])
    return {request.encoder: EncodedBatch(pooled, None, names)}, head.tile_maps(patch_tokens, grid)


def needed_layers(detector) -> list[int] | None:
    """The layers of its primary encoder a detector reads: the encoder may stop after the deepest (an early exit)."""
    requests = getattr(detector, "feature_requests", None)
    if requests is None:
        layers = getattr(detector, "layers", None)
        return [int(i) for i in layers] if layers else None
    primary = requests()[0]
    return [int(i) for i in primary.layers] if primary.layers else None


def paint_heatmap(shape: tuple[int, int], plan: TilePlan, maps: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Token-score maps placed on a canvas aligned to the image, at ``scale`` = canvas / original.

    Pixels no tile covered are NaN (not scored, which is not the same as "real").
    """
    import torch

    height, width = shape
    scale = min(1.0, max_side / max(height, width))
    canvas_h, canvas_w = max(1, math.ceil(height * scale)), max(1, math.ceil(width * scale))
    total = np.zeros((canvas_h, canvas_w), dtype=np.float64)
    count = np.zeros((canvas_h, canvas_w), dtype=np.float64)
    for (y0, x0, y1, x1), tile_map in zip(plan.boxes, maps, strict=True):
        cy0, cx0 = int(round(y0 * scale)), int(round(x0 * scale))
        cy1, cx1 = max(cy0 + 1, int(round(y1 * scale))), max(cx0 + 1, int(round(x1 * scale)))
        cy1, cx1 = min(cy1, canvas_h), min(cx1, canvas_w)
        patch = torch.nn.functional.interpolate(torch.as_tensor(tile_map, dtype=torch.float32)[None, None],
                                                size=(cy1 - cy0, cx1 - cx0), mode="bilinear", align_corners=False)
        total[cy0:cy1, cx0:cx1] += patch[0, 0].numpy()
        count[cy0:cy1, cx0:cx1] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        heat = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return heat.astype(np.float32), scale


def heatmap_summary(heat: np.ndarray, scale: float, threshold_score: float, plan: TilePlan) -> dict:
    """Short statistics of the map for the JSON line (the map itself goes to the API)."""
    finite = np.isfinite(heat)
    values = heat[finite]
    if values.size == 0:
        return {"mode": plan.mode, "n_tiles": len(plan.boxes), "coverage": 0.0}
    peak = np.unravel_index(int(np.nanargmax(np.where(finite, heat, -np.inf))), heat.shape)
    return {
        "mode": plan.mode, "n_tiles": len(plan.boxes), "shape": list(heat.shape), "scale": round(scale, 6),
        "coverage": round(float(finite.mean()), 4),
        "min": round(float(values.min()), 4), "max": round(float(values.max()), 4),
        "mean": round(float(values.mean()), 4), "p95": round(float(np.percentile(values, 95)), 4),
        "threshold_score": round(threshold_score, 4),
        "area_above_threshold": round(float((values >= threshold_score).mean()), 4),
        "peak_xy": [round(float((peak[1] + 0.5) / scale), 1), round(float((peak[0] + 0.5) / scale), 1)],
        "note": "where the probe responded, not proof of manipulation",
    }


def score_image_array(image: np.ndarray, active, options: ImageOptions, cancel: CancelToken,
                      track: str = "image") -> Generator[Progress, None, TrackScore]:
    """Score one decoded RGB image; yields Progress per batch of tiles."""
    plan, items = image_tiles(image, active, options)
    rows, maps = yield from encode_tiles(
        active, items, options.batch_size, cancel,
        lambda n: Progress(n, len(items), f"{active.name}: tiles"))
    return finish_image_score(active, options, image.shape[:2], plan, rows, maps, track)


def encode_tiles(active, items: list[np.ndarray], batch_size: int, cancel: CancelToken,
                 progress: Callable[[int], Progress]) -> Generator[Progress, None, tuple[np.ndarray, np.ndarray]]:
    """Feature rows and token-score maps of tiles, a batch at a time; ``progress(tiles done)`` after each batch."""
    rows, maps = [], []
    for begin in range(0, len(items), batch_size):
        batch_rows, batch_maps = encode_crops(active, items[begin : begin + batch_size], tokens=True,
                                              batch_size=batch_size, cancel=cancel)
        rows.append(batch_rows)
        maps.append(batch_maps)
        yield progress(min(begin + batch_size, len(items)))
    return np.concatenate(rows), np.concatenate(maps)  # type: ignore[arg-type]


def image_tiles(image: np.ndarray, active, options: ImageOptions) -> tuple[TilePlan, list[np.ndarray]]:
    """The tile plan of one image for this detector's encoder, and its crops (views, no copies)."""
    size = int(active.encoder.spec.preprocessing["size"])
    plan = plan_tiles(image.shape[0], image.shape[1], size, options.max_tiles)
    return plan, crops(image, plan)


def finish_image_score(active, options: ImageOptions, shape: tuple[int, int], plan: TilePlan,
                       features_all: np.ndarray, tile_maps: np.ndarray, track: str = "image") -> TrackScore:
    """One image's TrackScore from its tiles' feature rows and token maps (however they were batched)."""
    from deepfake_gui.analysis.aggregate import aggregate

    detector, encoder = active.detector, active.encoder
    size = int(encoder.spec.preprocessing["size"])
    height, width = int(shape[0]), int(shape[1])
    tile_scores = detector.decision(features_all)
    how = detector.aggregation_for(track, options.aggregation)
    decision = aggregate(tile_scores, how) if len(tile_scores) > 1 else float(tile_scores[0])
    probability = float(detector.probability(np.array([decision]))[0])
    head = getattr(detector, "map_head", None)
    # the heatmap's own threshold where a head drew it (few genuine tiles reach it), else the verdict's
    threshold_score = head.pixel_threshold if head is not None else detector.file_calibration.threshold_score
    # a head's map is drawn as its region rule and pixel threshold read it: each patch with its 3x3 neighbours
    shown = head.smoothed(tile_maps) if head is not None else tile_maps
    heat, scale = paint_heatmap((height, width), plan, shown, options.heatmap_max_side)
    arrays = {"heatmap": heat, "heatmap_scale": scale, "image_shape": (height, width),
              "tile_boxes": np.asarray(plan.boxes), "tile_scores": tile_scores, "threshold_score": threshold_score,
              "band_score": detector.file_calibration.band_scores}
    series = {}
    if len(tile_scores) > 1:
        series = {"kind": "tile", "detector": active.name, "boxes": [list(b) for b in plan.boxes],
                  "score": rounded(tile_scores)}
    facts = {"mode": plan.mode, "n_tiles": len(plan.boxes), "width": width, "height": height, "tile": size,
             "heatmap": heatmap_summary(heat, scale, threshold_score, plan)}
    if head is not None:
        facts["heatmap"]["region"] = suspected_region(head, tile_maps, plan)
    caveats = []
    # the lean towards fake only matters when the image was not called real anyway
    if len(tile_scores) > 1 and how != "mean" and probability >= detector.file_calibration.band[0]:
        caveats.append(combined_caveat(active.name, len(tile_scores), "tiles", how))
    return TrackScore(active.name, track, decision, probability, None, features_all.mean(axis=0, keepdims=True),
                      how if len(tile_scores) > 1 else "single-tile", series, arrays, caveats,
                      facts, detector.file_calibration)


# Enlarged genuine photos look smooth, like a decoder's output: the head marked a region on 9 of 10 we tried.
SMALL_PICTURE_REGION = "smaller than one tile, enlarged to be scored"


def suspected_region(head, tile_maps: np.ndarray, plan: TilePlan) -> dict:
    """Whether one region of a tile stands out (the head's region model), and where, in picture pixels.

    The threshold grows with the number of tiles, so a genuine picture of many tiles is no likelier to
    get a region than one of a single tile (probes/map_head.MapHead.region_threshold).
    """
    scores = head.region_scores(tile_maps)
    threshold = head.region_threshold(len(scores))
    best = int(np.argmax(scores))
    out = {"found": bool(scores[best] >= threshold), "score": round(float(scores[best]), 4),
           "threshold": round(threshold, 4), "tile": best,
           "rule": (f"the rule gives a region to at most {100 * head.region_rate:.0f}% of genuine pictures held "
                    "out in training")}
    if plan.mode == "resize":  # enlarged to the encoder's input: smooth, like a decoder's output, to the head
        out.update(found=False, withheld=SMALL_PICTURE_REGION)
        return out
    if out["found"]:
        cells = head.region_cells(tile_maps[best])
        rows, cols = np.nonzero(cells)
        y0, x0, y1, x1 = plan.boxes[best]
        cell_h, cell_w = (y1 - y0) / cells.shape[0], (x1 - x0) / cells.shape[1]
        out["box_xyxy"] = [round(x0 + cols.min() * cell_w), round(y0 + rows.min() * cell_h),
                           round(x0 + (cols.max() + 1) * cell_w), round(y0 + (rows.max() + 1) * cell_h)]
        out["share_of_tile"] = round(float(cells.mean()), 4)
    return out


def combined_caveat(name: str, count: int, what: str, aggregation: str) -> str:
    """Tile and frame scores are combined with a calibration fitted on single items: say which way it leans."""
    return (f"{name} scored {count} {what} and combined them by {aggregation}; its calibration was fitted on single "
            f"224 px tiles, so the combined probability leans towards fake: read the per-{what[:-1]} scores too")


def upsample_heatmap(heat: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The stored map at the original image's H x W (bilinear; NaN where no tile reached)."""
    import torch

    if heat.shape == tuple(shape):
        return heat
    mask = np.isfinite(heat)
    filled = torch.as_tensor(np.where(mask, heat, 0.0), dtype=torch.float32)[None, None]
    weight = torch.as_tensor(mask.astype(np.float32))[None, None]
    up = torch.nn.functional.interpolate(filled, size=tuple(shape), mode="bilinear", align_corners=False)[0, 0]
    up_w = torch.nn.functional.interpolate(weight, size=tuple(shape), mode="bilinear", align_corners=False)[0, 0]
    out = torch.where(up_w > 0.5, up / up_w.clamp_min(1e-6), torch.full_like(up, float("nan")))
    return out.numpy()
