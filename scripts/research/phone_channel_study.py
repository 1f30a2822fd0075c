"""Genuine speech through a phone call: what the sound lead scores, and can a check tell a call apart?

Takes the files of a seeded quarter of the groups of the development sound sets, makes copies through
phone channels (8 kHz, 300-3400 Hz band-pass, then G.711 mu-law, AMR-NB 12.2 or 4.75 kbit/s, Opus
12 kbit/s at 8 kHz (a VoIP call); and AMR-NB without the band-pass), computes the shipped `audio-phase`
features of each, and
prints (superseded for the check itself by scripts/build_voice_codec_check.py, kept for point 1):
1. per channel and class, the share of files the shipped probe scores above its band's upper edge (the
   probability from which it calls a file fake);
2. out of fold (grouped, 5 folds), a logistic-regression "phone call" check on the same features, trained
   on originals and plain 8 kHz band-passed copies (negatives) against AMR-NB 12.2 and G.711 copies
   (positives), with its firing rate per channel at the threshold that fires on 1% of held-out originals.

    .venv/bin/python scripts/research/phone_channel_study.py ../shared/data/audio ../shared/data/wild-audio
"""

from __future__ import annotations

import hashlib
import json
import sys
from multiprocessing import Pool
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from build_voice_codec_check import channel

RATE = 16_000
CHANNELS = ("clean", "band", "ulaw", "amr12", "amr12_wide", "amr475", "opus_nb")


def features(path: str) -> np.ndarray:
    """(channels, 418): the shipped phase features of each channel's copy."""
    from deepfake_gui.engine.voice_codec import codec_features
    from deepfake_gui.media import load_audio

    x = load_audio(path, RATE)
    return np.stack([codec_features(channel(x, name)) for name in CHANNELS]).astype(np.float32)


def main() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from deepfake_gui.engine.datasets import load_datasets
    from deepfake_gui.probes.interface import load_detector

    data = load_datasets(sys.argv[1:])
    groups = np.asarray(data.groups)
    keep = np.array([int(hashlib.sha256(g.encode()).hexdigest(), 16) % 4 == 0 for g in groups])
    paths = [str(p) for p, k in zip(data.paths, keep, strict=True) if k]
    y = np.asarray(data.labels).astype(int)[keep]
    groups = groups[keep]
    cache = Path.home() / ".cache" / "layerscope" / f"research_phone_channels_{len(paths)}.npy"
    if cache.is_file():
        F = np.load(cache)
    else:
        with Pool(2) as pool:
            F = np.stack(pool.map(features, paths, chunksize=8))
        np.save(cache, F)
    print(f"{len(paths)} files ({int(y.sum())} fake)", file=sys.stderr)

    detector = load_detector("models/audio-phase")
    upper = float(detector.band[1])
    probability = detector.probability
    out: dict[str, dict] = {}
    for c, name in enumerate(CHANNELS):
        p = probability(detector.decision(F[:, c].astype(np.float64)))
        out[name] = {"real_above_band": round(float((p[y == 0] > upper).mean()), 3),
                     "fake_above_band": round(float((p[y == 1] > upper).mean()), 3),
                     "real_median_p": round(float(np.median(p[y == 0])), 3)}
    print(json.dumps({"shipped_probe_band_upper": upper, "per_channel": out}, indent=1))

    # the phone-call check, out of fold
    neg, pos = ("clean", "band"), ("ulaw", "amr12")
    idx = {n: i for i, n in enumerate(CHANNELS)}
    fires = {n: [] for n in CHANNELS}
    scores = {n: np.zeros(len(paths)) for n in CHANNELS}
    for train, test in GroupKFold(5).split(F, y, groups):
        X = np.concatenate([F[train, idx[n]] for n in neg + pos]).astype(np.float64)
        t = np.concatenate([np.full(len(train), int(n in pos)) for n in neg + pos])
        model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000)).fit(X, t)
        for n in CHANNELS:
            scores[n][test] = model.decision_function(F[test, idx[n]].astype(np.float64))
    threshold = float(np.quantile(scores["clean"], 0.99))
    for n in CHANNELS:
        fires[n] = {"real": round(float((scores[n][y == 0] > threshold).mean()), 3),
                    "fake": round(float((scores[n][y == 1] > threshold).mean()), 3),
                    "auc_vs_clean": round(float(roc_auc_score(
                        np.r_[np.zeros(len(paths)), np.ones(len(paths))], np.r_[scores["clean"], scores[n]])), 3)}
    print(json.dumps({"check_fires_at_1pct_of_originals": fires}, indent=1))


if __name__ == "__main__":
    main()
