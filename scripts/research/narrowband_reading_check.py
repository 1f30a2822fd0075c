"""8 kHz recordings saved at a higher rate by other tools: do they get the verdicts of the originals?

Draws N genuine and N generated files of the telephone set (seeded), writes each upsampled two ways
(scipy's polyphase filter to 16 kHz, FFmpeg's libswresample to 44.1 kHz; 16-bit FLAC), and scans the
originals and the copies with the shipped defaults, the copies twice: read as they are, and read
through 8 kHz as scan now reads a telephone-band file (media/narrowband.py). Prints, per copy and
reading, the verdict counts and how far the lead detector's score moved from the original's.

    python scripts/research/narrowband_reading_check.py ../shared/data/audio --n 40 --out /tmp/nb
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

LEAD = "audio-phase-coherence"


def draw(root: Path, n: int, seed: int) -> list[tuple[str, Path]]:
    rows = list(csv.DictReader((root / "manifest.csv").open(encoding="utf-8")))
    rng = np.random.default_rng(seed)
    out = []
    for label in ("real", "fake"):
        mine = [r for r in rows if r["label"] == label]
        out += [(label, root / mine[i]["path"]) for i in sorted(rng.choice(len(mine), n, replace=False))]
    return out


def write_copies(files: list[tuple[str, Path]], out: Path) -> dict[str, list[Path]]:
    from deepfake_gui.launder.audio import resample, write_flac
    from deepfake_gui.media import load_audio
    from deepfake_gui.media.audio import iter_audio_chunks
    from deepfake_gui.media.narrowband import upsample_chunks

    copies: dict[str, list[Path]] = {"scipy-16k": [], "swr-44.1k": []}
    for i, (_, src) in enumerate(files):
        x = load_audio(src, 8000)
        a = out / "scipy-16k" / f"{i:03d}.flac"
        b = out / "swr-44.1k" / f"{i:03d}.flac"
        for path in (a, b):
            path.parent.mkdir(parents=True, exist_ok=True)
        write_flac(a, resample(x, 8000, 16000).astype(np.float32), 16000)
        write_flac(b, np.concatenate(list(upsample_chunks(iter_audio_chunks(src, 8000), 8000, 44100))), 44100)
        copies["scipy-16k"].append(a)
        copies["swr-44.1k"].append(b)
    return copies


def scan(paths: list[Path], as_recorded: bool) -> list[tuple[str, float]]:
    """(verdict, lead score) per file, in-process; ``as_recorded=False`` reads every file as it is."""
    from deepfake_gui.core.results import ScanResult
    from deepfake_gui.engine.scan import ScanOptions, scan_job
    from deepfake_gui.media import narrowband

    original = narrowband.reads_as_narrowband
    if not as_recorded:
        narrowband.reads_as_narrowband = lambda path, rate: False
    try:
        results = [e for e in scan_job([str(p) for p in paths], ScanOptions(device="cpu"))
                   if isinstance(e, ScanResult)]
    finally:
        narrowband.reads_as_narrowband = original
    by_path = {str(Path(r.path).resolve()): r for r in results}
    out = []
    for p in paths:
        r = by_path[str(Path(p).resolve())]
        lead = r.detectors.get(LEAD) or {}
        out.append((r.verdict or "error", float(lead.get("score", float("nan")))))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path)
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("/tmp/narrowband_check"))
    args = ap.parse_args()
    from deepfake_gui.core.config import ensure_offline_default

    ensure_offline_default()
    files = draw(args.data, args.n, args.seed)
    labels = np.array([label for label, _ in files])
    copies = write_copies(files, args.out)
    base = scan([p for _, p in files], True)
    rows = [("original", "as recorded", base)]
    for name, paths in copies.items():
        rows.append((name, "as it is (before)", scan(paths, False)))
        rows.append((name, "through 8 kHz (now)", scan(paths, True)))
    base_scores = np.array([s for _, s in base])
    print(f"{'copy':<11} {'reading':<20} {'genuine: fake/inc./real':<24} {'generated: fake/inc./real':<26} "
          "lead score - original's (median, max |.|)")
    for name, reading, got in rows:
        verdicts = np.array([v for v, _ in got])
        scores = np.array([s for _, s in got])
        counts = [" / ".join(str(int(((labels == lab) & (verdicts == v)).sum())) for v in ("fake", "inconclusive",
                                                                                             "real"))
                  for lab in ("real", "fake")]
        diff = scores - base_scores
        print(f"{name:<11} {reading:<20} {counts[0]:<24} {counts[1]:<26} {np.median(diff):+.2f}, "
              f"{np.abs(diff).max():.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
