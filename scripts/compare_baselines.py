"""The comparisons EVALUATION.md requires, for one encoder on one labelled data set.

1. Random twin: the encoder's architecture with random weights (seed 0), probed exactly
   like the pretrained encoder (per-layer grouped-CV sweep, plus the shipped detector's
   layer combination). Where the pretrained encoder does not beat its twin, the
   pretraining is not what the detector uses.
2. Re-encoded copies: for the layers each shipped detector (``models/*/detector.json``)
   uses, grouped CV in which the probe is trained on the *clean* features of the
   training folds and tested on *re-encoded* copies of the test folds' files (JPEG q75 /
   rescaling for images; Opus / MP3 at 16 kbit/s for audio). Reported: pooled
   out-of-fold AUC with a 95% interval by group bootstrap, EER, AUC per generator, and the
   share of test files the training-domain model (fitted on the clean training folds)
   flags as out of domain.

Features go through the feature cache: the twin under its own weights id and variant,
re-encoded copies under their own file hashes, so nothing mixes with the real features.
Re-encoded copies are written under the app cache (``<cache>/launder/...``), never next
to the data.

    .venv/bin/python scripts/compare_baselines.py --data ../shared/data/audio --encoder whisper-tiny-en
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

from deepfake_gui.analysis.metrics import bootstrap_auc_ci, eer, roc_auc
from deepfake_gui.core import config
from deepfake_gui.core.jobs import Progress
from deepfake_gui.encoders.cache import FeatureCache
from deepfake_gui.encoders.extract import collect_features
from deepfake_gui.engine.datasets import load_dataset
from deepfake_gui.probes.dataset import LabeledSet, grouped_folds
from deepfake_gui.probes.linear import LinearProbe
from deepfake_gui.probes.sweep import per_generator_auc, sweep_layers

TWIN_VARIANT = "random-twin-seed0"
Folds = list[tuple[np.ndarray, np.ndarray]]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ features
def extract(encoder, paths, variant: str = "", label: str = "") -> tuple[list[np.ndarray], np.ndarray, float]:
    """Per-layer matrices of the decodable files, their indices in ``paths``, and the seconds it took."""
    t0 = time.perf_counter()
    job = collect_features(encoder, paths, cache=FeatureCache(), variant=variant)
    last = 0.0
    while True:
        try:
            event = next(job)
        except StopIteration as done:
            matrices, records = done.value
            break
        if isinstance(event, Progress) and time.perf_counter() - last > 30:
            last = time.perf_counter()
            log(f"  {label or encoder.name}: {event.done}/{event.total} files")
    ok = np.array([r.index for r in records if r.pooled is not None], dtype=int)
    return [m.astype(np.float64) for m in matrices], ok, time.perf_counter() - t0


def shipped_detectors(encoder_name: str, folders: list[Path] | None = None) -> list[dict]:
    """The shipped detectors (or the given bundle folders) built on ``encoder_name``: name, layers, classifier."""
    out = []
    for folder in folders or sorted(config.shipped_models_dir().glob("*/")):
        meta_path = Path(folder) / "detector.json"
        if not meta_path.is_file():
            continue
        meta = json.loads(meta_path.read_text())
        if meta.get("kind") == "linear-probe" and meta["encoder"]["name"] == encoder_name:
            out.append({"detector": Path(folder).name, "layers": [int(i) for i in meta["layers"]],
                        "layer_names": meta.get("layer_names"), "classifier": meta.get("classifier", "logreg")})
    return out


# ------------------------------------------------------------------ protocols
def sweep(features: list[np.ndarray], names: list[str], data: LabeledSet, folds: Folds) -> list[dict]:
    results, _ = sweep_layers(features, names, data, folds)
    keep = ("layer", "name", "dim", "auc", "auc_std", "eer", "eer_std", "oof_auc")
    return [{k: r.to_dict()[k] for k in keep} for r in results]


def cross_condition(X_train_on: np.ndarray, X_test_on: np.ndarray, data: LabeledSet, folds: Folds,
                    classifier: str = "logreg", domain: bool = True, n_boot: int = 1000) -> dict:
    """Grouped CV: fit on ``X_train_on[train]`` (clean), score ``X_test_on[test]`` (clean or re-encoded)."""
    from deepfake_gui.probes.oneclass import fit_domain_model, out_of_domain

    labels = data.labels.astype(int)
    oof = np.empty(len(labels))
    flagged = np.zeros(len(labels), dtype=bool)
    fold_auc = []
    for train, test in folds:
        probe = LinearProbe(classifier).fit(X_train_on[train], labels[train])
        oof[test] = probe.decision_function(X_test_on[test])
        fold_auc.append(roc_auc(labels[test], oof[test]))
        if domain:
            arrays, _ = fit_domain_model(X_train_on[train], data.groups[train])
            flagged[test] = out_of_domain(arrays, X_test_on[test])
    lo, hi = bootstrap_auc_ci(labels, oof, data.groups, n_draws=n_boot)
    out = {"auc": roc_auc(labels, oof), "auc_ci95": [lo, hi], "eer": eer(labels, oof)[0],
           "fold_auc_mean": float(np.mean(fold_auc)), "fold_auc_std": float(np.std(fold_auc)),
           "accuracy_at_0": float(((oof >= 0).astype(int) == labels).mean()),
           "per_generator": {g: v["auc"] for g, v in per_generator_auc(labels, oof, data.generators).items()}}
    if domain:
        out["out_of_domain"] = {"real": float(flagged[labels == 0].mean()), "fake": float(flagged[labels == 1].mean())}
    return out


def concat(features: list[np.ndarray], layers: list[int]) -> np.ndarray:
    return np.concatenate([features[i] for i in layers], axis=1)


# ------------------------------------------------------------------ main
def run(data_dir: Path, encoder_name: str, *, twin: bool = True, transforms: list[str] | None = None,
        detectors: list[Path] | None = None, folds_n: int = 5, seed: int = 0, device: str = "auto",
        n_boot: int = 1000) -> dict:
    from deepfake_gui.encoders.registry import build_encoder, build_random_twin
    from deepfake_gui.launder import get_transform, launder_files, launder_root, transforms_for

    data = load_dataset(data_dir)
    n_listed = len(data)
    encoder = build_encoder(encoder_name, device)
    transforms = transforms_for(encoder.modality) if transforms is None else transforms
    for name in transforms:
        if get_transform(name).modality != encoder.modality:
            raise SystemExit(f"transform {name} is for {get_transform(name).modality}, {encoder_name} is "
                             f"{encoder.modality}")
    shipped = shipped_detectors(encoder_name, detectors)
    timings: dict[str, float] = {}

    log(f"{encoder_name}: pretrained features of {len(data)} files")
    clean, ok, timings["features_pretrained_s"] = extract(encoder, data.paths, label="pretrained")
    conditions: dict[str, tuple[list[np.ndarray], np.ndarray]] = {"clean": (clean, ok)}
    if twin:
        log(f"{encoder_name}: random-twin features")
        twin_encoder = build_random_twin(encoder_name, device)
        feats, ok_t, timings["features_twin_s"] = extract(twin_encoder, data.paths, TWIN_VARIANT, "random twin")
        conditions["twin"] = (feats, ok_t)
    tag = f"{data.root.name}-{data.content_hash()[:12]}"
    for name in transforms:
        log(f"{encoder_name}: {name} copies under {launder_root(tag)}")
        t0 = time.perf_counter()
        copies = launder_files(data.paths, data.root, name, launder_root(tag))
        timings[f"launder_{name}_s"] = time.perf_counter() - t0
        feats, ok_l, timings[f"features_{name}_s"] = extract(encoder, copies, label=name)
        conditions[name] = (feats, ok_l)

    # Every condition on the same files (those decodable in all of them), the same folds.
    common = set(ok.tolist())
    for _, idx in conditions.values():
        common &= set(idx.tolist())
    keep = np.array(sorted(common), dtype=int)
    aligned = {}
    for cname, (feats, idx) in conditions.items():
        pos = {int(j): r for r, j in enumerate(idx)}
        rows = np.array([pos[int(j)] for j in keep], dtype=int)
        aligned[cname] = [m[rows] for m in feats]
    data = data.subset(keep)
    folds = grouped_folds(data, folds_n, seed)
    names = encoder.layer_names

    result: dict = {
        "encoder": encoder_name, "weights_sha256": encoder.weights_sha256, "data": str(data_dir),
        "n_files": len(data), "n_real": int((data.labels == 0).sum()), "n_fake": int((data.labels == 1).sum()),
        "n_groups": len(set(data.groups.tolist())), "n_dropped": n_listed - len(keep),
        "folds": len(folds), "split": "StratifiedGroupKFold by group", "seed": seed,
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip() + f", {platform.system()}",
        "probe": "standardised logistic regression (C=1, balanced), as `layerscope train`",
        "auc_ci": f"2.5/97.5 percentiles of {n_boot} bootstrap draws of groups",
    }
    t0 = time.perf_counter()
    result["sweep"] = {"pretrained": sweep(aligned["clean"], names, data, folds)}
    if twin:
        result["sweep"]["random_twin"] = sweep(aligned["twin"], names, data, folds)
    timings["sweeps_s"] = time.perf_counter() - t0

    result["detectors"] = []
    t0 = time.perf_counter()
    for det in shipped:
        X = concat(aligned["clean"], det["layers"])
        entry = dict(det, conditions={"clean": cross_condition(X, X, data, folds, det["classifier"], n_boot=n_boot)})
        if twin:
            Xt = concat(aligned["twin"], det["layers"])
            entry["random_twin_clean"] = cross_condition(Xt, Xt, data, folds, det["classifier"], domain=False,
                                                         n_boot=n_boot)
        for name in transforms:
            entry["conditions"][name] = cross_condition(X, concat(aligned[name], det["layers"]), data, folds,
                                                        det["classifier"], n_boot=n_boot)
        result["detectors"].append(entry)
    timings["cross_conditions_s"] = time.perf_counter() - t0
    result["transforms"] = {name: get_transform(name).description for name in transforms}
    result["timings_s"] = timings
    return result


def print_tables(r: dict) -> None:
    print(f"\n{r['encoder']} on {r['data']}: {r['n_real']} real, {r['n_fake']} fake, {r['n_groups']} groups, "
          f"{r['folds']}-fold grouped CV")
    sw = r["sweep"]
    twin = sw.get("random_twin")
    head = "| layer | name | dim | pretrained AUC | pretrained EER |"
    if twin:
        head += " random-twin AUC | random-twin EER | AUC gain |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for i, p in enumerate(sw["pretrained"]):
        line = (f"| {p['layer']} | {p['name']} | {p['dim']} | {p['auc']:.3f} ± {p['auc_std']:.3f} | "
                f"{p['eer']:.3f} ± {p['eer_std']:.3f} |")
        if twin:
            t = twin[i]
            line += (f" {t['auc']:.3f} ± {t['auc_std']:.3f} | {t['eer']:.3f} ± {t['eer_std']:.3f} | "
                     f"{p['auc'] - t['auc']:+.3f} |")
        print(line)
    for det in r["detectors"]:
        gens = sorted(det["conditions"]["clean"]["per_generator"])
        print(f"\ndetector {det['detector']}: layers {det['layers']} ({', '.join(det['layer_names'] or [])}); "
              "probe trained on clean training folds, tested on the test folds' copies")
        head = "| condition | AUC (95% CI by group) | EER | " + " | ".join(gens) + " | out-of-domain real / fake |"
        print(head)
        print("|" + "---|" * (head.count("|") - 1))
        rows = list(det["conditions"].items())
        if "random_twin_clean" in det:
            rows.insert(1, ("clean, random twin", det["random_twin_clean"]))
        for name, c in rows:
            ood = c.get("out_of_domain")
            ood_s = f"{ood['real']:.1%} / {ood['fake']:.1%}" if ood else "-"
            lo, hi = c["auc_ci95"]
            print(f"| {name} | {c['auc']:.3f} ({lo:.3f}-{hi:.3f}) | {c['eer']:.3f} | "
                  + " | ".join(f"{c['per_generator'][g]:.3f}" for g in gens) + f" | {ood_s} |")
    print("\ntimings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in r["timings_s"].items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, type=Path, help="labelled data set (folder or manifest.csv)")
    parser.add_argument("--encoder", required=True)
    parser.add_argument("--detector", action="append", type=Path,
                        help="bundle folder(s) whose layers to test on re-encoded copies (default: models/*)")
    parser.add_argument("--transforms", help="comma-separated launder transforms (default: all for the modality)")
    parser.add_argument("--no-twin", action="store_true", help="skip the random-weight twin")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bootstrap", type=int, default=1000, help="group bootstrap draws for the AUC interval")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--out", type=Path, help="JSON output (default: <app cache>/measurements/...)")
    args = parser.parse_args(argv)
    config.ensure_offline_default()
    transforms = None if args.transforms is None else [t for t in args.transforms.split(",") if t]
    result = run(args.data, args.encoder, twin=not args.no_twin, transforms=transforms, detectors=args.detector,
                 folds_n=args.folds, seed=args.seed, device=args.device, n_boot=args.bootstrap)
    out = args.out or config.cache_dir() / "measurements" / f"compare-{args.encoder}-{Path(args.data).name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, allow_nan=False) + "\n")
    print_tables(result)
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
