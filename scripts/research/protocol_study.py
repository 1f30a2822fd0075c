"""Which features carry to unseen generators? Grouped CV, LOGO and LOSO over cached statistics.

Reads the npz files of extract_stats.py / classic_features.py and prints one line per feature set.
Usage: python scripts/research/protocol_study.py audio|image FEAT_DIR [CONFIG ...]
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
SETS = {"audio": [("wild-audio", "whisper-tiny-en", "ge2e-resemblyzer"),
                  ("audio", "whisper-tiny-en", "ge2e-resemblyzer")],
        "image": [("wild-image", "efficientnet-lite0"), ("image", "efficientnet-lite0")]}


def source_of(dataset: str, row: dict) -> str:
    if dataset == "audio":
        return f"telephone:{row['language']}"
    if dataset == "image":
        return f"tiles:{row['source']}"
    return row["source"]


def match_of(dataset: str, row: dict) -> str:
    """Which real files a generator is scored against in LOGO: same page (wild audio) or same data set."""
    return row["source"] if dataset == "wild-audio" else dataset


def load(modality: str, feat_dir: Path):
    blocks: dict[str, list[np.ndarray]] = {}
    meta = {"labels": [], "gens": [], "groups": [], "sources": [], "match": [], "dataset": []}
    for dataset, *encoders in SETS[modality]:
        with open(SHARED / dataset / "manifest.csv", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        feats = {enc: np.load(feat_dir / f"{dataset}__{enc}.npz") for enc in [*encoders, "classic"]}
        for enc, z in feats.items():
            assert len(z["paths"]) == len(rows), (dataset, enc)
            for key in z.files:
                if key != "paths":
                    blocks.setdefault(f"{enc}:{key}", []).append(z[key].astype(np.float64))
        meta["labels"] += [int(r["label"] == "fake") for r in rows]
        meta["gens"] += [r["generator"] if r["label"] == "fake" else "real" for r in rows]
        meta["groups"] += [f"{dataset}:{r['group']}" for r in rows]
        meta["sources"] += [source_of(dataset, r) for r in rows]
        meta["match"] += [match_of(dataset, r) for r in rows]
        meta["dataset"] += [dataset] * len(rows)
    X = {k: np.concatenate(v) for k, v in blocks.items()}
    return X, {k: np.asarray(v) for k, v in meta.items()}


def factory(C: float):
    from deepfake_gui.probes.linear import LinearProbe

    return lambda: LinearProbe(C=C)


def evaluate(X: np.ndarray, meta: dict, C: float, folds, n_draws: int = 0) -> dict:
    from deepfake_gui.analysis.metrics import roc_auc
    from deepfake_gui.probes.protocols import leave_one_generator_out, leave_one_source_out

    y = meta["labels"]
    oof = np.zeros(len(y))
    for train, test in folds:
        m = factory(C)()
        m.fit(X[train], y[train])
        oof[test] = m.decision_function(X[test])
    out = {"cv_auc": round(roc_auc(y, oof), 4)}
    for ds in sorted(set(meta["dataset"].tolist())):
        sel = meta["dataset"] == ds
        out[f"cv_{ds}"] = round(roc_auc(y[sel], oof[sel]), 4)
    logo = leave_one_generator_out(X, y, meta["gens"], meta["groups"], folds, factory(C), sources=meta["match"],
                                   n_draws=n_draws)
    import os

    if os.environ.get("LOGO_ONLY"):
        loso = type(logo)("loso")
    else:
        loso = leave_one_source_out(X, y, meta["sources"], meta["groups"], factory(C), n_draws=n_draws)
    out["logo_mean"], out["logo_min"] = round(logo.mean_auc, 4), round(logo.min_auc, 4)
    out["loso_mean"] = round(loso.mean_auc, 4) if loso.mean_auc is not None else None
    out["logo"] = {h.name: round(h.auc, 3) for h in logo.held_out}
    out["loso"] = {h.name: round(h.auc, 3) for h in loso.held_out}
    return out


def main() -> None:
    from sklearn.model_selection import StratifiedGroupKFold

    modality, feat_dir = sys.argv[1], Path(sys.argv[2])
    X, meta = load(modality, feat_dir)
    folds = list(StratifiedGroupKFold(5, shuffle=True, random_state=0).split(X[next(iter(X))], meta["labels"],
                                                                             meta["groups"]))
    configs = sys.argv[3:] or sorted(X)
    for config in configs:
        name, _, c = config.partition("@")
        keys = [k for part in name.split("+") for k in sorted(X) if k == part or k.startswith(part + "_")
                or (part.endswith("*") and k.startswith(part[:-1]))]
        feats = np.concatenate([X[k] for k in keys], axis=1)
        res = evaluate(feats, meta, float(c or 0.1), folds)
        print(json.dumps({"config": config, "dims": feats.shape[1], **res}), flush=True)


if __name__ == "__main__":
    main()
