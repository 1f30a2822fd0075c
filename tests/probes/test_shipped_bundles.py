"""Every detector bundle shipped in models/ loads, and scores exactly what its arrays say.

The estimators in probes/ may change shape (parameters, names, base classes); the
bundles on disk must not need to. Each score is checked against the formula applied to
the bundle's own arrays with plain numpy, independent of the estimator classes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deepfake_gui.probes.detector import Detector
from deepfake_gui.probes.oneclass import domain_distance, load_one_class, out_of_domain
from deepfake_gui.probes.reference import has_reference_model, reference_distance

MODELS = Path(__file__).resolve().parents[2] / "models"
SHIPPED = sorted(p.parent for p in MODELS.rglob("detector.json"))


def test_the_shipped_bundles_are_found() -> None:
    assert len(SHIPPED) >= 2 and {"audio-whisper", "image-effnet"} <= {p.name for p in SHIPPED}


def _f64(arrays: dict[str, np.ndarray], key: str) -> np.ndarray:
    return np.asarray(arrays[key], dtype=np.float64)


def _linear(arrays: dict[str, np.ndarray], X: np.ndarray, prefix: str = "") -> np.ndarray:
    z = (X - _f64(arrays, prefix + "scaler_mean")) / _f64(arrays, prefix + "scaler_std")
    out = z @ _f64(arrays, prefix + "coef").T + _f64(arrays, prefix + "intercept")
    return out[:, 0] if out.shape[1] == 1 else out


def _mahalanobis(arrays: dict[str, np.ndarray], X: np.ndarray, prefix: str) -> np.ndarray:
    z = (X - _f64(arrays, prefix + "scaler_mean")) / _f64(arrays, prefix + "scaler_std")
    if prefix + "components" in arrays:
        z = z @ _f64(arrays, prefix + "components").T
    d = z - _f64(arrays, prefix + "location")
    return np.maximum(np.einsum("ij,jk,ik->i", d, _f64(arrays, prefix + "precision"), d), 0.0)


@pytest.mark.parametrize("folder", SHIPPED, ids=lambda p: str(p.relative_to(MODELS)))
def test_a_shipped_bundle_loads_and_scores_as_its_arrays_say(folder: Path) -> None:
    detector = Detector.load(folder)
    arrays = detector.bundle.arrays
    width = int(arrays["coef"].shape[1])
    mean, std = _f64(arrays, "scaler_mean"), _f64(arrays, "scaler_std")
    X = mean + std * np.random.default_rng(0).normal(size=(9, width))  # around the training features

    decision = detector.decision(X)
    np.testing.assert_allclose(decision, _linear(arrays, X), rtol=1e-9, atol=1e-9)
    probability = detector.probability(decision)
    assert np.all((probability >= 0) & (probability <= 1))
    assert set(detector.verdicts(probability)) <= {"real", "fake", "inconclusive"}

    if detector.attribution_classes:
        proba = detector.attribution(X)
        logits = _linear(arrays, X, "attr_")
        expected = np.exp(logits - logits.max(axis=1, keepdims=True))
        np.testing.assert_allclose(proba, expected / expected.sum(axis=1, keepdims=True), rtol=1e-9, atol=1e-12)

    for prefix in ("domain_", "gate_", "reference_"):
        if prefix + "precision" not in arrays:
            continue
        expected = _mahalanobis(arrays, X, prefix)
        model = load_one_class({k: v for k, v in arrays.items() if k != "reference_heldout"}, prefix)
        np.testing.assert_allclose(model.score_samples(X), expected, rtol=1e-9)
        threshold = float(arrays[prefix + "threshold"].ravel()[0])
        assert model.threshold_ == pytest.approx(threshold)
        np.testing.assert_array_equal(model.predict(X), (expected > threshold).astype(int))
    if "domain_precision" in arrays:
        np.testing.assert_allclose(domain_distance(arrays, X), _mahalanobis(arrays, X, "domain_"), rtol=1e-9)
        np.testing.assert_array_equal(out_of_domain(arrays, X), detector.out_of_domain(X))
    if "gate_precision" in arrays:
        distances, threshold = detector.gate_distance(X)
        np.testing.assert_allclose(distances, _mahalanobis(arrays, X, "gate_"), rtol=1e-9)
        assert threshold == pytest.approx(float(arrays["gate_threshold"].ravel()[0]))
    if has_reference_model(arrays):
        np.testing.assert_allclose(reference_distance(arrays, X), _mahalanobis(arrays, X, "reference_"), rtol=1e-9)
        np.testing.assert_allclose(detector.reference_distance(X), reference_distance(arrays, X))
