"""Put the measured robustness tables into a shipped detector's model card, and say which training won.

Why: issue 12 asks that the shipped detectors be retrained with laundering augmentation
where it helps, keeping whichever is better on the laundered conditions. Both candidates
are trained with the same folds and measured the same way::

    layerscope train --data ../shared/data/image --encoder efficientnet-lite0 --layers 6,2,5 \\
        --augment none   --robustness --out runs/image-none   --json > runs/image-none.json
    layerscope train ... --augment social --robustness --out runs/image-social --json > runs/image-social.json

This script compares the candidates' grouped-CV tables (mean AUC over the laundered
conditions, and the clean AUC), writes every table to ``docs/measurements/``, and puts
the winner's table, the others' tables and the reason into ``models/<bundle>/detector.json``
(key ``robustness``) with the winner's ``robustness.png``. It refuses to touch a bundle
whose weights differ from the winner's unless ``--replace`` is given: then the winner's bundle
replaces the shipped one, and its localization and scan calibration must be measured again
(scripts/measure_aggregation.py --augment-from, scripts/measure_localization.py,
scripts/add_localization_to_bundles.py); the script says so.

    python scripts/add_robustness_to_bundles.py models/image-effnet runs/image-none runs/image-social [...]

The shipped defaults since the combined-data rebuild use C != 1 and (images) tiled features, which
`train --robustness` does not pass on; measure their tables with scripts/measure_robustness.py, which
also records each candidate's leave-one-generator-out mean AUC with its own training: a candidate that
loses more than HEADLINE_LOSS_LIMIT of it is not allowed to win.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CLEAN_LOSS_LIMIT = 0.01  # an augmented candidate may not lose more clean AUC than this
MIN_GAIN = 0.005  # nor replace the unaugmented one for less than this gain in mean laundered AUC
HEADLINE_LOSS_LIMIT = 0.01  # nor lose more than this leave-one-generator-out mean AUC (the model card's headline)


def _laundered_mean(table: dict) -> float:
    values = [r["auc"] for k, r in table["conditions"].items() if k != "clean" and r.get("auc") is not None]
    return sum(values) / len(values)


def _logo(table: dict) -> float | None:
    """The leave-one-generator-out mean AUC measured with the candidate's own training (measure_robustness.py)."""
    return (table.get("logo") or {}).get("mean_auc")


def choose(candidates: dict[str, dict]) -> tuple[str, str]:
    """(winning run, reason): best mean laundered AUC among runs whose clean AUC is within the limit.

    Where the tables carry a leave-one-generator-out figure (scripts/measure_robustness.py), a candidate
    that loses more than HEADLINE_LOSS_LIMIT of it against the best one is not allowed either.
    """
    clean = {k: t["conditions"]["clean"]["auc"] for k, t in candidates.items()}
    best_clean = max(clean.values())
    allowed = {k: t for k, t in candidates.items() if clean[k] >= best_clean - CLEAN_LOSS_LIMIT}
    logo = {k: _logo(t) for k, t in candidates.items()}
    if all(v is not None for v in logo.values()):
        best_logo = max(logo.values())
        allowed = {k: t for k, t in allowed.items() if logo[k] >= best_logo - HEADLINE_LOSS_LIMIT} or allowed
    winner = max(allowed, key=lambda k: _laundered_mean(allowed[k]))
    plain = [k for k, t in candidates.items() if t.get("augment") == "none"]
    if plain and winner not in plain and _laundered_mean(allowed[winner]) < _laundered_mean(candidates[plain[0]]) \
            + MIN_GAIN:
        winner = plain[0]  # a tie is no reason to change what ships
    parts = [f"{k}: clean AUC {clean[k]:.3f}, mean AUC over the laundered conditions "
             f"{_laundered_mean(t):.3f}" + ("" if logo[k] is None else f", leave-one-generator-out mean AUC "
                                            f"{logo[k]:.3f}") for k, t in candidates.items()]
    reason = (f"kept {winner} (highest mean AUC over the laundered conditions among the candidates that lose at most "
              f"{CLEAN_LOSS_LIMIT} clean AUC and at most {HEADLINE_LOSS_LIMIT} leave-one-generator-out mean AUC; an "
              f"augmented one must gain at least {MIN_GAIN} over the unaugmented one); " + "; ".join(parts))
    return winner, reason


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle", type=Path, help="the shipped bundle folder, e.g. models/image-effnet")
    parser.add_argument("runs", type=Path, nargs="+", help="bundle folders written by `train --robustness`")
    parser.add_argument("--replace", action="store_true",
                        help="copy the winning bundle over the shipped one when its weights differ")
    args = parser.parse_args(argv)
    from deepfake_gui.engine.robustness import RobustnessReport, write_plot


    metas = {run.name: json.loads((run / "detector.json").read_text()) for run in args.runs}
    missing = [k for k, m in metas.items() if "robustness" not in m]
    if missing:
        sys.exit(f"no robustness table in {missing}: train them with --robustness")
    tables = {k: m["robustness"] for k, m in metas.items()}
    winner, reason = choose(tables)
    shipped_path = args.bundle / "detector.json"
    shipped = json.loads(shipped_path.read_text())
    replaced = metas[winner]["weights_sha256"] != shipped["weights_sha256"]
    if replaced and not args.replace:
        sys.exit(f"{winner} won but its weights differ from {args.bundle}'s: rerun with --replace, then measure "
                 "its localization and scan calibration again")
    if replaced:
        winner_dir = args.runs[list(metas).index(winner)]
        for name in ("weights.safetensors", "layer_sweep.png"):
            (args.bundle / name).write_bytes((winner_dir / name).read_bytes())
        shipped = dict(metas[winner])  # its own card: no localization or scan calibration until measured again

    table = dict(tables[winner])
    table["selection"] = reason
    table["compared"] = {k: {"augment": t["augment"], "augmentation": metas[k].get("augmentation"),
                             "layers": metas[k]["layer_names"], "conditions": t["conditions"],
                             **({"logo": t["logo"]} if "logo" in t else {})}
                         for k, t in tables.items() if k != winner}
    shipped["robustness"] = table
    shipped_path.write_text(json.dumps(shipped, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    data_sets = shipped["training"].get("data_sets") or [shipped["training"]["root"]]
    write_plot(RobustnessReport(table["conditions"], shipped["name"],
                                f"{' + '.join(Path(p).name for p in data_sets)} (grouped CV)",
                                shipped["modality"], int(table.get("seed", 0))),
               args.bundle / "robustness.png")
    out = ROOT / "docs" / "measurements" / f"robustness_{args.bundle.name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"bundle": args.bundle.name, "winner": winner, "selection": reason,
                               "runs": {k: {"augment": t["augment"], "augmentation": metas[k].get("augmentation"),
                                            "layers": metas[k]["layer_names"], "method": t["method"],
                                            "conditions": t["conditions"], "in_augmentation": t["in_augmentation"],
                                            **{key: t[key] for key in ("clean_all_files", "logo", "groups_fraction",
                                                                       "n_files_laundered", "n_files", "failed")
                                               if key in t}}
                                        for k, t in tables.items()}}, indent=1) + "\n")
    print(reason)
    if replaced:
        print(f"REPLACED {args.bundle} with {winner}: measure its scan calibration and localization again")
    print(f"wrote {shipped_path}, {args.bundle / 'robustness.png'} and {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
