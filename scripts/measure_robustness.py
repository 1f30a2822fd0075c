"""Measure a trained bundle's grouped-CV robustness table with the bundle's own settings, and write it in.

Why: ``layerscope train --robustness`` measures the table while training, but its probe is fitted
with the default C = 1 and clean-size (untiled) image features for the laundered copies, while the
shipped defaults use C = 0.1 (audio-phase) / 0.01 (image-effnet) and 9 native-resolution tiles
(image-effnet). This script re-reads a finished bundle (its encoder, layers, classifier, C, tiling,
folds, seed, data sets and augmentation policy from detector.json), rebuilds the same folds from the
feature cache and measures the table the same way (probes/robust_cv.py: each fold's probe trained on
the other folds, plus their laundered copies when the bundle was trained with augmentation, and
scored on the held-out fold's files clean and laundered; seeded copies in the cache). It writes
``robustness`` into the bundle's detector.json and ``robustness.png``, which
scripts/add_robustness_to_bundles.py then compares across candidates.

``--groups-fraction F`` launders only the files of a fixed, seeded fraction of the groups
(whole sentences / photos; chosen by a hash of the group name, so every candidate gets the same
files). The probes are still trained on every file; the table's ``clean`` row is then measured on
the same subset as the laundered rows (so the drops compare like with like) and the all-file clean
row is kept as ``clean_all_files``. Codec round trips cost 0.1-0.8 s per file on 2 cores.

    python scripts/measure_robustness.py runs/phase-none --groups-fraction 0.25 > runs/phase-none.log
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _drive(gen, label: str):
    """Run a job generator to its return value, printing progress now and then."""
    last = 0.0
    try:
        while True:
            event = next(gen)
            now = time.time()
            if now - last > 30:
                print(f"[{time.strftime('%H:%M:%S')}] {label}: {getattr(event, 'message', '')} "
                      f"{getattr(event, 'done', '')}/{getattr(event, 'total', '')}", flush=True)
                last = now
    except StopIteration as stop:
        return stop.value


def group_subset(groups: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Indices of the files whose group falls in the seeded hash fraction (all files for fraction >= 1)."""
    if fraction >= 1:
        return np.arange(len(groups))
    keep = [int(hashlib.sha256(f"{seed}:{g}".encode()).hexdigest()[:8], 16) / 2**32 < fraction for g in groups]
    return np.nonzero(np.array(keep))[0]


def logo_table(X, data, folds, aug, aug_X, classifier: str, C: float, seed: int) -> dict:
    """Leave-one-generator-out as `train` measures it (engine/train_protocols.protocol_tables), with the
    bundle's laundered copies on every training side (a copy keeps its original's generator, source and group,
    so the held-out generator's copies are left out too). `train --augment` itself reports LOGO on clean
    training only; this is the figure the augmented detector would have."""
    from deepfake_gui.engine.train_protocols import probe_factory
    from deepfake_gui.probes.augment import extend, extend_folds
    from deepfake_gui.probes.protocols import leave_one_generator_out

    X_fit, y_fit = extend(X, data.labels, aug, aug_X)
    origin = np.arange(len(data)) if aug is None else np.concatenate([np.arange(len(data)), aug.origin])
    gens = np.asarray(data.generators)[origin]
    groups = np.asarray(data.groups)[origin]
    match = np.asarray(data.item_match())[origin]
    result = leave_one_generator_out(X_fit, y_fit, gens, groups, extend_folds(folds, aug, len(data)),
                                     probe_factory(classifier, C), sources=match, seed=seed)
    d = result.to_dict()
    return {"mean_auc": d["mean_auc"], "min_auc": d["min_auc"],
            "per_generator": {name: r["auc"] for name, r in d["held_out"].items()},
            "method": "leave-one-generator-out with the bundle's own training (laundered copies included when "
                      "augmented), same folds and matched real files as the model card's headline"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle", type=Path, help="a bundle folder (a copy of a shipped one, or a train --out)")
    parser.add_argument("--conditions", help="comma-separated (default: the modality's standard set)")
    parser.add_argument("--groups-fraction", type=float, default=1.0, metavar="F",
                        help="launder only this seeded fraction of the groups (default 1: every file)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--logo", action="store_true",
                        help="measure leave-one-generator-out again even without augmentation (default: the card's)")
    args = parser.parse_args(argv)
    import os

    os.chdir(ROOT)  # the bundle's data_sets are relative to the repository root

    from deepfake_gui.encoders.cache import FeatureCache
    from deepfake_gui.encoders.extract import collect_features
    from deepfake_gui.encoders.registry import build_encoder
    from deepfake_gui.engine.datasets import load_datasets
    from deepfake_gui.engine.laundered import augmented_copies, laundered_features
    from deepfake_gui.engine.robustness import resolve_conditions
    from deepfake_gui.engine.train import save_robustness_plot
    from deepfake_gui.launder.conditions import file_sha256, get_condition
    from deepfake_gui.probes.augment import NONE, AugmentedRows, policy_pool
    from deepfake_gui.probes.dataset import grouped_folds
    from deepfake_gui.probes.robust_cv import robustness_cv

    meta_path = args.bundle / "detector.json"
    meta = json.loads(meta_path.read_text())
    training = meta["training"]
    modality = meta["modality"]
    layers = list(meta["layers"])
    C = float(meta.get("classifier_C", 1.0))
    classifier = meta.get("classifier", "logreg")
    tiles = int(training.get("image_tiles") or 0) if modality == "image" else 0
    augment = (meta.get("augmentation") or {}).get("policy", NONE)
    copies = int((meta.get("augmentation") or {}).get("copies_per_item", 1))
    seed = int(training.get("seed", 0))
    t_start = time.perf_counter()

    data = load_datasets([Path(p) for p in training["data_sets"]])  # relative to the repository root, as trained
    encoder = build_encoder(meta["encoder"]["name"], args.device)
    matrices, records = _drive(collect_features(encoder, data.paths, cache=FeatureCache(), tiles=tiles), "features")
    keep = np.array([r.index for r in records if r.pooled is not None], dtype=int)
    data = data.subset(keep)
    if len(data) != training["n_items"]:
        sys.exit(f"{len(data)} usable files, the bundle was trained on {training['n_items']}: not the same data")
    X = np.concatenate([matrices[i] for i in layers], axis=1).astype(np.float64)
    folds = grouped_folds(data, int(training.get("folds", 5)), seed)
    shas = [file_sha256(p) for p in data.paths]

    aug = aug_X = None
    if augment != NONE:
        pool = policy_pool(augment, modality)
        origin, conds, paths, failed = _drive(augmented_copies(data.paths, shas, pool, seed, copies), "augmentation")
        aug_m, aug_r = _drive(collect_features(encoder, paths, cache=FeatureCache(), tiles=tiles), "aug features")
        ok = [r.index for r in aug_r if r.pooled is not None]
        aug = AugmentedRows(np.asarray(origin, dtype=int)[ok], [m.astype(np.float64) for m in aug_m],
                            [conds[i] for i in ok], failed)
        aug_X = np.concatenate([aug.features[i] for i in layers], axis=1).astype(np.float64)

    if aug is None and not args.logo and (meta.get("metrics") or {}).get("logo"):
        card = meta["metrics"]["logo"]  # clean training: the model card's own table is this very computation
        logo = {"mean_auc": card["mean_auc"], "min_auc": card["min_auc"],
                "per_generator": {k: r.get("auc") for k, r in card.get("held_out", {}).items()},
                "method": "the model card's leave-one-generator-out table (metrics.logo): the bundle has no "
                          "augmentation, so its training is the CV probes' own (logo_table reproduces it)"}
    else:
        logo = logo_table(X, data, folds, aug, aug_X, classifier, C, seed)
    print(f"leave-one-generator-out mean AUC {logo['mean_auc']:.4f} (min {logo['min_auc']:.4f})", flush=True)
    names = resolve_conditions(modality, args.conditions.split(",") if args.conditions else None)
    subset = group_subset(data.groups, args.groups_fraction, seed)
    laundered_sub, failures = _drive(
        laundered_features(encoder, [data.paths[i] for i in subset], [shas[i] for i in subset], names, seed, layers,
                           tiles=tiles), "laundering")
    laundered = {c: (subset[idx], rows) for c, (idx, rows) in laundered_sub.items()}
    partial = len(subset) < len(data)
    if partial:
        laundered["clean_subset"] = (subset, X[subset])  # robustness_cv's own clean row covers every file
    table = robustness_cv(X, data.labels, data.groups, folds, laundered, classifier=classifier, aug=aug,
                          aug_X=aug_X, C=C)
    clean_all = None
    if partial:
        clean_all, table["clean"] = table["clean"], table.pop("clean_subset")
    for name in names:
        table.setdefault(name, {"auc": None, "auc_ci95": None, "eer": None, "n": 0, "n_failed": len(subset)})
    table = {"clean": table["clean"]} | {n: table[n] for n in names}
    for row in table.values():
        row["n_failed"] = int(len(subset) - row["n"])  # of the files laundered, not of the whole set
    pool_set = set(policy_pool(augment, modality))
    extra = " plus laundered copies of those folds' items" if aug is not None else ""
    where = (f"the held-out fold's files of a seeded {args.groups_fraction:.0%} of the groups "
             f"({len(subset)} of {len(data)} files; clean row on the same files)" if partial
             else "the held-out fold's files")
    robustness = {
        "method": f"grouped {len(folds)}-fold cross-validation: each fold's probe ({classifier}, C={C:g}, layers "
                  f"{', '.join(meta['layer_names'])}) is trained on the other folds{extra} and scored on {where}, "
                  "clean and laundered; out-of-fold scores pooled; 95% intervals by group bootstrap",
        "augment": augment,
        "seed": seed,
        "conditions": table,
        "descriptions": {n: get_condition(n).description for n in names},
        "in_augmentation": [n for n in names if n in pool_set],
        "failed": failures,
        "measured_by": "scripts/measure_robustness.py",
        "groups_fraction": args.groups_fraction,
        "n_files_laundered": int(len(subset)),
        "n_files": int(len(data)),
        "logo": logo,
        "seconds": round(time.perf_counter() - t_start, 1),
    }
    if clean_all is not None:
        robustness["clean_all_files"] = clean_all
    meta["robustness"] = robustness
    meta_path.write_text(json.dumps(meta, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    data_label = " + ".join(Path(p).name for p in training["data_sets"])
    save_robustness_plot(args.bundle / "robustness.png", robustness, meta["name"], f"{data_label} (grouped CV)",
                         modality, seed)
    for k, row in table.items():
        auc = "n/a" if row["auc"] is None else f"{row['auc']:.3f}"
        print(f"{k:16s} AUC {auc}  n={row['n']}  failed={row['n_failed']}")
    if clean_all is not None:
        print(f"clean (all files) AUC {clean_all['auc']:.3f} n={clean_all['n']}")
    print(f"wrote {meta_path} and {args.bundle / 'robustness.png'} in {robustness['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
