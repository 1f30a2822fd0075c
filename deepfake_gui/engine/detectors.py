"""Which detectors a scan runs: the shipped defaults, or the user's choice.

A detector is usable only when its encoder's real weights are here. One that is
not is kept in the list as *unavailable*, so the scan can say plainly why it did
not run and which command gets the weights, instead of silently dropping it or,
worse, scoring with random weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from deepfake_gui.core.errors import BundleError, LayerScopeError, WeightsUnavailableError


@dataclass
class ActiveDetector:
    """A loaded detector bundle and, when its weights are present, its warm encoder."""

    detector: object  # probes.detector.Detector (kept untyped: no numpy/torch at import)
    folder: Path
    source: str  # "default" or "user"
    encoder: object | None = None  # encoders.base.Encoder
    unavailable: str | None = None  # why it cannot run, with the command that fixes it

    @property
    def name(self) -> str:
        return self.detector.name  # type: ignore[attr-defined]

    @property
    def modality(self) -> str:
        return str(self.detector.meta.get("modality", ""))  # type: ignore[attr-defined]

    @property
    def random_init(self) -> bool:
        enc = self.detector.meta.get("encoder", {})  # type: ignore[attr-defined]
        return bool(enc.get("random_init")) or (
            self.encoder is not None and getattr(self.encoder.spec, "random_init", False))  # type: ignore[attr-defined]

    @property
    def cv_auc(self) -> float:
        return float(self.detector.meta.get("metrics", {}).get("cv_auc") or 0.0)  # type: ignore[attr-defined]

    @property
    def unseen_auc(self) -> float:
        """The model card's leave-one-generator-out mean AUC (0 when it has none): what predicts new fakes."""
        headline = self.detector.meta.get("metrics", {}).get("headline") or {}  # type: ignore[attr-defined]
        return float(headline.get("mean_auc") or 0.0)

    def describe_domain(self) -> str:
        """The training domain in words, for the caveat every result carries."""
        meta = self.detector.meta  # type: ignore[attr-defined]
        profile = meta.get("domain_profile") or {}
        if profile.get("description"):
            return str(profile["description"])
        training = meta.get("training", {})
        gens = sorted(g for g in training.get("generators", {}) if g != "real")
        return (f"{training.get('n_items', '?')} {self.modality} files from {training.get('root', '?')}"
                + (f"; fakes from {', '.join(gens)}" if gens else ""))


def known_detector_folders() -> list[Path]:
    """Bundles shipped in models/ and those the user saved in the app's detectors folder."""
    from deepfake_gui.core.config import data_dir, shipped_models_dir

    folders: list[Path] = []
    for root in (shipped_models_dir(), data_dir() / "detectors"):
        if root.is_dir():
            folders += sorted(p for p in root.iterdir() if (p / "detector.json").is_file())
    return folders


def find_detector(spec: str) -> Path:
    """A bundle folder from a path, a folder name in models/, or a bundle's ``name``."""
    import json

    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "detector.json").is_file():
            raise BundleError(f"{path}: not a detector bundle (no detector.json)")
        return path
    folders = known_detector_folders()
    for folder in folders:
        if folder.name == spec:
            return folder
    for folder in folders:
        try:
            if json.loads((folder / "detector.json").read_text(encoding="utf-8")).get("name") == spec:
                return folder
        except (OSError, ValueError):
            continue
    known = ", ".join(f.name for f in folders) or "none"
    raise LayerScopeError(f"unknown detector {spec!r}: not a folder, and not one of the known detectors ({known})")


def resolve_detectors(specs: Sequence[str] | None = None, device: str = "auto",
                      defaults: bool = True) -> list[ActiveDetector]:
    """The detectors to run, best first within each modality: by unseen-generator AUC, then in-domain CV.

    The first detector of a track leads its verdict; the others can only make it inconclusive by
    saying the opposite (engine.verdicts.track_verdict).

    ``specs`` (``--detector``) replace the defaults of their modality and keep the
    defaults of the others, so ``--detector my-voice-probe`` still scans images.
    """
    from deepfake_gui.core.config import shipped_models_dir
    from deepfake_gui.probes.detector import Detector

    chosen: list[ActiveDetector] = []
    for spec in specs or []:
        folder = find_detector(spec)
        chosen.append(ActiveDetector(Detector.load(folder), folder, "user"))
    if defaults:
        overridden = {d.modality for d in chosen}
        root = shipped_models_dir()
        for folder in sorted(root.iterdir()) if root.is_dir() else []:
            if not (folder / "detector.json").is_file():
                continue
            detector = Detector.load(folder)
            if detector.meta.get("modality") not in overridden:
                chosen.append(ActiveDetector(detector, folder, "default"))
    for active in chosen:
        _attach_encoder(active, device)
    order = {"image": 0, "audio": 1}
    chosen.sort(key=lambda d: (order.get(d.modality, 2), d.source != "user", -d.unseen_auc, -d.cv_auc, d.name))
    return chosen


def _attach_encoder(active: ActiveDetector, device: str) -> None:
    from deepfake_gui.encoders.registry import build_encoder, get_spec

    name = active.detector.encoder_name  # type: ignore[attr-defined]
    try:
        encoder = build_encoder(name, device)
    except WeightsUnavailableError as exc:
        hint = get_spec(name).install_hint if _known(name) else ""
        active.unavailable = (f"detector {active.name} did not run: {exc}"
                              + ("" if "layerscope models fetch" in str(exc) or not hint else f" ({hint})"))
        return
    except LayerScopeError as exc:
        active.unavailable = f"detector {active.name} did not run: {exc}"
        return
    expected = active.detector.meta.get("encoder", {}).get("weights_sha256")  # type: ignore[attr-defined]
    have = getattr(encoder, "weights_sha256", None)
    if expected and have and expected != have and not active.random_init:
        active.unavailable = (f"detector {active.name} did not run: it was trained on {name} weights "
                              f"{expected[:12]}…, but this machine has {have[:12]}…; run "
                              f"`layerscope models verify {name}`")
        return
    active.encoder = encoder


def _known(name: str) -> bool:
    from deepfake_gui.encoders.registry import list_encoders

    return name in list_encoders()
