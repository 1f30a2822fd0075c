"""Which window aggregation should the audio scan use by default? Measure it.

Protocol (grouped, nothing in-sample): 5 group folds over the prompts. In each
fold a probe is trained on the shared audio set's training-fold files (pooled
features of the chosen layer, exactly as `layerscope train` does), then applied
to the token states of held-out files: (a) the shared set's held-out files (whole
fakes), (b) the localization set's held-out partial fakes (0.5-2 s of a real
utterance vocoded) against its real controls. Window scores come from the token
scores as in the scan (mean of the frames in each window); each aggregation
turns them into a file score, and we report the AUC of each.

    .venv/bin/python scripts/measure_aggregation.py --encoder whisper-tiny-en --layer 1

A bundle trained with `train --augment` is calibrated with ``--augment-from BUNDLE``: each
fold's probe then also trains on the laundered copies of that fold's training files
(the same policy, copies and seed as the bundle, read from its ``augmentation`` record).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np


def _rows(manifest: Path) -> list[dict]:
    with manifest.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _tokens(encoder, layers: list[int], paths: list[Path]) -> list[np.ndarray]:
    from deepfake_gui.media import load_audio

    rate = int(encoder.spec.preprocessing["sample_rate"])
    out = []
    t0 = time.perf_counter()
    for i, path in enumerate(paths):
        feats = encoder.encode([load_audio(path, rate)], tokens=True)
        out.append(np.concatenate([feats.tokens[k][0].float().cpu().numpy() for k in layers], axis=1))
        if i % 200 == 0:
            print(f"  tokens {i}/{len(paths)} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    return out


def _augmented(bundle_dir: str | None, encoder, layers: list[int], data: Path, shared: list[dict]
               ) -> tuple[np.ndarray, np.ndarray]:
    """(origin index, pooled features) of the laundered copies a bundle was trained with; empty without one."""
    if not bundle_dir:
        return np.zeros(0, dtype=int), np.zeros((0, 1))
    from deepfake_gui.engine.laundered import augmented_copies
    from deepfake_gui.launder.conditions import file_sha256
    from deepfake_gui.probes.bundle import load_bundle

    record = load_bundle(bundle_dir).meta.get("augmentation")
    if not record:
        sys.exit(f"{bundle_dir}: the bundle was not trained with augmentation")
    paths = [data / r["path"] for r in shared]
    gen = augmented_copies(paths, [file_sha256(p) for p in paths], record["pool"], int(record["seed"]),
                           int(record["copies_per_item"]))
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        origin, _, copies, failed = stop.value
    if failed:
        print(f"  {len(failed)} copies failed, e.g. {failed[0]}", file=sys.stderr)
    tokens = _tokens(encoder, layers, copies)
    return np.asarray(origin, dtype=int), np.stack([t.mean(axis=0) for t in tokens])


def _calibration(scores: np.ndarray, labels: np.ndarray, window_s: float, hop_s: float, method: str) -> dict:
    """Platt, EER threshold and inconclusive band of out-of-fold aggregated scores (as train does for pooled)."""
    from deepfake_gui.analysis.calibration import Platt, inconclusive_band
    from deepfake_gui.analysis.metrics import binary_report

    platt = Platt.fit(scores, labels)
    probs = platt(scores)
    report = binary_report(labels, probs)
    band = inconclusive_band(probs, labels, report.eer_threshold)
    return {"track": "audio", "window_s": window_s, "hop_s": hop_s, "aggregation": method,
            "a": platt.a, "b": platt.b, "threshold": report.eer_threshold, "inconclusive_band": list(band),
            "cv_auc": report.auc, "cv_eer": report.eer, "n": int(len(labels)),
            "fitted_on": "out-of-fold aggregated window scores (5 group folds), scripts/measure_aggregation.py"}


def _write_calibration(folder: Path, entry: dict) -> None:
    from deepfake_gui.probes.bundle import load_bundle, save_bundle

    bundle = load_bundle(folder)
    keep = [c for c in bundle.meta.get("scan_calibration", [])
            if (c["track"], c["window_s"], c["hop_s"], c["aggregation"]) !=
            (entry["track"], entry["window_s"], entry["hop_s"], entry["aggregation"])]
    bundle.meta["scan_calibration"] = [*keep, entry]
    save_bundle(bundle, folder)


def main() -> int:
    import torch
    from sklearn.metrics import roc_auc_score

    from deepfake_gui.analysis.aggregate import aggregate
    from deepfake_gui.core.config import ensure_offline_default
    from deepfake_gui.encoders.registry import build_encoder
    from deepfake_gui.engine.score_audio import window_bounds, window_scores
    from deepfake_gui.probes.linear import LinearProbe, torch_decision

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data/audio")
    ap.add_argument("--localization", default="../shared/data/localization/audio")
    ap.add_argument("--encoder", default="whisper-tiny-en")
    ap.add_argument("--layer", type=int, nargs="+", default=[1])
    ap.add_argument("--windows", default="4:1,2:0.5,1:0.5", help="window:hop pairs in seconds")
    ap.add_argument("--out", default=None, help="JSON output (default docs/measurements/aggregation-ENCODER.json)")
    ap.add_argument("--calibrate-bundle", metavar="DIR",
                    help="write the out-of-fold calibration of --scan-setting into this bundle's detector.json")
    ap.add_argument("--scan-setting", default="2:0.5:logsumexp", metavar="WINDOW:HOP:AGGREGATION",
                    help="the scan default to calibrate (default 2:0.5:logsumexp)")
    ap.add_argument("--augment-from", metavar="DIR", help="train the fold probes with this bundle's augmentation")
    args = ap.parse_args()
    ensure_offline_default()

    data, loc = Path(args.data), Path(args.localization)
    shared = _rows(data / "manifest.csv")
    partial = _rows(loc / "manifest.csv")
    encoder = build_encoder(args.encoder, "cpu")
    print(f"encoding {len(shared)} + {len(partial)} files with {args.encoder} layers {args.layer}", file=sys.stderr)
    tok_shared = _tokens(encoder, args.layer, [data / r["path"] for r in shared])
    tok_loc = _tokens(encoder, args.layer, [loc / r["path"] for r in partial])
    feats = encoder.encode([np.zeros(16000, np.float32)], tokens=True)
    step_s = float(np.diff(feats.token_times)[0])

    y_shared = np.array([1 if r["label"] == "fake" else 0 for r in shared])
    y_loc = np.array([0 if r["label"] == "real" else 1 for r in partial])
    g_shared = np.array([r["group"] for r in shared])
    g_loc = np.array([r["group"] for r in partial])
    groups = sorted(set(g_shared) | set(g_loc))
    fold_of = {g: i % 5 for i, g in enumerate(np.random.default_rng(0).permutation(groups))}
    pooled = np.stack([t.mean(axis=0) for t in tok_shared])
    aug_origin, aug_pooled = _augmented(args.augment_from, encoder, args.layer, data, shared)
    windows = [tuple(float(v) for v in pair.split(":")) for pair in args.windows.split(",")]
    methods = ["mean", "logsumexp", "max"]
    scores = {name: {f"{w:g}s/{h:g}s:{m}": np.zeros(len(y)) for w, h in windows for m in methods}
              for name, y in (("shared", y_shared), ("localization", y_loc))}
    for name in scores:
        n = len(y_shared) if name == "shared" else len(y_loc)
        scores[name]["pooled (all frames)"] = np.zeros(n)
        scores[name]["steps:logsumexp"] = np.zeros(n)
    for fold in range(5):
        train = np.array([fold_of[g] != fold for g in g_shared])
        copies = train[aug_origin]  # a copy trains only where its original does
        probe = LinearProbe("logreg").fit(np.concatenate([pooled[train], aug_pooled[copies]]),
                                          np.concatenate([y_shared[train], y_shared[aug_origin][copies]]))
        arrays = probe.to_arrays()
        for name, toks, y_groups in (("shared", tok_shared, g_shared), ("localization", tok_loc, g_loc)):
            for i in np.flatnonzero([fold_of[g] == fold for g in y_groups]):
                steps = torch_decision(arrays, torch.from_numpy(toks[i])).numpy().astype(np.float64)
                times = (np.arange(len(steps)) + 0.5) * step_s
                duration = len(steps) * step_s
                scores[name]["pooled (all frames)"][i] = steps.mean()
                scores[name]["steps:logsumexp"][i] = aggregate(steps, "logsumexp")
                for w, h in windows:
                    win = window_scores(times, steps, window_bounds(duration, w, h))
                    for m in methods:
                        scores[name][f"{w:g}s/{h:g}s:{m}"][i] = aggregate(win, m)
    result: dict = {"encoder": args.encoder, "layers": args.layer, "protocol": __doc__.split("\n\n")[1],
                    "augmentation": None if not len(aug_origin) else {"from": args.augment_from,
                                                                       "n_copies": int(len(aug_origin))},
                    "n_shared": len(y_shared), "n_localization": len(y_loc), "auc": {}}
    print(f"{'aggregation':28} {'AUC whole fakes':>16} {'AUC partial fakes':>18}")
    for key in scores["shared"]:
        a = roc_auc_score(y_shared, scores["shared"][key])
        b = roc_auc_score(y_loc, scores["localization"][key])
        result["auc"][key] = {"shared": round(float(a), 4), "localization": round(float(b), 4)}
        print(f"{key:28} {a:16.4f} {b:18.4f}")
    if args.calibrate_bundle:
        w, h, m = args.scan_setting.split(":")
        key = f"{float(w):g}s/{float(h):g}s:{m}"
        entry = _calibration(scores["shared"][key], y_shared, float(w), float(h), m)
        entry["localization_auc"] = result["auc"][key]["localization"]
        _write_calibration(Path(args.calibrate_bundle), entry)
        result["scan_calibration"] = entry
        print(f"calibrated {args.calibrate_bundle} for {key}: {entry}", file=sys.stderr)
    out = Path(args.out or f"docs/measurements/aggregation-{args.encoder}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
