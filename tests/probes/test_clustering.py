"""Clustering recovers known structure; purity and ARI against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from deepfake_gui.core.errors import LayerScopeError
from deepfake_gui.probes.clustering import (
    adjusted_rand,
    cluster_embeddings,
    cluster_purity,
    contingency,
    reduce_for_clustering,
)


def blobs(n_per: int = 40, dim: int = 80, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three well-separated Gaussian blobs in a wide space (like a layer's pooled features)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, dim)) * 4.0
    truth = np.repeat(np.array(["sd", "mj", "gan"]), n_per)
    X = np.repeat(centres, n_per, axis=0) + rng.normal(size=(3 * n_per, dim))
    return X, truth


@pytest.mark.parametrize("method", ["kmeans", "agglomerative"])
def test_three_blobs_are_recovered_with_k_chosen_by_silhouette(method: str) -> None:
    X, truth = blobs()
    result = cluster_embeddings(X, method=method, k_range=(2, 6))
    assert result.k == 3
    assert set(result.silhouette_by_k) == {2, 3, 4, 5, 6}
    assert result.silhouette == max(result.silhouette_by_k.values()) > 0.5
    assert cluster_purity(result.labels, truth) == 1.0
    assert adjusted_rand(result.labels, truth) == pytest.approx(1.0)
    assert sorted(np.unique(result.labels).tolist()) == [0, 1, 2]
    assert result.to_dict()["k"] == 3


def test_fixed_k_and_determinism() -> None:
    X, truth = blobs(seed=1)
    a = cluster_embeddings(X, k=2, seed=3)
    b = cluster_embeddings(X, k=2, seed=3)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.k == 2 and list(a.silhouette_by_k) == [2]
    # two clusters for three generators: one cluster holds two generators -> purity 2/3
    assert cluster_purity(a.labels, truth) == pytest.approx(2 / 3)


def test_purity_and_ari_on_a_known_confusion() -> None:
    clusters = np.array([0, 0, 0, 1, 1, 1])
    truth = np.array(["a", "a", "b", "b", "b", "b"])
    # cluster 0: majority a (2 of 3); cluster 1: majority b (3 of 3) -> 5/6
    assert cluster_purity(clusters, truth) == pytest.approx(5 / 6)
    # ARI is invariant to renaming clusters, and 1 only for the identical partition
    assert adjusted_rand(1 - clusters, truth) == pytest.approx(adjusted_rand(clusters, truth))
    assert adjusted_rand(np.array([0, 0, 1, 1, 1, 1]), truth) == pytest.approx(1.0)
    assert adjusted_rand(clusters, truth) < 1.0
    assert contingency(clusters, truth) == {"a": {"0": 2, "1": 0}, "b": {"0": 1, "1": 3}}
    # every item in its own cluster is trivially pure: why purity is read next to ARI
    assert cluster_purity(np.arange(6), truth) == 1.0


def test_reduction_caps_dimensions_and_bad_inputs_raise() -> None:
    X, _ = blobs(n_per=30, dim=200)
    assert reduce_for_clustering(X).shape == (90, 50)
    assert reduce_for_clustering(X[:10]).shape == (10, 9)
    with pytest.raises(ValueError):
        cluster_embeddings(X, method="dbscan")
    with pytest.raises(LayerScopeError):
        cluster_embeddings(X[:2])
    with pytest.raises(ValueError):
        cluster_purity(np.array([0, 1]), np.array(["a"]))
