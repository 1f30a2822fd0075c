"""Turning the user's PATH arguments into the list of files to scan."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path


def iter_input_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files under the given paths: recursive, sorted, hidden entries skipped.

    Symlinked directories are followed once: a loop (a link to an ancestor) is
    detected by the real path and not entered again. Paths named explicitly are
    yielded even when hidden; missing paths are yielded so the scan reports them.
    """
    seen_dirs: set[str] = set()
    seen_files: set[str] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from _walk(path, seen_dirs, seen_files)
        else:
            key = os.path.realpath(path)
            if key not in seen_files:
                seen_files.add(key)
                yield path


def _walk(root: Path, seen_dirs: set[str], seen_files: set[str]) -> Iterator[Path]:
    real = os.path.realpath(root)
    if real in seen_dirs:
        return
    seen_dirs.add(real)
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        try:
            is_dir = entry.is_dir(follow_symlinks=True)
            is_file = entry.is_file(follow_symlinks=True)
        except OSError:
            is_dir = is_file = False
        if is_dir:
            yield from _walk(path, seen_dirs, seen_files)
        elif is_file:
            key = os.path.realpath(path)
            if key not in seen_files:
                seen_files.add(key)
                yield path
        elif entry.is_symlink():
            yield path  # dangling link: reported as an error by the scan
