"""A small trainable CNN on the per-frame phase map against the shipped linear probe, leave-one-generator-out.

Issue 19 asks whether small trainable heads carry to unseen generators better than a linear read-out. This is
the study behind docs/measurements.md ("Small trainable models on the phase map"), in one script:

1. ``--maps``: per file of ../shared/data/audio + ../shared/data/wild-audio, the phase-deviation map of the
   sounding frames at a 384-sample window (float16) and the per-bin means at 384 and 448 (the shipped probe's
   features), computed once with the encoder's own functions (encoders/families/phase.py).
2. Per grouped fold (StratifiedGroupKFold(5, seed 0), as `train` uses) and held-out generator
   (probes.protocols.logo_splits: its fakes out of training, scored against the held-out real files of its
   sources): the linear probe (logreg, C=0.1, on the two per-bin means) and a 16k-parameter 2-D CNN (four conv
   layers, mean over time, dropout, linear; random 1 s crops, balanced batches of 16, AdamW one-cycle, 800
   steps; test logits averaged over crops covering the file). Held-out scores and training-score statistics
   (linear: every training file; CNN: a seeded sample of 400) go to ``--out`` (one file per fold and
   generator, so a stopped run resumes).
3. The table: per generator, AUC of scores pooled over folds for the linear probe, the CNN, and their average
   with each model's scores standardised (a) by their own held-out scores (a first look: it uses the test set's
   spread), (b) by their training scores, or (c) cross-fitted: by the held-out scores of the other folds' runs
   for the other generators (what a shipped model could use, as its calibration is fitted on held-out scores).

    PYTHONPATH=. .venv/bin/python scripts/research/phase_cnn_study.py --maps /tmp/phase_maps.npz \\
        --out /tmp/phase_cnn [--folds 0,1,2,3,4] [--generators a,b] [--report-only]

CPU: about 40 s per CNN on 2 cores (80 for all folds and generators).
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

HOP_FRAMES = 200  # 1 s crops (5 ms steps)


def build_maps(path: Path, data_root: Path) -> None:
    from deepfake_gui.encoders.families.phase import phase_deviation, sound_mask
    from deepfake_gui.engine.datasets import load_datasets
    from deepfake_gui.media import load_audio

    data = load_datasets([data_root / "audio", data_root / "wild-audio"])
    maps, m384, m448 = [], [], []
    for i, p in enumerate(data.paths):
        wav = load_audio(p, 16000)
        dev, energy = phase_deviation(wav, 384)
        frames = dev[sound_mask(energy)]
        maps.append(frames.astype(np.float16))
        m384.append(frames.mean(0))
        dev2, energy2 = phase_deviation(wav, 448)
        m448.append(dev2[sound_mask(energy2)].mean(0))
        if i % 200 == 0:
            print(f"maps: {i} of {len(data.paths)}", flush=True)
    offsets = np.concatenate([[0], np.cumsum([len(m) for m in maps])])
    np.savez(path, frames=np.concatenate(maps), offsets=offsets, mean384=np.stack(m384), mean448=np.stack(m448),
             **split_metadata(data))


def split_metadata(data) -> dict[str, np.ndarray]:
    """What the folds and leave-one-generator-out splits need of a LabeledSet, as arrays for an .npz."""
    return {"labels": np.asarray(data.labels).astype(int), "generators": np.asarray(data.generators),
            "groups": np.asarray(data.groups), "match": np.asarray(data.item_match())}


def read_split_metadata(z) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(labels, generators, groups, match) as ``split_metadata`` stored them."""
    return z["labels"], z["generators"], z["groups"], z["match"]


class SplitSeries:
    """A study's cache read back: every file's series stored end to end (``offsets``), each file's pooled
    features ``X`` (the named arrays side by side) and the split metadata."""

    def __init__(self, path: Path, series_key: str, pooled_keys: tuple[str, ...]) -> None:
        import torch

        z = np.load(path)
        self.labels, self.gens, self.groups, self.match = read_split_metadata(z)
        self.offsets = z["offsets"]
        self.series = torch.from_numpy(z[series_key])
        self.X = np.concatenate([z[k] for k in pooled_keys], 1).astype(np.float64)

    def file_series(self, i: int):
        return self.series[self.offsets[i]:self.offsets[i + 1]]


class Study(SplitSeries):
    def __init__(self, maps: Path) -> None:
        super().__init__(maps, "frames", ("mean384", "mean448"))

    def crop(self, i: int, rng: np.random.Generator):
        return random_crop(self.file_series(i), HOP_FRAMES, rng)

    def train_cnn(self, train: np.ndarray, steps: int = 800, batch: int = 16, seed: int = 0):
        import torch

        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        sample = np.concatenate([np.arange(self.offsets[i], self.offsets[i + 1])[::10] for i in train])
        sub = self.series[torch.from_numpy(sample)].float()
        mu, sd = sub.mean(0), sub.std(0) + 1e-4
        model = cnn2d(self.series.shape[1])

        def make_batch(pick):
            return (torch.stack([self.crop(train[k], rng) for k in pick]).float() - mu) / sd

        fit_balanced(model, self.labels[train], make_batch, rng, steps, batch)
        return model, mu, sd

    def score_cnn(self, model, mu, sd, index: np.ndarray) -> np.ndarray:
        import torch

        out = []
        with torch.no_grad():
            for i in index:
                x = (self.file_series(i).float() - mu) / sd
                out.append(model(covering_windows(x, HOP_FRAMES)).mean().item())
        return np.array(out)


def random_crop(m, length: int, rng: np.random.Generator):
    """``length`` consecutive rows of ``m`` (frames x features) at a random start; a shorter ``m`` is repeated."""
    if m.shape[0] < length:
        return m.repeat((length + m.shape[0] - 1) // m.shape[0], 1)[:length]
    start = int(rng.integers(0, m.shape[0] - length + 1))
    return m[start:start + length]


def covering_windows(m, length: int):
    """(n, length, features): back-to-back windows of ``m`` covering all of it (the last one end-aligned), for
    scoring a whole file with a model trained on crops; a shorter ``m`` is repeated to one window."""
    import torch

    if m.shape[0] < length:
        m = m.repeat((length + m.shape[0] - 1) // m.shape[0], 1)[:length]
    starts = list(range(0, m.shape[0] - length + 1, length))
    if starts[-1] != m.shape[0] - length:
        starts.append(m.shape[0] - length)
    return torch.stack([m[s:s + length] for s in starts])


def fit_balanced(model, y: np.ndarray, make_batch, rng: np.random.Generator, steps: int = 800, batch: int = 16,
                 optimizer: tuple | None = None):
    """Train ``model`` on balanced batches (``make_batch(picks)``: the inputs of training files ``picks``) with
    binary cross-entropy; left in eval mode. ``optimizer``: (optimizer, scheduler) stepped once per batch, by
    default AdamW at 2e-3 with a one-cycle schedule over ``steps``."""
    import torch
    import torch.nn.functional as F

    if optimizer is None:
        opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-3)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps, pct_start=0.15)
    else:
        opt, sched = optimizer
    p = np.where(y == 1, 0.5 / (y == 1).sum(), 0.5 / (y == 0).sum())
    model.train()
    for _ in range(steps):
        pick = rng.choice(len(y), size=batch, p=p)
        loss = F.binary_cross_entropy_with_logits(model(make_batch(pick)), torch.from_numpy(y[pick].astype(np.float32)))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    model.eval()
    return model


def cnn2d(n_bins: int, channels: tuple[int, ...] = (8, 16, 32, 32)):
    """Four 3x3 conv layers (stride 2 first, max-pooling between), mean over time, dropout, one logit."""
    import torch
    from torch import nn

    class CNN2D(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            layers: list[nn.Module] = []
            c_in = 1
            for j, c in enumerate(channels):
                layers += [nn.Conv2d(c_in, c, 3, padding=1, stride=2 if j == 0 else 1), nn.BatchNorm2d(c), nn.ReLU()]
                if 0 < j < len(channels) - 1:
                    layers.append(nn.MaxPool2d(2))
                c_in = c
            self.body = nn.Sequential(*layers)
            with torch.no_grad():
                height = self.body(torch.zeros(1, 1, n_bins, 64)).shape[2]
            self.drop = nn.Dropout(0.3)
            self.head = nn.Linear(c_in * height, 1)

        def forward(self, x):  # (B, T, F)
            h = self.body(x.transpose(1, 2).unsqueeze(1)).mean(3).flatten(1)
            return self.head(self.drop(h)).squeeze(1)

    return CNN2D()


def for_each_logo_split(study: Study, out: Path, folds_wanted: list[int], generators: list[str], fit_and_score) -> None:
    """Per grouped fold and held-out generator: ``fit_and_score(train, test, sub)`` -> arrays saved to
    ``out/fold{k}__{gen}.npz`` with ``te`` (``sub``: a seeded sample of 400 training files for score statistics).
    An existing file is skipped, so a stopped run resumes; a fold without the generator saves an empty ``te``."""
    from deepfake_gui.probes.protocols import logo_splits

    folds = grouped(study)
    for fold in folds_wanted:
        for gen in generators:
            path = out / f"fold{fold}__{gen}.npz"
            if path.exists():
                continue
            splits = logo_splits(study.labels, study.gens, [folds[fold]], gen, study.match)
            if not splits:
                np.savez(path, te=np.array([], dtype=int))
                continue
            train, test = splits[0]
            t0 = time.time()
            sub = np.sort(np.random.default_rng(1).choice(train, size=min(400, len(train)), replace=False))
            np.savez(path, te=test, **fit_and_score(train, test, sub))
            print(f"fold {fold} {gen}: {time.time() - t0:.0f} s", flush=True)


def run(study: Study, out: Path, folds_wanted: list[int], generators: list[str]) -> None:
    from deepfake_gui.engine.train_protocols import probe_factory

    def fit_and_score(train, test, sub):
        linear = probe_factory("logreg", 0.1)()
        linear.fit(study.X[train], study.labels[train])
        model, mu, sd = study.train_cnn(train)
        return {"lin_te": linear.decision_function(study.X[test]), "lin_tr": linear.decision_function(study.X[train]),
                "cnn_te": study.score_cnn(model, mu, sd, test), "cnn_sub": study.score_cnn(model, mu, sd, sub)}

    for_each_logo_split(study, out, folds_wanted, generators, fit_and_score)


def grouped(study: Study):
    from sklearn.model_selection import StratifiedGroupKFold

    return list(StratifiedGroupKFold(5, shuffle=True, random_state=0).split(
        np.zeros(len(study.labels)), study.labels, study.groups))


def standardised(s: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """``s`` standardised by ``ref``'s mean and spread: how the studies put two detectors' scores on one scale."""
    return (s - ref.mean()) / (ref.std() + 1e-12)


def report(study: Study, out: Path) -> None:
    runs = {}
    for path in sorted(out.glob("fold*__*.npz")):
        d = np.load(path)
        if "lin_te" in d:  # else nothing to score in that fold
            fold, gen = path.stem.split("__", 1)
            runs[(fold, gen)] = {k: d[k] for k in ("te", "lin_te", "cnn_te", "lin_tr", "cnn_sub")}

    def cross_fitted(key: str, fold: str, gen: str) -> np.ndarray:
        """Held-out scores of the other folds' runs for the other generators: a scale a shipped model could use
        (calibration is fitted on such scores), blind to this fold's files and to this generator."""
        others = [r[key] for (f, g), r in runs.items() if f != fold and g != gen]
        if not others:
            raise SystemExit("the cross-fitted column needs runs of at least two folds and two generators")
        return np.concatenate(others)

    pooled: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for (fold, gen), r in runs.items():
        lin, cnn = r["lin_te"], r["cnn_te"]
        variants = {"linear": lin, "cnn": cnn, "average, held-out z": standardised(lin, lin) + standardised(cnn, cnn),
                    "average, training z": standardised(lin, r["lin_tr"]) + standardised(cnn, r["cnn_sub"]),
                    "average, cross-fitted z": (standardised(lin, cross_fitted("lin_te", fold, gen))
                                                + standardised(cnn, cross_fitted("cnn_te", fold, gen)))}
        pooled[gen]["y"].append(study.labels[r["te"]])
        for name, s in variants.items():
            pooled[gen][name].append(s)
    names = ["linear", "cnn", "average, held-out z", "average, training z", "average, cross-fitted z"]
    print_auc_table(pooled, names)


def print_auc_table(pooled: dict, names: list[str]) -> dict[str, list[float]]:
    """A markdown table of AUC per held-out generator (``pooled[gen]["y"]`` and ``pooled[gen][name]``: per-fold
    label and score arrays, pooled here) and the mean per column; returns each column's AUCs."""
    from sklearn.metrics import roc_auc_score

    print("| held-out generator | folds | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    means = defaultdict(list)
    for gen in sorted(pooled):
        y = np.concatenate(pooled[gen]["y"])
        aucs = [roc_auc_score(y, np.concatenate(pooled[gen][n])) for n in names]
        for n, a in zip(names, aucs, strict=True):
            means[n].append(a)
        print(f"| {gen} | {len(pooled[gen]['y'])} | " + " | ".join(f"{a:.3f}" for a in aucs) + " |")
    print("| **mean** | | " + " | ".join(f"**{np.mean(means[n]):.3f}**" for n in names) + " |")
    return means


def add_split_arguments(ap: argparse.ArgumentParser) -> None:
    """The options every fold-by-generator study shares: where its scores go and which runs to do."""
    ap.add_argument("--out", type=Path, required=True, help="folder of per-fold, per-generator scores")
    ap.add_argument("--folds", default="0,1,2,3,4")
    ap.add_argument("--generators", default=None, help="comma-separated (default: every generator)")
    ap.add_argument("--report-only", action="store_true")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--maps", type=Path, required=True, help="the maps cache (built when missing)")
    add_split_arguments(ap)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(2)
    if not args.maps.exists():
        build_maps(args.maps, args.data)
    study = Study(args.maps)
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        generators = (args.generators.split(",") if args.generators
                      else sorted(set(study.gens[study.labels == 1].tolist())))
        run(study, args.out, [int(f) for f in args.folds.split(",")], generators)
    report(study, args.out)


if __name__ == "__main__":
    main()
