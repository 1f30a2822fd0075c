"""2-D maps of a layer's embeddings: PCA as the instant preview, t-SNE for the detailed picture.

Why both: PCA of a few hundred vectors takes milliseconds, so a layer slider can
redraw it at once; t-SNE shows local structure (generator families, clusters)
that a linear projection flattens, but costs seconds and has no ``transform``,
so the batch and any reference set must be embedded together in one call.
Both standardise each dimension first: raw layer features differ in scale by
orders of magnitude between dimensions and between layers.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from deepfake_gui.core.errors import LayerScopeError

Method = Literal["pca", "tsne"]
METHODS: tuple[str, ...] = ("pca", "tsne")
TSNE_PCA_DIMS = 50  # t-SNE on 50 PCA dimensions: the usual denoising step, and much faster


def standardise(X: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance per dimension; constant dimensions stay zero instead of dividing by 0."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise LayerScopeError(f"embeddings must be a 2-D array (items x dims), got shape {X.shape}")
    std = X.std(axis=0)
    return (X - X.mean(axis=0)) / np.where(std > 1e-8, std, 1.0)


def tsne_perplexity(n_items: int) -> float:
    """30 (the common default) where there are enough points, else (n-1)/3 so t-SNE stays valid."""
    return float(max(1.0, min(30.0, (n_items - 1) / 3.0)))


def project(X: np.ndarray, method: Method = "pca", seed: int = 0) -> np.ndarray:
    """(N, 2) float32 coordinates of N embeddings; deterministic for a given seed.

    Fewer than 3 items, or items that are all identical, give a clear error rather
    than a meaningless picture.
    """
    if method not in METHODS:
        raise LayerScopeError(f"projection must be one of {', '.join(METHODS)}, not {method!r}")
    Z = standardise(X)
    if len(Z) < 3:
        raise LayerScopeError(f"a 2-D map needs at least 3 items, got {len(Z)}")
    if not np.any(Z):
        raise LayerScopeError("all items have identical features on this layer: nothing to map")
    if method == "pca":
        return _pca(Z, 2, seed)
    return _tsne(Z, seed)


def _pca(Z: np.ndarray, dims: int, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    k = min(dims, Z.shape[1], len(Z))
    coords = PCA(n_components=k, svd_solver="full", random_state=seed).fit_transform(Z)
    # deterministic orientation: PCA's sign is arbitrary, so make each axis' largest loading positive
    coords *= np.where(coords[np.abs(coords).argmax(axis=0), range(k)] < 0, -1.0, 1.0)
    if k < dims:
        coords = np.pad(coords, ((0, 0), (0, dims - k)))
    return coords.astype(np.float32)


def _tsne(Z: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.manifold import TSNE

    if Z.shape[1] > TSNE_PCA_DIMS and len(Z) > TSNE_PCA_DIMS:
        Z = _pca(Z, TSNE_PCA_DIMS, seed).astype(np.float64)
    tsne = TSNE(n_components=2, perplexity=tsne_perplexity(len(Z)), init="pca", random_state=seed,
                learning_rate="auto")
    return tsne.fit_transform(Z).astype(np.float32)
