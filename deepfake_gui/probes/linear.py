"""Standardised linear probes on one layer (or a concatenation of layers).

Reads like a scikit-learn estimator (fit / decision_function / predict_proba,
``get_params``, learned state ending in ``_``; see probes/base.py). The learned state is plain arrays, so it saves
to safetensors and runs as one torch matmul over tokens as well as over pooled
vectors: the same probe scores a whole file, each patch and each time step.
"""

from __future__ import annotations

import numpy as np

from deepfake_gui.probes.base import Estimator

CLASSIFIERS = ("logreg", "svm")


class LinearProbe(Estimator):
    """Standardise, then a linear classifier; ``decision_function`` > 0 leans fake (or, multi-class, per class)."""

    def __init__(self, classifier: str = "logreg", C: float = 1.0, class_weight: str | None = "balanced",
                 max_iter: int = 5000, random_state: int = 0) -> None:
        self.classifier = classifier
        self.C = C
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> LinearProbe:
        from sklearn.linear_model import LogisticRegression
        from sklearn.svm import LinearSVC

        if self.classifier not in CLASSIFIERS:
            raise ValueError(f"classifier must be one of {CLASSIFIERS}, got {self.classifier!r}")
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y)
        self.mean_ = X.mean(axis=0)
        std = X.std(axis=0)
        self.scale_ = np.where(std > 1e-8, std, 1.0)
        Z = (X - self.mean_) / self.scale_
        if self.classifier == "logreg":
            model = LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=self.max_iter,
                                       random_state=self.random_state)
        else:
            model = LinearSVC(C=self.C * 0.01, class_weight=self.class_weight, max_iter=self.max_iter,
                              random_state=self.random_state)
        model.fit(Z, y, sample_weight=sample_weight)
        self.classes_ = np.asarray(model.classes_)
        self.coef_ = np.atleast_2d(model.coef_).astype(np.float64)
        self.intercept_ = np.atleast_1d(model.intercept_).astype(np.float64)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        Z = (np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_
        out = Z @ self.coef_.T + self.intercept_
        return out[:, 0] if out.shape[1] == 1 else out

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Uncalibrated: sigmoid (binary) or softmax (multi-class) of the decision."""
        d = self.decision_function(X)
        if d.ndim == 1:
            p = 1.0 / (1.0 + np.exp(-d))
            return np.stack([1 - p, p], axis=1)
        d = d - d.max(axis=1, keepdims=True)
        e = np.exp(d)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    # -- persistence -------------------------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"coef": self.coef_.astype(np.float32), "intercept": self.intercept_.astype(np.float32),
                "scaler_mean": self.mean_.astype(np.float32), "scaler_std": self.scale_.astype(np.float32)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], classes: list) -> LinearProbe:
        probe = cls()
        probe.coef_ = np.asarray(arrays["coef"], dtype=np.float64)
        probe.intercept_ = np.asarray(arrays["intercept"], dtype=np.float64)
        probe.mean_ = np.asarray(arrays["scaler_mean"], dtype=np.float64)
        probe.scale_ = np.asarray(arrays["scaler_std"], dtype=np.float64)
        probe.classes_ = np.asarray(classes)
        return probe


def torch_decision(arrays: dict[str, np.ndarray], states, device=None):
    """The probe's decision on any (..., D) tensor of states: pooled, patches or time steps.

    One fused matmul on the states' device; used by scans to score every token.
    """
    import torch

    device = device or states.device
    coef = torch.as_tensor(arrays["coef"], dtype=torch.float32, device=device)
    intercept = torch.as_tensor(arrays["intercept"], dtype=torch.float32, device=device)
    mean = torch.as_tensor(arrays["scaler_mean"], dtype=torch.float32, device=device)
    std = torch.as_tensor(arrays["scaler_std"], dtype=torch.float32, device=device)
    weight = coef / std  # fold the scaler into the weights
    bias = intercept - weight @ mean
    out = states.to(device=device, dtype=torch.float32) @ weight.T + bias
    return out[..., 0] if out.shape[-1] == 1 else out
