"""Which detectors a scan runs: the shipped defaults, or the user's choice.

Bundles load through the detector protocol (probes/interface.py ``load_detector``),
whatever their kind. A detector is usable only when the real weights of every encoder
it reads are here. One that is not is kept in the list as *unavailable*, so the scan can
say plainly why it did not run and which command gets the weights, instead of silently
dropping it or, worse, scoring with random weights.

Scan scores tiles, frames and audio steps, so it runs the kinds that localize (score
every token state) and give a calibrated probability; the others (fusion, one-class)
are measured by evaluate, and naming one for a scan is refused before any file is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from deepfake_gui.core.errors import BundleError, LayerScopeError, WeightsUnavailableError


@dataclass
class ActiveDetector:
    """A loaded detector (any kind) and, when their weights are present, the warm encoders it reads.

    ``encoder`` is its primary encoder (the first it reads: its tile size or sample rate
    decides how a file is cut); ``encoders`` holds every encoder it reads by name, the
    primary included (``encoder_for``).
    """

    detector: object  # probes.interface.Detector (kept untyped: no numpy/torch at import)
    folder: Path
    source: str  # "default" or "user"
    encoder: object | None = None  # encoders.base.Encoder
    unavailable: str | None = None  # why it cannot run, with the command that fixes it
    encoders: dict[str, object] = field(default_factory=dict)  # every encoder it reads, by name

    @property
    def name(self) -> str:
        return self.detector.name  # type: ignore[attr-defined]

    @property
    def modality(self) -> str:
        return str(self.detector.meta.get("modality", ""))  # type: ignore[attr-defined]

    def encoder_for(self, name: str) -> object:
        """The warm encoder ``name`` (the primary one is always ``encoder``, even when a caller replaced it)."""
        if name == self.detector.encoder_name:  # type: ignore[attr-defined]
            return self.encoder
        return self.encoders[name]

    def warm_encoders(self) -> dict[str, object]:
        return {name: self.encoder_for(name) for name in self.detector.encoder_names}  # type: ignore[attr-defined]

    @property
    def random_init(self) -> bool:
        enc = self.detector.meta.get("encoder", {})  # type: ignore[attr-defined]
        return bool(enc.get("random_init")) or (
            self.encoder is not None and getattr(self.encoder.spec, "random_init", False))  # type: ignore[attr-defined]

    @property
    def cv_auc(self) -> float:
        return self.detector.cv_auc  # type: ignore[attr-defined]

    @property
    def unseen_auc(self) -> float:
        """The model card's leave-one-generator-out mean AUC (0 when it has none): what predicts new fakes."""
        return self.detector.unseen_auc  # type: ignore[attr-defined]

    def describe_domain(self) -> str:
        """The training domain in words, for the caveat every result carries."""
        return self.detector.training_domain()  # type: ignore[attr-defined]


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
    from deepfake_gui.probes.interface import load_detector

    chosen: list[ActiveDetector] = []
    for spec in specs or []:
        folder = find_detector(spec)
        detector = load_detector(folder, "scan")
        problem = scan_problem(detector)
        if problem:
            raise BundleError(f"{folder}: {problem}")
        chosen.append(ActiveDetector(detector, folder, "user"))
    if defaults:
        overridden = {d.modality for d in chosen}
        root = shipped_models_dir()
        for folder in sorted(root.iterdir()) if root.is_dir() else []:
            if not (folder / "detector.json").is_file():
                continue
            detector = load_detector(folder, "scan")
            if detector.meta.get("modality") not in overridden:
                active = ActiveDetector(detector, folder, "default")
                problem = scan_problem(detector)
                if problem:
                    active.unavailable = f"detector {active.name} did not run: {problem}"
                chosen.append(active)
    for active in chosen:
        if active.unavailable is None:
            _attach_encoders(active, device)
    order = {"image": 0, "audio": 1}
    chosen.sort(key=lambda d: (order.get(d.modality, 2), d.source != "user", -d.unseen_auc, -d.cv_auc, d.name))
    return chosen


def scan_problem(detector) -> str | None:
    """Why a scan cannot run this detector (None when it can), from what the protocol says of it."""
    if detector.file_calibration is None:
        return (f"a detector of kind {detector.kind!r} gives no calibrated probability, so a scan cannot give it a "
                "verdict; measure it with `layerscope evaluate`")
    if any(r.embedding for r in detector.feature_requests()):
        return (f"a detector of kind {detector.kind!r} scores whole pictures, not the tiles, frames and time steps "
                "a scan scores; measure it with `layerscope evaluate`")
    if not detector.localizes:
        return (f"a detector of kind {detector.kind!r} gives no score per tile or time step, which a scan needs "
                "(heatmaps, timelines); measure it with `layerscope evaluate`")
    return None


def _attach_encoders(active: ActiveDetector, device: str) -> None:
    """Every encoder the detector reads, warm; the first that cannot be used makes it unavailable."""
    from deepfake_gui.encoders.registry import build_encoder, get_spec
    from deepfake_gui.engine.detector_features import weights_mismatch

    built: dict[str, object] = {}
    for request in active.detector.feature_requests():  # type: ignore[attr-defined]
        name = request.encoder
        if name in built:
            continue
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
        mismatch = None if active.random_init else weights_mismatch(request, encoder)
        if mismatch is not None:
            active.unavailable = (f"detector {active.name} did not run: it was trained on {name} weights "
                                  f"{mismatch[0][:12]}…, but this machine has {mismatch[1][:12]}…; run "
                                  f"`layerscope models verify {name}`")
            return
        built[name] = encoder
    geometry = {_geometry(e) for e in built.values()}
    if len(geometry) > 1:
        active.unavailable = (f"detector {active.name} did not run: its encoders {', '.join(built)} cut files "
                              "differently (tile size or sample rate), so they cannot score the same items")
        return
    active.encoders = built
    active.encoder = built[active.detector.encoder_name]  # type: ignore[attr-defined]


def _geometry(encoder: object) -> tuple:
    """How an encoder's items are cut: the tile size of a picture encoder, the sample rate of a sound encoder."""
    pre = getattr(getattr(encoder, "spec", None), "preprocessing", None) or {}
    return (getattr(encoder, "modality", None), pre.get("size"), pre.get("sample_rate"))


def _known(name: str) -> bool:
    from deepfake_gui.encoders.registry import list_encoders

    return name in list_encoders()
