"""Build the genuine out-of-domain corpus (engine/ood_corpus.py) from the shared development data.

Usage: python scripts/make_ood_corpus.py OUT [--per-kind 15]
Photos: the shared real photo tiles, the wild-image real photos and the few photos that ship inside
installed packages (matplotlib's grace_hopper, scikit-learn's china and flower). Speech: real recordings
of both shared audio sets. None of it is generated; every "fake" verdict on it is a false accusation.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def real_files(dataset: str) -> list[Path]:
    with open(SHARED / dataset / "manifest.csv", newline="", encoding="utf-8") as fh:
        return [SHARED / dataset / r["path"] for r in csv.DictReader(fh) if r["label"] == "real"]


def package_photos() -> list[Path]:
    import matplotlib
    import sklearn

    return [p for p in (Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg",
                        Path(sklearn.__file__).parent / "datasets" / "images" / "china.jpg",
                        Path(sklearn.__file__).parent / "datasets" / "images" / "flower.jpg") if p.is_file()]


def main() -> None:
    from deepfake_gui.engine.ood_corpus import make_ood_corpus

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--per-kind", type=int, default=15)
    args = parser.parse_args()
    photos = real_files("image") + real_files("wild-image") + package_photos()
    speech = real_files("audio") + real_files("wild-audio")
    manifest = make_ood_corpus(args.out, args.per_kind, photos=photos, speech=speech)
    print(manifest)


if __name__ == "__main__":
    main()
