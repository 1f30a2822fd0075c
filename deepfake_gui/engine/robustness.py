"""Robustness evaluation: a saved detector measured clean and under each standard laundering condition.

Suspect files rarely arrive clean, so ``evaluate --launder`` reports AUC and EER per
condition (deepfake_gui.launder.conditions). Laundered copies are written once into
the app's cache, keyed by the source file's sha256, the condition and the seed (never
beside the evidence), and their features go through the FeatureCache like any file,
so a second run only re-scores. The "clean" row is the plain evaluate's figure.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepfake_gui.core.errors import LayerScopeError
from deepfake_gui.core.jobs import CancelToken, Progress
from deepfake_gui.core.present import fmt_number


@dataclass
class RobustnessReport:
    results: dict[str, dict]  # condition -> {auc, eer, n, n_failed}; "clean" first, then severity order
    detector: str
    data: str
    modality: str
    seed: int
    plot: str | None = None
    descriptions: dict[str, str] = field(default_factory=dict)
    caveats: list[str] = field(default_factory=list)


def resolve_conditions(modality: str, names: Sequence[str] | None) -> list[str]:
    """The conditions to run (default: the modality's standard set), checked and in severity order."""
    from deepfake_gui.launder.conditions import CLEAN, STANDARD, get_condition, severity_order

    wanted = [n.strip() for n in (names or STANDARD[modality]) if n.strip() and n.strip() != CLEAN]
    for name in wanted:
        try:
            c = get_condition(name)
        except ValueError as exc:
            raise LayerScopeError(str(exc)) from None
        if c.modality != modality:
            raise LayerScopeError(f"condition {name!r} is for {c.modality}, but the detector works on {modality}")
    return severity_order(list(dict.fromkeys(wanted)))


def robustness_job(detector_dir: Path, data_dir: Path, conditions: Sequence[str] | None = None, seed: int = 0,
                   device: str = "auto", plot: Path | None = None, launder_dir: Path | None = None,
                   cancel: CancelToken | None = None) -> Iterator[Progress | RobustnessReport]:
    """Score ``data_dir`` clean and under each condition; with ``plot``, also write the robustness plot there."""
    from deepfake_gui.engine.datasets import load_dataset
    from deepfake_gui.launder.conditions import CLEAN, file_sha256, get_condition
    from deepfake_gui.probes.interface import load_detector

    detector = load_detector(detector_dir, "robustness evaluation")
    modality = detector.modality or "image"
    names = resolve_conditions(modality, conditions)
    data = load_dataset(data_dir)
    results: dict[str, dict] = {CLEAN: (yield from _measure(detector, data, device, cancel))}
    shas = [file_sha256(p) if Path(p).is_file() else None for p in data.paths]
    for k, name in enumerate(names):
        laundered, n_unreadable = yield from _launder_set(data, shas, get_condition(name), seed, launder_dir,
                                                          cancel, f"{name} ({k + 1}/{len(names)})")
        if len(laundered) == 0:
            raise LayerScopeError(f"{data_dir}: no file could be laundered under {name}")
        row = yield from _measure(detector, laundered, device, cancel)
        row["n_failed"] += n_unreadable
        results[name] = row
    report = RobustnessReport(results, str(detector_dir), str(data_dir), modality, int(seed),
                              descriptions={n: get_condition(n).description for n in names})
    if data.content_hash() == detector.meta.get("training", {}).get("content_hash"):
        report.caveats.append("this is the detector's own training set: every figure is in-sample and optimistic")
    if plot is not None:
        report.plot = str(write_plot(report, Path(plot)))
    yield report


def _launder_set(data, shas: list[str | None], condition, seed: int, launder_dir: Path | None,
                 cancel: CancelToken | None, label: str) -> Generator[Progress, None, tuple[object, int]]:
    """The data set with each file replaced by its laundered copy; files that fail to launder are left out."""
    from deepfake_gui.launder.conditions import launder_each

    keep, copies, _, _ = yield from launder_each(data.paths, shas, condition, seed, launder_dir, cancel,
                                                 f"laundering {label}")
    subset = data.subset(keep)
    subset.paths = copies
    return subset, len(data.paths) - len(keep)


def _measure(detector, data, device: str, cancel: CancelToken | None) -> Generator[Progress, None, dict]:
    """AUC / EER of the detector on ``data``, on the same score the plain evaluate uses."""
    from deepfake_gui.analysis.metrics import binary_report
    from deepfake_gui.engine.evaluate import score_dataset

    scored = yield from score_dataset(detector, data, device, cancel)
    labels = np.asarray(scored.data.labels)
    if len(set(labels.tolist())) < 2:
        return {"auc": None, "eer": None, "n": int(len(labels)), "n_failed": int(scored.n_failed)}
    rep = binary_report(labels, scored.score)
    return {"auc": float(rep.auc), "eer": float(rep.eer), "n": int(len(labels)), "n_failed": int(scored.n_failed)}


def plot_series(report: RobustnessReport) -> list[tuple[str, list[str], list[float | None]]]:
    """What the plot draws: (family, condition names, AUCs) per family, clean first, severity order within."""
    from deepfake_gui.launder.conditions import CLEAN, get_condition

    series: dict[str, tuple[list[str], list[float | None]]] = {}
    for name, row in report.results.items():
        family = CLEAN if name == CLEAN else get_condition(name).family
        names, aucs = series.setdefault(family, ([], []))
        names.append(name)
        aucs.append(row["auc"])
    return [(f, n, a) for f, (n, a) in series.items()]


def write_plot(report: RobustnessReport, path: Path) -> Path:
    """AUC against condition (x: clean, then each family mild to severe), one colour per family; PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    series = plot_series(report)
    fig = Figure(figsize=(max(4.0, 0.7 * len(report.results) + 2), 3.6))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    x = 0
    ticks, labels = [], []
    for family, names, aucs in series:
        xs = list(range(x, x + len(names)))
        ys = [np.nan if a is None else a for a in aucs]
        ax.plot(xs, ys, marker="o", label=family)
        ticks += xs
        labels += names
        x += len(names)
    ax.set_xticks(ticks, labels, rotation=40, ha="right", fontsize=8)
    ax.set_ylabel("AUC")
    ax.set_ylim(0.0, 1.02)
    ax.axhline(0.5, color="grey", lw=0.6, ls="--")
    ax.set_title(f"{Path(report.detector).name}: robustness on {Path(report.data).name}", fontsize=9)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=110)
    return path


def format_table(report: RobustnessReport) -> str:
    lines = [f"detector {report.detector} on {report.data} ({report.modality}, seed {report.seed})",
             f"  {'condition':16s} {'AUC':>6} {'EER':>6} {'n':>6} {'failed':>6}"]
    for name, r in report.results.items():
        auc, eer = fmt_number(r["auc"], missing="n/a"), fmt_number(r["eer"], missing="n/a")
        note = report.descriptions.get(name, "")
        lines.append(f"  {name:16s} {auc:>6} {eer:>6} {r['n']:>6} {r['n_failed']:>6}  {note}")
    lines += [f"caveat: {c}" for c in report.caveats]
    if report.plot:
        lines.append(f"plot: {report.plot}")
    return "\n".join(lines)
