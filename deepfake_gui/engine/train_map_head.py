"""Train a heatmap head (probes/map_head.py) for a picture detector, on grouped folds.

Why splices: a head trained only on whole real and whole generated pictures learns "this tile is
generated", not "here"; its maps respond to texture anywhere. Where a data set holds a generated copy
of a real picture (same group, same file name, same size: an autoencoder's reconstruction, an
inpainting of the whole frame), a random feathered ellipse of the copy pasted into the real picture
and saved as JPEG (quality 95) gives patches labelled by where they lie; every genuine tile of the set
(both data sets, all sources), and of a downscaled, re-compressed copy of each genuine picture (what a
messaging app makes of it), adds patches that must stay cold. Wholly generated pictures are left out:
with them the head learns "generated texture" in general (faces, diffusion gloss) and draws it on
genuine photos too. Measured on held-out groups of the development sets: region AUC 0.81 with them,
0.94 without (splices found at 10% of genuine tiles given a region: 49% against 82%). Telling a wholly
generated picture is the file probe's job.

Everything that sets a threshold is read from held-out folds: the patch probe of each fold scores
the genuine tiles and splices of groups it never saw; the region model is fitted on those
out-of-fold maps, and its own grouped out-of-fold scores of genuine tiles are what the bundle keeps
to read the region threshold from.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepfake_gui.probes.dataset import LabeledSet
from deepfake_gui.probes.linear import LinearProbe
from deepfake_gui.probes.map_head import MapHead, region_inputs, smooth

POSITIVE_SHARE, NEGATIVE_SHARE = 0.5, 0.1  # a splice cell counts as inside above, outside below this share


@dataclass(frozen=True)
class MapHeadOptions:
    layers: tuple[int, ...] = (3, 4, 5)
    grid_layer: int = 4
    C: float = 0.01
    max_tiles: int = 4  # tiles per picture (the head learns texture; more tiles add little)
    splices_per_tile: int = 2
    resaved_copies: int = 1  # per genuine picture: downscaled 0.5-0.9 and re-saved as JPEG 65-90 (more genuine tiles)
    patches_per_tile: int = 32
    pixel_rate: float = 0.1  # genuine tiles (out of fold) with any patch drawn as leaning generated
    region_rate: float = 0.1  # genuine pictures (out of fold) given a suspected region
    region_extent: float = 3.0
    seed: int = 0
    batch_size: int = 16


@dataclass
class Tiles:
    tokens: np.ndarray  # (N, T, D) float16
    labels: np.ndarray  # (N, T) 1 generated, 0 real, -1 ignored (a splice's edge)
    kind: np.ndarray  # (N,) "real" | "resaved" (a genuine picture's re-saved copy) | "splice"
    groups: np.ndarray  # (N,)
    grid: tuple[int, int]


def feathered_ellipse(size: int, rng: np.random.Generator, area: tuple[float, float] = (0.08, 0.35)) -> np.ndarray:
    """A (size, size) weight in [0, 1]: 1 inside a random ellipse covering ``area`` of the tile, a 2.5 px ramp."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    lo, hi = size * 0.13, size * 0.87
    for _ in range(1000):
        cy, cx = rng.uniform(lo, hi, 2)
        a, b = rng.uniform(size * 0.09, size * 0.4, 2)
        theta = rng.uniform(0, np.pi)
        u = ((xx - cx) * np.cos(theta) + (yy - cy) * np.sin(theta)) / a
        v = (-(xx - cx) * np.sin(theta) + (yy - cy) * np.cos(theta)) / b
        distance = (np.sqrt(u ** 2 + v ** 2) - 1.0) * min(a, b)
        weight = np.clip(0.5 - distance / 2.5, 0.0, 1.0)
        if area[0] <= float((weight >= 0.5).mean()) <= area[1]:
            return weight
    raise RuntimeError("could not draw an ellipse of the asked area")  # pragma: no cover (size >= 16)


def splice(real: np.ndarray, fake: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``fake`` pasted into ``real`` under ``weight``, saved and read back as JPEG quality 95 (4:4:4)."""
    from PIL import Image

    mixed = real.astype(np.float64) * (1 - weight[..., None]) + fake.astype(np.float64) * weight[..., None]
    buffer = io.BytesIO()
    Image.fromarray(np.clip(np.round(mixed), 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=95,
                                                                            subsampling=0)
    buffer.seek(0)
    return np.asarray(Image.open(buffer).convert("RGB"))


def resaved(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A genuine picture downscaled by 0.5-0.9 (bicubic) and saved as JPEG at quality 65-90."""
    from deepfake_gui.launder.image import jpeg_recompress, rescale

    return jpeg_recompress(rescale(image, float(rng.uniform(0.5, 0.9)), back=False), int(rng.integers(65, 91)))


def copy_pairs(data: LabeledSet) -> list[tuple[int, int]]:
    """(fake index, real index): a generated copy of a real picture (same group and file name)."""
    reals = {(str(g), Path(p).name): i for i, (p, g, y) in enumerate(zip(data.paths, data.groups, data.labels,
                                                                          strict=True)) if y == 0}
    return [(i, reals[(str(g), Path(p).name)]) for i, (p, g, y) in enumerate(zip(data.paths, data.groups,
                                                                                     data.labels, strict=True))
            if y == 1 and (str(g), Path(p).name) in reals]


def cell_shares(weight: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """The share of each grid cell inside the pasted region (weight >= 0.5), row-major."""
    inside = (weight >= 0.5).astype(np.float64)
    h, w = inside.shape
    ys = np.linspace(0, h, grid[0] + 1).astype(int)
    xs = np.linspace(0, w, grid[1] + 1).astype(int)
    return np.array([inside[ys[r]:ys[r + 1], xs[c]:xs[c + 1]].mean() for r in range(grid[0]) for c in range(grid[1])])


def collect_tiles(data: LabeledSet, encoder, options: MapHeadOptions,
                  progress: Callable[[int, int], None] | None = None) -> Tiles:
    """Tiles of every genuine picture, splices of every copy pair, and their patch tokens and labels."""
    from deepfake_gui.encoders.tiling import tile_boxes
    from deepfake_gui.media.image import load_image

    rng = np.random.default_rng(options.seed)
    size = int(encoder.spec.preprocessing["size"])
    pictures: dict[int, np.ndarray] = {}

    def picture(i: int) -> np.ndarray:
        if i not in pictures:
            pictures[i] = load_image(data.paths[i])
        return pictures[i]

    items: list[tuple[np.ndarray, str, str, np.ndarray | None]] = []  # (tile, kind, group, weight)
    for i in np.flatnonzero(data.labels == 0):
        image = picture(i)
        mode, boxes = tile_boxes(image.shape[0], image.shape[1], size, options.max_tiles)
        for y0, x0, y1, x1 in boxes:
            items.append((image if mode == "resize" else image[y0:y1, x0:x1], "real", str(data.groups[i]), None))
        for _ in range(options.resaved_copies):  # as a messaging app passes it on: genuine, and must stay cold
            copy = resaved(image, rng)
            mode, boxes = tile_boxes(copy.shape[0], copy.shape[1], size, options.max_tiles)
            if mode == "tiles":  # a copy smaller than a tile is enlarged when scored, and scan gives it no region
                items += [(copy[y0:y1, x0:x1], "resaved", str(data.groups[i]), None) for y0, x0, y1, x1 in boxes]
    for fake_index, real_index in copy_pairs(data):
        real, fake = picture(real_index), picture(fake_index)
        if real.shape != fake.shape or min(real.shape[:2]) < size:
            continue
        _, boxes = tile_boxes(real.shape[0], real.shape[1], size, options.max_tiles)
        for y0, x0, y1, x1 in boxes:
            for _ in range(options.splices_per_tile):
                weight = feathered_ellipse(size, rng)
                items.append((splice(real[y0:y1, x0:x1], fake[y0:y1, x0:x1], weight), "splice",
                              str(data.groups[real_index]), weight))
        pictures.pop(fake_index, None)

    tokens, grid = [], (0, 0)
    for begin in range(0, len(items), options.batch_size):
        batch = [item[0] for item in items[begin:begin + options.batch_size]]
        out, grid = encoder.patch_tokens(batch, options.layers, options.grid_layer)
        tokens.append(out.astype(np.float16))
        if progress is not None:
            progress(min(begin + options.batch_size, len(items)), len(items))
    tokens_all = np.concatenate(tokens)
    n_cells = grid[0] * grid[1]
    labels = np.empty((len(items), n_cells), dtype=np.int8)
    for n, (_, _, _, weight) in enumerate(items):
        if weight is None:
            labels[n] = 0
        else:
            share = cell_shares(weight, grid)
            labels[n] = np.where(share > POSITIVE_SHARE, 1, np.where(share < NEGATIVE_SHARE, 0, -1))
    return Tiles(tokens_all, labels, np.array([k for _, k, _, _ in items]), np.array([g for _, _, g, _ in items]),
                 grid)


def training_patches(tiles: Tiles, index: np.ndarray, per_tile: int,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A sample of labelled patches of the given tiles (splices: half inside, half outside the region)."""
    X, y = [], []
    for n in index:
        labels = tiles.labels[n]
        if tiles.kind[n] == "splice":
            for value in (1, 0):
                cells = np.flatnonzero(labels == value)
                take = rng.choice(cells, min(per_tile // 2, len(cells)), replace=False)
                X.append(tiles.tokens[n, take])
                y.append(np.full(len(take), value))
        else:
            take = rng.choice(labels.size, min(per_tile, labels.size), replace=False)
            X.append(tiles.tokens[n, take])
            y.append(labels[take])
    return np.concatenate(X).astype(np.float32), np.concatenate(y)


def train_map_head(data: LabeledSet, encoder, folds: list[tuple[np.ndarray, np.ndarray]],
                   options: MapHeadOptions = MapHeadOptions(),
                   progress: Callable[[int, int], None] | None = None) -> MapHead:
    """The heatmap head for ``encoder`` on ``data``; thresholds from held-out folds (module docstring)."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold

    n_pairs = len(copy_pairs(data))
    tiles = collect_tiles(data, encoder, options, progress) if n_pairs else None
    if tiles is None or not (tiles.kind == "splice").any():
        raise ValueError("a heatmap head needs generated copies of real pictures (same group, file name and size, "
                         "at least one tile wide) to learn where; none found in the training data")
    rng = np.random.default_rng(options.seed)
    n_cells = tiles.labels.shape[1]
    held_groups = [set(np.asarray(data.groups)[test].astype(str).tolist()) for _, test in folds]
    oof_maps = np.full((len(tiles.kind), n_cells), np.nan)
    for held in held_groups:
        test = np.array([g in held for g in tiles.groups])
        train = np.flatnonzero(~test)
        X, y = training_patches(tiles, train, options.patches_per_tile, rng)
        probe = LinearProbe(C=options.C, max_iter=2000).fit(X, y)
        scored = np.flatnonzero(test)
        flat = tiles.tokens[scored].reshape(-1, tiles.tokens.shape[-1]).astype(np.float32)
        oof_maps[scored] = probe.decision_function(flat).reshape(len(scored), n_cells)
    # thresholds are read on genuine tiles as the data sets hold them: the re-saved copies score lower (the head
    # learned them as negatives), and in the pool they would pull every threshold down (measured: untouched
    # localization tiles given a region, out of fold, 15% -> 22.5%)
    genuine = np.flatnonzero(tiles.kind == "real")
    resaved_tiles = np.flatnonzero(tiles.kind == "resaved")
    spliced = np.flatnonzero(tiles.kind == "splice")
    maps = oof_maps.reshape(-1, *tiles.grid)
    peaks = smooth(maps[genuine]).reshape(len(genuine), -1).max(axis=1)  # the maps as scan draws them
    pixel_threshold = float(np.quantile(peaks, 1 - options.pixel_rate))

    both = np.concatenate([genuine, resaved_tiles, spliced])
    features = region_inputs(maps[both])
    target = np.r_[np.zeros(len(genuine) + len(resaved_tiles)), np.ones(len(spliced))]
    region_oof = np.zeros(len(both))
    for train, test in GroupKFold(5).split(features, target, tiles.groups[both]):
        model = LinearProbe(C=1.0).fit(features[train], target[train])
        region_oof[test] = model.decision_function(features[test])
    region = LinearProbe(C=1.0).fit(features, target)
    genuine_oof = region_oof[: len(genuine)]
    resaved_oof = region_oof[len(genuine): len(genuine) + len(resaved_tiles)]
    spliced_oof = region_oof[len(genuine) + len(resaved_tiles):]

    X, y = training_patches(tiles, np.arange(len(tiles.kind)), options.patches_per_tile, rng)
    probe = LinearProbe(C=options.C, max_iter=2000).fit(X, y)
    inside = tiles.labels[spliced] >= 0
    patch_auc = float(roc_auc_score(tiles.labels[spliced][inside], oof_maps[spliced][inside]))
    head = MapHead(options.layers, tuple(encoder.layer_names[i] for i in options.layers), options.grid_layer,
                   probe, region, np.sort(genuine_oof), pixel_threshold, options.region_rate, options.region_extent)
    single = head.region_threshold(1)
    head.record = {
        "trained_on": {"tiles_real": int(len(genuine)), "tiles_resaved": int(len(resaved_tiles)),
                       "splices": int(len(spliced)), "grid": list(tiles.grid), "C": options.C,
                       "copy_pairs": int(n_pairs)},
        "held_out": {
            "patch_auc_in_splices": round(patch_auc, 4),
            "region_auc": round(float(roc_auc_score(np.r_[np.zeros(len(genuine)), np.ones(len(spliced))],
                                                    np.r_[genuine_oof, spliced_oof])), 4),
            "splices_with_region_one_tile": round(float((spliced_oof >= single).mean()), 4),
            "genuine_tiles_with_region_one_tile": round(float((genuine_oof >= single).mean()), 4),
            "resaved_tiles_with_region_one_tile": (round(float((resaved_oof >= single).mean()), 4)
                                                   if len(resaved_oof) else None),
            "meaning": "grouped folds: patch probe and region model scored on groups they never saw",
        },
    }
    return head
