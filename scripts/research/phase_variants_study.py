"""Which reading of the STFT phase carries best to unseen generators? LOGO over pooled variants.

The shipped `phase-coherence` pools, per bin, the mean absolute deviation of the phase advance from a
steady tone at the bin's centre. For a steady partial off the bin's centre that deviation is constant and
non-zero, so the mean mixes "where partials sit" with "how steadily they advance". Variants measured here,
each a per-bin mean over sounding frames at the shipped window sizes (384, 448; hop 80):
- ``first``: the shipped feature;
- ``weighted``: the same deviation weighted by each cell's power share (quiet cells carry no phase);
- ``second``: the absolute *change* of the phase advance from one step to the next (0 for any steady
  partial, wherever it sits in the bin): a coherence measure free of the partial's frequency;
- ``second_loud``: ``second`` counted only on cells within 30 dB of their frame's loudest bin;
- ``group``: the absolute deviation of the phase step across frequency from that of a pulse at the
  frame's centre (group delay);
- ``voiced`` / ``unvoiced``: ``first`` on frames split by spectral flatness (below / above 0.3);
- ``quiet``: ``first`` on cells more than 30 dB below their frame's loudest bin;
- ``level0``-``level3``: ``first`` per bin in four bands of level below the frame's loudest bin (0-20, 20-40,
  40-60, over 60 dB).

    .venv/bin/python scripts/research/phase_variants_study.py ../shared/data/audio ../shared/data/wild-audio
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

SIZES = (384, 448)
HOP = 80


def stft(wav: np.ndarray, n_fft: int) -> np.ndarray:
    """Centred Hann STFT, (T, F), as the shipped encoder frames it."""
    padded = np.pad(np.asarray(wav, dtype=np.float64), (n_fft // 2, n_fft // 2))
    if len(padded) < n_fft + HOP:
        padded = np.pad(padded, (0, n_fft + HOP - len(padded)))
    n_frames = 1 + (len(padded) - n_fft) // HOP
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[: n_frames * HOP: HOP]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    return np.fft.rfft(frames * window, axis=1)


def variants(wav: np.ndarray, n_fft: int) -> dict[str, np.ndarray]:
    """Per-bin pooled variants of one file at one window size."""
    spec = stft(wav, n_fft)
    power = np.square(np.abs(spec))
    energy = power.sum(1)
    sounding = energy > energy.max() * 1e-4
    if not sounding.any():
        sounding[:] = True
    bins = np.arange(spec.shape[1])
    advance = spec[1:] * spec[:-1].conj() * np.exp(-2j * np.pi * HOP * bins / n_fft)  # (T-1, F)
    first = np.where(np.abs(advance) > 0, np.abs(np.angle(advance)), np.pi / 2)
    change = advance[1:] * advance[:-1].conj()  # (T-2, F)
    second = np.where(np.abs(change) > 0, np.abs(np.angle(change)), np.pi / 2)
    across = -spec[:, 1:] * spec[:, :-1].conj()  # a pulse at the frame's centre: step of -pi per bin
    group = np.where(np.abs(across) > 0, np.abs(np.angle(across)), np.pi / 2)
    group = np.concatenate([group, group[:, -1:]], axis=1)

    s1 = sounding[:-1] & sounding[1:]
    s2 = s1[:-1] & s1[1:]
    weight = power[:-1] * s1[:, None]
    loud = (power > power.max(1, keepdims=True) * 1e-3)
    loud2 = loud[:-2] & loud[1:-1] & loud[2:] & s2[:, None]
    band = power[:, 1: max(2, spec.shape[1] // 2)] + 1e-20  # 0-4 kHz at 16 kHz
    flatness = np.exp(np.log(band).mean(1)) / band.mean(1)
    voiced = (flatness < 0.3)[:-1] & s1
    unvoiced = (flatness >= 0.3)[:-1] & s1

    def masked_mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        mask = mask if mask.ndim == 2 else np.broadcast_to(mask[:, None], values.shape)
        count = mask.sum(0)
        total = np.where(mask, values, 0.0).sum(0)
        return np.where(count > 0, total / np.maximum(count, 1), np.pi / 2)

    level = 10 * np.log10(power[:-1] / (power[:-1].max(1, keepdims=True) + 1e-30) + 1e-30)  # dB below frame peak
    bands = {f"level{i}": masked_mean(first, (level <= hi) & (level > lo) & s1[:, None])
             for i, (hi, lo) in enumerate(((1, -20), (-20, -40), (-40, -60), (-60, -1e9)))}
    return bands | {
        "quiet": masked_mean(first, (level < -30) & s1[:, None]),
        "first": masked_mean(first, s1),
        "weighted": (first * weight).sum(0) / np.maximum(weight.sum(0), 1e-20),
        "second": masked_mean(second, s2),
        "second_loud": masked_mean(second, loud2),
        "group": masked_mean(group, sounding),
        "voiced": masked_mean(first, voiced),
        "unvoiced": masked_mean(first, unvoiced),
    }


def compute(paths: list[str], cache: Path) -> dict[str, np.ndarray]:
    from deepfake_gui.media import load_audio

    if cache.is_file():
        return dict(np.load(cache))
    out: dict[str, list[np.ndarray]] = {}
    for i, path in enumerate(paths):
        wav = load_audio(path, 16000)
        for n in SIZES:
            for name, value in variants(wav, n).items():
                out.setdefault(f"{name}{n}", []).append(value)
        if i % 250 == 0:
            print(f"phase variants {i}/{len(paths)}", file=sys.stderr, flush=True)
    arrays = {k: np.stack(v).astype(np.float32) for k, v in out.items()}
    np.savez(cache, **arrays)
    return arrays


def main() -> None:
    from deepfake_gui.engine.datasets import load_datasets
    from deepfake_gui.engine.train_protocols import probe_factory
    from deepfake_gui.probes.dataset import grouped_folds
    from deepfake_gui.probes.protocols import leave_one_generator_out

    data = load_datasets(sys.argv[1:])
    y = np.asarray(data.labels).astype(int)
    folds = grouped_folds(data, 5, 0)
    V = compute([str(p) for p in data.paths], Path.home() / ".cache" / "layerscope" / "research_phase_variants2.npz")

    def block(*names: str) -> np.ndarray:
        return np.concatenate([V[f"{name}{n}"] for name in names for n in SIZES], axis=1).astype(np.float64)

    def run(name: str, X: np.ndarray, C: float = 0.1) -> None:
        r = leave_one_generator_out(X, y, data.generators, data.groups, folds, probe_factory("logreg", C),
                                    sources=data.item_match(), n_draws=0)
        print(json.dumps({"config": name, "C": C, "logo_mean": round(r.mean_auc, 4), "logo_min": round(r.min_auc, 4),
                          "below_0.85": {h.name: round(h.auc, 3) for h in r.held_out if h.auc < 0.85}}), flush=True)

    for names in (("quiet",), ("level0", "level1", "level2", "level3"), ("first", "quiet"), ("level1", "level2"),
                  ("first", "level0", "level1", "level2", "level3"),
                  ("first",), ("weighted",), ("second",), ("second_loud",), ("group",), ("voiced", "unvoiced"),
                  ("first", "second"), ("first", "group"), ("first", "second", "group")):
        run("+".join(names), block(*names))


if __name__ == "__main__":
    main()
