"""Evaluation protocols that predict unseen generators and sources, not only new sentences.

Grouped CV says how a detector does on new sentences or photos from the same
speakers, generators and recording chains; users bring new ones. Two more
protocols hold out what a user brings:

- **leave-one-generator-out (LOGO)**: for each generator, every grouped fold's
  model is trained without that generator's files and scores the held-out
  fold's real files and that generator's fakes. The real files it is scored
  against come from the sources where the generator appears (the same page or
  data set), so a recording chain never separates the classes by itself.
- **leave-one-source-out (LOSO)**: a whole source (a demo page, a speaker, a
  photo collection, a data set) out of training; the model scores all of it.

Every figure comes with a 95% interval by group bootstrap (EVALUATION.md).
Pure functions over feature matrices: no files, no encoders.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

ModelFactory = Callable[[], object]  # returns an estimator with fit(X, y) and decision_function(X)
Folds = Sequence[tuple[np.ndarray, np.ndarray]]
REAL = "real"


@dataclass
class HeldOut:
    """One held-out generator or source: AUC with its group-bootstrap interval."""

    name: str
    auc: float | None
    ci95: tuple[float, float] | None
    n_real: int
    n_fake: int
    n_groups: int

    def to_dict(self) -> dict:
        return {"auc": None if self.auc is None else round(self.auc, 4),
                "ci95": None if self.ci95 is None else [round(self.ci95[0], 4), round(self.ci95[1], 4)],
                "n_real": self.n_real, "n_fake": self.n_fake, "n_groups": self.n_groups}


@dataclass
class ProtocolResult:
    protocol: str  # "logo" | "loso"
    held_out: list[HeldOut] = field(default_factory=list)
    scores: dict[str, np.ndarray] = field(default_factory=dict)  # name -> scores of the rows in ``rows``
    rows: dict[str, np.ndarray] = field(default_factory=dict)  # name -> row indices scored while held out

    @property
    def mean_auc(self) -> float | None:
        vals = [h.auc for h in self.held_out if h.auc is not None]
        return float(np.mean(vals)) if vals else None

    @property
    def min_auc(self) -> float | None:
        vals = [h.auc for h in self.held_out if h.auc is not None]
        return float(np.min(vals)) if vals else None

    def to_dict(self) -> dict:
        mean, low = self.mean_auc, self.min_auc
        return {"protocol": self.protocol, "mean_auc": None if mean is None else round(mean, 4),
                "min_auc": None if low is None else round(low, 4),
                "held_out": {h.name: h.to_dict() for h in self.held_out}}


def _fit_score(factory: ModelFactory, X: np.ndarray, y: np.ndarray, train: np.ndarray,
               test: np.ndarray) -> np.ndarray:
    model = factory()
    model.fit(X[train], y[train])  # type: ignore[attr-defined]
    return np.asarray(model.decision_function(X[test]), dtype=np.float64).reshape(-1)  # type: ignore[attr-defined]


def _summarise(name: str, labels: np.ndarray, scores: np.ndarray, groups: np.ndarray, n_draws: int,
               seed: int) -> HeldOut:
    from deepfake_gui.analysis.metrics import bootstrap_auc_ci, roc_auc

    n_real, n_fake = int((labels == 0).sum()), int((labels == 1).sum())
    n_groups = len(set(groups.tolist()))
    if n_real == 0 or n_fake == 0:
        return HeldOut(name, None, None, n_real, n_fake, n_groups)
    auc = roc_auc(labels, scores)
    ci = bootstrap_auc_ci(labels, scores, groups, n_draws=n_draws, seed=seed) if n_groups > 1 and n_draws else None
    return HeldOut(name, float(auc), ci, n_real, n_fake, n_groups)


def leave_one_generator_out(X: np.ndarray, labels: np.ndarray, generators: Sequence[str], groups: np.ndarray,
                            folds: Folds, factory: ModelFactory, sources: Sequence[str] | None = None,
                            n_draws: int = 1000, seed: int = 0) -> ProtocolResult:
    """Per generator: trained without it (in every grouped fold), scored on it against held-out real files.

    With ``sources``, the real files a generator is scored against are those of the sources the
    generator appears in (matched recording chain); without, every held-out real file.
    """
    X = np.asarray(X)
    labels = np.asarray(labels).astype(int)
    gens = np.asarray(list(generators))
    srcs = np.asarray(list(sources)) if sources is not None else None
    result = ProtocolResult("logo")
    for gen in sorted(set(gens[labels == 1].tolist())):
        rows, scores = [], []
        for train, test in logo_splits(labels, gens, folds, gen, srcs):
            rows.append(test)
            scores.append(_fit_score(factory, X, labels, train, test))
        if not rows:
            continue
        idx, sc = np.concatenate(rows), np.concatenate(scores)
        result.rows[gen], result.scores[gen] = idx, sc
        result.held_out.append(_summarise(gen, labels[idx], sc, np.asarray(groups)[idx], n_draws, seed))
    return result


def logo_splits(labels: np.ndarray, generators: Sequence[str], folds: Folds, generator: str,
                sources: Sequence[str] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each grouped fold's (train, test) with ``generator`` held out: its fakes leave training; the test rows are
    its held-out fakes and the held-out real files of its sources. Folds that leave nothing to score or one
    class to train on are skipped. For models that are not fitted on a feature matrix (a CNN on maps)."""
    labels = np.asarray(labels).astype(int)
    gens = np.asarray(list(generators))
    srcs = np.asarray(list(sources)) if sources is not None else None
    is_gen = (gens == generator) & (labels == 1)
    real_ok = _matched_reals(labels, srcs, is_gen)
    splits = []
    for train, test in folds:
        train = train[~is_gen[train]]
        test = test[is_gen[test] | real_ok[test]]
        if len(test) == 0 or len(set(labels[train].tolist())) < 2:
            continue
        splits.append((train, test))
    return splits


def _matched_reals(labels: np.ndarray, match: np.ndarray | None, is_gen: np.ndarray) -> np.ndarray:
    """The real rows a generator is scored against: its own sources' real files; where those sources hold
    no real file (a page of fakes only), the real files of its data set (the part of the key before ':')."""
    real = labels == 0
    if match is None:
        return real
    mine = np.unique(match[is_gen])
    ok = real & np.isin(match, mine)
    if ok.any():
        return ok
    prefixes = {str(m).split(":", 1)[0] for m in mine}
    return real & np.array([str(m).split(":", 1)[0] in prefixes for m in match])


def leave_one_source_out(X: np.ndarray, labels: np.ndarray, sources: Sequence[str], groups: np.ndarray,
                         factory: ModelFactory, n_draws: int = 1000, seed: int = 0,
                         min_per_class: int = 3) -> ProtocolResult:
    """Per source: trained on every other source, scored on all of this one (sources with both classes only).

    Groups shared across sources (the same sentence in two data sets) are dropped from training too,
    so no sentence is on both sides.
    """
    X = np.asarray(X)
    labels = np.asarray(labels).astype(int)
    srcs = np.asarray(list(sources))
    groups = np.asarray(groups)
    result = ProtocolResult("loso")
    for src in sorted(set(srcs.tolist())):
        test = np.flatnonzero(srcs == src)
        if min((labels[test] == 0).sum(), (labels[test] == 1).sum()) < min_per_class:
            continue
        train = np.flatnonzero((srcs != src) & ~np.isin(groups, groups[test]))
        if len(set(labels[train].tolist())) < 2:
            continue
        sc = _fit_score(factory, X, labels, train, test)
        result.rows[src], result.scores[src] = test, sc
        result.held_out.append(_summarise(src, labels[test], sc, groups[test], n_draws, seed))
    return result
