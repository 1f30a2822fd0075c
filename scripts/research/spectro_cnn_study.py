"""A spectro-temporal CNN (LCNN-style, on the log-power spectrogram) with channel augmentation, leave-one-generator-out.

Issue 19 names one more family to try before concluding that the offline encoders are the limit: a small
spectro-temporal model trained from scratch on CPU, in the spirit of LCNN / AASIST, with codec, band-limit
and RawBoost-style augmentation. This script measures it on the same folds, generators and test files as
``phase_cnn_study.py`` (whose per-fold scores it reads to report averages with the shipped linear probe and
the phase-map CNN):

1. ``--maps``: per file, the log-power spectrogram of the sounding frames at the phase encoder's framing
   (384-sample Hann window, 5 ms hop, the same frames its phase map holds), float16.
2. Models (``--model``): ``lcnn`` (max-feature-map convolutions, as LCNN), input either the log-power map
   (``--input logmag``) or the log-power and phase-deviation maps as two channels (``--input both``).
3. Augmentation per training crop (``--augment``): a random gain (removed anyway by the per-crop level
   normalisation), a random smooth equaliser curve (+-6 dB over frequency: RawBoost's convolutive noise in
   the log domain), a random band limit (p 0.3: bins above 3.4-7.5 kHz set to the crop's floor, as a phone
   line or a low-rate codec leaves them), and additive noise at 15-40 dB below the crop's level (p 0.3).
4. The table: per held-out generator, AUC pooled over the folds run, for this model, the linear probe, the
   phase CNN and averages (each member standardised by its own training scores, as a shipped ensemble could).

    PYTHONPATH=. .venv/bin/python scripts/research/spectro_cnn_study.py --phase-maps /work/cnn-study/maps384.npz \\
        --maps /tmp/logmag384.npz --phase-scores /work/cnn-study/scores2 --out /tmp/lcnn [--folds 0,1]

CPU: about a minute per model on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from phase_cnn_study import (
    HOP_FRAMES,
    Study,
    add_split_arguments,
    fit_balanced,
    for_each_logo_split,
    standardised,
)

N_FFT = 384


def build_logmag(path: Path, phase_maps: Path, data_root: Path) -> None:
    """Log-power maps of the same sounding frames as the phase maps (checked by count per file)."""
    from deepfake_gui.encoders.families.phase import PHASE_HOP, sound_mask
    from deepfake_gui.engine.datasets import load_datasets
    from deepfake_gui.media import load_audio

    offsets = np.load(phase_maps)["offsets"]
    data = load_datasets([data_root / "audio", data_root / "wild-audio"])
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)
    maps = []
    for i, p in enumerate(data.paths):
        wav = np.asarray(load_audio(p, 16000), dtype=np.float64)
        padded = np.pad(wav, (N_FFT // 2, N_FFT // 2))
        n = 1 + (len(padded) - N_FFT) // PHASE_HOP
        frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[: n * PHASE_HOP: PHASE_HOP]
        power = np.square(np.abs(np.fft.rfft(frames * window, axis=1)))
        kept = power[sound_mask(power.sum(axis=1))]
        if len(kept) != offsets[i + 1] - offsets[i]:
            raise RuntimeError(f"{p}: {len(kept)} sounding frames, the phase map has {offsets[i + 1] - offsets[i]}")
        maps.append(np.log10(kept + 1e-10).astype(np.float16))
        if i % 200 == 0:
            print(f"log-power maps: {i} of {len(data.paths)}", flush=True)
    np.savez(path, frames=np.concatenate(maps), offsets=offsets)


def augment(x, rng: np.random.Generator):
    """Channel augmentation of one (T, F) log10-power crop (torch), see the module docstring."""
    import torch

    n_bins = x.shape[1]
    freq = np.linspace(0, 1, n_bins)
    # smooth random equaliser: a few cosines, +-0.6 in log10 power (+-6 dB)
    curve = sum(rng.uniform(-1, 1) * np.cos(np.pi * k * freq + rng.uniform(0, np.pi)) for k in range(1, 4))
    curve = 0.6 * curve / max(1e-6, np.abs(curve).max()) * rng.uniform(0, 1)
    x = x + torch.from_numpy(curve.astype(np.float32))
    level = float(x.mean())
    if rng.random() < 0.3:  # additive noise 15-40 dB below the crop's mean power
        noise_floor = level - rng.uniform(1.5, 4.0)
        x = torch.log10(torch.pow(10.0, x) + 10.0 ** noise_floor)
    if rng.random() < 0.3:  # band limit at 3.4-7.5 kHz
        cut = int(n_bins * rng.uniform(3400, 7500) / 8000)
        x[:, cut:] = float(x.min())
    return x


def lcnn(n_in: int, n_bins: int):
    """A small LCNN: max-feature-map convolutions (each halves its channels), pooling, mean over time."""
    import torch
    from torch import nn

    class MFM(nn.Module):
        def __init__(self, c_in: int, c_out: int, k: int, stride: int = 1) -> None:
            super().__init__()
            self.conv = nn.Conv2d(c_in, 2 * c_out, k, stride=stride, padding=k // 2)

        def forward(self, x):
            a, b = self.conv(x).chunk(2, dim=1)
            return torch.maximum(a, b)

    class LCNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(
                MFM(n_in, 16, 5, stride=2), nn.MaxPool2d(2),
                MFM(16, 16, 1), nn.BatchNorm2d(16), MFM(16, 24, 3), nn.MaxPool2d(2), nn.BatchNorm2d(24),
                MFM(24, 24, 1), nn.BatchNorm2d(24), MFM(24, 32, 3), nn.MaxPool2d(2),
                MFM(32, 32, 1), nn.BatchNorm2d(32), MFM(32, 32, 3), nn.MaxPool2d(2),
            )
            with torch.no_grad():
                height = self.body(torch.zeros(1, n_in, n_bins, 64)).shape[2]
            self.drop = nn.Dropout(0.5)
            self.head = nn.Linear(32 * height, 1)

        def forward(self, x):  # (B, C, F, T)
            h = self.body(x).mean(3).flatten(1)
            return self.head(self.drop(h)).squeeze(1)

    return LCNN()


class SpectroStudy(Study):
    def __init__(self, phase_maps: Path, logmag: Path, channels: str, use_augment: bool) -> None:
        import torch

        super().__init__(phase_maps)
        z = np.load(logmag)
        if not np.array_equal(z["offsets"], self.offsets):
            raise RuntimeError("log-power and phase maps do not hold the same frames")
        self.logmag = torch.from_numpy(z["frames"])
        self.channels = channels
        self.use_augment = use_augment

    def crop_pair(self, i: int, rng: np.random.Generator, start: int | None = None, train: bool = False):
        """(C, F, T) crop of HOP_FRAMES frames: log power (level-normalised, augmented in training) [+ phase]."""
        import torch

        lo, hi = self.offsets[i], self.offsets[i + 1]
        n = hi - lo
        if n < HOP_FRAMES:
            idx = torch.arange(HOP_FRAMES) % n + lo
        else:
            s = int(rng.integers(0, n - HOP_FRAMES + 1)) if start is None else start
            idx = torch.arange(lo + s, lo + s + HOP_FRAMES)
        mag = self.logmag[idx].float()
        if train and self.use_augment:
            mag = augment(mag, rng)
        mag = mag - mag.mean()
        parts = [mag]
        if self.channels == "both":
            parts.append(self.series[idx].float())
        return torch.stack(parts).transpose(1, 2)

    def train_model(self, train: np.ndarray, steps: int = 800, batch: int = 16, seed: int = 0):
        import torch

        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        sample = torch.stack([self.crop_pair(int(i), rng) for i in rng.choice(train, 200)])
        mu, sd = sample.mean((0, 3), keepdim=True)[0], sample.std((0, 3), keepdim=True)[0] + 1e-3
        model = lcnn(sample.shape[1], sample.shape[2])

        def make_batch(pick):
            return (torch.stack([self.crop_pair(int(train[k]), rng, train=True) for k in pick]) - mu) / sd

        fit_balanced(model, self.labels[train], make_batch, rng, steps, batch)
        return model, mu, sd

    def score_model(self, model, mu, sd, index: np.ndarray) -> np.ndarray:
        import torch

        out = []
        rng = np.random.default_rng(0)
        with torch.no_grad():
            for i in index:
                n = int(self.offsets[i + 1] - self.offsets[i])
                starts = list(range(0, max(1, n - HOP_FRAMES + 1), HOP_FRAMES))
                if n > HOP_FRAMES and starts[-1] != n - HOP_FRAMES:
                    starts.append(n - HOP_FRAMES)
                x = (torch.stack([self.crop_pair(int(i), rng, start=s) for s in starts]) - mu) / sd
                out.append(model(x).mean().item())
        return np.array(out)


def run(study: SpectroStudy, out: Path, folds_wanted: list[int], generators: list[str]) -> None:
    def fit_and_score(train, test, sub):
        model, mu, sd = study.train_model(train)
        return {"net_te": study.score_model(model, mu, sd, test), "net_sub": study.score_model(model, mu, sd, sub)}

    for_each_logo_split(study, out, folds_wanted, generators, fit_and_score)


def report(study: SpectroStudy, out: Path, phase_scores: Path) -> None:
    from sklearn.metrics import roc_auc_score

    pooled: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(out.glob("fold*__*.npz")):
        d = np.load(path)
        if "net_te" not in d:
            continue
        ref = np.load(phase_scores / path.name)
        if not np.array_equal(ref["te"], d["te"]):
            raise RuntimeError(f"{path.name}: test files differ from the phase study's")
        gen = path.stem.split("__", 1)[1]
        lin = standardised(ref["lin_te"], ref["lin_tr"])
        pcnn = standardised(ref["cnn_te"], ref["cnn_sub"])
        net = standardised(d["net_te"], d["net_sub"])
        variants = {"this model": d["net_te"], "linear (shipped)": ref["lin_te"], "phase CNN": ref["cnn_te"],
                    "linear + this": lin + net, "linear + phase CNN": lin + pcnn,
                    "linear + phase CNN + this": lin + pcnn + net}
        pooled[gen]["y"].append(study.labels[d["te"]])
        for name, s in variants.items():
            pooled[gen][name].append(s)
    names = ["this model", "linear (shipped)", "phase CNN", "linear + this", "linear + phase CNN",
             "linear + phase CNN + this"]
    print("| held-out generator | folds | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    means = defaultdict(list)
    for gen in sorted(pooled):
        y = np.concatenate(pooled[gen]["y"])
        if len(set(y)) < 2:
            continue
        aucs = [roc_auc_score(y, np.concatenate(pooled[gen][n])) for n in names]
        for n, a in zip(names, aucs, strict=True):
            means[n].append(a)
        print(f"| {gen} | {len(pooled[gen]['y'])} | " + " | ".join(f"{a:.3f}" for a in aucs) + " |")
    print("| **mean** | | " + " | ".join(f"**{np.mean(means[n]):.3f}**" for n in names) + " |")
    print("| below 0.85 | | " + " | ".join(str(int(sum(a < 0.85 for a in means[n]))) for n in names) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--phase-maps", type=Path, required=True, help="phase_cnn_study.py's maps cache")
    ap.add_argument("--maps", type=Path, required=True, help="the log-power maps cache (built when missing)")
    ap.add_argument("--phase-scores", type=Path, required=True, help="phase_cnn_study.py's --out folder")
    ap.add_argument("--input", choices=("logmag", "both"), default="logmag")
    ap.add_argument("--augment", choices=("channel", "none"), default="channel")
    add_split_arguments(ap)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(2)
    if not args.maps.exists():
        build_logmag(args.maps, args.phase_maps, args.data)
    study = SpectroStudy(args.phase_maps, args.maps, args.input, args.augment == "channel")
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        generators = (args.generators.split(",") if args.generators
                      else sorted(set(study.gens[study.labels == 1].tolist())))
        run(study, args.out, [int(f) for f in args.folds.split(",")], generators)
    report(study, args.out, args.phase_scores)


if __name__ == "__main__":
    main()
