"""Turning the user's PATH arguments into the list of files to scan.

A scan accounts for every path it is given or finds: besides the regular
files, special files (FIFOs, sockets, devices) and folders that cannot be read
are returned with the reason, so the scan writes an error line for each instead
of skipping them silently.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class InputEntry:
    """One path to report: a file to scan (``problem`` None) or why it cannot be scanned."""

    path: Path
    problem: str | None = None


def iter_input_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files under the given paths: recursive, sorted, hidden entries skipped.

    Symlinked directories are followed once: a loop (a link to an ancestor) is
    detected by the real path and not entered again. Paths named explicitly are
    yielded even when hidden; missing paths are yielded so the scan reports them.
    Special files and unreadable folders are left out (see walk_inputs).
    """
    for entry in walk_inputs(paths, absolute=False):
        if entry.problem is None:
            yield entry.path


def walk_inputs(paths: Iterable[str | Path], absolute: bool = True,
                skip: Iterable[str | Path] = ()) -> Iterator[InputEntry]:
    """Every path given or found, as iter_input_files, plus special files and unreadable folders with the reason.

    ``absolute`` (the scan's choice) makes each path absolute, so a result still
    names its evidence when read from another folder. ``skip``: files never returned, found or named (the
    scan's own results file: ``scan FOLDER --out FOLDER/results.jsonl`` would otherwise report it as a file
    that is not media).
    """
    seen_dirs: set[str] = set()
    seen_files: set[str] = {os.path.realpath(p) for p in skip}
    for raw in paths:
        path = Path(os.path.abspath(raw)) if absolute else Path(raw)
        if path.is_dir():
            yield from _walk(path, seen_dirs, seen_files)
        else:
            key = os.path.realpath(path)
            if key not in seen_files:
                seen_files.add(key)
                yield InputEntry(path, _special_kind(path))


def _walk(root: Path, seen_dirs: set[str], seen_files: set[str]) -> Iterator[InputEntry]:
    real = os.path.realpath(root)
    if real in seen_dirs:
        return
    seen_dirs.add(real)
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError as exc:
        yield InputEntry(root, f"cannot read folder: {exc.strerror or exc} (its files were not scanned)")
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        try:
            is_dir = entry.is_dir(follow_symlinks=True)
            is_file = entry.is_file(follow_symlinks=True)
        except OSError as exc:
            yield InputEntry(path, f"cannot read: {exc.strerror or exc}")
            continue
        if is_dir:
            yield from _walk(path, seen_dirs, seen_files)
        elif is_file:
            key = os.path.realpath(path)
            if key not in seen_files:
                seen_files.add(key)
                yield InputEntry(path)
        elif entry.is_symlink() and not os.path.exists(path):
            yield InputEntry(path)  # dangling link: reported as an error by the scan
        else:
            yield InputEntry(path, _special_kind(path) or "not a regular file")


def _special_kind(path: Path) -> str | None:
    """'not a regular file (a FIFO)' for special files, None for files, folders and missing paths."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None  # missing or dangling: the scan says why when it opens it
    kinds = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))
    for test, name in kinds:
        if test(mode):
            return f"not a regular file: {name}; it was not opened"
    return None
