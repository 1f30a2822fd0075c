"""Detection metrics, with the positive class = fake throughout.

AUC and AP come from scikit-learn. EER and minDCF are computed here from the ROC
because scikit-learn has neither; both are tested against hand-computed cases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Detection cost parameters for minDCF (NIST SRE style, positive class = fake):
# a missed fake and a false alarm cost the same, and fakes are assumed rare.
DCF_P_FAKE = 0.05
DCF_C_MISS = 1.0
DCF_C_FA = 1.0


def _check(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels).astype(int).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if labels.shape != scores.shape:
        raise ValueError("labels and scores differ in length")
    if set(np.unique(labels)) - {0, 1}:
        raise ValueError("labels must be 0 (real) or 1 (fake)")
    if labels.min(initial=1) == labels.max(initial=0):
        raise ValueError("need both real and fake items to compute this metric")
    return labels, scores


def roc_auc(labels, scores) -> float:
    from sklearn.metrics import roc_auc_score

    labels, scores = _check(labels, scores)
    return float(roc_auc_score(labels, scores))


def average_precision(labels, scores) -> float:
    from sklearn.metrics import average_precision_score

    labels, scores = _check(labels, scores)
    return float(average_precision_score(labels, scores))


def _error_rates(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Miss and false-alarm rates at every distinct threshold, deciding fake when score >= t.

    Thresholds run from above the maximum (nothing flagged) down to the minimum.
    """
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], labels[order]
    n_pos, n_neg = y.sum(), len(y) - y.sum()
    distinct = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tp = np.r_[0, np.cumsum(y)[distinct]]
    fp = np.r_[0, np.cumsum(1 - y)[distinct]]
    thresholds = np.r_[np.inf, s[distinct]]
    p_miss = 1.0 - tp / n_pos
    p_fa = fp / n_neg
    return p_miss, p_fa, thresholds


def eer(labels, scores) -> tuple[float, float]:
    """Equal error rate and the score threshold where it is reached.

    The miss and false-alarm curves are step functions; the EER is taken where
    they cross, linearly interpolated between the two operating points around
    the crossing (the convex-hull-free convention used by most toolkits).
    """
    labels, scores = _check(labels, scores)
    p_miss, p_fa, thresholds = _error_rates(labels, scores)
    diff = p_miss - p_fa  # starts at +1 (nothing flagged), decreases to -1
    idx = int(np.nonzero(diff <= 0)[0][0])
    if diff[idx] == 0 or idx == 0:
        return float(p_fa[idx]), float(thresholds[idx])
    d0, d1 = diff[idx - 1], diff[idx]
    w = d0 / (d0 - d1)
    rate = (1 - w) * p_fa[idx - 1] + w * p_fa[idx]
    rate_miss = (1 - w) * p_miss[idx - 1] + w * p_miss[idx]
    threshold = thresholds[idx] if not np.isfinite(thresholds[idx - 1]) else (
        (1 - w) * thresholds[idx - 1] + w * thresholds[idx]
    )
    return float((rate + rate_miss) / 2), float(threshold)


def min_dcf(labels, scores, p_fake: float = DCF_P_FAKE, c_miss: float = DCF_C_MISS,
            c_fa: float = DCF_C_FA) -> float:
    """Minimum normalised detection cost over all thresholds."""
    labels, scores = _check(labels, scores)
    p_miss, p_fa, _ = _error_rates(labels, scores)
    dcf = c_miss * p_fake * p_miss + c_fa * (1 - p_fake) * p_fa
    return float(dcf.min() / min(c_miss * p_fake, c_fa * (1 - p_fake)))


def accuracy_f1(labels, predicted) -> tuple[float, float]:
    from sklearn.metrics import accuracy_score, f1_score

    labels = np.asarray(labels).astype(int)
    predicted = np.asarray(predicted).astype(int)
    return float(accuracy_score(labels, predicted)), float(f1_score(labels, predicted, zero_division=0))


@dataclass
class BinaryReport:
    auc: float
    ap: float
    eer: float
    eer_threshold: float
    min_dcf: float
    n_real: int
    n_fake: int


def binary_report(labels, scores) -> BinaryReport:
    labels, scores = _check(labels, scores)
    rate, threshold = eer(labels, scores)
    return BinaryReport(
        auc=roc_auc(labels, scores), ap=average_precision(labels, scores), eer=rate, eer_threshold=threshold,
        min_dcf=min_dcf(labels, scores), n_real=int((labels == 0).sum()), n_fake=int((labels == 1).sum()),
    )


def bootstrap_auc_ci(labels, scores, groups, n_draws: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95% interval of the AUC, resampling groups (not files) with replacement.

    Files of one group are correlated (same sentence or photo), so the group is
    the unit of evidence.
    """
    labels, scores = _check(labels, scores)
    groups = np.asarray(groups)
    uniq, inverse = np.unique(groups, return_inverse=True)
    members = [np.nonzero(inverse == g)[0] for g in range(len(uniq))]
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_draws):
        pick = rng.integers(0, len(uniq), len(uniq))
        idx = np.concatenate([members[g] for g in pick])
        y = labels[idx]
        if y.min() == y.max():
            continue
        values.append(roc_auc(y, scores[idx]))
    if not values:
        return float("nan"), float("nan")
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(lo), float(hi)
