"""Labelled data sets as estimators see them: paths, labels, generators and groups, and grouped folds.

Groups (the sentence, the source photo, the speaker) travel with every item so
that no split ever puts related files on both sides. Reading a set from disk (a
manifest.csv, or a folder with real/ and fake/<generator>/) is the engine's job:
engine/datasets.py.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepfake_gui.core.errors import LayerScopeError

REAL = "real"


@dataclass
class LabeledSet:
    root: Path
    paths: list[Path]
    labels: np.ndarray  # 0 real, 1 fake
    generators: list[str]  # "real" for real items
    groups: np.ndarray  # str
    source: str  # "manifest" | "folders" | "combined"
    # Per item: where it was recorded or collected (a demo page, a speaker, a photo collection, a data set):
    # what leave-one-source-out holds out. None: every item's source is its data set's folder name.
    sources: list[str] | None = None
    # Per item: the real files a generator is scored against in leave-one-generator-out (same page or set)
    match: list[str] | None = None

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, index: np.ndarray | list[int]) -> LabeledSet:
        index = np.asarray(index, dtype=int)
        return LabeledSet(self.root, [self.paths[i] for i in index], self.labels[index],
                          [self.generators[i] for i in index], self.groups[index], self.source,
                          None if self.sources is None else [self.sources[i] for i in index],
                          None if self.match is None else [self.match[i] for i in index])

    def item_sources(self) -> list[str]:
        return list(self.sources) if self.sources is not None else [Path(self.root).name] * len(self)

    def item_match(self) -> list[str]:
        return list(self.match) if self.match is not None else [Path(self.root).name] * len(self)

    def summary(self) -> dict:
        return {
            "root": str(self.root),
            "source": self.source,
            **({"sources": dict(sorted(Counter(self.sources).items()))} if self.sources is not None else {}),
            "n_items": len(self),
            "n_real": int((self.labels == 0).sum()),
            "n_fake": int((self.labels == 1).sum()),
            "n_groups": len(set(self.groups.tolist())),
            "generators": dict(sorted(Counter(self.generators).items())),
        }

    def content_hash(self) -> str:
        """Hash of (relative path, label, generator, group) rows: identifies the training set."""
        h = hashlib.sha256()
        for p, y, g, grp in sorted(zip(map(str, self.paths), self.labels.tolist(), self.generators,
                                       self.groups.tolist(), strict=True)):
            rel = str(Path(p).relative_to(self.root)) if Path(p).is_relative_to(self.root) else p
            h.update(f"{rel}|{y}|{g}|{grp}\n".encode())
        return h.hexdigest()


def guess_group(path: Path) -> str:
    """Without a manifest the file stem is the best group guess: "<lang>_<key>" and "<key>" share a key."""
    return path.stem.split("_", 1)[-1] if "_" in path.stem else path.stem


def grouped_folds(data: LabeledSet, n_splits: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """StratifiedGroupKFold splits: balanced labels, no group on both sides."""
    from sklearn.model_selection import StratifiedGroupKFold

    n_groups = len(set(data.groups.tolist()))
    if n_groups < 2:
        raise LayerScopeError("need at least two groups for grouped cross-validation")
    smallest_class = int(np.bincount(data.labels.astype(int), minlength=2).min())
    n_splits = min(n_splits, n_groups, smallest_class)
    if n_splits < 2:
        raise LayerScopeError("grouped cross-validation needs at least two items of each class")
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    folds = list(splitter.split(np.zeros(len(data)), data.labels, data.groups))
    for train, test in folds:
        assert not set(data.groups[train]) & set(data.groups[test])
    return folds
