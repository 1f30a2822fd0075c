"""How far pooling and combining take the phase-coherence detector, under leave-one-generator-out.

Measures, on the development sets the default is trained on and with its folds, LOGO mean / worst AUC of:
- per-bin mean of the phase-advance deviation (what `phase-coherence` pools; the shipped if384 + if448),
- the mean and the standard deviation over sounding frames (the std is not a mean of per-step values, so
  a probe on it cannot give per-step scores for localization: research only),
- phase + Whisper tiny.en layer 1 features in one probe, and a score-level average of the two probes.
Features come from the encoders' own code (phase) and the feature cache (Whisper; `train` fills it).

    .venv/bin/python scripts/research/phase_pooling_study.py ../shared/data/audio ../shared/data/wild-audio
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def phase_moments(paths: list[str], sizes=(384, 448), cache: Path | None = None) -> dict[str, np.ndarray]:
    """Per file and window size: mean and std over sounding frames of the per-bin deviation."""
    from deepfake_gui.encoders.families.phase import phase_deviation, sound_mask
    from deepfake_gui.media import load_audio

    if cache is not None and cache.is_file():
        return dict(np.load(cache))
    out: dict[str, list[np.ndarray]] = {}
    for i, path in enumerate(paths):
        wav = load_audio(path, 16000)
        for n in sizes:
            dev, energy = phase_deviation(wav, n)
            d = dev[sound_mask(energy)]
            out.setdefault(f"mean{n}", []).append(d.mean(0))
            out.setdefault(f"std{n}", []).append(d.std(0))
        if i % 250 == 0:
            print(f"phase moments {i}/{len(paths)}", file=sys.stderr, flush=True)
    arrays = {k: np.stack(v).astype(np.float32) for k, v in out.items()}
    if cache is not None:
        np.savez(cache, **arrays)
    return arrays


def whisper_layer(paths: list[str], layer: int = 1) -> np.ndarray:
    from deepfake_gui.core.jobs import job_result
    from deepfake_gui.encoders.cache import FeatureCache
    from deepfake_gui.encoders.extract import collect_features
    from deepfake_gui.encoders.registry import build_encoder

    matrices, _records = job_result(collect_features(build_encoder("whisper-tiny-en", "cpu"), paths,
                                                     cache=FeatureCache()))
    return matrices[layer].astype(np.float64)


class ScoreAverage:
    """Two probes on two column blocks; decision = w * d1 / sd1 + (1 - w) * d2 / sd2 (sd on training)."""

    def __init__(self, split: int, Cs: tuple[float, float], w: float = 0.5) -> None:
        self.split, self.Cs, self.w = split, Cs, w

    def fit(self, X: np.ndarray, y: np.ndarray) -> ScoreAverage:
        from deepfake_gui.engine.train_protocols import probe_factory

        blocks = (X[:, :self.split], X[:, self.split:])
        self.models_ = [probe_factory("logreg", C)().fit(B, y) for B, C in zip(blocks, self.Cs, strict=True)]
        self.scales_ = [float(np.std(m.decision_function(B))) + 1e-9 for m, B in zip(self.models_, blocks,
                                                                                      strict=True)]
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        blocks = (X[:, :self.split], X[:, self.split:])
        d = [m.decision_function(B) / s for m, B, s in zip(self.models_, blocks, self.scales_, strict=True)]
        return self.w * d[0] + (1 - self.w) * d[1]


def main() -> None:
    from deepfake_gui.engine.datasets import load_datasets
    from deepfake_gui.engine.train_protocols import probe_factory
    from deepfake_gui.probes.dataset import grouped_folds
    from deepfake_gui.probes.protocols import leave_one_generator_out

    data = load_datasets(sys.argv[1:])
    y = np.asarray(data.labels).astype(int)
    folds = grouped_folds(data, 5, 0)
    cache = Path.home() / ".cache" / "layerscope" / "research_phase_moments.npz"
    P = phase_moments([str(p) for p in data.paths], cache=cache)
    W = whisper_layer([str(p) for p in data.paths])

    def run(name: str, X: np.ndarray, factory) -> None:
        r = leave_one_generator_out(X, y, data.generators, data.groups, folds, factory, sources=data.item_match(),
                                    n_draws=0)
        print(json.dumps({"config": name, "logo_mean": round(r.mean_auc, 4), "logo_min": round(r.min_auc, 4),
                          "below_0.85": {h.name: round(h.auc, 3) for h in r.held_out if h.auc < 0.85}}),
              flush=True)

    means = np.concatenate([P["mean384"], P["mean448"]], axis=1).astype(np.float64)
    moments = np.concatenate([P["mean384"], P["std384"], P["mean448"], P["std448"]], axis=1).astype(np.float64)
    run("phase means (shipped)", means, probe_factory("logreg", 0.1))
    run("phase means + stds", moments, probe_factory("logreg", 0.1))
    run("phase means + Whisper L1, one probe", np.concatenate([means, W], axis=1), probe_factory("logreg", 0.1))
    run("phase means + stds + Whisper L1, one probe", np.concatenate([moments, W], axis=1),
        probe_factory("logreg", 0.1))
    run("phase means | Whisper L1, scores averaged", np.concatenate([means, W], axis=1),
        lambda: ScoreAverage(means.shape[1], (0.1, 1.0)))


if __name__ == "__main__":
    main()
