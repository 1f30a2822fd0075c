"""Fine-tuning the top of the Whisper tiny.en encoder on CPU, leave-one-generator-out, against the frozen probe.

Issue 19 names one family not yet measured: fine-tune the top of the Whisper encoder rather than read a frozen
layer with a linear probe. This is that study, in one script (docs/measurements.md, "Fine-tuning the top of
Whisper"):

1. ``--states``: per file of ../shared/data/audio + ../shared/data/wild-audio, Whisper tiny.en's hidden states
   after block 1 (``layer1``, the layer the shipped ``audio-whisper`` probe reads), computed once on the clip's own
   frames (20 ms each) exactly as scan does, and kept as float16 with each file's mean (the probe's feature).
2. Per grouped fold (StratifiedGroupKFold(5, seed 0), as ``train`` uses) and held-out generator
   (probes.protocols.logo_splits, as the phase-map study): (a) the frozen probe: logistic regression, C=1, on the
   layer-1 means (the shipped recipe); (b) fine-tuned: Whisper's pretrained blocks 2 and 3 and a new LayerNorm on top
   of the cached layer-1 states, then attention pooling over frames and one logit, trained on random 3 s crops
   (balanced batches of 16, AdamW, 1e-4 for the pretrained blocks and 1e-3 for the head, one-cycle, 250 steps,
   dropout 0.1 and random time masking); a test file's score is the mean logit over 3 s windows covering it.
3. The table: per generator, AUC of scores pooled over the folds run, for the frozen probe, the fine-tuned
   model, and their average (each standardised by its own training scores).

    PYTHONPATH=. .venv/bin/python scripts/research/whisper_finetune_study.py --states /tmp/whisper_l1.npz \\
        --out /tmp/whisper_ft [--folds 0,1] [--generators a,b] [--report-only]

Nothing here ships: the shipped detectors and their figures are unchanged.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from phase_cnn_study import (
    SplitSeries,
    add_split_arguments,
    covering_windows,
    fit_balanced,
    for_each_logo_split,
    print_auc_table,
    random_crop,
    split_metadata,
    standardised,
)

CROP = 150  # frames: 3 s of 20 ms states
STEPS = 250


def build_states(path: Path, data_root: Path) -> None:
    import torch

    from deepfake_gui.encoders.registry import build_encoder
    from deepfake_gui.engine.datasets import load_datasets
    from deepfake_gui.media import load_audio

    data = load_datasets([data_root / "audio", data_root / "wild-audio"])
    enc = build_encoder("whisper-tiny-en", "cpu")
    states, means = [], []
    with torch.no_grad():
        for i, p in enumerate(data.paths):
            wav = load_audio(p, 16000)[: 30 * 16000]
            batch = enc.preprocess([wav])
            n = int(batch["n_valid"][0])
            h = enc._clip_states(batch["input_features"], n, last_layer=1)[1][0]  # (n, 384) after block 1
            states.append(h.numpy().astype(np.float16))
            means.append(h.mean(0).numpy())
            if i % 250 == 0:
                print(f"states: {i} of {len(data.paths)}", flush=True)
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in states])])
    np.savez(path, states=np.concatenate(states), offsets=offsets, means=np.stack(means),
             **split_metadata(data))


class Study(SplitSeries):
    def __init__(self, states: Path) -> None:
        super().__init__(states, "states", ("means",))

    def crop(self, i: int, rng: np.random.Generator):
        return random_crop(self.file_series(i), CROP, rng)

    def train(self, train: np.ndarray, seed: int = 0):
        import torch

        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        model = top_of_whisper()
        head = [p for n, p in model.named_parameters() if n.startswith(("pool", "out"))]
        body = [p for n, p in model.named_parameters() if not n.startswith(("pool", "out"))]
        opt = torch.optim.AdamW([{"params": body, "lr": 1e-4}, {"params": head, "lr": 1e-3}], weight_decay=1e-2)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[1e-4, 1e-3], total_steps=STEPS, pct_start=0.15)

        def batch(pick: np.ndarray):
            x = torch.stack([self.crop(train[k], rng) for k in pick]).float()
            for row in x:  # time masking: up to two stretches of up to 10 frames zeroed
                for _ in range(int(rng.integers(0, 3))):
                    s = int(rng.integers(0, CROP - 10))
                    row[s:s + int(rng.integers(1, 11))] = 0
            return x

        return fit_balanced(model, self.labels[train], batch, rng, steps=STEPS, optimizer=(opt, sched))

    def score(self, model, index: np.ndarray) -> np.ndarray:
        import torch

        out = []
        with torch.no_grad():
            for i in index:
                out.append(model(covering_windows(self.file_series(i).float(), CROP)).mean().item())
        return np.array(out)


def top_of_whisper():
    """Whisper tiny.en's pretrained blocks 2-3, a LayerNorm, attention pooling, one logit."""
    import copy

    import torch
    from torch import nn

    from deepfake_gui.encoders.registry import build_encoder

    enc = build_encoder("whisper-tiny-en", "cpu").model

    class Top(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.blocks = nn.ModuleList(copy.deepcopy(enc.layers[1:3]))
            for block in self.blocks:  # the pretrained config has no dropout; a little helps a small set
                block.dropout = 0.1
            self.norm = nn.LayerNorm(384)
            self.pool = nn.Linear(384, 1)
            self.out = nn.Sequential(nn.Dropout(0.2), nn.Linear(384, 1))

        def forward(self, x):  # (B, T, 384) layer-1 states
            for block in self.blocks:
                x = block(x, None)
                x = x[0] if isinstance(x, tuple) else x
            x = self.norm(x)
            w = torch.softmax(self.pool(x).squeeze(-1), dim=1)
            return self.out((w.unsqueeze(-1) * x).sum(1)).squeeze(-1)

    return Top()


def run(study: Study, out: Path, folds_wanted: list[int], generators: list[str]) -> None:
    from deepfake_gui.engine.train_protocols import probe_factory

    def fit_and_score(train, test, sub):
        linear = probe_factory("logreg", 1.0)()
        linear.fit(study.X[train], study.labels[train])
        model = study.train(train)
        return {"lin_te": linear.decision_function(study.X[test]), "lin_tr": linear.decision_function(study.X[train]),
                "ft_te": study.score(model, test), "ft_sub": study.score(model, sub)}

    for_each_logo_split(study, out, folds_wanted, generators, fit_and_score)


def report(study: Study, out: Path) -> None:
    pooled: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(out.glob("fold*__*.npz")):
        r = np.load(path)
        if "lin_te" not in r:
            continue
        gen = path.stem.split("__", 1)[1]
        pooled[gen]["y"].append(study.labels[r["te"]])
        pooled[gen]["frozen probe"].append(r["lin_te"])
        pooled[gen]["fine-tuned"].append(r["ft_te"])
        pooled[gen]["average"].append(standardised(r["lin_te"], r["lin_tr"]) + standardised(r["ft_te"], r["ft_sub"]))
    names = ["frozen probe", "fine-tuned", "average"]
    means = print_auc_table(pooled, names)
    print("| below 0.85 | | " + " | ".join(str(sum(a < 0.85 for a in means[n])) for n in names) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--states", type=Path, required=True)
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    add_split_arguments(ap)
    args = ap.parse_args()
    if not args.states.exists():
        t0 = time.time()
        build_states(args.states, args.data)
        print(f"states in {time.time() - t0:.0f} s", flush=True)
    study = Study(args.states)
    if not args.report_only:
        args.out.mkdir(parents=True, exist_ok=True)
        gens = args.generators.split(",") if args.generators else sorted(set(study.gens[study.labels == 1]))
        run(study, args.out, [int(f) for f in args.folds.split(",")], gens)
    report(study, args.out)


if __name__ == "__main__":
    main()
