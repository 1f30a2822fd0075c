"""Out-of-fold figures of the heatmap head on the localization set's spliced and untouched tiles.

Why: the localization set's photos are the image set's own development photos, so scoring it with the shipped
head (trained on all of them) is in-sample. Here each of the five grouped folds of the training data
(../shared/data/image + ../shared/data/wild-image, StratifiedGroupKFold seed 0, as `train` uses) trains a head
on the other folds, exactly as `layerscope train --map-head` does, and scores the localization tiles whose
source photo is in the held-out fold. Reported, on the map as scan draws it (smoothed 3x3): pixel AUC over the
spliced tiles, the pointing game (the map's peak inside the mask dilated by 4 px), untouched tiles with any
pixel above the heatmap's threshold, and the region rule as scan applies it (untouched tiles given a region;
spliced tiles whose region box overlaps the mask), overall and per generator.

    PYTHONPATH=. .venv/bin/python scripts/research/map_head_localization.py [--data ../shared/data] [--json OUT]
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy import ndimage
from sklearn.metrics import roc_auc_score

from deepfake_gui.encoders.registry import build_encoder
from deepfake_gui.engine.datasets import load_datasets
from deepfake_gui.engine.score_image import plan_tiles, suspected_region
from deepfake_gui.engine.train_map_head import MapHeadOptions, train_map_head
from deepfake_gui.probes.dataset import grouped_folds


def load_localization(root: Path) -> list[dict]:
    with open(root / "manifest.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["image"] = np.asarray(Image.open(root / row["path"]).convert("RGB"))
        row["mask"] = (np.asarray(Image.open(root / row["mask_path"]).convert("L")) > 127 if row["mask_path"]
                       else np.zeros(row["image"].shape[:2], bool))
    return rows


def upsample(tile_map: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    t = torch.as_tensor(tile_map, dtype=torch.float32)[None, None]
    return torch.nn.functional.interpolate(t, size=shape, mode="bilinear", align_corners=False)[0, 0].numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--layers", default="3,4,5:4")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(2)
    head_layers, _, grid = args.layers.partition(":")
    options = MapHeadOptions(tuple(int(i) for i in head_layers.split(",")), int(grid))
    data = load_datasets([args.data / "image", args.data / "wild-image"])
    encoder = build_encoder("efficientnet-lite0", "cpu", keep_warm=False)
    rows = load_localization(args.data / "localization" / "image")
    records = []
    t0 = time.time()
    for fold, (train, test) in enumerate(grouped_folds(data, 5, 0)):
        held = {str(g).split(":", 1)[1] for g in np.asarray(data.groups)[test] if str(g).startswith("image:")}
        mine = [r for r in rows if r["group"] in held]
        if not mine:
            continue
        sub = data.subset(train)
        head = train_map_head(sub, encoder, grouped_folds(sub, 5, 0), options)
        tokens, tile_grid = encoder.patch_tokens([r["image"] for r in mine], head.layers, head.grid_layer)
        maps = head.tile_maps(tokens, tile_grid)
        for row, tile_map in zip(mine, maps, strict=True):
            h, w = row["image"].shape[:2]
            region = suspected_region(head, tile_map[None], plan_tiles(h, w, 224, 64))
            shown = head.smoothed(tile_map[None])[0]  # as scan draws it
            records.append({"generator": row["generator"], "mask": row["mask"], "map": upsample(shown, (h, w)),
                            "region": region, "fold": fold, "above": bool((shown >= head.pixel_threshold).any())})
        print(f"fold {fold}: {len(mine)} tiles, {time.time() - t0:.0f} s", flush=True)

    def summary(subset: list[dict]) -> dict:
        spliced = [r for r in subset if r["mask"].any()]
        untouched = [r for r in subset if not r["mask"].any()]
        out: dict = {"spliced": len(spliced), "untouched": len(untouched)}
        if spliced:
            out["pixel_auc"] = round(float(roc_auc_score(np.concatenate([r["mask"].ravel() for r in spliced]),
                                                         np.concatenate([r["map"].ravel() for r in spliced]))), 4)
            hits = []
            for r in spliced:
                y, x = np.unravel_index(int(np.argmax(r["map"])), r["map"].shape)
                hits.append(bool(ndimage.binary_dilation(r["mask"], iterations=4)[y, x]))
            out["pointing_game"] = round(float(np.mean(hits)), 4)

            def overlaps(r: dict) -> bool:
                if not r["region"]["found"]:
                    return False
                x0, y0, x1, y1 = r["region"]["box_xyxy"]
                return bool(r["mask"][y0:y1, x0:x1].any())

            out["spliced_with_overlapping_region"] = round(float(np.mean([overlaps(r) for r in spliced])), 4)
        if untouched:
            out["untouched_with_region"] = round(float(np.mean([r["region"]["found"] for r in untouched])), 4)
            out["untouched_with_pixels_above_threshold"] = round(float(np.mean([r["above"] for r in untouched])), 4)
        return out

    result = {"protocol": "five grouped folds of image + wild-image (seed 0); each fold's head trained as "
                          "`train --map-head` does and scored on localization tiles of its held-out photos",
              "layers": args.layers, "all": summary(records),
              "per_generator": {g: summary([r for r in records if r["generator"] in (g, "real")])
                                for g in sorted({r["generator"] for r in records} - {"real"})}}
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
