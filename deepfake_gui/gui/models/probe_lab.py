"""What the probe lab knows and decides, without Qt (the view: gui/views/probe_lab.py).

``LabModel``: the reference folders or manifest picked, the media kind and encoder (with the
rules for guessing, pinning and keeping them), the request a sweep is started with, the curve
as it grows, the finished run, the layer mapped (PCA or t-SNE, each t-SNE kept), the progress
bar and status line, and which buttons are enabled. ``ReferencesModel``: the same for "Add
genuine references" (the base detector, genuine and suspect folders, the check's histograms
and flagged references, the adapted detector saved).

The view submits the jobs whose factories these models return (``start_sweep``,
``compute_tsne``, ``ReferencesModel.start``), keeps each handle on the model (``sweep_job``,
``tsne_job``, ``ReferencesModel.job``: anything with ``cancel()``), and forwards the handles'
events to the ``*_result`` / ``end_*`` / ``show_progress`` methods.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_gui.core.errors import LayerScopeError
from deepfake_gui.core.jobs import Progress
from deepfake_gui.core.present import fmt_number
from deepfake_gui.engine.adapt import AdaptOptions, AdaptReport, ReferenceCheck, adapt_job, check_references_job
from deepfake_gui.engine.probe_lab import (
    EncoderChoice,
    LabRequest,
    LabResult,
    LayerMap,
    LayerScore,
    adapt_staging_dir,
    base_detector_choices,
    encoder_choice,
    lab_job,
    save_detector,
    tsne_job,
)
from deepfake_gui.gui.models.common import Bar, Status, offered_encoders, progress_fraction, user_message

MODALITIES = (("Images", "image"), ("Audio", "audio"))
REAL_COLOR = "#66bb6a"
FAKE_PALETTE = ("#ef5350", "#ab47bc", "#ffa726", "#42a5f5", "#ec407a", "#8d6e63", "#26c6da", "#d4e157")
EMPTY_SUMMARY = ("No detector yet. Add a folder of real files and at least one folder of fakes (or a manifest), "
                 "pick an encoder, then Run sweep: the curve above fills in layer by layer.")
CLEARED_SUMMARY = "The chosen layer and its cross-validated AUC appear here when the run ends."
NO_MAP = "Map of the items at the selected layer: run a sweep first"
CLEARED_MAP = "Map of the items at the selected layer: shown when the sweep ends"
NAME_PLACEHOLDER = "default: <generators>-<encoder>"
SWEEP_NAME = "Probe lab at work"  # how the status line names a running sweep
HISTOGRAM_BINS = np.linspace(0.0, 1.0, 21)


def generator_colors(generators: list[str]) -> dict[str, str]:
    """Real is always green; fakes take the palette in name order, so a generator keeps its colour."""
    fakes = sorted(set(generators) - {"real"})
    colors = {g: FAKE_PALETTE[i % len(FAKE_PALETTE)] for i, g in enumerate(fakes)}
    colors["real"] = REAL_COLOR
    return colors


@dataclass(frozen=True)
class LabActions:
    """Which of the lab's buttons work now."""

    run: bool
    cancel: bool
    save: bool
    tsne: bool
    pca: bool


@dataclass(frozen=True)
class Curve:
    """The per-layer AUC curve with its ± std band, as drawn."""

    x: np.ndarray
    auc: np.ndarray
    upper: np.ndarray
    lower: np.ndarray
    ticks: list[tuple[float, str]]
    x_range: tuple[float, float] | None  # None: leave the axis as it is


@dataclass(frozen=True)
class LayerPoints:
    """The items of one layer on the map: real files as dots, fakes as triangles, coloured by generator."""

    coords: np.ndarray  # (N, 2)
    names: list[str]  # "file (generator)", the hover text
    colors: list[str]
    symbols: list[str]


def curve(scores: list[LayerScore]) -> Curve:
    x = np.array([s.layer for s in scores], dtype=float)
    auc = np.array([s.auc for s in scores], dtype=float)
    std = np.array([s.auc_std for s in scores], dtype=float)
    x_range = (-0.5, max(scores[0].total - 0.5, float(x.max()) + 0.5)) if scores else None
    return Curve(x, auc, np.minimum(auc + std, 1.0), np.maximum(auc - std, 0.0),
                 [(float(s.layer), s.name) for s in scores], x_range)


def summary_html(result: LabResult) -> str:
    s = result.summary
    lo, hi = s["cv_auc_ci95"]
    lines = [
        f"<b>{result.name}</b>: {result.encoder}, layer {s['layer_name']} ({s['layer']})",
        f"CV AUC <b>{fmt_number(s['cv_auc'])}</b> (95% CI by group {fmt_number(lo)}–{fmt_number(hi)}) · "
        f"EER {fmt_number(s['cv_eer'])}",
        f"{s['n_real'] + s['n_fake']} items: {s['n_real']} real, {s['n_fake']} fake, in {s['n_groups']} groups",
    ]
    if s["per_generator"]:
        lines.append("AUC per generator: " + ", ".join(f"{g} {fmt_number(v['auc'])} (n={v['n']})"
                                                      for g, v in s["per_generator"].items()))
    attribution = result.meta.get("attribution_cv")
    if attribution:
        lines.append(f"Attribution (which generator), CV accuracy {fmt_number(attribution['accuracy'])}")
    lines.append("All figures are out-of-fold under grouped cross-validation.")
    return "<br>".join(lines)


class LabModel:
    """The probe lab's state and rules; see the module docstring."""

    def __init__(self, *, device: str = "auto", folds: int = 5, seed: int = 0, staging: Path | None = None,
                 detectors_dir: Path | None = None) -> None:
        self.device, self.folds, self.seed = device, folds, seed
        self.staging, self.detectors_dir = staging, detectors_dir
        self.real_folders: list[str] = []
        self.fake_rows: list[tuple[str, str]] = []  # (folder, generator as typed)
        self.manifest: Path | None = None
        self.can_clear_manifest = True  # the Clear button starts enabled; once a pick is made, only with a manifest
        self.modality = MODALITIES[0][1]
        self.modality_pinned = False  # the user (or set_encoder) chose the media kind: folders no longer guess it
        self.wanted_encoder: str | None = None  # kept across a reload of the encoder list
        self.encoders: list[EncoderChoice] = []
        self.encoder: str | None = None
        self.name = ""  # the detector name typed ("": the run's default)
        self.overwrite = False
        self.result: LabResult | None = None
        self.scores: list[LayerScore] = []  # the curve as it grows
        self.selected_layer: int | None = None
        self.map_method = "pca"
        self.tsne: dict[tuple[str, int], np.ndarray] = {}
        self.saved_path: Path | None = None
        self.sweep_job: Any = None  # the view's handles of the running sweep / t-SNE
        self.tsne_job: Any = None
        self.status = Status()
        self.status_tip = ""
        self.bar: Bar | None = None  # None: not drawn yet
        self.points: LayerPoints | None = None  # the map drawn (None: empty)
        self.map_label = NO_MAP
        self.legend = ""
        self.summary = EMPTY_SUMMARY
        self.warnings: list[str] = []
        self.name_placeholder = NAME_PLACEHOLDER
        self.references = ReferencesModel(self)

    # ------------------------------------------------------------------ what the view shows
    def fake_folders(self) -> list[tuple[str, str]]:
        return [(folder, generator.strip()) for folder, generator in self.fake_rows]

    @property
    def modality_label(self) -> str:
        return dict((value, label) for label, value in MODALITIES)[self.modality]

    @property
    def manifest_text(self) -> str:
        return f"Using {self.manifest} (the folders above are ignored)" if self.manifest else ""

    def running_jobs(self) -> list[Any]:
        return [j for j in (self.sweep_job, self.tsne_job, self.references.job) if j is not None]

    def actions(self) -> LabActions:
        """One sweep at a time; Cancel while any lab job runs; save, PCA and t-SNE once a run is done."""
        idle, done = self.sweep_job is None, self.result is not None and self.sweep_job is None
        return LabActions(run=idle, cancel=bool(self.running_jobs()), save=done,
                          tsne=done and self.tsne_job is None, pca=done)

    def layer_name(self, layer: int) -> str:
        names = {s.layer: s.name for s in self.scores}
        return f"{names.get(layer, layer)} ({layer})" if layer in names else str(layer)

    def warnings_html(self) -> str:
        return "<br>".join(f"⚠ {w}" for w in self.warnings)

    # ------------------------------------------------------------------ picks
    def add_real_folder(self, path: str | Path) -> bool:
        """True when the folder is new (then the view lists it and may guess the media kind from it)."""
        if str(path) in self.real_folders:
            return False
        self.real_folders.append(str(path))
        return True

    def add_fake_folder(self, path: str | Path, generator: str | None = None) -> tuple[str, str]:
        """A fake folder and its generator (default: the folder's name); returns the row as listed."""
        row = (str(path), generator or Path(path).name)
        self.fake_rows.append(row)
        return row

    def rename_generator(self, row: int, generator: str) -> None:
        folder, _ = self.fake_rows[row]
        self.fake_rows[row] = (folder, generator)

    def remove_fake_rows(self, rows: list[int]) -> None:
        for row in sorted(set(rows), reverse=True):
            del self.fake_rows[row]

    def set_manifest(self, path: str | Path | None) -> str | None:
        """A manifest.csv or labelled folder replaces the folder picks until cleared; returns where to guess from."""
        self.manifest = Path(path) if path else None
        self.can_clear_manifest = self.manifest is not None
        if self.manifest is None:
            return None
        return str(self.manifest.parent if self.manifest.is_file() else self.manifest)

    def may_guess_modality(self) -> bool:
        return not self.modality_pinned

    def modality_guessed(self, modality: str | None) -> bool:
        """A folder's files say which media kind; True when that changes the encoder list (reload it)."""
        if modality is None or self.modality_pinned or modality == self.modality:
            return False
        self.modality = modality
        self.set_status(f"The folder holds {modality} files: showing {modality} encoders.")
        return True

    def pick_modality(self, modality: str) -> None:
        """The user chose the media kind: pinned from now on; the encoder list is reloaded."""
        self.modality_pinned = True
        self.wanted_encoder = None
        self.modality = modality

    def set_encoder(self, name: str) -> bool:
        """Select an encoder by registry name (its media kind too), even before the list has loaded.

        True when the media kind changed (the view reloads the encoder list; the pick is kept).
        """
        choice = encoder_choice(name)
        self.modality_pinned = True
        self.wanted_encoder = name
        reload = self.modality != choice.modality
        self.modality = choice.modality
        if name not in [c.name for c in self.encoders]:
            self.encoders = [*self.encoders, choice]
        self.encoder = name
        return reload

    def pick_encoder(self, name: str | None) -> None:
        self.encoder = name
        self.wanted_encoder = name

    def encoders_listed(self, choices: list[EncoderChoice]) -> None:
        """The background listing of the encoders of a media kind arrived (stale ones are dropped)."""
        if not choices or choices[0].modality != self.modality:
            return  # a list for a modality no longer shown
        choices = offered_encoders(choices)  # no random-weight test encoders for users
        if not choices:
            self.encoders, self.encoder = [], None
            self.set_status(f"No {self.modality_label.lower()} encoder has its weights here; "
                            "see `layerscope models list`.", error=True)
            return
        keep = self.wanted_encoder or self.encoder
        self.encoders = list(choices)
        names = [c.name for c in choices]
        usable = [c.name for c in choices if c.available]
        if keep in names and choices[names.index(keep)].available:
            self.encoder = keep
        elif usable:
            self.encoder = usable[0]
        else:
            self.encoder = None
            self.set_status(f"No {self.modality_label.lower()} encoder has its weights here: {choices[0].note}",
                            error=True)

    def encoders_failed(self, message: str) -> None:
        self.set_status(f"Could not list the encoders: {message}", error=True)

    def request(self) -> LabRequest:
        """The picks as an engine request (validation happens in the job, off the GUI thread)."""
        if not self.encoder:
            raise LayerScopeError("choose an encoder first")
        return LabRequest(encoder=self.encoder, real_folders=[Path(p) for p in self.real_folders],
                          fake_folders=[(Path(f), g) for f, g in self.fake_folders()], manifest=self.manifest,
                          name=self.name.strip() or None, device=self.device, folds=self.folds, seed=self.seed,
                          staging=self.staging)

    # ------------------------------------------------------------------ the sweep
    def start_sweep(self) -> Callable[..., Any] | None:
        """The sweep's job factory (the view submits it and sets ``sweep_job``); None when it cannot start."""
        if self.sweep_job is not None:
            return None
        try:
            request = self.request()
        except LayerScopeError as exc:
            self.set_status(str(exc), error=True)
            return None
        self.clear_results()
        self.bar = Bar.busy("waiting for the engine…")
        self.set_status(f"Sweeping {request.encoder}…")
        return functools.partial(lab_job, request)

    def sweep_started(self) -> None:
        self.bar = (self.bar or Bar.busy("")).with_text("starting…")

    def sweep_result(self, result: object) -> None:
        """A layer's score grows the curve; the finished run is shown at its chosen layer."""
        if isinstance(result, LayerScore):
            self.scores.append(result)
        elif isinstance(result, LabResult):
            self.result = result
            self.scores = list(result.layers)
            self.name_placeholder = result.name  # saved under this name unless one is typed
            self.map_method = "pca"
            self.select_layer(result.chosen_layer)
            self.summary = summary_html(result)
            self.warnings = list(result.warnings)

    def end_sweep(self, how: str, message: str = "", details: str = "") -> None:
        """The sweep ended: ``how`` is "finished", "cancelled" or "failed" (with the worker's message)."""
        self.sweep_job = None
        self.job_ended("done" if self.result is not None else "")
        if how == "cancelled":
            self.set_status("Sweep cancelled.")
        elif how == "failed":
            self.failure("Sweep", message, details)
        elif self.result is not None:
            s = self.result.summary
            self.set_status(f"Sweep done: chosen layer {s['layer_name']}, CV AUC {fmt_number(s['cv_auc'])}; "
                            f"detector staged at {self.result.bundle_path}. Check the warnings, then "
                            "Save and activate.")

    def clear_results(self) -> None:
        self.result, self.scores, self.selected_layer, self.saved_path = None, [], None, None
        self.points = None
        self.map_label = CLEARED_MAP
        self.legend = ""
        self.summary = CLEARED_SUMMARY
        self.name_placeholder = NAME_PLACEHOLDER
        self.warnings = []

    # ------------------------------------------------------------------ the map
    def select_layer(self, layer: int) -> bool:
        """Map the items at ``layer``; False when there is no such layer to map."""
        if self.result is None or not 0 <= layer < len(self.result.coords):
            return False
        self.selected_layer = layer
        self._draw_map()
        return True

    def show_pca(self) -> None:
        self.map_method = "pca"
        self._draw_map()

    def compute_tsne(self) -> Callable[..., Any] | None:
        """The t-SNE job of the selected layer (the view submits it and sets ``tsne_job``); None when not needed."""
        if self.result is None or self.selected_layer is None or self.tsne_job is not None:
            return None
        layer = self.selected_layer
        self.map_method = "tsne"
        if (self.result.run_id, layer) in self.tsne:
            self._draw_map()
            return None
        self.bar = Bar.busy(f"t-SNE of layer {self.layer_name(layer)}…")
        self.map_label = f"computing t-SNE of layer {self.layer_name(layer)}…"
        return functools.partial(tsne_job, self.result.features[layer], layer, self.result.run_id, self.seed)

    def tsne_result(self, result: object) -> bool:
        """Keep a t-SNE of this run; True when it is the one to show now (the map was redrawn)."""
        if not (isinstance(result, LayerMap) and self.result is not None and result.run_id == self.result.run_id):
            return False
        self.tsne[(result.run_id, result.layer)] = result.coords
        if result.layer == self.selected_layer and self.map_method == "tsne":
            self._draw_map()
            return True
        return False

    def end_tsne(self, how: str, message: str = "", details: str = "") -> None:
        self.tsne_job = None
        self.job_ended("done")
        self._draw_map()
        if how == "cancelled":
            self.set_status("t-SNE cancelled.")
        elif how == "failed":
            self.failure("t-SNE", message, details)

    def _draw_map(self) -> None:
        result, layer = self.result, self.selected_layer
        if result is None or layer is None:
            return
        tsne = self.tsne.get((result.run_id, layer)) if self.map_method == "tsne" else None
        coords = tsne if tsne is not None else result.coords[layer]
        if coords is None:
            self.points = None
            self.map_label = f"Layer {self.layer_name(layer)}: all items have identical features, nothing to map"
            return
        colors = generator_colors(result.generators)
        names = [f"{Path(p).name} ({g})" for p, g in zip(result.paths, result.generators, strict=True)]
        self.points = LayerPoints(coords, names, [colors[g] for g in result.generators],
                                  ["o" if y == 0 else "t1" for y in result.labels])
        method = "t-SNE" if tsne is not None else "PCA"
        hint = "" if tsne is not None or self.map_method == "pca" else " (t-SNE of this layer not computed yet)"
        self.map_label = f"Layer {self.layer_name(layer)} ({method}): {len(names)} items{hint}"
        counts = {g: result.generators.count(g) for g in colors}
        self.legend = " · ".join(
            f"<span style='color:{c}'>{'●' if g == 'real' else '▲'}</span> {g} ({counts.get(g, 0)})"
            for g, c in sorted(colors.items(), key=lambda kv: (kv[0] != "real", kv[0])))

    # ------------------------------------------------------------------ saving, status, progress
    def save(self) -> Path | None:
        """Copy the staged bundle into the user's detectors under the name given; None (and why) on failure."""
        if self.result is None:
            self.set_status("Run a sweep first: there is no detector to save.", error=True)
            return None
        name = self.name.strip() or self.result.name
        try:
            dest = save_detector(self.result.bundle_path, name, overwrite=self.overwrite,
                                 detectors_dir=self.detectors_dir)
        except (LayerScopeError, OSError) as exc:
            self.set_status(f"Not saved: {exc}", error=True)
            return None
        self.saved_path = dest
        self.set_status(f"Saved detector {name!r} to {dest} and made it active.")
        return dest

    def set_status(self, text: str, *, error: bool = False) -> None:
        self.status = Status(text, error)

    def failure(self, what: str, message: str, details: str) -> None:
        self.set_status(f"{what} failed: {user_message(message)}", error=True)
        self.status_tip = details

    def show_progress(self, event: Progress, name: str | None = None) -> None:
        """A lab job's progress on the bar; ``name``: also name the step on the status line."""
        self.bar = Bar.fraction(progress_fraction(event), event.message or "working…")
        if name is not None:  # the status names the step the engine is on (calibration, the maps…)
            self.set_status(f"{name}: {event.message or 'working'}… (Cancel stops it)")

    def job_ended(self, text: str) -> None:
        """A lab job ended: the bar says how (``text``) once no other lab job is running."""
        if not self.running_jobs():
            self.bar = Bar.idle(text == "done", text)


class ReferencesModel:
    """"Add genuine references": adapt a detector to one person / device / channel (engine/adapt.py)."""

    def __init__(self, lab: LabModel) -> None:
        self.lab = lab
        self.bases: list[tuple[str, str]] = []  # (label, bundle folder)
        self.base: str | None = None
        self.folders: list[str] = []
        self.suspects: list[str] = []
        self.reference_name = ""
        self.check: ReferenceCheck | None = None
        self.report: AdaptReport | None = None
        self.job: Any = None  # the view's handle of the running check or adapt job
        self.flagged: list[tuple[str, str]] = []  # (path, label) of the references the base detector calls fake
        self.excluded: set[str] = set()  # flagged references left out (all of them, until the user keeps one)
        self.reference_counts = np.zeros(len(HISTOGRAM_BINS) - 1)
        self.suspect_counts = np.zeros(len(HISTOGRAM_BINS) - 1)
        self.threshold = 0.5
        self.info = ""
        self.reload_bases()

    @property
    def idle(self) -> bool:
        """Check and Adapt work only while neither runs."""
        return self.job is None

    def reload_bases(self) -> None:
        """The detectors that can be adapted (the pick kept while it is still one of them)."""
        self.bases = [(choice.label, str(choice.folder)) for choice in base_detector_choices()]
        folders = [folder for _, folder in self.bases]
        self.base = self.base if self.base in folders else (folders[0] if folders else None)

    def set_base(self, folder: str | Path) -> None:
        if str(folder) not in [f for _, f in self.bases]:
            self.bases.append((Path(folder).name, str(folder)))
        self.base = str(folder)

    def add_folder(self, path: str | Path) -> bool:
        if str(path) in self.folders:
            return False
        self.folders.append(str(path))
        return True

    def add_suspects(self, path: str | Path) -> bool:
        if str(path) in self.suspects:
            return False
        self.suspects.append(str(path))
        return True

    def keep(self, path: str, left_out: bool) -> None:
        """The user ticked (left out) or unticked (kept) a flagged reference."""
        (self.excluded.add if left_out else self.excluded.discard)(path)

    def dropped(self) -> list[str]:
        return [path for path, _ in self.flagged if path in self.excluded]

    def options(self) -> AdaptOptions:
        if not self.base:
            raise LayerScopeError("choose a base detector first")
        if not self.folders:
            raise LayerScopeError("add at least one folder of genuine files")
        lab = self.lab
        return AdaptOptions(detector=Path(self.base), real=[Path(p) for p in self.folders],
                            out=adapt_staging_dir(lab.staging), reference_name=self.reference_name.strip() or None,
                            exclude=[Path(p) for p in self.dropped()], suspects=[Path(p) for p in self.suspects],
                            device=lab.device, folds=lab.folds, seed=lab.seed)

    def start(self, adapt: bool) -> tuple[Callable[..., Any], str, str] | None:
        """A check (or, ``adapt``, an adapt) job: (factory, its name on the status line, its name when it ends)."""
        if self.job is not None:
            return None
        try:
            opts = self.options()
        except LayerScopeError as exc:
            self.lab.set_status(str(exc), error=True)
            return None
        self.lab.bar = Bar.busy("waiting for the engine…")
        if adapt:
            self.lab.set_status("Adapting: refitting the detector with the references…")
            return functools.partial(adapt_job, opts), "Adapting", "Adapting"
        self.lab.set_status("Scoring the references with the base detector…")
        return functools.partial(check_references_job, opts), "Checking the references", "Check"

    def fold(self, result: object) -> Path | None:
        """Both jobs yield the check (shown at once); adapting ends with its report: saved, its folder returned."""
        if isinstance(result, ReferenceCheck):
            self.show_check(result)
        elif isinstance(result, AdaptReport):
            self.report = result
            return self._save(result)
        return None

    def end(self, what: str, problem: str | None) -> None:
        self.job = None
        self.lab.job_ended("done" if problem is None else problem)
        if problem:
            self.lab.set_status(f"{what} {problem}", error=problem.startswith("failed"))

    def failed(self, what: str, message: str, details: str) -> None:
        self.end(what, f"failed: {user_message(message)}")
        self.lab.status_tip = details

    def show_check(self, check: ReferenceCheck) -> None:
        """Histograms of the base detector's probabilities, the threshold, and the flagged references."""
        self.check = check
        refs = np.array([r.probability for r in check.usable], dtype=float)
        sus = np.array([s.probability for s in check.suspects if s.error is None], dtype=float)
        self.reference_counts = np.histogram(refs, HISTOGRAM_BINS)[0].astype(float)
        self.suspect_counts = np.histogram(sus, HISTOGRAM_BINS)[0].astype(float)
        self.threshold = check.band[1]
        self.flagged = [(r.path, f"{Path(r.path).name}  (P(fake) {fmt_number(r.probability, '.2f')})")
                        for r in check.flagged]
        self.excluded = {path for path, _ in self.flagged}
        lines = [f"{len(check.usable)} references scored by {check.detector}; {len(check.flagged)} called fake"]
        if check.failed:
            lines.append(f"{len(check.failed)} unreadable, e.g. {check.failed[0].error}")
        if check.overlaps:
            lines.append(f"⚠ {len(check.overlaps)} suspect file(s) are also references (same sha256), e.g. "
                         f"{Path(check.overlaps[0]).name}: their scores prove nothing")
        self.info = "<br>".join(lines)
        self.lab.set_status("References checked: untick a flagged one to keep it, then Adapt and save.")

    def _save(self, report: AdaptReport) -> Path | None:
        name = report.meta["name"]
        try:
            dest = save_detector(report.bundle_path, name, overwrite=self.lab.overwrite,
                                 detectors_dir=self.lab.detectors_dir)
        except (LayerScopeError, OSError) as exc:
            self.lab.set_status(f"Adapted, but not saved: {exc}", error=True)
            return None
        f = report.figures
        self.info = (f"<b>{name}</b> saved to {dest}<br>References called fake: "
                     f"{fmt_number(f['reference_false_alarm_before'], '.0%')} by the base detector, "
                     f"{fmt_number(f['reference_false_alarm_after'], '.0%')} after adapting (held out); training AUC "
                     f"{fmt_number(f['training_cv_auc_after'])}" + "".join(f"<br>⚠ {w}" for w in report.warnings))
        self.lab.saved_path = dest
        self.reload_bases()
        self.lab.set_status(f"Saved adapted detector {name!r} to {dest} and made it active.")
        return dest
