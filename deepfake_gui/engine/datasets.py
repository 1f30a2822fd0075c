"""Reading labelled data sets from disk: a manifest.csv, or a folder with real/ and fake/<generator>/.

Returns ``probes.dataset.LabeledSet``; groups (the sentence, the source photo, the
speaker) travel with every item so that no split ever puts related files on both sides.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from deepfake_gui.core.errors import LayerScopeError
from deepfake_gui.media.walk import iter_input_files
from deepfake_gui.probes.dataset import REAL, LabeledSet, guess_group


def load_dataset(root: str | Path) -> LabeledSet:
    root = Path(root)
    if root.is_file() and root.suffix == ".csv":
        return _from_manifest(root)
    if not root.is_dir():
        raise LayerScopeError(f"{root}: data set not found (expected a folder or a manifest.csv)")
    if (root / "manifest.csv").is_file():
        return _from_manifest(root / "manifest.csv")
    return _from_folders(root)


def _from_manifest(manifest: Path) -> LabeledSet:
    root = manifest.parent
    paths, labels, generators, groups, sources, match = [], [], [], [], [], []
    with open(manifest, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"path", "label"} - set(reader.fieldnames or [])
        if missing:
            raise LayerScopeError(f"{manifest}: missing column(s) {sorted(missing)}; need path, label, generator")
        for line, row in enumerate(reader, start=2):
            label = (row.get("label") or "").strip().lower()
            if label not in ("real", "fake"):
                raise LayerScopeError(f"{manifest}:{line}: label must be real or fake, got {label!r}")
            path = root / row["path"]
            generator = (row.get("generator") or "").strip() or (REAL if label == "real" else "unknown")
            paths.append(path)
            labels.append(int(label == "fake"))
            generators.append(REAL if label == "real" else generator)
            groups.append((row.get("group") or "").strip() or str(row["path"]))
            source, matched = item_source(root.name, row)
            sources.append(source)
            match.append(matched)
    if not paths:
        raise LayerScopeError(f"{manifest}: no rows")
    return LabeledSet(root, paths, np.array(labels), generators, np.array(groups), "manifest", sources, match)


def item_source(dataset: str, row: dict) -> tuple[str, str]:
    """(source, match) of a manifest row: what leave-one-source-out holds out, and which real files
    leave-one-generator-out scores a generator against.

    A ``source`` column names the page or collection. Without it, a ``language`` column stands for the
    recording chain (the telephone set: one speaker per language, and its TTS in that language). Sources
    with both classes are matched by source; otherwise by data set.
    """
    source = (row.get("source") or "").strip()
    if source:
        return f"{dataset}:{source}", f"{dataset}:{source}"
    language = (row.get("language") or "").strip()
    if language:
        return f"{dataset}:{language}", dataset
    return dataset, dataset


def load_datasets(roots: list[str | Path]) -> LabeledSet:
    """One training set from several data sets; groups are prefixed by the data set so none collide."""
    sets = [load_dataset(r) for r in roots]
    if len(sets) == 1:
        return sets[0]
    names = [Path(s.root).name for s in sets]
    if len(set(names)) != len(names):
        raise LayerScopeError(f"data sets must have different folder names, got {names}")
    paths, labels, gens, groups, sources, match = [], [], [], [], [], []
    for data, name in zip(sets, names, strict=True):
        paths += [Path(p).resolve() for p in data.paths]
        labels.append(data.labels)
        gens += data.generators
        groups += [f"{name}:{g}" for g in data.groups.tolist()]
        sources += data.item_sources()
        match += data.item_match()
    root = Path(sets[0].root).resolve().parent
    return LabeledSet(root, paths, np.concatenate(labels), gens, np.array(groups), "combined", sources, match)


def _from_folders(root: Path) -> LabeledSet:
    paths, labels, generators = [], [], []
    real_dir, fake_dir = root / "real", root / "fake"
    if not real_dir.is_dir() or not fake_dir.is_dir():
        raise LayerScopeError(f"{root}: expected real/ and fake/<generator>/ sub-folders or a manifest.csv")
    for path in iter_input_files([real_dir]):
        paths.append(path)
        labels.append(0)
        generators.append(REAL)
    for gen_dir in sorted(p for p in fake_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for path in iter_input_files([gen_dir]):
            paths.append(path)
            labels.append(1)
            generators.append(gen_dir.name)
    groups = [guess_group(p) for p in paths]
    return LabeledSet(root, paths, np.array(labels), generators, np.array(groups), "folders")


SIDECAR_SUFFIXES = frozenset({".csv", ".txt", ".json", ".md", ".ini", ".db", ".xml", ".yaml", ".yml"})


def dataset_from_folders(real: Sequence[str | Path],
                         fakes_by_generator: Mapping[str, Sequence[str | Path]]) -> LabeledSet:
    """A LabeledSet from any folders: real ones, and fake ones named by the generator that made them.

    Why not only real/ + fake/<generator>/: reference files are usually scattered
    (a folder per source or per download), and copying them into one layout is
    the step users get wrong. Groups come from ``guess_group``; a manifest gives
    exact ones. Side files (manifest.csv, notes) are skipped.
    """
    paths: list[Path] = []
    labels: list[int] = []
    generators: list[str] = []
    seen: dict[Path, str] = {}

    def add(folder: Path, label: int, generator: str) -> None:
        files = [p for p in iter_input_files([_readable_folder(folder)])
                 if p.suffix.lower() not in SIDECAR_SUFFIXES]
        for path in files:
            key = path.resolve()
            if key in seen and seen[key] != generator:
                raise LayerScopeError(f"{path}: listed as both {seen[key]} and {generator}; "
                                      "a file belongs to one class and one generator")
            if key in seen:
                continue
            seen[key] = generator
            paths.append(path)
            labels.append(label)
            generators.append(generator)

    for folder in real:
        add(Path(folder), 0, REAL)
    for generator, folders in fakes_by_generator.items():
        name = generator.strip()
        if not name or name.lower() == REAL:
            raise LayerScopeError(f"fake folder(s) {', '.join(map(str, folders))}: the generator name must not be "
                                  f"empty or {REAL!r}")
        for folder in folders:
            add(Path(folder), 1, name)
    folders = [Path(f) for f in real] + [Path(f) for fs in fakes_by_generator.values() for f in fs]
    if not folders:
        raise LayerScopeError("no folders given: add at least one real and one fake folder")
    root = Path(os.path.commonpath([f.resolve() for f in folders]))
    groups = [guess_group(p) for p in paths]
    return LabeledSet(root, paths, np.array(labels, dtype=int), generators, np.array(groups, dtype=str),
                      "folders")


def _readable_folder(folder: Path) -> Path:
    """The folder itself, or a LayerScopeError saying why it cannot be listed (a walk would skip it silently)."""
    if not folder.exists():
        raise LayerScopeError(f"{folder}: folder not found")
    if not folder.is_dir():
        raise LayerScopeError(f"{folder}: not a folder")
    try:
        with os.scandir(folder):
            pass
    except OSError as exc:
        raise LayerScopeError(f"{folder}: cannot read the folder: {exc.strerror or exc}") from exc
    return folder
