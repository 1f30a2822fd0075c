"""Localization manifests: which parts of a file are manipulated (time spans, a mask picture).

The format of ../shared/data/localization (``path, modality, label, generator, group,
mask_path, video_segments, audio_segments, duration_s, details``). Read by the
localization evaluation (engine/evaluate_localization.py) and by the evidence views'
truth bands (engine/explain.py), so neither has to import the other.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from deepfake_gui.core.errors import LayerScopeError


@dataclass
class Item:
    """One row of a localization manifest."""

    path: Path
    part: str  # the manifest's folder name (audio, image, video)
    modality: str
    label: str  # real | partial
    generator: str
    group: str
    duration_s: float | None
    truth: dict[str, list[tuple[float, float]]]  # track -> true segments (audio, frames)
    mask_path: Path | None = None
    track_generators: dict[str, str] = field(default_factory=dict)



def _spans(text: str) -> list[tuple[float, float]]:
    text = (text or "").strip()
    return [(float(a), float(b)) for a, b in json.loads(text)] if text else []


def load_manifest(folder: Path) -> list[Item]:
    """The items of one localization part, or of every part under a localization root."""
    folder = Path(folder)
    manifest = folder / "manifest.csv" if folder.is_dir() else folder
    if manifest.is_file():
        return _read_manifest(manifest)
    parts = sorted(p for p in folder.iterdir() if (p / "manifest.csv").is_file()) if folder.is_dir() else []
    if not parts:
        raise LayerScopeError(f"{folder}: no manifest.csv here or in its sub-folders (expected a localization set: "
                              "path, modality, label, generator, group, mask_path, video_segments, audio_segments)")
    return [item for part in parts for item in _read_manifest(part / "manifest.csv")]


def _read_manifest(manifest: Path) -> list[Item]:
    root = manifest.parent
    items = []
    with manifest.open(newline="", encoding="utf-8") as fh:
        for n, row in enumerate(csv.DictReader(fh), start=2):
            try:
                details = json.loads(row.get("details") or "{}")
                truth = {}
                if row["modality"] == "audio":
                    truth["audio"] = _spans(row.get("audio_segments", ""))
                elif row["modality"] == "video":
                    truth["frames"] = _spans(row.get("video_segments", ""))
                    truth["audio"] = _spans(row.get("audio_segments", ""))
                gens = {"audio": row["generator"], "frames": row["generator"]}
                if row["modality"] == "video":
                    gens = {"frames": details.get("video_generator") or "real",
                            "audio": details.get("audio_generator") or "real"}
                items.append(Item(
                    path=root / row["path"], part=root.name, modality=row["modality"], label=row["label"],
                    generator=row["generator"], group=row["group"],
                    duration_s=float(row["duration_s"]) if row.get("duration_s") else None, truth=truth,
                    mask_path=(root / row["mask_path"]) if row.get("mask_path") else None, track_generators=gens))
            except (KeyError, ValueError, TypeError) as exc:
                raise LayerScopeError(f"{manifest}, line {n}: cannot read this row ({type(exc).__name__}: {exc})") \
                    from None
    return items
