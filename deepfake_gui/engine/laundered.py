"""Laundered copies of training files, and their features: the file work behind augmentation and robustness.

probes/augment.py and probes/robust_cv.py hold the estimator side (which condition a
copy gets, how copies join the training folds, the out-of-fold figures); this module
launders the files (launder/conditions.py, copies cached) and encodes them (features cached).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from pathlib import Path

import numpy as np

from deepfake_gui.core.jobs import CancelToken, Progress
from deepfake_gui.probes.augment import draw_condition
from deepfake_gui.probes.robust_cv import Laundered


def augmented_copies(paths: Sequence[str | Path], shas: Sequence[str | None], pool: Sequence[str], seed: int,
                     copies: int, root: Path | None = None, cancel: CancelToken | None = None
                     ) -> Generator[Progress, None, tuple[list[int], list[str], list[Path], list[str]]]:
    """Write (or reuse) the laundered copies; return (origin index, condition, copy path) lists and failures."""
    from deepfake_gui.launder.conditions import launder_each

    origin: list[int] = []
    conditions: list[str] = []
    out: list[Path] = []
    failed: list[str] = []
    for k in range(copies):
        index, made, names, errors = yield from launder_each(
            paths, shas, lambda sha, k=k: draw_condition(pool, seed, k, sha), seed + k, root, cancel,
            f"augmentation: laundered copy {k + 1} of {copies}")
        origin += index
        out += made
        conditions += names
        failed += errors
    return origin, conditions, out, failed


def laundered_features(encoder, paths: Sequence[str | Path], shas: Sequence[str | None], conditions: Sequence[str],
                       seed: int, layers: Sequence[int], cancel: CancelToken | None = None,
                       root: Path | None = None, tiles: int = 0
                       ) -> Generator[Progress, None, tuple[Laundered, dict[str, int]]]:
    """Launder every file under each condition (copies cached) and encode them (features cached).

    ``tiles``: an image detector's own tiling (meta["training"]["image_tiles"]), so copies are encoded as its
    clean files were.

    Returns ({condition: (original indices, rows of the chosen layers concatenated)}, {condition: failures}).
    """
    from deepfake_gui.encoders.cache import FeatureCache
    from deepfake_gui.encoders.extract import collect_features
    from deepfake_gui.launder.conditions import launder_each

    cache = FeatureCache()
    out: Laundered = {}
    failures: dict[str, int] = {}
    for k, condition in enumerate(conditions):
        index, copies, _, _ = yield from launder_each(
            paths, shas, condition, seed, root, cancel,
            f"robustness {condition} ({k + 1}/{len(conditions)}): laundering")
        matrices, records = yield from collect_features(encoder, copies, cache=cache, cancel=cancel, tiles=tiles)
        ok = [r.index for r in records if r.pooled is not None]
        failures[condition] = len(paths) - len(ok)
        if not ok:
            continue
        rows = np.concatenate([matrices[layer] for layer in layers], axis=1).astype(np.float64)
        out[condition] = (np.asarray(index, dtype=int)[ok], rows)
    return out, failures
