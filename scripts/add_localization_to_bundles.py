"""Copy the measured localization figures into the shipped detector bundles' model cards.

Why: a scan result carries each detector's model card (``detector_info``), read
from its bundle; the verdict card shows the localization figures only if they
travel with the detector. The figures come from
``docs/measurements/localization_model_card.json`` (written by
``scripts/measure_localization.py``) and go under the key ``localization`` of
``models/<bundle>/detector.json``. The weights file is untouched, so the bundle
still loads; its content hash changes, as it should when its card changes.

    python scripts/add_localization_to_bundles.py [--card PATH] [--models DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CARD = ROOT / "docs" / "measurements" / "localization_model_card.json"
SOURCE = "docs/measurements/localization_model_card.json"


def localization_entry(card: dict, folder: str) -> dict | None:
    """The ``localization`` value for one bundle folder, or None when the card has no figures for it."""
    figures = (card.get("detectors") or {}).get(folder)
    if not figures:
        return None
    return {"note": card.get("note", ""), "source": SOURCE, "detector": figures.get("name"),
            "figures": {k: v for k, v in figures.items() if k != "name"}}


def update(models: Path, card_path: Path) -> list[str]:
    """Write the figures into every bundle the card names; returns what was done, one line per bundle."""
    card = json.loads(card_path.read_text(encoding="utf-8"))
    done = []
    for meta_path in sorted(models.glob("*/detector.json")):
        entry = localization_entry(card, meta_path.parent.name)
        if entry is None:
            done.append(f"{meta_path.parent.name}: no figures in {card_path.name}, left as is")
            continue
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if entry["detector"] and entry["detector"] != meta.get("name"):
            raise SystemExit(f"{meta_path}: the card's figures are for {entry['detector']!r}, "
                             f"but this bundle is {meta.get('name')!r}; re-run scripts/measure_localization.py")
        meta["localization"] = entry
        meta_path.write_text(json.dumps(meta, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        done.append(f"{meta_path.parent.name}: localization figures for {', '.join(entry['figures'])}")
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--card", type=Path, default=CARD)
    parser.add_argument("--models", type=Path, default=ROOT / "models")
    args = parser.parse_args(argv)
    for line in update(args.models, args.card):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
