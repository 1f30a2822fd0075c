"""Unsupervised structure in the embeddings: how many kinds of fake are there?

Clustering the fakes (or everything) of a layer shows whether unlabelled material
splits into generator families before anyone labels it. The number of clusters is
chosen by the silhouette, the one criterion that needs no labels. When generator
labels are known, purity and the adjusted Rand index say how well the clusters
recover them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from deepfake_gui.core.errors import LayerScopeError

METHODS = ("kmeans", "agglomerative")
MAX_PCA_DIMS = 50
SINGLE_THREAD_MAX_ITEMS = 5000


@dataclass
class ClusterResult:
    labels: np.ndarray  # (N,) cluster index per item, 0..k-1
    k: int
    silhouette: float  # of the chosen k, on the reduced space; nan when undefined
    silhouette_by_k: dict[int, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-able summary (labels as a list)."""
        return {"k": self.k, "silhouette": self.silhouette, "labels": self.labels.tolist(),
                "silhouette_by_k": {str(k): v for k, v in self.silhouette_by_k.items()}}


def reduce_for_clustering(X: np.ndarray, max_dims: int = MAX_PCA_DIMS, seed: int = 0) -> np.ndarray:
    """Standardise, then PCA to at most ``max_dims``: distances in 2,048 raw dims are dominated by noise."""
    from sklearn.decomposition import PCA

    X = np.asarray(X, dtype=np.float64)
    std = X.std(axis=0)
    Z = (X - X.mean(axis=0)) / np.where(std > 1e-8, std, 1.0)
    dims = min(max_dims, Z.shape[1], len(Z) - 1)
    if dims < Z.shape[1] and dims >= 1:
        Z = PCA(n_components=dims, svd_solver="full", random_state=seed).fit_transform(Z)
    return Z


def _fit_labels(Z: np.ndarray, k: int, method: str, seed: int) -> np.ndarray:
    from sklearn.cluster import AgglomerativeClustering, KMeans
    from threadpoolctl import threadpool_limits

    if method == "kmeans":
        # A few thousand points are clustered faster on one thread than on many: thread start-up
        # dominates, and on a busy machine oversubscription made KMeans ~8x slower in measurement.
        limit = 1 if len(Z) <= SINGLE_THREAD_MAX_ITEMS else None
        with threadpool_limits(limits=limit):
            return KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(Z)
    return AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(Z)


def _silhouette(Z: np.ndarray, labels: np.ndarray, seed: int) -> float:
    from sklearn.metrics import silhouette_score

    n_labels = len(np.unique(labels))
    if not 2 <= n_labels <= len(Z) - 1:
        return float("nan")
    sample = min(len(Z), 5000)  # silhouette is O(N^2); a sample keeps large sets interactive
    return float(silhouette_score(Z, labels, sample_size=sample if sample < len(Z) else None, random_state=seed))


def cluster_embeddings(X: np.ndarray, k: int | None = None, method: str = "kmeans",
                       k_range: tuple[int, int] = (2, 10), seed: int = 0) -> ClusterResult:
    """Cluster items; with ``k=None`` try every k in ``k_range`` (inclusive) and keep the best silhouette."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or len(X) < 3:
        raise LayerScopeError(f"clustering needs at least 3 items, got {len(X)}")
    Z = reduce_for_clustering(X, seed=seed)
    if k is not None:
        if not 1 <= k <= len(Z):
            raise LayerScopeError(f"k={k} is out of range for {len(Z)} items")
        labels = _fit_labels(Z, k, method, seed) if k > 1 else np.zeros(len(Z), dtype=int)
        score = _silhouette(Z, labels, seed)
        return ClusterResult(np.asarray(labels, dtype=int), k, score, {k: score})
    lo, hi = max(2, k_range[0]), min(k_range[1], len(Z) - 1)
    if lo > hi:
        raise LayerScopeError(f"no k in {k_range} is valid for {len(Z)} items (silhouette needs 2 <= k <= N-1)")
    by_k: dict[int, float] = {}
    best: tuple[float, int, np.ndarray] | None = None
    for cand in range(lo, hi + 1):
        labels = np.asarray(_fit_labels(Z, cand, method, seed), dtype=int)
        score = _silhouette(Z, labels, seed)
        by_k[cand] = score
        if np.isfinite(score) and (best is None or score > best[0] + 1e-12):  # ties keep the smaller k
            best = (score, cand, labels)
    if best is None:
        raise LayerScopeError("the silhouette is undefined for every k tried (all items identical?)")
    return ClusterResult(best[2], best[1], best[0], by_k)


def cluster_purity(cluster_labels: np.ndarray, true_labels: np.ndarray) -> float:
    """Fraction of items whose cluster's majority true label is their own (1.0 = every cluster pure).

    Purity rewards many small clusters, so read it next to ``adjusted_rand``.
    """
    clusters = np.asarray(cluster_labels)
    truth = np.asarray(true_labels)
    if clusters.shape != truth.shape or clusters.size == 0:
        raise ValueError("cluster_labels and true_labels must be non-empty and of equal length")
    total = 0
    for c in np.unique(clusters):
        _, counts = np.unique(truth[clusters == c], return_counts=True)
        total += int(counts.max())
    return total / clusters.size


def adjusted_rand(cluster_labels: np.ndarray, true_labels: np.ndarray) -> float:
    """Chance-corrected agreement between clusters and known labels (0 = random, 1 = identical partition)."""
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(np.asarray(true_labels), np.asarray(cluster_labels)))


def contingency(cluster_labels: np.ndarray, true_labels: np.ndarray) -> dict[str, dict[str, int]]:
    """{true label: {cluster: count}}: the table behind purity, for display."""
    clusters = np.asarray(cluster_labels)
    truth = np.asarray(true_labels)
    return {str(t): {str(c): int(((truth == t) & (clusters == c)).sum()) for c in np.unique(clusters)}
            for t in np.unique(truth)}
