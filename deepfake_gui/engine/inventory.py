"""What this installation holds: its encoders (and whether their weights are here), its detectors, the device.

Plain rows for the front ends (Help ▸ About, the engine thread's status line), so
they never reach into the encoders' registry themselves. Nothing here imports torch
unless a device is described or warm encoders are released.
"""

from __future__ import annotations

import importlib.metadata
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PACKAGE = "layerscope"


def layerscope_licence() -> str:
    """The licence the package declares, and whether its text ships alongside."""
    from deepfake_gui.core.config import repo_root

    try:
        meta = importlib.metadata.metadata(PACKAGE)
        declared = meta.get("License-Expression") or meta.get("License") or ""
    except importlib.metadata.PackageNotFoundError:
        declared = ""
    text_file = next((p for p in (repo_root() / n for n in ("LICENSE", "LICENSE.txt", "LICENSE.md")) if p.is_file()),
                     None)
    if not declared:
        return f"see {text_file}" if text_file else "not declared"
    return declared if text_file else f"{declared} (declared in the package metadata; no LICENSE file ships)"


@dataclass(frozen=True)
class EncoderRow:
    name: str
    modality: str
    licence: str
    description: str


@dataclass(frozen=True)
class DetectorRow:
    name: str
    folder: str
    source: str  # "shipped" or "yours"
    modality: str
    encoder: str
    training: str
    domain: str
    cv_auc: float | None
    licence: str


def encoder_rows() -> list[EncoderRow]:
    """Every real encoder (the random-weight test variants are left out: they never back a detector)."""
    from deepfake_gui.encoders.registry import get_spec, list_encoders

    return [EncoderRow(s.name, s.modality, s.licence, s.description)
            for s in (get_spec(n) for n in list_encoders(include_test=False))]


def weight_statuses(names: Sequence[str]) -> dict[str, str]:
    """Encoder -> present / missing / checksum-mismatch, as ``layerscope models list`` says it.

    Runs off the GUI thread: packaged weights are hashed (memoised) and the hub
    cache is consulted, which is cheap but not instant. It never imports torch.
    """
    from deepfake_gui.encoders.registry import get_spec
    from deepfake_gui.encoders.weights import locate_weights

    out = {}
    for name in names:
        try:
            status = locate_weights(get_spec(name), verify=False)
        except Exception as exc:  # one odd encoder must not blank the table
            out[name] = f"unknown ({type(exc).__name__})"
        else:
            out[name] = status.status
    return out


def detector_rows(folders: Iterable[Path] | None = None) -> list[DetectorRow]:
    """The shipped and the user's detector bundles, from their detector.json alone (no weights loaded)."""
    from deepfake_gui.core.config import shipped_models_dir
    from deepfake_gui.engine.detectors import known_detector_folders

    shipped = shipped_models_dir().resolve()
    rows = []
    for folder in known_detector_folders() if folders is None else folders:
        source = "shipped" if folder.resolve().parent == shipped else "yours"
        try:
            meta = json.loads((folder / "detector.json").read_text(encoding="utf-8"))
            if not isinstance(meta, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            rows.append(DetectorRow(folder.name, str(folder), source, "?", "?", f"unreadable: {exc}", "", None, "?"))
            continue
        rows.append(_detector_row(folder, source, meta))
    return rows


def _detector_row(folder: Path, source: str, meta: dict[str, Any]) -> DetectorRow:
    encoder = meta.get("encoder") if isinstance(meta.get("encoder"), dict) else {}
    encoder_name = str(encoder.get("name", "?"))
    training = meta.get("training") if isinstance(meta.get("training"), dict) else {}
    metrics = meta.get("metrics") if isinstance(meta.get("metrics"), dict) else {}
    profile = meta.get("domain_profile") if isinstance(meta.get("domain_profile"), dict) else {}
    auc = metrics.get("cv_auc")
    return DetectorRow(
        name=str(meta.get("name", folder.name)), folder=str(folder), source=source,
        modality=str(meta.get("modality", "?")), encoder=encoder_name, training=_training_summary(training),
        domain=str(profile.get("description", "")), cv_auc=float(auc) if isinstance(auc, (int, float)) else None,
        licence=_detector_licence(meta, encoder_name),
    )


def _training_summary(training: dict[str, Any]) -> str:
    gens = training.get("generators") if isinstance(training.get("generators"), dict) else {}
    fakes = sorted(g for g in gens if g != "real")
    counts = ""
    if "n_real" in training and "n_fake" in training:
        counts = f": {training['n_real']} real, {training['n_fake']} fake"
    text = f"{training.get('n_items', '?')} files{counts}"
    return text + (f" ({', '.join(fakes)})" if fakes else "")


def _detector_licence(meta: dict[str, Any], encoder_name: str) -> str:
    """The bundle's own licence (LayerScope's unless it says otherwise) and that of the encoder it runs on."""
    from deepfake_gui.encoders.registry import get_spec, list_encoders

    own = meta.get("licence") or meta.get("license") or f"LayerScope ({layerscope_licence().split(' (')[0]})"
    encoder = get_spec(encoder_name).licence if encoder_name in list_encoders() else "unknown encoder"
    return f"probe: {own}; encoder weights: {encoder}"


def describe_device(device: Any) -> str:
    """A torch device in words (e.g. "cuda:0 (NVIDIA H100, 80 GB)")."""
    from deepfake_gui.encoders.device import describe_device as describe

    return describe(device)


def release_warm_encoders() -> None:
    """Drop the encoders kept warm in this process (their weights belong to another models folder)."""
    from deepfake_gui.encoders.registry import clear_warm

    clear_warm()
