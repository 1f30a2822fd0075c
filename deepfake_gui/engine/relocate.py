"""Find evidence files that moved since they were scanned, by their SHA-256, in folders the user names.

A result stores the file's absolute path and the SHA-256 of the bytes scanned. A file moved
or copied elsewhere keeps its bytes, so its hash finds it again, and a match is the same
evidence by construction. Only files of the recorded size are hashed (every result's
integrity record has the size), so looking through a large folder costs one stat per file.
Used by ``layerscope report --look-in`` and by the app's "Find moved files"; no Qt here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from deepfake_gui.core.hashing import sha256_file
from deepfake_gui.core.jobs import CancelToken, Progress
from deepfake_gui.core.results import ScanResult

PROGRESS_EVERY = 200  # files looked at between two progress events


@dataclass(frozen=True)
class Wanted:
    """A scanned file that is no longer at its stored path."""

    path: str
    sha256: str
    size: int | None  # bytes, from the scan's integrity record; None hashes every file


@dataclass
class Relocations:
    """What a search found: stored path -> the path holding the same bytes now, and what stayed missing."""

    found: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    checked: int = 0  # files hashed

    def lines(self) -> list[str]:
        """One sentence per wanted file, for a terminal or a status line."""
        out = [f"found {Path(old).name} at {new} by its SHA-256 (it was scanned at {old})"
               for old, new in self.found.items()]
        where = ", ".join(self.folders) or "no folder"
        out += [f"{old}: not found by its SHA-256 in {where}" for old in self.missing]
        return out


def file_is_missing(result: ScanResult) -> bool:
    """Whether a scanned file's bytes can no longer be read at its stored path."""
    return not Path(result.path).is_file()


def wanted_for(results: Iterable[ScanResult]) -> list[Wanted]:
    """The results whose file is gone from its stored path and whose hash can find it (errors have none)."""
    out = []
    for r in results:
        if r.sha256 and file_is_missing(r):
            size = (r.integrity or {}).get("size")
            if not isinstance(size, int):
                size = (r.media or {}).get("byte_size")
            out.append(Wanted(r.path, r.sha256, size if isinstance(size, int) else None))
    return out


def _candidates(folders: Sequence[str | Path]) -> Iterable[Path]:
    """Every regular file under the folders (symlinked folders are not followed: no loops)."""
    for folder in folders:
        for root, _dirs, files in os.walk(folder):
            for name in sorted(files):
                yield Path(root) / name


def relocate_job(wanted: Sequence[Wanted], folders: Sequence[str | Path],
                 cancel: CancelToken | None = None) -> Generator[Progress | Relocations, None, None]:
    """Look through ``folders`` for the wanted hashes; yields Progress, then one Relocations."""
    for folder in folders:
        if not Path(folder).is_dir():
            from deepfake_gui.core.errors import LayerScopeError

            raise LayerScopeError(f"{folder}: not a folder to look in")
    by_hash: dict[str, list[str]] = {}
    for w in wanted:
        by_hash.setdefault(w.sha256.lower(), []).append(w.path)
    sizes = {w.size for w in wanted}
    any_size = None in sizes
    report = Relocations(folders=[str(f) for f in folders])
    seen = 0
    for path in _candidates(folders) if wanted else ():
        if cancel is not None:
            cancel.raise_if_cancelled()
        seen += 1
        if seen % PROGRESS_EVERY == 0:
            yield Progress(0, None, f"looking for {len(by_hash)} moved file(s): {seen} files seen, "
                                    f"{report.checked} hashed")
        try:
            if not path.is_file() or (not any_size and path.stat().st_size not in sizes):
                continue
            digest = sha256_file(path)
        except OSError:
            continue  # unreadable: not the evidence we can use anyway
        report.checked += 1
        for old in by_hash.pop(digest, []):
            report.found[old] = os.path.abspath(path)
            yield Progress(0, None, f"found {Path(old).name} by its SHA-256")
        if not by_hash:
            break
    report.missing = [w.path for w in wanted if w.path not in report.found]
    yield report


def find_moved(results: Iterable[ScanResult], folders: Sequence[str | Path],
               progress: Callable[[int, int | None, str], None] | None = None) -> Relocations:
    """Run :func:`relocate_job` to its end for the results' missing files."""
    report = Relocations(folders=[str(f) for f in folders])
    for event in relocate_job(wanted_for(results), folders):
        if isinstance(event, Progress) and progress is not None:
            progress(event.done, event.total, event.message)
        elif isinstance(event, Relocations):
            report = event
    return report


def apply_relocations(results: Iterable[ScanResult], found: dict[str, str]) -> dict[str, str]:
    """Point each found result at its new path; returns new path -> stored path (what a report says)."""
    moved = {}
    for r in results:
        new = found.get(r.path)
        if new is not None:
            moved[new] = r.path
            r.path = new
    return moved
