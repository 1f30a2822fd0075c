"""Training with laundering augmentation: laundered copies of training items beside the originals.

A detector that only saw clean files loses much of its power on re-compressed copies.
``train --augment POLICY`` adds, for every training item, ``copies`` laundered copies,
each under a condition drawn from the policy's pool by a generator seeded by
``(seed, copy, the file's sha256)``. A copy keeps its original's label, generator and
group, and it only ever joins the *training* side of a split: cross-validated figures
are measured on clean held-out originals (or on laundered copies of them, see
probes/robust_cv.py), never on an augmented copy of a training item. Making the copies
(laundering files) is the engine's job: engine/laundered.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from deepfake_gui.core.errors import LayerScopeError

NONE = "none"
# Pools of standard conditions (launder/conditions.py), drawn uniformly per copy. They leave some
# standard conditions out on purpose (images: jpeg90, rescale0.5, blur1; audio: opus32k, noise20db,
# lead_silence1s), so the robustness table also shows conditions the detector never trained on.
POLICIES: dict[str, dict[str, tuple[str, ...]]] = {
    "social": {"image": ("social", "jpeg75", "jpeg60", "rescale0.75", "webp75"),
               "audio": ("opus24k", "opus16k", "mp3_32k", "aac24k", "phone8k")},
    "codec": {"image": ("jpeg75", "jpeg60", "webp75"),
              "audio": ("opus24k", "opus16k", "mp3_32k", "aac24k", "phone8k")},
}
POLICY_NAMES = (NONE, *POLICIES)


def policy_pool(policy: str, modality: str) -> tuple[str, ...]:
    """The conditions a policy draws from for one modality; empty for "none"."""
    if policy == NONE:
        return ()
    if policy not in POLICIES:
        raise LayerScopeError(f"unknown augmentation policy {policy!r}; known: {', '.join(POLICY_NAMES)}")
    pool = POLICIES[policy].get(modality)
    if not pool:
        raise LayerScopeError(f"augmentation policy {policy!r} has no conditions for {modality}")
    return pool


def draw_condition(pool: Sequence[str], seed: int, copy: int, sha256: str) -> str:
    """The condition of one copy: depends on the seed, the copy number and the file's content only."""
    rng = np.random.default_rng([int(seed), int(copy), int(sha256[:16], 16)])
    return str(pool[int(rng.integers(len(pool)))])


@dataclass
class AugmentedRows:
    """Feature rows of laundered copies, each tied to the original it was made from."""

    origin: np.ndarray  # (m,) index into the originals (rows of the clean feature matrices)
    features: list[np.ndarray]  # per layer (m, D_l)
    conditions: list[str]  # the condition of each copy
    failed: list[str] = field(default_factory=list)  # copies that could not be made or encoded

    def __len__(self) -> int:
        return len(self.origin)


def extend(X: np.ndarray, labels: np.ndarray, aug: AugmentedRows | None, layer_features: np.ndarray | None
           ) -> tuple[np.ndarray, np.ndarray]:
    """Originals followed by their copies: (X, labels) to fit on. ``layer_features``: the copies' rows of X."""
    if aug is None or len(aug) == 0 or layer_features is None:
        return X, labels
    return np.concatenate([X, layer_features.astype(X.dtype)]), np.concatenate([labels, labels[aug.origin]])


def extend_folds(folds: list[tuple[np.ndarray, np.ndarray]], aug: AugmentedRows | None, n: int
                 ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each fold's training side gains the copies of its own training items; the test side is unchanged.

    Rows ``n + j`` are copy ``j``. A copy of a test item never trains: its original's group is the
    test fold's, so the grouped split still holds.
    """
    if aug is None or len(aug) == 0:
        return folds
    out = []
    for train, test in folds:
        copies = np.nonzero(np.isin(aug.origin, train))[0] + n
        out.append((np.concatenate([train, copies]), test))
    return out


__all__ = ["NONE", "POLICIES", "POLICY_NAMES", "AugmentedRows", "draw_condition", "extend",
           "extend_folds", "policy_pool"]
