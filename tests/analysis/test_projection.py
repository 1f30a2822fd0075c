"""2-D maps: shapes, determinism and the errors a user sees for degenerate input."""

from __future__ import annotations

import numpy as np
import pytest

from deepfake_gui.analysis.projection import project, tsne_perplexity
from deepfake_gui.core.errors import LayerScopeError


def _two_blobs(n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], n // 2)
    X = rng.normal(size=(n, 64)) + labels[:, None] * 4.0
    return X, labels


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_projection_separates_two_blobs_and_is_deterministic(method: str) -> None:
    X, labels = _two_blobs()
    xy = project(X, method, seed=0)
    assert xy.shape == (40, 2) and xy.dtype == np.float32
    np.testing.assert_array_equal(xy, project(X, method, seed=0))
    centre_gap = np.linalg.norm(xy[labels == 0].mean(0) - xy[labels == 1].mean(0))
    spread = max(xy[labels == 0].std(0).max(), xy[labels == 1].std(0).max())
    assert centre_gap > 2 * spread


def test_perplexity_shrinks_for_small_sets() -> None:
    assert tsne_perplexity(1000) == 30.0
    assert tsne_perplexity(10) == 3.0
    assert project(np.random.default_rng(1).normal(size=(5, 8)), "tsne").shape == (5, 2)


def test_degenerate_inputs_give_clear_errors() -> None:
    with pytest.raises(LayerScopeError, match="at least 3 items"):
        project(np.ones((2, 4)))
    with pytest.raises(LayerScopeError, match="identical"):
        project(np.ones((5, 4)))
    with pytest.raises(LayerScopeError, match="projection must be"):
        project(np.zeros((5, 4)), "umap")  # type: ignore[arg-type]
