"""The estimators in probes/ follow scikit-learn's conventions (probes/base.py).

get_params-compatible constructors (``sklearn.base.clone`` works), ``random_state`` rather
than ``seed``, learned state ending in ``_``, and ``decision_function`` higher = more fake
or more anomalous for every estimator, with one meaning whether or not it is calibrated.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import numpy as np
import pytest
from sklearn.base import clone

import deepfake_gui.probes as probes_package
from deepfake_gui.analysis.metrics import roc_auc
from deepfake_gui.core.errors import LayerScopeError
from deepfake_gui.probes.base import Estimator
from deepfake_gui.probes.fusion import FusionMLP
from deepfake_gui.probes.linear import LinearProbe
from deepfake_gui.probes.oneclass import KNNDistanceDetector, MahalanobisDetector, fit_one_class

D = 6


def _estimator_classes() -> list[type]:
    found = []
    for info in pkgutil.iter_modules(probes_package.__path__):
        module = importlib.import_module(f"deepfake_gui.probes.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and callable(getattr(cls, "fit", None)):
                found.append(cls)
    return found


def _toy(rng: np.random.Generator, n: int = 80) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = np.r_[np.zeros(n // 2), np.ones(n // 2)].astype(int)
    X = rng.normal(size=(n, D)) + y[:, None] * 3.0
    return X, y, np.arange(n) // 2


def test_every_estimator_in_probes_is_an_estimator_without_seed() -> None:
    classes = _estimator_classes()
    assert {LinearProbe, MahalanobisDetector, KNNDistanceDetector, FusionMLP} <= set(classes)
    for cls in classes:
        assert issubclass(cls, Estimator), cls
        assert "seed" not in inspect.signature(cls.__init__).parameters, cls


@pytest.mark.parametrize("estimator", [
    LinearProbe("svm", C=0.5, random_state=3),
    MahalanobisDetector(n_components=4),
    KNNDistanceDetector(k=3, metric="cosine"),
    FusionMLP(hidden=8, max_epochs=2, random_state=5, num_threads=1),
], ids=lambda e: type(e).__name__)
def test_constructors_are_get_params_compatible(estimator) -> None:
    params = estimator.get_params()
    assert params == {name: getattr(estimator, name) for name in type(estimator)._get_param_names()}
    twin = clone(estimator)  # scikit-learn's own check: every parameter stored unchanged
    assert type(twin) is type(estimator) and twin.get_params() == params
    assert twin.set_params(**params) is twin
    with pytest.raises(ValueError, match="invalid parameter"):
        twin.set_params(no_such_parameter=1)
    assert repr(estimator).startswith(type(estimator).__name__ + "(")


def test_random_state_reaches_the_fit() -> None:
    assert LinearProbe(random_state=7).set_params(random_state=9).random_state == 9
    assert "random_state=9" in repr(LinearProbe(random_state=9)) and repr(LinearProbe()) == "LinearProbe()"


@pytest.mark.parametrize("make", [
    lambda: LinearProbe(),
    lambda: MahalanobisDetector(n_components=4),
    lambda: KNNDistanceDetector(k=3),
    lambda: FusionMLP(hidden=8, max_epochs=3, patience=2, num_threads=1),
], ids=["LinearProbe", "Mahalanobis", "KNN", "FusionMLP"])
def test_learned_state_ends_in_an_underscore(make) -> None:
    estimator = make()
    before = set(vars(estimator))
    X, y, groups = _toy(np.random.default_rng(0))
    if isinstance(estimator, FusionMLP):
        estimator.fit(X, y, groups)
    elif isinstance(estimator, LinearProbe):
        estimator.fit(X, y)
    else:
        estimator.fit(X[y == 0])
    learned = set(vars(estimator)) - before
    assert learned and all(name.endswith("_") for name in learned), learned
    assert set(estimator.get_params()) <= before  # fitting changes no parameter


def test_decision_function_is_higher_for_fakes_for_every_estimator() -> None:
    rng = np.random.default_rng(1)
    X, y, groups = _toy(rng, 120)
    fitted = {
        "LinearProbe": LinearProbe().fit(X, y),
        "FusionMLP": FusionMLP(hidden=8, max_epochs=20, patience=5, lr=1e-2, num_threads=1).fit(X, y, groups),
        "Mahalanobis": fit_one_class(X[y == 0], groups[y == 0], lambda: MahalanobisDetector(n_components=4)),
        "KNN": fit_one_class(X[y == 0], groups[y == 0], lambda: KNNDistanceDetector(k=3)),
    }
    X_new, y_new, _ = _toy(rng, 200)
    for name, estimator in fitted.items():
        assert roc_auc(y_new, estimator.decision_function(X_new)) > 0.8, name


@pytest.mark.parametrize("cls", [MahalanobisDetector, KNNDistanceDetector])
def test_one_class_decision_function_means_one_thing(cls) -> None:
    rng = np.random.default_rng(2)
    real = rng.normal(size=(200, D))
    detector = cls().fit(real)
    with pytest.raises(LayerScopeError, match="calibrate_threshold"):
        detector.decision_function(real)  # never the raw distance under the same name
    threshold = detector.calibrate_threshold(detector.score_samples(rng.normal(size=(100, D))), 0.1)
    X = np.vstack([rng.normal(size=(50, D)), rng.normal(size=(50, D)) + 4.0])
    decision = detector.decision_function(X)
    np.testing.assert_allclose(decision, detector.score_samples(X) - threshold)
    np.testing.assert_array_equal(detector.predict(X), (decision > 0).astype(int))
    assert decision[50:].mean() > decision[:50].mean()  # the far cluster is more anomalous
    back = cls.from_arrays(detector.to_arrays())  # a loaded bundle decides the same way
    np.testing.assert_allclose(back.decision_function(X), decision, rtol=1e-4, atol=1e-4)
