"""The layer sweep: a grouped cross-validated linear probe on every layer.

This is the method's central measurement: which depth of the encoder carries
the generator's fingerprint. Every figure is out-of-fold, split by group.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from deepfake_gui.analysis.metrics import eer, roc_auc
from deepfake_gui.probes.augment import AugmentedRows, extend, extend_folds
from deepfake_gui.probes.dataset import LabeledSet
from deepfake_gui.probes.linear import LinearProbe

Folds = list[tuple[np.ndarray, np.ndarray]]


@dataclass
class LayerResult:
    layer: int
    name: str
    dim: int
    auc: float
    auc_std: float
    eer: float
    eer_std: float
    accuracy: float
    accuracy_std: float
    oof_auc: float  # AUC of all out-of-fold scores pooled
    fit_seconds: float
    extra: dict = field(default_factory=dict)  # further per-layer figures (e.g. logo_mean_auc), flattened

    def to_dict(self) -> dict:
        out = asdict(self)
        return out | out.pop("extra")


def cross_val_scores(X: np.ndarray, labels: np.ndarray, folds: Folds, classifier: str = "logreg",
                     C: float = 1.0) -> tuple[np.ndarray, list[dict]]:
    """Out-of-fold decision scores, and per-fold AUC / EER / accuracy (threshold 0)."""
    oof = np.zeros(len(labels), dtype=np.float64)
    per_fold = []
    for train, test in folds:
        probe = LinearProbe(classifier, C=C).fit(X[train], labels[train])
        scores = probe.decision_function(X[test])
        oof[test] = scores
        y = labels[test]
        per_fold.append({"auc": roc_auc(y, scores), "eer": eer(y, scores)[0],
                         "accuracy": float(((scores >= 0).astype(int) == y).mean())})
    return oof, per_fold


def sweep_layers(features: list[np.ndarray], layer_names: list[str], data: LabeledSet, folds: Folds, *,
                 classifier: str = "logreg", on_layer: Callable[[LayerResult], None] | None = None,
                 augmented: AugmentedRows | None = None) -> tuple[list[LayerResult], list[np.ndarray]]:
    """Per layer: grouped-CV figures on the originals; ``augmented`` copies only join the training folds.

    ``features`` and ``augmented.features`` are indexed alike (feature ``i`` is layer ``i`` of both).
    """
    n = len(data.labels)
    results, oofs = [], []
    for index, (X, name) in enumerate(zip(features, layer_names, strict=True)):
        start = time.perf_counter()
        X_fit, y_fit = extend(X, data.labels, augmented, None if augmented is None else augmented.features[index])
        oof, per_fold = cross_val_scores(X_fit, y_fit, extend_folds(folds, augmented, n), classifier)
        oof = oof[:n]
        elapsed = time.perf_counter() - start

        def stat(key: str, fold_metrics: list[dict] = per_fold) -> tuple[float, float]:
            values = np.array([f[key] for f in fold_metrics])
            return float(values.mean()), float(values.std())

        (auc_m, auc_s), (eer_m, eer_s), (acc_m, acc_s) = stat("auc"), stat("eer"), stat("accuracy")
        result = LayerResult(index, name, int(X.shape[1]), auc_m, auc_s, eer_m, eer_s, acc_m, acc_s,
                             roc_auc(data.labels, oof), elapsed)
        results.append(result)
        oofs.append(oof)
        if on_layer is not None:
            on_layer(result)
    return results, oofs


def best_layers(results: list[LayerResult], k: int = 1) -> list[int]:
    """Highest mean AUC first; ties broken by lower EER, then by the shallower layer."""
    ranked = sorted(results, key=lambda r: (-round(r.auc, 6), round(r.eer, 6), r.layer))
    return [r.layer for r in ranked[:k]]


def learning_curve(X: np.ndarray, data: LabeledSet, folds: Folds, fractions=(0.1, 0.25, 0.5, 1.0),
                   classifier: str = "logreg", seed: int = 0) -> list[dict]:
    """AUC on each held-out fold when training on a fraction of the training groups."""
    rng = np.random.default_rng(seed)
    rows = []
    for fraction in fractions:
        aucs, sizes = [], []
        for train, test in folds:
            groups = np.unique(data.groups[train])
            keep_n = max(2, int(round(fraction * len(groups))))
            for _attempt in range(20):  # need both classes in the subsample
                keep = set(rng.choice(groups, size=min(keep_n, len(groups)), replace=False).tolist())
                sub = train[np.isin(data.groups[train], list(keep))]
                if len(np.unique(data.labels[sub])) == 2:
                    break
            else:
                continue
            probe = LinearProbe(classifier).fit(X[sub], data.labels[sub])
            aucs.append(roc_auc(data.labels[test], probe.decision_function(X[test])))
            sizes.append(len(sub))
        rows.append({"fraction": fraction, "n_train": float(np.mean(sizes)) if sizes else 0.0,
                     "auc": float(np.mean(aucs)) if aucs else float("nan"),
                     "auc_std": float(np.std(aucs)) if aucs else float("nan")})
    return rows


def per_generator_auc(labels: np.ndarray, scores: np.ndarray, generators: list[str]) -> dict[str, dict]:
    """Real against each generator alone: a mean hides the generator that fools the detector."""
    gens = np.asarray(generators)
    real = labels == 0
    out = {}
    for name in sorted(set(generators) - {"real"}):
        mask = real | (gens == name)
        if (gens == name).sum() and real.sum():
            out[name] = {"auc": roc_auc(labels[mask], scores[mask]), "n": int((gens == name).sum())}
    return out
