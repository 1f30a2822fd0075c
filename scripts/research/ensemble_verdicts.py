"""How two audio detectors do together under scan's track rule, on held-out scores only.

Scan's rule (engine.verdicts.track_verdict): the lead detector's verdict, unless another detector
of the track says the opposite (then inconclusive). This script scores every development file
while its generator (fakes) or its source (real files) was out of training, for each member
(same folds, same held-out Platt scaling and band as `train`), applies the rule, and prints
coverage, accuracy on committed files and the share of real files called fake: the figures the
README quotes for the pair. Features come from the feature cache (train fills it).
Usage: python scripts/research/ensemble_verdicts.py DATA... -- ENCODER:LAYERS:C ...
  e.g. ../shared/data/audio ../shared/data/wild-audio -- phase-coherence:2,3:0.1 whisper-tiny-en:1:1
"""

from __future__ import annotations

import json
import sys

import numpy as np


def held_out_verdicts(data, encoder_name: str, layers: list[int], C: float):
    from deepfake_gui.analysis.calibration import verdict
    from deepfake_gui.core.jobs import job_result
    from deepfake_gui.encoders.cache import FeatureCache
    from deepfake_gui.encoders.extract import collect_features
    from deepfake_gui.encoders.registry import build_encoder
    from deepfake_gui.engine.train_protocols import held_out_calibration, probe_factory, real_scores_held_out_by_source
    from deepfake_gui.probes.dataset import grouped_folds
    from deepfake_gui.probes.protocols import leave_one_generator_out

    encoder = build_encoder(encoder_name, "cpu")
    matrices, records = job_result(collect_features(encoder, data.paths, cache=FeatureCache()))
    assert all(r.pooled is not None for r in records), "a file failed to extract"
    X = np.concatenate([matrices[i].astype(np.float64) for i in layers], axis=1)
    y = np.asarray(data.labels).astype(int)
    folds = grouped_folds(data, 5, 0)
    logo = leave_one_generator_out(X, y, data.generators, data.groups, folds, probe_factory("logreg", C),
                                   sources=data.item_match(), n_draws=0)
    cal = held_out_calibration(X, data, logo, "logreg", C)
    probs = np.full(len(y), np.nan)
    for name, rows in logo.rows.items():
        keep = y[rows] == 1
        probs[rows[keep]] = cal["platt"](logo.scores[name][keep])
    real_rows, real_scores = real_scores_held_out_by_source(X, data, "logreg", C)
    probs[real_rows] = cal["platt"](real_scores)
    verdicts = np.array([verdict(p, cal["band"]) if np.isfinite(p) else "none" for p in probs])
    return verdicts, cal["figures"], probs


def figures(verdicts: np.ndarray, y: np.ndarray) -> dict:
    committed = np.isin(verdicts, ["fake", "real"])
    right = ((verdicts == "fake") & (y == 1)) | ((verdicts == "real") & (y == 0))
    return {"coverage": round(float(committed.mean()), 4),
            "accuracy_committed": round(float(right[committed].mean()), 4) if committed.any() else None,
            "real_called_fake": round(float(((verdicts == "fake") & (y == 0)).sum() / max(1, (y == 0).sum())), 4),
            "fakes_called_fake": round(float(((verdicts == "fake") & (y == 1)).sum() / max(1, (y == 1).sum())), 4),
            "n": int(len(y))}


def main() -> None:
    from deepfake_gui.engine.datasets import load_datasets
    from deepfake_gui.engine.verdicts import track_verdict

    split = sys.argv.index("--")
    data = load_datasets(sys.argv[1:split])
    y = np.asarray(data.labels).astype(int)
    members, member_probs = [], []
    for spec in sys.argv[split + 1:]:
        name, layers, C = spec.split(":")
        v, fig, p = held_out_verdicts(data, name, [int(i) for i in layers.split(",")], float(C))
        members.append(v)
        member_probs.append(p)
        print(json.dumps({"member": spec, **figures(v, y), "train_selective": fig}), flush=True)
    both = np.array([track_verdict([m[i] if m[i] != "none" else None for m in members]) or "none"
                     for i in range(len(y))])
    print(json.dumps({"members": sys.argv[split + 1:], "rule": "lead unless another says the opposite",
                      **figures(both, y)}), flush=True)
    agree = np.array([_agreement([m[i] if m[i] != "none" else None for m in members]) or "none"
                      for i in range(len(y))])
    print(json.dumps({"members": sys.argv[split + 1:], "rule": "fake only when every detector says fake",
                      **figures(agree, y)}), flush=True)
    for floor in (0.95, 0.97, 0.98, 0.99, 0.997, 1.01):  # 1.01: a lone fake never stands
        lone = both.copy()
        alone = (both == "fake") & np.array([all(m[i] != "fake" for m in members[1:]) for i in range(len(y))])
        lone[alone & ~(member_probs[0] >= floor)] = "inconclusive"
        print(json.dumps({"members": sys.argv[split + 1:], "rule": f"a lone fake needs the lead at P >= {floor}",
                          **figures(lone, y)}), flush=True)
        for ceiling in (0.3, 0.2, 0.1):  # and a lone real below this (decoded MP3 / AAC fakes look real)
            alone_real = (lone == "real") & np.array([all(m[i] != "real" for m in members[1:])
                                                     for i in range(len(y))])
            both_floors = lone.copy()
            both_floors[alone_real & ~(member_probs[0] <= ceiling)] = "inconclusive"
            print(json.dumps({"members": sys.argv[split + 1:],
                              "rule": f"lone fake P >= {floor}, lone real P <= {ceiling}",
                              **figures(both_floors, y)}), flush=True)


def _agreement(verdicts: list[str | None]) -> str | None:
    """A stricter rule, for comparison: fake only when all say fake; real unless one says fake."""
    known = [v for v in verdicts if v is not None]
    if not known:
        return None
    if all(v == "fake" for v in known):
        return "fake"
    if "fake" in known:
        return "inconclusive"
    return known[0]


if __name__ == "__main__":
    main()
