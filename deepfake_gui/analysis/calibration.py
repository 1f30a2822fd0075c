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


def selective_band(probs: np.ndarray, labels: np.ndarray, max_error: float = 0.05,
                   max_false_accusation: float = 0.05) -> tuple[tuple[float, float], dict]:
    """The widest commitment that stays honest on held-out scores: (band, figures).

    Fitted on scores of files the detector never trained on in any form (fakes of a
    held-out generator, real files of a held-out source), so the promise carries to
    sources and generators it has not seen as far as the development data can tell:
    - of files called fake, at most ``max_error`` are real, and at most
      ``max_false_accusation`` of all real files are called fake;
    - of files called real, at most ``max_error`` are fake.
    Figures: coverage (share committed), accuracy on committed files, false-accusation rate.
    """
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels).astype(int)
    n_real = max(int((labels == 0).sum()), 1)
    candidates = np.unique(np.r_[probs, 0.5, 1.0])
    hi = 1.0 + 1e-12
    for t in candidates:
        called = probs >= t
        if called.sum() and (labels[called] == 0).mean() <= max_error and \
                (called & (labels == 0)).sum() / n_real <= max_false_accusation:
            hi = float(t)
            break
    lo = 0.0
    for t in candidates[candidates <= hi][::-1]:
        called = probs < t
        if called.sum() and (labels[called] == 1).mean() <= max_error:
            lo = float(t)
            break
    hi = min(hi, 1.0)
    fake, real = probs >= hi, probs < lo
    committed = fake | real
    correct = (fake & (labels == 1)) | (real & (labels == 0))
    figures = {"coverage": float(committed.mean()),
               "accuracy_committed": float(correct[committed].mean()) if committed.any() else None,
               "false_accusation": float((fake & (labels == 0)).sum() / n_real),
               "fakes_called_fake": float((fake & (labels == 1)).sum() / max(int((labels == 1).sum()), 1)),
               "n": int(len(labels))}
    return (lo, hi), figures
