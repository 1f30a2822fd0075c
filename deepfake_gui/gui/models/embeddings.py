"""What the embedding explorer knows and decides, without Qt (the view: gui/views/embeddings.py).

State: the batch's readable results, the reference set, the encoder list and the pick, the
map the engine computed (``EmbeddingSet``) with each layer's t-SNE and clusters as they
arrive, the layer / projection / colouring shown, the selected file, the problems, the jobs
this explorer started. Decisions: which job to start with which request (the embedding job on
Compute; a t-SNE or a clustering of the layer on screen when the view needs one it lacks),
which jobs a new layer or a new Compute makes stale, how each result is folded in, and what
the status line, the layer label, the legend and the progress bar say.

Jobs are created here (``ExplorerJob``: the engine factory and what its result means) and
queued; the view submits each queued job to the engine thread, keeps its handle on the job
(``job.handle``: anything with ``cancel()``) and forwards the handle's events back to
``job_started``/``job_progress``/``job_result``/``job_ended``/``job_failed``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_gui.core.jobs import Progress
from deepfake_gui.core.present import fmt_number, shown_attribution
from deepfake_gui.core.results import ScanResult
from deepfake_gui.engine.explore import (
    Clusters,
    EmbeddingSet,
    EncoderChoice,
    ExploreRequest,
    Projection,
    cluster_job,
    default_encoder_for,
    embedding_job,
    encoder_modality_for,
    majority_modality,
    tsne_job,
)
from deepfake_gui.gui.models.common import VERDICT_COLORS, Bar, ProgressClock, Status, format_eta, verdict_color

PROJECTIONS = (("PCA (instant)", "pca"), ("t-SNE", "tsne"))
COLOR_MODES = (("Verdict", "verdict"), ("Attribution", "attribution"), ("Cluster", "cluster"))
PALETTE = ("#1f77b4", "#ff7f0e", "#9467bd", "#17becf", "#e377c2", "#bcbd22", "#8c564b", "#7f7f7f",
           "#aec7e8", "#ffbb78", "#c5b0d5", "#9edae5")
NONE_COLOR = VERDICT_COLORS[None]
REFERENCE_ALPHA = 90  # reference points are drawn faint (0-255)
VERDICT_NAMES = {"fake": "fake", "real": "real", "inconclusive": "inconclusive", None: "no verdict"}
NO_LAYER = "layer —"
NO_REFERENCE = "no reference set"
NO_SEPARATION_TITLE = "add a labelled reference set to see how each layer separates real from fake"
SEPARATION_TITLE = "separation of the reference set per layer (grouped CV AUC, real vs fake)"
LAYER_JOBS = ("tsne", "cluster")
ALL_JOBS = ("embed", *LAYER_JOBS)


@dataclass(eq=False)
class ExplorerJob:
    """One job the explorer started: what to run, and how its result and its end are folded in."""

    kind: str  # "embed" | "tsne" | "cluster": which jobs a new Compute or a new layer makes stale
    title: str  # how a failure names it ("t-SNE failed: …")
    factory: Callable[..., Any]  # the engine generator, its request bound (called with the cancel token)
    fold: Callable[[ExplorerJob, object], None]  # the model's handler of one result
    end: Callable[[ExplorerJob, bool], None]  # the model's handler of the end (cancelled or not)
    owner: EmbeddingSet | None = None  # the set a t-SNE or cluster job belongs to
    layer: int | None = None
    cancelled: bool = False  # asked to stop; its terminal event has not arrived yet
    started: float = field(default_factory=time.monotonic)
    handle: Any = None  # the view's handle of the submitted job (``cancel()``)


@dataclass(frozen=True)
class MapPoints:
    """The scatter of one layer: batch points (with their colours) over faint reference points."""

    batch_xy: np.ndarray  # (n_batch, 2)
    batch_paths: list[str]
    batch_colors: list[str]
    reference_xy: np.ndarray  # (n_reference, 2)
    reference_paths: list[str]
    reference_colors: list[str]
    legend: list[tuple[str, str]]  # (label, colour)


@dataclass(frozen=True)
class SeparationCurve:
    """The small per-layer AUC curve under the map."""

    x: np.ndarray
    y: np.ndarray
    ticks: list[tuple[int, str]]
    y_range: tuple[float, float] | None  # None: leave the axis as it is
    x_range: tuple[float, float] | None
    title: str


class ExplorerModel:
    """The explorer's state and rules; see the module docstring."""

    def __init__(self, *, device: str = "auto", seed: int = 0, reference_limit: int = 400,
                 encoders: list[EncoderChoice] | None = None) -> None:
        self.device, self.seed, self.reference_limit = device, seed, reference_limit
        self.results: dict[str, ScanResult] = {}
        self.reference: str | None = None
        self.embedding_set: EmbeddingSet | None = None
        self.tsne: dict[int, np.ndarray] = {}  # layer -> xy of the current set
        self.clusters: dict[int, Clusters] = {}
        self.layer = 0
        self.projection = "pca"
        self.color_by = "verdict"
        self.selected_path: str | None = None
        self.problems: list[str] = []
        self.jobs: list[ExplorerJob] = []  # this explorer's jobs not ended yet
        self.encoders: list[EncoderChoice] | None = None  # None: still being listed
        self.encoder: str | None = None
        self.encoder_picked_by_user = False
        self.status = Status()
        self.bar = Bar()
        self.clock = ProgressClock()
        self._queued: list[ExplorerJob] = []  # created, not yet submitted by the view
        if encoders is not None:
            self.set_encoders(encoders)
        self._set_idle("Set a batch, pick an encoder and press Compute.")

    # ------------------------------------------------------------------ what the view shows
    @property
    def shown_method(self) -> str:
        """What the scatter holds now: "tsne" once the layer's t-SNE is in, else the PCA preview."""
        if self.embedding_set is not None and self.projection == "tsne" and self.layer in self.tsne:
            return "tsne"
        return "pca"

    @property
    def cancel_enabled(self) -> bool:
        return bool(self.jobs)

    @property
    def slider_enabled(self) -> bool:
        return self.embedding_set is not None and self.embedding_set.n_layers > 1

    @property
    def reference_text(self) -> str:
        return Path(self.reference).name if self.reference else NO_REFERENCE

    def encoder_items(self) -> list[tuple[str, str]]:
        """(label, name) of each encoder offered, random-weight ones marked."""
        return [(f"{c.name} ({c.modality}{', random weights' if c.random_init else ''})", c.name)
                for c in self.encoders or []]

    @property
    def layer_text(self) -> str:
        s = self.embedding_set
        if s is None:
            return NO_LAYER
        layer = self.layer
        text = f"{layer + 1}/{s.n_layers}: {s.layer_names[layer]}"
        if s.separation is not None and np.isfinite(s.separation[layer]):
            text += f" · separation AUC {fmt_number(s.separation[layer], '.2f')}"
            if layer == s.best_layer:
                text += " (best)"
        return text

    @property
    def layer_tip(self) -> str:
        return self.embedding_set.separation_note if self.embedding_set is not None else ""

    def separation_curve(self) -> SeparationCurve | None:
        """The curve of the map shown (None: no map)."""
        s = self.embedding_set
        if s is None:
            return None
        if s.separation is None:
            return SeparationCurve(np.zeros(0), np.zeros(0), [], None, None, NO_SEPARATION_TITLE)
        x = np.arange(s.n_layers, dtype=float)
        y = np.asarray(s.separation, dtype=float)
        finite = np.isfinite(y)
        low = float(np.nanmin(y)) if finite.any() else 0.5
        return SeparationCurve(x[finite], y[finite], list(enumerate(s.layer_names)), (min(0.4, low - 0.05), 1.02),
                               (-0.5, s.n_layers - 0.5), SEPARATION_TITLE)

    def current_xy(self) -> np.ndarray | None:
        """The layer's coordinates shown: its t-SNE when asked for and in, else its PCA (None: not mappable)."""
        s = self.embedding_set
        if s is None:
            return None
        return self.tsne[self.layer] if self.shown_method == "tsne" else s.pca[self.layer]

    def map_points(self) -> MapPoints | None:
        """The scatter to draw, or None (no map, or a layer that cannot be mapped)."""
        s, xy = self.embedding_set, self.current_xy()
        if s is None or xy is None:
            return None
        batch, ref = s.batch_index, s.reference_index
        batch_colors, ref_colors, legend = self._colors(s)
        return MapPoints(xy[batch], [s.paths[i] for i in batch], batch_colors,
                         xy[ref], [s.paths[i] for i in ref], ref_colors, legend)

    @property
    def legend_entries(self) -> list[tuple[str, str]]:
        points = self.map_points()
        return points.legend if points is not None else []

    def legend_html(self) -> str:
        """The legend line: a dot of each colour (reference ones faint) and its name."""
        def mark(name: str, color: str) -> str:
            r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
            alpha = (REFERENCE_ALPHA if name.startswith("reference") else 255) / 255
            return f"<span style='color:rgba({r},{g},{b},{alpha:.2f})'>●</span> {name}"

        return " &nbsp; ".join(mark(name, c) for name, c in self.legend_entries)

    def selection_xy(self) -> tuple[float, float] | None:
        """Where the selected batch file sits on the map shown (None: not on it)."""
        s = self.embedding_set
        xy = self.current_xy()
        if s is None or xy is None or self.selected_path not in s.batch_paths:
            return None
        row = s.paths.index(self.selected_path)  # type: ignore[arg-type]
        return float(xy[row, 0]), float(xy[row, 1])

    def hover_text(self, paths: list[str], reference: bool) -> str:
        """The file name(s) under the cursor (four at most), reference items with their generator."""
        names = [self._hover_name(p, reference) for p in paths[:4]]
        more = len(paths) - len(names)
        return "\n".join(names) + (f"\n… and {more} more" if more > 0 else "")

    def summary(self) -> str:
        s = self.embedding_set
        if s is None:
            return ""
        parts = [f"{len(s.batch_index)} file(s) mapped with {s.encoder}"]
        if len(s.reference_index):
            parts.append(f"{len(s.reference_index)} reference item(s)")
        if s.failed:
            parts.append(f"{len(s.failed)} file(s) could not be embedded (listed below)")
        if s.reference_failed:
            parts.append(f"{len(s.reference_failed)} reference file(s) skipped")
        tried = set(s.batch_paths) | {f.path for f in s.failed}
        new = [p for p in self.results if p not in tried]
        if new:
            parts.append(f"{len(new)} new file(s) in the batch not mapped yet: press Compute")
        text = "; ".join(parts) + f" ({s.cached} from the feature cache)."
        if s.random_init:
            text += " Random weights: the map shows the architecture, not what pretraining learnt."
        if s.separation is None:
            text += f" {s.separation_note[:1].upper()}{s.separation_note[1:]}."
        return text

    # ------------------------------------------------------------------ the user's actions
    def set_encoders(self, choices: list[EncoderChoice]) -> None:
        """The encoders to offer (the first is picked, then the batch's default unless the user chose)."""
        self.encoders = list(choices)
        self.encoder = choices[0].name if choices else None
        if not choices:
            self._set_status("No encoder has its weights on this machine; see `layerscope models list`.", error=True)
        self._choose_default_encoder()

    def encoders_failed(self, message: str) -> None:
        self.encoders, self.encoder = [], None
        self._set_status(f"Could not list the encoders: {message}", error=True)

    def pick_encoder(self, name: str) -> None:
        """The user chose an encoder: kept from now on; the next Compute uses it."""
        if name not in [c.name for c in self.encoders or []]:
            raise ValueError(f"encoder {name!r} is not available here")
        self.encoder = name
        self.encoder_picked_by_user = True
        if self.embedding_set is not None and name != self.embedding_set.encoder:
            self._set_status(f"Encoder changed to {name}: press Compute to map with it.")

    def set_batch(self, results: list[ScanResult]) -> None:
        """The files to map (unreadable ones are left out). A shown map is kept while it still fits."""
        self.results = {r.path: r for r in results if r.status == "ok"}
        if self.embedding_set is not None and not set(self.embedding_set.batch_paths) <= set(self.results):
            self._clear_map()
        self._choose_default_encoder()
        self._redraw()
        if self.embedding_set is None:
            skipped = len(results) - len(self.results)
            self._set_status(f"{len(self.results)} file(s) in the batch" + (f" ({skipped} unreadable left out)"
                                                                             if skipped else "")
                             + ": press Compute.")

    def set_reference(self, path: str | None) -> ExplorerJob | None:
        """A labelled set to show as faint points (None removes it); recomputes when a map is shown."""
        self.reference = str(path) if path else None
        return self.compute() if self.embedding_set is not None else None

    def compute(self) -> ExplorerJob | None:
        """Queue the embedding job for the batch (and reference set); None (and why) when there is nothing to do."""
        if not self.encoder:
            self._set_status("No encoder to compute with: no weights are on this machine.", error=True)
            return None
        if not self.results and not self.reference:
            self._set_status("Nothing to map: the batch is empty and no reference set is chosen.", error=True)
            return None
        self._cancel_jobs()
        self.problems.clear()
        request = ExploreRequest(list(self.results), str(self.encoder), self.device, self.reference,
                                 self.reference_limit, self.seed)
        job = self._queue("embed", "Computing the map", functools.partial(embedding_job, request),
                          self._fold_embeddings, self._compute_ended)
        self.bar = Bar.busy("starting…")
        self._set_status(f"Computing {self.encoder} features of {len(self.results)} file(s)"
                         + (" and the reference set" if self.reference else "") + "…")
        return job

    def set_layer(self, layer: int) -> bool:
        """Show another layer (its PCA at once; t-SNE or clusters queued when needed); True when a map is shown."""
        self.layer = layer
        if self.embedding_set is None:
            return False
        self._cancel_jobs(LAYER_JOBS, keep_layer=layer)  # a dragged slider queues nothing stale
        self._redraw()
        self._request_missing()
        return True

    def set_projection(self, method: str) -> None:
        self.projection = method
        self._redraw()
        self._request_missing()

    def set_color_by(self, mode: str) -> None:
        self.color_by = mode
        self._redraw()
        self._request_missing()

    def select_path(self, path: str | None) -> None:
        """Ring a batch point (a file selected elsewhere, e.g. in the table, or clicked)."""
        self.selected_path = path

    def cancel(self) -> None:
        """Cancel this explorer's jobs; the map shown stays."""
        if self.jobs:
            self._cancel_jobs()
            self.bar = self.bar.with_text("Cancelling…")

    def close(self) -> None:
        self._cancel_jobs()

    # ------------------------------------------------------------------ jobs
    def take_queued(self) -> list[ExplorerJob]:
        """The jobs to submit now (the view submits each and sets its ``handle``)."""
        queued, self._queued = self._queued, []
        return queued

    def job_started(self) -> None:
        self.clock = ProgressClock()

    def job_progress(self, event: Progress) -> None:
        self.clock.update(event)
        eta = format_eta(self.clock.eta_s)
        self.bar = Bar.fraction(self.clock.fraction, event.message + (f" · ETA {eta}" if eta else ""))

    def job_result(self, job: ExplorerJob, result: object) -> None:
        job.fold(job, result)

    def job_ended(self, job: ExplorerJob, cancelled: bool) -> None:
        job.end(job, cancelled)

    def job_failed(self, job: ExplorerJob, message: str) -> None:
        self._add_problem(f"{job.title} failed: {message}")
        self._end_job(job, f"{job.title} failed: {message}", error=True)

    # ------------------------------------------------------------------ folding results in
    def _fold_embeddings(self, job: ExplorerJob, result: object) -> None:
        if not isinstance(result, EmbeddingSet) or job.cancelled:  # cancelled: superseded by a newer Compute
            return
        self.embedding_set = result
        self.tsne.clear()
        self.clusters.clear()
        best = result.best_layer
        self.layer = best if best is not None else result.n_layers // 2  # the middle layers usually hold the signal
        self._redraw()
        for failure in result.failed:
            self._add_problem(failure.error)
        for failure in result.reference_failed:
            self._add_problem(f"reference: {failure.error}")
        self._request_missing()

    def _fold_projection(self, job: ExplorerJob, result: object) -> None:
        if isinstance(result, Projection) and job.owner is self.embedding_set:
            self.tsne[result.layer] = result.xy
            if result.layer == self.layer and self.projection == "tsne":
                self._redraw()

    def _fold_clusters(self, job: ExplorerJob, result: object) -> None:
        if isinstance(result, Clusters) and job.owner is self.embedding_set:
            self.clusters[result.layer] = result
            if result.layer == self.layer and self.color_by == "cluster":
                self._redraw()

    def _compute_ended(self, job: ExplorerJob, cancelled: bool) -> None:
        self._end_job(job, self._done_message(job, cancelled))

    def _layer_job_ended(self, job: ExplorerJob, _cancelled: bool) -> None:
        """t-SNE and clusters update the map and legend; stale ones are cancelled quietly when the layer moves on."""
        self._end_job(job)

    def _done_message(self, job: ExplorerJob, cancelled: bool) -> str | None:
        """How a Compute ended: the map is ready (and how long it took), or cancelled.

        None for a Compute that a newer one replaced: the newer one's status stands.
        """
        if any(j.kind == "embed" for j in self.jobs if j is not job):
            return None
        if cancelled or job.cancelled:
            return "Cancelled" + ("; the map shown is the previous one." if self.embedding_set is not None else ".")
        if self.embedding_set is None:
            return None
        return f"Map ready in {fmt_number(time.monotonic() - job.started, '.0f')} s: {self.summary()}"

    # ------------------------------------------------------------------ internals
    def _queue(self, kind: str, title: str, factory: Callable[..., Any], fold: Callable[[ExplorerJob, object], None],
               end: Callable[[ExplorerJob, bool], None], owner: EmbeddingSet | None = None,
               layer: int | None = None) -> ExplorerJob:
        job = ExplorerJob(kind, title, factory, fold, end, owner, layer)
        self.jobs.append(job)
        self._queued.append(job)
        return job

    def _request_missing(self) -> None:
        """Queue the t-SNE or clusters the current view needs and does not have."""
        s = self.embedding_set
        if s is None:
            return
        layer = self.layer
        pending = {(j.kind, j.layer) for j in self.jobs if j.owner is s and not j.cancelled}
        if self.projection == "tsne" and layer not in self.tsne and ("tsne", layer) not in pending:
            self._queue_layer_job(s, "tsne", "t-SNE", "t-SNE", functools.partial(tsne_job, s, layer, self.seed),
                                  self._fold_projection)
        if self.color_by == "cluster" and layer not in self.clusters and ("cluster", layer) not in pending:
            if len(s.batch_index) < 3:
                self._set_status("Clusters need at least 3 mapped batch files.", error=True)
            else:
                self._queue_layer_job(s, "cluster", "Clustering", "clusters",
                                      functools.partial(cluster_job, s, layer, self.seed), self._fold_clusters)

    def _queue_layer_job(self, s: EmbeddingSet, kind: str, title: str, what: str, factory: Callable[..., Any],
                         fold: Callable[[ExplorerJob, object], None]) -> None:
        """A t-SNE or clustering of the layer shown; ``what`` names it on the progress bar."""
        self._queue(kind, title, factory, fold, self._layer_job_ended, s, self.layer)
        self.bar = Bar.busy(f"{what} of layer {s.layer_names[self.layer]}…")

    def _cancel_jobs(self, kinds: tuple[str, ...] = ALL_JOBS, keep_layer: int | None = None) -> None:
        for job in list(self.jobs):
            if job.kind in kinds and (keep_layer is None or job.layer != keep_layer):
                job.cancelled = True
                if job.handle is not None:
                    job.handle.cancel()

    def _end_job(self, job: ExplorerJob, message: str | None = None, error: bool = False) -> None:
        if job in self.jobs:
            self.jobs.remove(job)
        if message:
            self._set_status(message, error=error)
        if not self.jobs:
            self._set_idle(None)

    def _set_idle(self, message: str | None) -> None:
        shown = self.embedding_set is not None
        self.bar = Bar.idle(shown, "ready" if shown else "")
        if message:
            self._set_status(message)

    def _clear_map(self) -> None:
        self._cancel_jobs(LAYER_JOBS)
        self.embedding_set = None
        self.tsne.clear()
        self.clusters.clear()
        self._redraw()

    def _redraw(self) -> None:
        """What redrawing the map says on the status line: the summary, or why the layer cannot be mapped."""
        s = self.embedding_set
        if s is None:
            return
        if self.current_xy() is None:
            self._set_status(f"Layer {s.layer_names[self.layer]} cannot be mapped: "
                             f"{s.pca_errors.get(self.layer, 'unknown reason')}", error=True)
            return
        status = self.summary()
        if self.projection == "tsne" and self.shown_method != "tsne":
            status = f"t-SNE of layer {s.layer_names[self.layer]} is computing: PCA preview shown. " + status
        self._set_status(status)

    def _choose_default_encoder(self) -> None:
        """The default detector's encoder for the batch's majority modality, unless the user picked one."""
        names = [c.name for c in self.encoders or []]
        if self.encoder_picked_by_user or not names:
            return
        modality = majority_modality([r.modality for r in self.results.values()])
        try:
            preferred = default_encoder_for(modality)
        except Exception:
            preferred = None
        modalities = {c.name: c.modality for c in self.encoders or []}
        same_kind = [n for n in names if modalities.get(n) == encoder_modality_for(modality)]
        self.encoder = preferred if preferred in names else (same_kind or names)[0]

    def _colors(self, s: EmbeddingSet) -> tuple[list[str], list[str], list[tuple[str, str]]]:
        """Colours of batch and reference rows for the colour mode, and the legend entries."""
        batch_paths = [s.paths[i] for i in s.batch_index]
        ref_gens = [s.generators[i] or "?" for i in s.reference_index]
        legend: list[tuple[str, str]] = []
        if self.color_by == "verdict":
            verdicts = [getattr(self.results.get(p), "verdict", None) for p in batch_paths]
            batch = [verdict_color(v) for v in verdicts]
            legend = [(VERDICT_NAMES.get(v, str(v)), verdict_color(v)) for v in _ordered(verdicts, VERDICT_NAMES)]
            ref = [verdict_color("real" if g == "real" else "fake") for g in ref_gens]
            legend += [(f"reference: {g}", verdict_color(g)) for g in _ordered(
                ["real" if g == "real" else "fake" for g in ref_gens], VERDICT_NAMES)]
            return batch, ref, legend
        if self.color_by == "attribution":
            classes = [self._attribution(p) for p in batch_paths]
            palette = _palette(sorted({c for c in classes if c} | {g for g in ref_gens if g != "real"}))
            palette["real"] = verdict_color("real")
            batch = [palette[c] if c else NONE_COLOR for c in classes]
            legend = [(c or "no attribution", palette[c] if c else NONE_COLOR)
                      for c in sorted(set(classes), key=lambda c: (c is None, c or ""))]
            ref = [palette.get(g, NONE_COLOR) for g in ref_gens]
            legend += [(f"reference: {g}", palette.get(g, NONE_COLOR)) for g in sorted(set(ref_gens))]
            return batch, ref, legend
        clusters = self.clusters.get(self.layer)
        ref = [NONE_COLOR] * len(ref_gens)
        if clusters is None:
            return [NONE_COLOR] * len(batch_paths), ref, [("clusters: computing…", NONE_COLOR)]
        batch = [PALETTE[int(c) % len(PALETTE)] for c in clusters.labels]
        legend = [(f"cluster {c + 1}", PALETTE[c % len(PALETTE)]) for c in range(clusters.k)]
        if ref_gens:
            legend.append(("reference (not clustered)", NONE_COLOR))
        return batch, ref, legend

    def _attribution(self, path: str) -> str | None:
        """The closest known generator of a batch file called fake (as the batch table shows it)."""
        result = self.results.get(path)
        top = shown_attribution(result, top=1) if result is not None else []
        return str(top[0]["class"]) if top else None

    def _hover_name(self, path: str, reference: bool) -> str:
        s = self.embedding_set
        if reference and s is not None:
            row = s.paths.index(path) if path in s.paths else -1
            gen = s.generators[row] if row >= 0 else None
            return f"reference · {gen or '?'} · {Path(path).name}"
        return Path(path).name

    def _set_status(self, text: str, error: bool = False) -> None:
        self.status = Status(text, error)

    def _add_problem(self, text: str) -> None:
        self.problems.append(text)


def _palette(names: list[str]) -> dict[str, str]:
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def _ordered(values: list[Any], order: dict[Any, str]) -> list[Any]:
    """The distinct values, in the order of ``order``'s keys (unknown ones last)."""
    keys = list(order)
    return sorted(set(values), key=lambda v: keys.index(v) if v in keys else len(keys))
