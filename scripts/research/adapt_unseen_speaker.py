"""Reference calibration on a speaker and line the detector never heard (issue 20, item 5), on held-out data.

For each telephone speaker in turn: train the default's probe without anything of that speaker's
source (their genuine recordings and every fake made from or in their language), score their files
(the base), then add N of their genuine recordings as references (weight W, as `layerscope adapt`
does) and score the rest: real recordings not used as references against the fakes of the other
sentences. AUC before and after, mean over 5 draws of the references.
Usage: python scripts/research/adapt_unseen_speaker.py ENCODER LAYERS C [N] [W]
  e.g. phase-coherence 2,3 0.1 30 5
"""

from __future__ import annotations

import json
import sys

import numpy as np


def main() -> None:
    from deepfake_gui.analysis.metrics import roc_auc
    from deepfake_gui.core.jobs import job_result
    from deepfake_gui.encoders.cache import FeatureCache
    from deepfake_gui.encoders.extract import collect_features
    from deepfake_gui.encoders.registry import build_encoder
    from deepfake_gui.engine.datasets import load_datasets
    from deepfake_gui.probes.linear import LinearProbe

    name, layers, C = sys.argv[1], [int(i) for i in sys.argv[2].split(",")], float(sys.argv[3])
    n_ref = int(sys.argv[4]) if len(sys.argv) > 4 else 30
    weight = float(sys.argv[5]) if len(sys.argv) > 5 else 5.0
    data = load_datasets(["../shared/data/audio", "../shared/data/wild-audio"])
    matrices, _ = job_result(collect_features(build_encoder(name, "cpu"), data.paths, cache=FeatureCache()))
    X = np.concatenate([matrices[i].astype(np.float64) for i in layers], axis=1)
    y = np.asarray(data.labels).astype(int)
    sources = np.asarray(data.item_sources())
    groups = np.asarray(data.groups)
    out = {"encoder": name, "layers": layers, "C": C, "references": n_ref, "weight": weight, "speakers": {}}
    for source in sorted(s for s in set(sources.tolist()) if s.startswith("audio:")):
        held = sources == source
        base = LinearProbe(C=C).fit(X[~held], y[~held])
        before = roc_auc(y[held], base.decision_function(X[held]))
        real_groups = sorted(set(groups[held & (y == 0)].tolist()))
        afters, befores_rest = [], []
        for draw in range(5):
            rng = np.random.default_rng(draw)
            ref_groups = set(rng.choice(real_groups, size=min(n_ref, len(real_groups) - 5), replace=False).tolist())
            ref = held & (y == 0) & np.isin(groups, list(ref_groups))
            rest = held & ~np.isin(groups, list(ref_groups))  # other sentences: their real and fake files
            train = ~held | ref
            w = np.where(ref, weight, 1.0)[train]
            adapted = LinearProbe(C=C).fit(X[train], y[train], sample_weight=w)
            afters.append(roc_auc(y[rest], adapted.decision_function(X[rest])))
            befores_rest.append(roc_auc(y[rest], base.decision_function(X[rest])))
        out["speakers"][source] = {"base_auc_all": round(before, 4),
                                   "base_auc_rest": round(float(np.mean(befores_rest)), 4),
                                   "adapted_auc_rest": round(float(np.mean(afters)), 4),
                                   "adapted_min": round(float(np.min(afters)), 4)}
        print(source, out["speakers"][source], flush=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
