"""Genuine and generated speech with added noise: how the sound verdict treats them (README, fourth check).

Draws N real and N fake files from each data set (seeded), writes each clean and through a laundering
condition (default ``noise20db``, decoded back to FLAC, so the container shows nothing), scans them all
with ``layerscope scan`` and prints the verdict counts per set, class and condition.

    .venv/bin/python scripts/research/noisy_speech_check.py ../shared/data/audio ../shared/data/wild-audio
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np


def draw(data: Path, n: int, rng: np.random.Generator) -> list[tuple[str, Path]]:
    with open(data / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for label in ("real", "fake"):
        pool = [r for r in rows if r["label"] == label]
        out += [(label, data / pool[i]["path"]) for i in rng.choice(len(pool), min(n, len(pool)), replace=False)]
    return out


def main() -> int:
    from deepfake_gui.launder.conditions import get_condition

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="+", type=Path)
    ap.add_argument("--n", type=int, default=15, help="files per class and set")
    ap.add_argument("--condition", default="noise20db")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--lines", type=Path, help="also keep the scan's JSON lines here")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    condition = get_condition(args.condition)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for k, data in enumerate(args.data):  # the same files whatever the condition draws
            for i, (label, src) in enumerate(draw(data, args.n, np.random.default_rng([args.seed, k]))):
                name = f"{i:03d}_{src.stem}"
                clean = root / "clean" / f"{data.name}-{label}" / f"{name}{src.suffix}"
                clean.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, clean)
                condition.apply(src, root / args.condition / f"{data.name}-{label}" / f"{name}.flac", rng)
        lines = root / "scan.jsonl"
        subprocess.run([sys.executable, "-m", "deepfake_gui.cli", "scan", str(root / "clean"),
                        str(root / args.condition), "--out", str(lines)], check=True)
        if args.lines:
            shutil.copyfile(lines, args.lines)
        table: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        for line in lines.read_text().splitlines():
            result = json.loads(line)
            if "path" in result:
                parts = Path(result["path"]).parts
                table[f"{parts[-3]:<10} {parts[-2]}"][result.get("verdict") or "error"] += 1
    print(f"{'condition':<10} {'set-class':<20} fake incon. real")
    for key in sorted(table):
        c = table[key]
        print(f"{key:<31} {c['fake']:>4} {c['inconclusive']:>6} {c['real']:>4}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
