"""Robustness under grouped cross-validation: the figures a model card can honestly show.

`evaluate --launder` on a detector's own training set is in-sample. Here each fold's
probe is fitted on the training folds (plus their augmented copies, if any) and
scored on the held-out fold's files clean and under each laundering condition, so
every figure is out-of-fold and no sentence or photo is on both sides. The laundered
copies' features come from the engine (engine/laundered.py).
"""

from __future__ import annotations

import numpy as np

from deepfake_gui.probes.augment import AugmentedRows, extend, extend_folds

Laundered = dict[str, tuple[np.ndarray, np.ndarray]]  # condition -> (original indices, their feature rows)
CLEAN = "clean"  # the unlaundered originals' row (launder.conditions.CLEAN)


def robustness_cv(X: np.ndarray, labels: np.ndarray, groups: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]],
                  laundered: Laundered, *, classifier: str = "logreg", aug: AugmentedRows | None = None,
                  aug_X: np.ndarray | None = None, ci_draws: int = 1000, C: float = 1.0) -> dict[str, dict]:
    """{"clean": row, condition: row} with row = {auc, auc_ci95, eer, n, n_failed}, all out-of-fold.

    ``C`` must be the detector's own (meta["classifier_C"]): the shipped defaults use 0.1 / 0.01, not 1.
    """
    from deepfake_gui.analysis.metrics import bootstrap_auc_ci, eer, roc_auc
    from deepfake_gui.probes.linear import LinearProbe

    n = len(labels)
    X_fit, y_fit = extend(X, labels, aug, aug_X)
    scores = {CLEAN: np.full(n, np.nan)} | {c: np.full(n, np.nan) for c in laundered}
    for (_, test), (train_fit, _) in zip(folds, extend_folds(folds, aug, n), strict=True):
        probe = LinearProbe(classifier, C=C).fit(X_fit[train_fit], y_fit[train_fit])
        scores[CLEAN][test] = probe.decision_function(X[test])
        for condition, (index, rows) in laundered.items():
            held_out = np.nonzero(np.isin(index, test))[0]
            if len(held_out):
                scores[condition][index[held_out]] = probe.decision_function(rows[held_out])
    out: dict[str, dict] = {}
    for condition, s in scores.items():
        ok = ~np.isnan(s)
        y = labels[ok]
        row: dict = {"auc": None, "auc_ci95": None, "eer": None, "n": int(ok.sum()), "n_failed": int(n - ok.sum())}
        if len(set(y.tolist())) == 2:
            row["auc"] = float(roc_auc(y, s[ok]))
            row["eer"] = float(eer(y, s[ok])[0])
            if ci_draws:
                row["auc_ci95"] = [float(v) for v in bootstrap_auc_ci(y, s[ok], groups[ok], n_draws=ci_draws)]
        out[condition] = row
    return out


__all__ = ["CLEAN", "Laundered", "robustness_cv"]
