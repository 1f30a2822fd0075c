"""The probe lab's engine: reference folders in, a layer-swept detector out, plus what the lab draws.

Why a job of its own around ``train_job``: an investigator builds a detector for a
new generator from a few dozen examples, so the lab must (1) take files where they
are (any real folders, fake folders named by generator, or a manifest), (2) refuse
sets too small for grouped cross-validation with a sentence saying how many are
needed, (3) stream each layer's score as it is measured so the curve grows live,
and (4) hand back 2-D maps of every layer so the GUI can redraw at once when the
user picks another layer. Qt-free, like every engine module.

Save flow: the bundle is written, validated, into a staging folder at the end of
the job (``staging_root()``, outside the folder scans look in), and ``save_detector``
copies it under the user's detectors folder (the one ``known_detector_folders``
scans) when the user asks. So an experiment never becomes a user detector by
accident, and closing the lab without saving loses nothing on disk: the last
``KEEP_RUNS`` staged runs stay until later runs prune them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import shutil
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from deepfake_gui.core.errors import LayerScopeError
from deepfake_gui.core.jobs import CancelToken, Progress

if TYPE_CHECKING:
    from deepfake_gui.probes.dataset import LabeledSet

MIN_PER_CLASS = 2  # grouped cross-validation needs each class on both sides of at least two folds
RECOMMENDED_PER_CLASS = 20
FEW_GROUPS = 20  # below this the bootstrap CI over groups is wide
KEEP_RUNS = 3  # staged (unsaved) runs kept on disk
GROUPS_HELP = ("Files made from the same source (the same photo, the same sentence) must share a group, so that "
               "cross-validation never tests on a relative of a training file. From folders, the group is guessed "
               "from the file name: the part after the first '_' (\"gen_photo12.png\" and \"photo12.png\" share "
               "\"photo12\"), else the whole name without extension. A manifest.csv (path,label,generator,group) "
               "gives exact groups.")
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".heic", ".avif"})
AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aac", ".wma", ".aiff", ".aif"})
_RUN_NAME = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{6}$")


# ----------------------------------------------------------------------- requests and events
@dataclass
class LabRequest:
    """What the user picked. Either folders (real, and fake ones with a generator each) or ``manifest``."""

    encoder: str
    real_folders: list[Path] = field(default_factory=list)
    fake_folders: list[tuple[Path, str]] = field(default_factory=list)  # (folder, generator; "" = folder name)
    manifest: Path | None = None  # a manifest.csv, or a folder with real/ and fake/<generator>/ (or a manifest)
    name: str | None = None
    device: str = "auto"
    folds: int = 5
    seed: int = 0
    classifier: str = "logreg"
    staging: Path | None = None  # where runs are staged; None = staging_root()


@dataclass(frozen=True)
class LayerScore:
    """One layer's grouped-CV score, yielded as soon as it is measured (the curve grows live)."""

    layer: int
    name: str
    auc: float
    auc_std: float
    eer: float
    eer_std: float
    accuracy: float
    index: int  # position in the sweep
    total: int  # layers in the sweep

    @classmethod
    def from_dict(cls, row: dict[str, Any], index: int, total: int) -> LayerScore:
        return cls(int(row["layer"]), str(row["name"]), float(row["auc"]), float(row["auc_std"]),
                   float(row["eer"]), float(row["eer_std"]), float(row["accuracy"]), index, total)


@dataclass
class LabResult:
    """A finished run: the staged bundle, its metrics, and the data for the curve and the maps."""

    run_id: str
    bundle_path: Path  # the staged bundle; save_detector() makes it a user detector
    name: str
    encoder: str
    random_init: bool
    meta: dict[str, Any]
    layers: list[LayerScore]
    chosen_layer: int
    coords: list[np.ndarray | None]  # PCA (N, 2) per layer, rows as ``paths``; None where a map is impossible
    labels: np.ndarray  # 0 real, 1 fake
    generators: list[str]
    groups: list[str]
    paths: list[str]
    features: list[np.ndarray]  # per layer (N, D_l) float32, for t-SNE on demand
    warnings: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    @property
    def summary(self) -> dict[str, Any]:
        """The figures the lab's summary panel shows, all out-of-fold."""
        m, t = self.meta["metrics"], self.meta["training"]
        return {"cv_auc": m["cv_auc"], "cv_auc_ci95": list(m["cv_auc_ci95"]), "cv_eer": m["cv_eer"],
                "n_real": t["n_real"], "n_fake": t["n_fake"], "n_groups": t["n_groups"],
                "per_generator": {g: dict(v) for g, v in m["per_generator"].items()},
                "layer": self.chosen_layer, "layer_name": self.layers[self.chosen_layer].name
                if self.chosen_layer < len(self.layers) else str(self.chosen_layer)}


@dataclass
class LayerMap:
    """2-D coordinates of one layer's items (t-SNE on demand), tagged with the run they belong to."""

    run_id: str
    layer: int
    method: str
    coords: np.ndarray


@dataclass(frozen=True)
class EncoderChoice:
    """An encoder the lab can offer; ``available`` False means its weights are missing (``note`` says how)."""

    name: str
    modality: str
    random_init: bool
    available: bool
    n_layers: int
    note: str = ""

    @property
    def label(self) -> str:
        if self.random_init:
            return f"{self.name}  (random weights: test only)"
        return self.name if self.available else f"{self.name}  (weights missing)"


# ----------------------------------------------------------------------------- data sets
def build_lab_dataset(request: LabRequest) -> LabeledSet:
    """The LabeledSet of the picks; raises LayerScopeError naming the folder and what is wrong."""
    from deepfake_gui.engine.datasets import dataset_from_folders, load_dataset

    if request.manifest is not None:
        data = load_dataset(request.manifest)
        where = {0: str(request.manifest), 1: str(request.manifest)}
    else:
        if not request.real_folders:
            raise LayerScopeError("add at least one folder of real files")
        if not request.fake_folders:
            raise LayerScopeError("add at least one folder of fake files, named by the generator that made them")
        fakes: dict[str, list[Path]] = {}
        for folder, generator in request.fake_folders:
            fakes.setdefault((generator or "").strip() or Path(folder).name, []).append(Path(folder))
        data = dataset_from_folders(request.real_folders, fakes)
        where = {0: ", ".join(map(str, request.real_folders)),
                 1: ", ".join(str(f) for f, _ in request.fake_folders)}
    check_dataset(data, where)
    return data


def check_dataset(data: LabeledSet, where: dict[int, str] | None = None) -> None:
    """Refuse sets grouped cross-validation cannot split, saying how many files are needed."""
    where = where or {}
    for label, cls in ((0, "real"), (1, "fake")):
        n = int((data.labels == label).sum())
        place = f" in {where[label]}" if where.get(label) else ""
        if n == 0:
            raise LayerScopeError(f"no {cls} files{place}: the folder(s) are empty or hold no media files")
        if n < MIN_PER_CLASS:
            raise LayerScopeError(f"only {n} {cls} file{place}: grouped cross-validation needs at least "
                                  f"{MIN_PER_CLASS} of each class ({RECOMMENDED_PER_CLASS} or more recommended)")
        groups = data.groups[data.labels == label]
        if len(set(groups.tolist())) < 2:
            raise LayerScopeError(f"all {n} {cls} files{place} fall into one group ({str(groups[0])!r}): "
                                  "grouped cross-validation needs at least 2 groups of each class; rename the "
                                  "files (the group is the file name, or the part after the first '_') or use a "
                                  "manifest with a group column")


def lab_warnings(data: LabeledSet, meta: dict[str, Any], random_init: bool, failed: Sequence[str]) -> list[str]:
    """What can make the numbers mislead: said up front, next to them."""
    warnings = []
    if random_init:
        warnings.append(f"encoder {meta['encoder']['name']} has random weights: this detector means nothing "
                        "(for testing the app only)")
    lo, hi = meta["metrics"]["cv_auc_ci95"]
    n_groups = len(set(data.groups.tolist()))
    if n_groups < FEW_GROUPS:
        warnings.append(f"only {n_groups} groups: the AUC's 95% interval over groups is {lo:.2f}-{hi:.2f}; "
                        f"add sources ({FEW_GROUPS}+ groups) for a firm figure")
    small = [cls for label, cls in ((0, "real"), (1, "fake"))
             if (data.labels == label).sum() < RECOMMENDED_PER_CLASS]
    if small:
        warnings.append(f"fewer than {RECOMMENDED_PER_CLASS} {' and '.join(small)} files: "
                        f"{RECOMMENDED_PER_CLASS} or more of each class are recommended")
    gens = sorted(set(data.generators) - {"real"})
    if len(gens) == 1:
        warnings.append(f"one generator only ({gens[0]}): no attribution, and nothing shows how the detector "
                        "fares on other generators")
    if failed:
        warnings.append(f"{len(failed)} file(s) could not be read and were left out, e.g. {failed[0]}")
    return warnings


def guess_modality(folders: Sequence[str | Path], limit: int = 200) -> str | None:
    """"image" or "audio" from the file suffixes in the first ``limit`` files; None when unclear."""
    from deepfake_gui.media.walk import iter_input_files

    suffixes = [p.suffix.lower() for p in islice(iter_input_files([Path(f) for f in folders]), limit)]
    images = sum(s in IMAGE_SUFFIXES for s in suffixes)
    audio = sum(s in AUDIO_SUFFIXES for s in suffixes)
    if images == audio:
        return None
    return "image" if images > audio else "audio"


def encoder_choice(name: str) -> EncoderChoice:
    """One encoder by registry name, offered as usable (its weights are checked when the sweep loads it)."""
    from deepfake_gui.encoders.registry import get_spec

    spec = get_spec(name)
    return EncoderChoice(name, spec.modality, spec.random_init, True, spec.num_layers)


def encoder_choices(modality: str) -> list[EncoderChoice]:
    """The encoders of a modality, usable ones first (pretrained, then random-init test ones)."""
    from deepfake_gui.encoders.registry import get_spec, list_encoders
    from deepfake_gui.encoders.weights import locate_weights

    choices = []
    for name in list_encoders():
        spec = get_spec(name)
        if spec.modality != modality:
            continue
        try:
            status = locate_weights(spec, verify=False)
            available, note = status.status in ("present", "random-init"), status.detail
        except (LayerScopeError, OSError) as exc:
            available, note = False, str(exc)
        if not available:
            note = f"weights missing: {spec.install_hint or note}"
        choices.append(EncoderChoice(name, modality, spec.random_init, available, spec.num_layers,
                                     note or spec.description))
    return sorted(choices, key=lambda c: (not c.available, c.random_init))


# --------------------------------------------------------------------------------- jobs
def staging_root() -> Path:
    from deepfake_gui.core.config import data_dir

    return data_dir() / "probe-lab" / "runs"


def user_detectors_dir() -> Path:
    """The folder ``engine.detectors.known_detector_folders`` scans for the user's bundles."""
    from deepfake_gui.core.config import data_dir

    return data_dir() / "detectors"


def default_name(generators: Sequence[str], encoder: str) -> str:
    gens = sorted(set(generators) - {"real"})
    return f"{'+'.join(gens[:3])}{'+…' if len(gens) > 3 else ''}-{encoder}"


def lab_job(request: LabRequest, cancel: CancelToken | None = None) -> Iterator[Progress | LayerScore | LabResult]:
    """Build the set, run the train job (features, grouped-CV sweep, calibration, bundle), then map every layer."""
    from deepfake_gui.analysis.projection import project
    from deepfake_gui.engine.train import LayerSwept, TrainOptions, TrainReport, train_job

    cancel = cancel or CancelToken()
    yield Progress(0, None, "reading the reference folders")
    data = build_lab_dataset(request)
    cancel.raise_if_cancelled()
    run_id = f"{dt.datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
    root = request.staging or staging_root()
    _prune_runs(root, KEEP_RUNS - 1)
    name = (request.name or "").strip() or default_name(data.generators, request.encoder)
    opts = TrainOptions(data=data, encoder=request.encoder, out=root / run_id / "bundle", folds=request.folds,
                        device=request.device, seed=request.seed, classifier=request.classifier, name=name,
                        report_layers=True)
    report: TrainReport | None = None
    scores: list[LayerScore] = []
    for event in train_job(opts, cancel):
        if isinstance(event, LayerSwept):
            score = LayerScore.from_dict(event.result.to_dict(), event.index, event.total)
            scores.append(score)
            yield score
        elif isinstance(event, TrainReport):
            report = event
        else:
            yield event
        cancel.raise_if_cancelled()
    if report is None or report.data is None or report.features is None:
        raise LayerScopeError("the train job ended without a detector")
    used = report.data
    coords: list[np.ndarray | None] = []
    for i, X in enumerate(report.features):
        cancel.raise_if_cancelled()
        yield Progress(i, len(report.features), f"2-D map of layer {i + 1}/{len(report.features)}")
        try:
            coords.append(project(X, "pca", request.seed))
        except LayerScopeError:
            coords.append(None)
    random_init = bool(report.meta["encoder"].get("random_init"))
    yield LabResult(
        run_id=run_id, bundle_path=report.bundle_path, name=report.meta["name"], encoder=request.encoder,
        random_init=random_init, meta=report.meta,
        layers=[LayerScore.from_dict(r, i, len(report.layers)) for i, r in enumerate(report.layers)],
        chosen_layer=int(report.chosen[0]), coords=coords, labels=used.labels.astype(int).copy(),
        generators=list(used.generators), groups=[str(g) for g in used.groups.tolist()],
        paths=[str(p) for p in used.paths], features=[np.asarray(f, dtype=np.float32) for f in report.features],
        warnings=lab_warnings(used, report.meta, random_init, report.failed), failed=list(report.failed))


def tsne_job(features: np.ndarray, layer: int, run_id: str, seed: int = 0,
             cancel: CancelToken | None = None) -> Iterator[Progress | LayerMap]:
    """t-SNE of one layer's items (seconds, so on demand and on the engine thread)."""
    from deepfake_gui.analysis.projection import project

    cancel = cancel or CancelToken()
    yield Progress(0, 1, f"t-SNE of layer {layer}")
    cancel.raise_if_cancelled()
    coords = project(features, "tsne", seed)
    yield Progress(1, 1, f"t-SNE of layer {layer} done")
    yield LayerMap(run_id, layer, "tsne", coords)


def _prune_runs(root: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` staged runs (only folders the lab named)."""
    if not root.is_dir():
        return
    runs = sorted(p for p in root.iterdir() if p.is_dir() and _RUN_NAME.match(p.name))
    for old in runs[: max(0, len(runs) - keep)]:
        shutil.rmtree(old, ignore_errors=True)


# --------------------------------------------------------------------------------- saving
def slugify(name: str) -> str:
    """A folder name safe on every OS: lower case letters, digits, '.', '_' and '-'."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", name.strip().lower()).strip("-.")
    return slug[:64].rstrip("-.") or "detector"


def save_detector(staged: str | Path, name: str, *, overwrite: bool = False,
                  detectors_dir: Path | None = None) -> Path:
    """Copy a staged bundle into the user's detectors folder under ``slugify(name)``; returns its folder.

    The bundle is re-validated on the way (load_bundle, then save_bundle with the
    final name), written to a hidden folder first and renamed into place, so a
    half-written detector is never seen by a scan. An existing detector of that
    name is replaced only with ``overwrite``.
    """
    from deepfake_gui.probes.bundle import load_bundle, save_bundle

    name = name.strip()
    if not name:
        raise LayerScopeError("give the detector a name before saving it")
    root = detectors_dir or user_detectors_dir()
    dest = root / slugify(name)
    if dest.exists() and not overwrite:
        raise LayerScopeError(f"{dest}: a detector is already saved under this name; choose another name or "
                              "allow replacing it")
    bundle = load_bundle(staged)
    bundle.meta = {**bundle.meta, "name": name}
    incoming = root / ".incoming" / f"{dest.name}-{uuid.uuid4().hex[:8]}"
    save_bundle(bundle, incoming)
    for extra in ("layer_sweep.png", "MODEL_CARD.md"):  # the model card of an adapted detector (engine/adapt.py)
        plot = Path(staged) / extra
        if plot.is_file():
            shutil.copy2(plot, incoming / plot.name)
    old = None
    if dest.exists():
        old = incoming.parent / f"{dest.name}-replaced-{uuid.uuid4().hex[:8]}"
        dest.rename(old)
    incoming.rename(dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    with contextlib.suppress(OSError):
        incoming.parent.rmdir()  # only when empty: another save may be under way
    return dest


# ------------------------------------------------------------------ genuine references (engine/adapt.py)
@dataclass(frozen=True)
class BaseDetectorChoice:
    """A detector the lab can adapt with genuine references: shipped or the user's."""

    folder: Path
    name: str
    modality: str
    adapted_to: str | None = None

    @property
    def label(self) -> str:
        extra = f", already adapted to {self.adapted_to}" if self.adapted_to else ""
        return f"{self.name}  ({self.modality}{extra})"


def base_detector_choices() -> list[BaseDetectorChoice]:
    """Linear-probe bundles in models/ and the user's detectors folder (a JSON read each, no weights)."""
    import json

    from deepfake_gui.engine.detectors import known_detector_folders

    out = []
    for folder in known_detector_folders():
        try:
            meta = json.loads((folder / "detector.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if meta.get("kind") != "linear-probe" or not meta.get("training"):
            continue
        refs = (meta.get("adaptation") or {}).get("reference_set") or {}
        out.append(BaseDetectorChoice(folder, str(meta.get("name", folder.name)), str(meta.get("modality", "")),
                                      refs.get("name")))
    return out


def adapt_staging_dir(staging: Path | None = None) -> Path:
    """A fresh staged folder for an adapted bundle (pruned like the lab's runs)."""
    root = staging or staging_root()
    _prune_runs(root, KEEP_RUNS - 1)
    return root / f"{dt.datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}" / "adapted"
