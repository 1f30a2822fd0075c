"""Turning raw probe scores into probabilities and a three-way verdict.

Platt scaling is fitted on out-of-fold scores, never on the scores of items the
probe was trained on, which would be overconfident.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Platt:
    a: float
    b: float

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        z = self.a * np.asarray(scores, dtype=np.float64) + self.b
        return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))

    def inverse(self, probability: float) -> float:
        """The score whose calibrated probability is ``probability``: puts thresholds on the score scale."""
        p = min(max(float(probability), 1e-9), 1 - 1e-9)
        return (float(np.log(p / (1 - p))) - self.b) / self.a if self.a else float("nan")

    @classmethod
    def fit(cls, scores: np.ndarray, labels: np.ndarray) -> Platt:
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=1e6, max_iter=1000)
        model.fit(np.asarray(scores, dtype=np.float64).reshape(-1, 1), np.asarray(labels).astype(int))
        return cls(float(model.coef_[0, 0]), float(model.intercept_[0]))


def inconclusive_band(probs: np.ndarray, labels: np.ndarray, threshold: float,
                      max_error: float = 0.05) -> tuple[float, float]:
    """Probabilities between lo and hi are reported as inconclusive.

    hi is the lowest cut at or above the EER threshold where, out of fold, at most
    ``max_error`` of the files called fake were real; lo likewise for files called
    real. Outside the band the detector was right at least 95% of the time in
    cross-validation (at the training set's class balance).
    """
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels).astype(int)
    candidates = np.unique(np.r_[probs, threshold])
    hi = 1.0
    for t in candidates[candidates >= threshold]:
        called = probs >= t
        if called.sum() and (labels[called] == 0).mean() <= max_error:
            hi = float(t)
            break
    lo = 0.0
    for t in candidates[candidates <= threshold][::-1]:
        called = probs < t
        if called.sum() and (labels[called] == 1).mean() <= max_error:
            lo = float(t)
            break
    return min(lo, threshold), max(hi, threshold)


def verdict(probability: float, band: tuple[float, float]) -> str:
    lo, hi = band
    if probability >= hi:
        return "fake"
    if probability < lo:
        return "real"
    return "inconclusive"


def selective_band(probs: np.ndarray, labels: np.ndarray, min_accuracy: float = 0.95,
                   max_false_accusation: float = 0.05) -> tuple[tuple[float, float], dict]:
    """The widest commitment that stays honest on held-out scores: (band, figures).

    Fitted on scores of files the detector never trained on in any form (fakes of a
    held-out generator, real files of a held-out source), so the promise carries to
    sources and generators it has not seen as far as the development data can tell.
    Among all bands [lo, hi) (real below lo, fake at or above hi) it keeps the one that
    commits on the most files while
    - at least ``min_accuracy`` of the committed files are right, and
    - at most ``max_false_accusation`` of all real files are called fake.
    Figures: coverage (share committed), accuracy on committed files, false-accusation rate.
    """
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels).astype(int)
    n_real = max(int((labels == 0).sum()), 1)
    cuts = np.unique(np.r_[probs, 0.0, 1.0 + 1e-12])
    order = np.sort(probs)
    real_sorted = np.sort(probs[labels == 0])
    fake_sorted = np.sort(probs[labels == 1])
    below_real = np.searchsorted(real_sorted, cuts, side="left")  # real files with p < cut
    below_fake = np.searchsorted(fake_sorted, cuts, side="left")
    above_real = len(real_sorted) - below_real  # real files with p >= cut
    above_fake = len(fake_sorted) - below_fake
    n = len(order)
    lo_i, hi_j = np.meshgrid(np.arange(len(cuts)), np.arange(len(cuts)), indexing="ij")
    valid = lo_i <= hi_j
    correct = below_real[lo_i] + above_fake[hi_j]
    committed = below_real[lo_i] + below_fake[lo_i] + above_real[hi_j] + above_fake[hi_j]
    accusation = above_real[hi_j] / n_real
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.where(committed > 0, correct / np.maximum(committed, 1), 1.0)
    ok = valid & (accuracy >= min_accuracy) & (accusation <= max_false_accusation)
    if not ok.any():
        lo, hi = 0.0, 1.0
    else:
        score = np.where(ok, committed, -1)
        best = np.flatnonzero(score == score.max())
        # among equally wide commitments, the widest inconclusive band (most cautious)
        widths = (cuts[hi_j.ravel()[best]] - cuts[lo_i.ravel()[best]])
        k = best[int(np.argmax(widths))]
        lo, hi = float(cuts[lo_i.ravel()[k]]), float(min(cuts[hi_j.ravel()[k]], 1.0))
    fake, real = probs >= hi, probs < lo
    if hi >= 1.0:
        fake = probs > 1.0
    committed_mask = fake | real
    right = (fake & (labels == 1)) | (real & (labels == 0))
    figures = {"coverage": float(committed_mask.mean()) if n else 0.0,
               "accuracy_committed": float(right[committed_mask].mean()) if committed_mask.any() else None,
               "false_accusation": float((fake & (labels == 0)).sum() / n_real),
               "fakes_called_fake": float((fake & (labels == 1)).sum() / max(int((labels == 1).sum()), 1)),
               "real_called_real": float((real & (labels == 0)).sum() / n_real),
               "n": int(n)}
    return (lo, hi), figures
