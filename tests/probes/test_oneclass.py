"""One-class detectors on synthetic Gaussians where the truth is known."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deepfake_gui.analysis.metrics import roc_auc
from deepfake_gui.core.errors import LayerScopeError
from deepfake_gui.probes.bundle import DetectorBundle, load_bundle, save_bundle
from deepfake_gui.probes.dataset import LabeledSet, grouped_folds
from deepfake_gui.probes.oneclass import (
    KNNDistanceDetector,
    MahalanobisDetector,
    domain_distance,
    evaluate_one_class,
    fit_domain_model,
    fit_one_class,
    out_of_domain,
    threshold_at_false_alarm,
)

D = 16


def gaussian(n: int, rng: np.random.Generator, shift: float = 0.0) -> np.ndarray:
    """Correlated Gaussian (a fixed mixing matrix), optionally shifted along every axis."""
    mixing = np.random.default_rng(123).normal(size=(D, D)) / np.sqrt(D) + np.eye(D)
    return rng.normal(size=(n, D)) @ mixing + shift


def two_class(rng: np.random.Generator, shift: float, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    X = np.vstack([gaussian(n, rng), gaussian(n, rng, shift)])
    return X, np.r_[np.zeros(n), np.ones(n)].astype(int)


def test_mahalanobis_ranks_shifted_gaussians_above_real() -> None:
    rng = np.random.default_rng(0)
    det = MahalanobisDetector().fit(gaussian(400, rng))
    X, y = two_class(rng, shift=1.0)
    assert roc_auc(y, det.score_samples(X)) > 0.95
    # a correlated shift is what Mahalanobis sees and Euclidean distance misses: scores are >= 0
    assert det.score_samples(X).min() >= 0


def test_mahalanobis_matches_the_textbook_formula_without_pca() -> None:
    rng = np.random.default_rng(1)
    Xtr = gaussian(500, rng)
    det = MahalanobisDetector(n_components=None).fit(Xtr)
    x = gaussian(5, rng)
    z = (x - Xtr.mean(0)) / Xtr.std(0)
    d = z - det.location_
    expected = np.einsum("ij,jk,ik->i", d, det.precision_, d)
    np.testing.assert_allclose(det.score_samples(x), expected, rtol=1e-10)
    assert 0.0 <= det.shrinkage_ <= 1.0


def test_mahalanobis_is_stable_with_fewer_items_than_dimensions() -> None:
    rng = np.random.default_rng(2)
    wide = np.hstack([gaussian(20, rng), rng.normal(size=(20, 84))])  # 20 items, 100 dims
    det = MahalanobisDetector().fit(wide)
    assert det.components_.shape == (19, 100)  # min(64, D, n - 1)
    far = np.hstack([gaussian(50, rng, 4.0), rng.normal(size=(50, 84))])
    near = np.hstack([gaussian(50, rng), rng.normal(size=(50, 84))])
    scores = det.score_samples(np.vstack([near, far]))
    assert np.isfinite(scores).all()
    assert roc_auc(np.r_[np.zeros(50), np.ones(50)], scores) > 0.9


def test_threshold_gives_the_asked_false_alarm_rate_on_fresh_real_data() -> None:
    rng = np.random.default_rng(3)
    real = gaussian(600, rng)
    groups = np.repeat(np.arange(300), 2).astype(str)
    det = fit_one_class(real, groups, MahalanobisDetector, false_alarm=0.05)
    fresh = gaussian(4000, rng)
    assert det.predict(fresh).mean() == pytest.approx(0.05, abs=0.03)
    assert det.false_alarm_ == 0.05
    assert (det.decision_function(fresh) > 0).mean() == pytest.approx(det.predict(fresh).mean())


def test_threshold_is_the_percentile_of_heldout_scores() -> None:
    scores = np.arange(1, 101, dtype=float)
    assert threshold_at_false_alarm(scores, 0.05) == pytest.approx(np.percentile(scores, 95))
    with pytest.raises(ValueError):
        threshold_at_false_alarm(scores, 0.0)
    with pytest.raises(LayerScopeError):
        MahalanobisDetector().fit(gaussian(50, np.random.default_rng(0))).predict(np.zeros((1, D)))


def clusters(n: int, centres: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return centres[rng.integers(0, len(centres), n)] + rng.normal(size=(n, centres.shape[1]))


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_knn_detector_ranks_outliers_and_round_trips(metric: str) -> None:
    """A multi-modal real class (several cameras) and a fake cluster in a new direction."""
    rng = np.random.default_rng(4)
    centres = rng.normal(size=(5, D))
    centres *= 6.0 / np.linalg.norm(centres, axis=1, keepdims=True)
    real_centres, fake_centre = centres[:4], centres[4:]
    det = KNNDistanceDetector(k=5, metric=metric).fit(clusters(400, real_centres, rng))
    X = np.vstack([clusters(200, real_centres, rng), clusters(200, fake_centre, rng)])
    y = np.r_[np.zeros(200), np.ones(200)]
    scores = det.score_samples(X)
    assert roc_auc(y, scores) > 0.95
    det.calibrate_threshold(det.score_samples(clusters(300, real_centres, rng)))
    back = KNNDistanceDetector.from_arrays(det.to_arrays())
    assert back.metric == metric and back.k == 5
    np.testing.assert_allclose(back.score_samples(X), scores, rtol=1e-4, atol=1e-5)
    assert back.threshold_ == pytest.approx(det.threshold_, rel=1e-6)


def test_knn_euclidean_matches_brute_force() -> None:
    rng = np.random.default_rng(5)
    Xtr, q = rng.normal(size=(40, 3)), rng.normal(size=(7, 3))
    det = KNNDistanceDetector(k=3, metric="euclidean").fit(Xtr)
    a, b = (q - det.mean_) / det.scale_, (Xtr - det.mean_) / det.scale_
    dist = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)
    np.testing.assert_allclose(det.score_samples(q), np.sort(dist, axis=1)[:, :3].mean(1), rtol=1e-8)


def make_set(rng: np.random.Generator) -> tuple[np.ndarray, LabeledSet]:
    """120 real groups of 2 items, a far generator and a near one (60 groups of 2 each)."""
    real, far, near = gaussian(240, rng), gaussian(120, rng, 2.0), gaussian(120, rng, 0.15)
    X = np.vstack([real, far, near])
    labels = np.r_[np.zeros(240), np.ones(240)].astype(int)
    gens = ["real"] * 240 + ["far"] * 120 + ["near"] * 120
    groups = np.array([f"g{i // 2}" for i in range(len(X))])
    data = LabeledSet(Path("."), [Path(f"{i}.png") for i in range(len(X))], labels, gens, groups, "test")
    return X, data


def test_evaluate_one_class_separates_far_and_near_generators() -> None:
    X, data = make_set(np.random.default_rng(6))
    folds = grouped_folds(data, 4, seed=0)
    out = evaluate_one_class(X, data, folds, MahalanobisDetector)
    far, near = out["per_generator"]["far"], out["per_generator"]["near"]
    assert far["auc"] > 0.95 and far["n"] == 120
    assert near["auc"] < 0.75
    assert far["detection_rate_at_threshold"] > 0.8 > 0.3 > near["detection_rate_at_threshold"]
    assert out["false_alarm_observed"] == pytest.approx(0.05, abs=0.04)
    assert out["n_real"] == 240 and out["n_fake"] == 240
    assert out["oof_scores"].shape == (480,) and np.isfinite(out["oof_scores"]).all()
    assert roc_auc(data.labels, out["oof_scores"]) == pytest.approx(out["auc"])


def test_evaluate_one_class_never_fits_on_fakes() -> None:
    """Fakes moved arbitrarily far must not change the scores of any real item."""
    X, data = make_set(np.random.default_rng(7))
    folds = grouped_folds(data, 3, seed=0)
    base = evaluate_one_class(X, data, folds, MahalanobisDetector)["oof_scores"]
    moved = X.copy()
    moved[data.labels == 1] += 50.0
    again = evaluate_one_class(moved, data, folds, MahalanobisDetector)["oof_scores"]
    real = data.labels == 0
    np.testing.assert_allclose(again[real], base[real])


def test_mahalanobis_round_trips_through_a_bundle(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    det = fit_one_class(gaussian(200, rng), np.arange(200).astype(str), MahalanobisDetector)
    meta = {"name": "oc", "kind": "one-class", "modality": "image", "encoder": {"name": "test-clip"},
            "layers": [2], "classes": ["real", "fake"], "threshold": det.threshold_}
    loaded = load_bundle(save_bundle(DetectorBundle(meta, det.to_arrays()), tmp_path / "oc"))
    back = MahalanobisDetector.from_arrays(loaded.arrays)
    X = gaussian(50, rng, 0.5)
    np.testing.assert_allclose(back.score_samples(X), det.score_samples(X), rtol=1e-4)
    assert (back.predict(X) == det.predict(X)).mean() > 0.97  # float32 storage may flip a tie


def test_domain_model_flags_inputs_far_from_training_domain() -> None:
    rng = np.random.default_rng(9)
    train = np.vstack([gaussian(300, rng), gaussian(300, rng, 1.0)])  # real and fake together
    arrays, threshold = fit_domain_model(train, groups=np.repeat(np.arange(300), 2))
    assert all(k.startswith("domain_") for k in arrays)
    inside = np.vstack([gaussian(1000, rng), gaussian(1000, rng, 1.0)])
    outside = gaussian(200, rng) * 0.5 + 8.0
    assert out_of_domain(arrays, inside).mean() < 0.04  # ~1% by construction
    assert out_of_domain(arrays, outside).mean() == 1.0
    np.testing.assert_array_equal(domain_distance(arrays, outside) > threshold, out_of_domain(arrays, outside))
    with pytest.raises(LayerScopeError):
        domain_distance({"coef": np.zeros(3)}, outside)


def test_threshold_folds_keep_groups_whole_and_test_every_item_once() -> None:
    from deepfake_gui.probes.oneclass import _group_folds

    groups = np.repeat(np.arange(23), 3).astype(str)
    folds = _group_folds(groups, 5, seed=1)
    assert len(folds) == 5
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested.tolist()) == list(range(len(groups)))
    for train, test in folds:
        assert set(groups[train]).isdisjoint(groups[test])
