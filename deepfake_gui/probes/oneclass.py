"""One-class detectors: learn what *real* looks like, flag what is far from it.

A binary probe only knows the generators it was trained on. A model of the real
class alone (Mahalanobis distance under a shrinkage covariance, or the distance
to the nearest real neighbours) can flag an unseen generator as long as its
features leave the real manifold. The same Mahalanobis model fitted on *all*
training items measures how far an input is from the training domain, so a scan
can say "this file is unlike anything the detector was trained on" instead of
returning a confident but meaningless verdict.

Scores are distances: higher = more anomalous (more likely fake / out of domain).
``score_samples`` is the distance itself; ``decision_function`` is the distance past
the calibrated threshold (> 0 = flagged, as ``predict``), so, as for every estimator
here (probes/base.py), higher means more fake. That is the opposite orientation of
scikit-learn's outlier detectors (where positive means inlier), chosen so that a
one-class score reads like a probe's logit. Every learned quantity is a plain array
(``to_arrays`` / ``from_arrays``), so detectors save to safetensors like the linear
probes; nothing is pickled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from deepfake_gui.analysis.metrics import roc_auc
from deepfake_gui.core.errors import LayerScopeError
from deepfake_gui.probes.base import Estimator
from deepfake_gui.probes.dataset import REAL, LabeledSet

Folds = list[tuple[np.ndarray, np.ndarray]]
DetectorFactory = Callable[[], "OneClassDetector"]

DEFAULT_FALSE_ALARM = 0.05
DOMAIN_PERCENTILE = 99.0
DOMAIN_PREFIX = "domain_"
_CHUNK = 1024  # rows per block when scoring, to bound memory on large inputs


def threshold_at_false_alarm(scores_real_heldout: np.ndarray, false_alarm: float = DEFAULT_FALSE_ALARM) -> float:
    """The score that held-out real items exceed with probability ``false_alarm``.

    It must come from held-out scores: distances of training items to a model fitted
    on them are optimistically small, which would give far more false alarms later.
    """
    scores = np.asarray(scores_real_heldout, dtype=np.float64).ravel()
    if scores.size == 0:
        raise ValueError("need at least one held-out real score to calibrate a threshold")
    if not 0.0 < false_alarm < 1.0:
        raise ValueError(f"false_alarm must be in (0, 1), got {false_alarm}")
    return float(np.percentile(scores, 100.0 * (1.0 - false_alarm)))


def _standardiser(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = X.mean(axis=0)
    std = X.std(axis=0)
    return mean, np.where(std > 1e-8, std, 1.0)


def _fix_signs(components: np.ndarray) -> np.ndarray:
    """Make each principal axis point towards its largest-magnitude entry, so refits are reproducible."""
    idx = np.argmax(np.abs(components), axis=1)
    signs = np.sign(components[np.arange(len(components)), idx])
    signs[signs == 0] = 1.0
    return components * signs[:, None]


class OneClassDetector(Estimator):
    """Shared threshold handling; subclasses implement fit / score_samples / arrays.

    The threshold is learned state (``threshold_``) set by ``calibrate_threshold`` on held-out
    real scores (``fit_one_class`` does both), or read from a bundle's arrays.
    """

    threshold_: float | None = None
    false_alarm_: float | None = None

    def fit(self, X: np.ndarray, y: Any = None) -> OneClassDetector:  # pragma: no cover - interface
        raise NotImplementedError

    def score_samples(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """The distance past the calibrated threshold: > 0 = flagged; higher = more anomalous.

        Always this one quantity: before a threshold exists it raises (as ``predict`` does)
        instead of returning the raw distance, which is ``score_samples``.
        """
        if self.threshold_ is None:
            raise LayerScopeError("calibrate_threshold() must run before decision_function()")
        return self.score_samples(X) - self.threshold_

    def calibrate_threshold(self, scores_real_heldout: np.ndarray,
                            false_alarm: float = DEFAULT_FALSE_ALARM) -> float:
        """Store the threshold that flags ``false_alarm`` of held-out real items; returns it."""
        self.threshold_ = threshold_at_false_alarm(scores_real_heldout, false_alarm)
        self.false_alarm_ = float(false_alarm)
        return self.threshold_

    def predict(self, X: np.ndarray) -> np.ndarray:
        """1 = flagged (anomalous / fake), 0 = consistent with the real training items."""
        if self.threshold_ is None:
            raise LayerScopeError("calibrate_threshold() must run before predict()")
        return (self.score_samples(X) > self.threshold_).astype(int)

    def _threshold_arrays(self) -> dict[str, np.ndarray]:
        if self.threshold_ is None:
            return {}
        return {"threshold": np.array([self.threshold_], dtype=np.float32),
                "false_alarm": np.array([self.false_alarm_ or 0.0], dtype=np.float32)}

    def _load_threshold(self, arrays: dict[str, np.ndarray]) -> None:
        if "threshold" in arrays:
            self.threshold_ = float(np.asarray(arrays["threshold"]).ravel()[0])
            self.false_alarm_ = float(np.asarray(arrays["false_alarm"]).ravel()[0]) if "false_alarm" in arrays \
                else None


class MahalanobisDetector(OneClassDetector):
    """Squared Mahalanobis distance to the training items under a Ledoit-Wolf covariance.

    Features are standardised, then (optionally) projected on the top principal axes:
    with fewer items than dimensions a full covariance is singular, and even shrunk it
    is dominated by noise directions. ``n_components=None`` keeps every dimension.
    The effective number of axes is min(n_components, D, n - 1). The price of the
    projection: a shift confined to the discarded low-variance directions is not seen.
    """

    def __init__(self, n_components: int | None = 64) -> None:
        self.n_components = n_components

    def fit(self, X: np.ndarray, y: Any = None) -> MahalanobisDetector:
        from sklearn.covariance import LedoitWolf

        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or len(X) < 3:
            raise LayerScopeError(f"a Mahalanobis detector needs at least 3 items, got {len(X)}")
        self.mean_, self.scale_ = _standardiser(X)
        Z = (X - self.mean_) / self.scale_
        if self.n_components is not None:
            k = max(1, min(int(self.n_components), Z.shape[1], len(Z) - 1))
            _, _, vt = np.linalg.svd(Z, full_matrices=False)
            self.components_: np.ndarray | None = _fix_signs(vt[:k])
            Z = Z @ self.components_.T
        else:
            self.components_ = None
        lw = LedoitWolf(assume_centered=False).fit(Z)
        self.location_ = np.asarray(lw.location_, dtype=np.float64)
        self.precision_ = np.asarray(lw.precision_, dtype=np.float64)
        self.shrinkage_ = float(lw.shrinkage_)
        self.threshold_ = None
        self.false_alarm_ = None
        return self

    def _project(self, X: np.ndarray) -> np.ndarray:
        Z = (np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_
        if self.components_ is not None:
            Z = Z @ self.components_.T
        return Z - self.location_

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distance (higher = further from the training items)."""
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        out = np.empty(len(X), dtype=np.float64)
        for start in range(0, len(X), _CHUNK):
            D = self._project(X[start:start + _CHUNK])
            out[start:start + _CHUNK] = np.einsum("ij,jk,ik->i", D, self.precision_, D)
        return np.maximum(out, 0.0)

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {"scaler_mean": self.mean_.astype(np.float32), "scaler_std": self.scale_.astype(np.float32),
                  "location": self.location_.astype(np.float32), "precision": self.precision_.astype(np.float32)}
        if self.components_ is not None:
            arrays["components"] = self.components_.astype(np.float32)
        return arrays | self._threshold_arrays()

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> MahalanobisDetector:
        comps = arrays.get("components")
        det = cls(n_components=None if comps is None else int(comps.shape[0]))
        det.mean_ = np.asarray(arrays["scaler_mean"], dtype=np.float64)
        det.scale_ = np.asarray(arrays["scaler_std"], dtype=np.float64)
        det.components_ = None if comps is None else np.asarray(comps, dtype=np.float64)
        det.location_ = np.asarray(arrays["location"], dtype=np.float64)
        det.precision_ = np.asarray(arrays["precision"], dtype=np.float64)
        width = det.mean_.shape[0] if comps is None else det.components_.shape[0]
        if det.scale_.shape != det.mean_.shape or det.location_.shape != (width,) \
                or det.precision_.shape != (width, width) \
                or (comps is not None and det.components_.shape[1] != det.mean_.shape[0]):
            raise LayerScopeError("Mahalanobis arrays have inconsistent shapes")
        det._load_threshold(arrays)
        return det


class KNNDistanceDetector(OneClassDetector):
    """Mean distance to the k nearest real training items, on standardised features.

    Non-parametric: it copes with a real class made of several clusters (different
    cameras, different speakers) where one Gaussian would be too broad. The price is
    that the training matrix is the model. A training item scored against its own
    training set finds itself at distance 0, so calibrate only on held-out scores.

    Features are centred on the real mean before any metric, so "cosine" compares
    directions *from the real centroid*: it separates a multi-modal real class from a
    fake cluster in a new direction but is blind to a fake that only lies further out
    along real directions. Euclidean (the default) sees both.
    """

    METRICS = ("cosine", "euclidean")

    def __init__(self, k: int = 5, metric: str = "euclidean") -> None:
        self.k = k
        self.metric = metric

    def _prepare(self, X: np.ndarray) -> np.ndarray:
        Z = (np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_
        if self.metric == "cosine":
            Z = Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)
        return Z

    def fit(self, X: np.ndarray, y: Any = None) -> KNNDistanceDetector:
        if self.metric not in self.METRICS:
            raise ValueError(f"metric must be one of {self.METRICS}, got {self.metric!r}")
        if self.k < 1:
            raise ValueError("k must be at least 1")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or len(X) < 1:
            raise LayerScopeError("a k-NN detector needs at least one training item")
        self.mean_, self.scale_ = _standardiser(X)
        self.train_ = self._prepare(X)
        self.threshold_ = None
        self.false_alarm_ = None
        return self

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        """Mean distance to the k nearest training items (higher = more anomalous)."""
        Q = self._prepare(np.atleast_2d(X))
        k = min(self.k, len(self.train_))
        sq_train = (self.train_ ** 2).sum(axis=1)
        out = np.empty(len(Q), dtype=np.float64)
        for start in range(0, len(Q), _CHUNK):
            q = Q[start:start + _CHUNK]
            dot = q @ self.train_.T
            if self.metric == "cosine":
                dist = 1.0 - dot
            else:
                dist = np.sqrt(np.maximum((q ** 2).sum(axis=1)[:, None] + sq_train[None, :] - 2.0 * dot, 0.0))
            nearest = np.partition(dist, k - 1, axis=1)[:, :k]
            out[start:start + _CHUNK] = nearest.mean(axis=1)
        return np.maximum(out, 0.0)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"scaler_mean": self.mean_.astype(np.float32), "scaler_std": self.scale_.astype(np.float32),
                "train": self.train_.astype(np.float32), "k": np.array([self.k], dtype=np.int64),
                "metric_cosine": np.array([int(self.metric == "cosine")], dtype=np.int64)} | self._threshold_arrays()

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> KNNDistanceDetector:
        metric = "cosine" if int(np.asarray(arrays["metric_cosine"]).ravel()[0]) else "euclidean"
        det = cls(k=int(np.asarray(arrays["k"]).ravel()[0]), metric=metric)
        det.mean_ = np.asarray(arrays["scaler_mean"], dtype=np.float64)
        det.scale_ = np.asarray(arrays["scaler_std"], dtype=np.float64)
        det.train_ = np.asarray(arrays["train"], dtype=np.float64)
        if det.train_.ndim != 2 or det.train_.shape[1] != det.mean_.shape[0] or det.scale_.shape != det.mean_.shape:
            raise LayerScopeError("k-NN arrays have inconsistent shapes")
        det._load_threshold(arrays)
        return det


# ----------------------------------------------------------------- grouped CV
def _group_folds(groups: np.ndarray, n_splits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffled k-fold over whole groups (no group on both sides), every item tested once.

    Written out rather than GroupKFold(shuffle=True), which needs scikit-learn >= 1.6.
    """
    groups = np.asarray(groups)
    uniq, inverse = np.unique(groups, return_inverse=True)
    n_splits = min(n_splits, len(uniq))
    if n_splits < 2:
        raise LayerScopeError("need at least two groups to hold out real items for the threshold")
    fold_of_group = np.empty(len(uniq), dtype=int)
    fold_of_group[np.random.default_rng(seed).permutation(len(uniq))] = np.arange(len(uniq)) % n_splits
    fold = fold_of_group[inverse]
    return [(np.nonzero(fold != f)[0], np.nonzero(fold == f)[0]) for f in range(n_splits)]


def heldout_scores(X: np.ndarray, groups: np.ndarray, detector_factory: DetectorFactory, n_splits: int = 5,
                   seed: int = 0) -> np.ndarray:
    """Out-of-fold scores of every item under grouped CV: the honest input to a threshold."""
    X = np.asarray(X, dtype=np.float64)
    oof = np.empty(len(X), dtype=np.float64)
    for train, test in _group_folds(groups, n_splits, seed):
        oof[test] = detector_factory().fit(X[train]).score_samples(X[test])
    return oof


def fit_one_class(X_real: np.ndarray, groups: np.ndarray, detector_factory: DetectorFactory,
                  false_alarm: float = DEFAULT_FALSE_ALARM, n_splits: int = 5, seed: int = 0) -> OneClassDetector:
    """Fit on all real items, with the threshold taken from grouped held-out real scores."""
    oof = heldout_scores(X_real, groups, detector_factory, n_splits, seed)
    detector = detector_factory().fit(X_real)
    detector.calibrate_threshold(oof, false_alarm)
    return detector


def evaluate_one_class(X: np.ndarray, data: LabeledSet, folds: Folds, detector_factory: DetectorFactory,
                       false_alarm: float = DEFAULT_FALSE_ALARM, inner_splits: int = 5,
                       seed: int = 0) -> dict[str, Any]:
    """Out-of-fold evaluation of a one-class detector: real against all fakes and each generator.

    In every fold the detector sees only the *real* items of the training groups; its
    threshold comes from an inner grouped CV on those same real items, so neither the
    test fold nor any fake influences it. Returned keys: ``auc``, ``n_real``, ``n_fake``,
    ``false_alarm_target``, ``false_alarm_observed`` (fraction of held-out real items
    flagged), ``detection_rate_at_threshold``, ``per_generator`` ({name: {auc, n,
    detection_rate_at_threshold}}), ``per_fold`` and two arrays that are not JSON:
    ``oof_scores`` (the distances) and ``oof_flagged`` (0/1 at each fold's threshold).
    """
    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(data.labels).astype(int)
    oof = np.full(len(labels), np.nan)
    flagged = np.zeros(len(labels), dtype=int)
    per_fold = []
    for fold, (train, test) in enumerate(folds):
        real_train = train[labels[train] == 0]
        if len(real_train) < 3:
            raise LayerScopeError(f"fold {fold}: only {len(real_train)} real training items; a one-class "
                                  "detector needs at least 3")
        detector = fit_one_class(X[real_train], data.groups[real_train], detector_factory, false_alarm,
                                 inner_splits, seed + fold)
        scores = detector.score_samples(X[test])
        oof[test] = scores
        flagged[test] = (scores > detector.threshold_).astype(int)
        row: dict[str, Any] = {"fold": fold, "threshold": float(detector.threshold_), "n_train_real": len(real_train)}
        y = labels[test]
        if y.min() != y.max():
            row["auc"] = roc_auc(y, scores)
        per_fold.append(row)
    if np.isnan(oof).any():
        raise LayerScopeError("the folds do not test every item once; use grouped_folds()")
    real = labels == 0
    gens = np.asarray(data.generators)
    per_generator = {}
    for name in sorted(set(data.generators) - {REAL}):
        mask = gens == name
        if mask.any() and real.any():
            both = real | mask
            per_generator[name] = {"auc": roc_auc(labels[both], oof[both]), "n": int(mask.sum()),
                                   "detection_rate_at_threshold": float(flagged[mask].mean())}
    return {
        "auc": roc_auc(labels, oof),
        "n_real": int(real.sum()),
        "n_fake": int((~real).sum()),
        "false_alarm_target": float(false_alarm),
        "false_alarm_observed": float(flagged[real].mean()),
        "detection_rate_at_threshold": float(flagged[~real].mean()),
        "per_generator": per_generator,
        "per_fold": per_fold,
        "oof_scores": oof,
        "oof_flagged": flagged,
    }


# ------------------------------------------------------------ training domain
def fit_domain_model(X: np.ndarray, groups: np.ndarray | None = None, n_components: int | None = 64,
                     percentile: float = DOMAIN_PERCENTILE, n_splits: int = 5, seed: int = 0,
                     prefix: str = DOMAIN_PREFIX) -> tuple[dict[str, np.ndarray], float]:
    """A Mahalanobis model of ALL training items (real and fake) and its out-of-domain threshold.

    The threshold is the ``percentile`` (99th) of out-of-fold distances of training items,
    grouped when ``groups`` is given, so about 1% of inputs like the training data are
    flagged. Array names carry ``prefix`` so they can share a bundle with a probe; score
    new inputs with ``domain_distance(arrays, X)``.
    """
    X = np.asarray(X, dtype=np.float64)
    if groups is None:
        groups = np.arange(len(X))

    def factory() -> MahalanobisDetector:
        return MahalanobisDetector(n_components=n_components)

    oof = heldout_scores(X, np.asarray(groups), factory, n_splits, seed)
    threshold = float(np.percentile(oof, percentile))
    model = factory().fit(X)
    model.threshold_ = threshold
    model.false_alarm_ = 1.0 - percentile / 100.0
    return {prefix + k: v for k, v in model.to_arrays().items()}, threshold


def domain_distance(arrays: dict[str, np.ndarray], X: np.ndarray, prefix: str = DOMAIN_PREFIX) -> np.ndarray:
    """Squared Mahalanobis distance of X from the training domain stored by ``fit_domain_model``."""
    own = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
    if not own:
        raise LayerScopeError(f"no arrays named {prefix}* : this bundle has no training-domain model")
    return MahalanobisDetector.from_arrays(own).score_samples(X)


def out_of_domain(arrays: dict[str, np.ndarray], X: np.ndarray, prefix: str = DOMAIN_PREFIX) -> np.ndarray:
    """True where an input is further from the training domain than the stored threshold."""
    own = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
    model = MahalanobisDetector.from_arrays(own) if own else None
    if model is None or model.threshold_ is None:
        raise LayerScopeError("the training-domain model has no threshold")
    return model.score_samples(X) > model.threshold_


def load_one_class(arrays: dict[str, np.ndarray], prefix: str = "") -> OneClassDetector:
    """The one-class model stored under ``prefix`` (Mahalanobis or k-NN, told apart by its arrays)."""
    own = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
    if "precision" in own:
        return MahalanobisDetector.from_arrays(own)
    if "train" in own:
        return KNNDistanceDetector.from_arrays(own)
    raise LayerScopeError(f"no one-class model under {prefix or 'the bundle'}*: expected precision or train arrays")
