"""Where a report's results come from: a case in the case database, or `layerscope scan --out` JSON lines.

A JSON line has no arrays (heatmaps, per-step series); the report draws what the JSON
holds and says "heatmap not stored" for the rest, unless ``rescan`` scans the files
again (read-only) to get them. It never rescans silently.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from deepfake_gui.core.errors import LayerScopeError
from deepfake_gui.core.results import ScanResult
from deepfake_gui.report.context import CaseMeta

_FIELDS = {f.name for f in fields(ScanResult)} - {"arrays"}


def result_from_json(obj: dict[str, Any]) -> ScanResult:
    """A ScanResult from its JSON dict (unknown keys ignored: newer versions may add some)."""
    if not isinstance(obj, dict) or "path" not in obj:
        raise ValueError("not a scan result (no 'path')")
    return ScanResult(**{k: v for k, v in obj.items() if k in _FIELDS})


def load_results_jsonl(path: str | Path) -> list[ScanResult]:
    """Every result of a `layerscope scan --out` file, in order."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise LayerScopeError(f"{path}: cannot read the results file: {exc}") from exc
    results = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            results.append(result_from_json(json.loads(line)))
        except (ValueError, TypeError) as exc:
            raise LayerScopeError(f"{path}: line {number} is not a LayerScope scan result: {exc}") from exc
    if not results:
        raise LayerScopeError(f"{path}: no scan results in this file")
    return results


def select_files(results: Sequence[ScanResult], files: Iterable[str] | None) -> list[ScanResult]:
    """Keep the results named by ``files`` (a path, a file name or a sha256 prefix of 8+ characters)."""
    wanted = [str(f) for f in files or []]
    if not wanted:
        return list(results)
    chosen, missing = [], []
    for want in wanted:
        full = os.path.abspath(want)
        hits = [r for r in results if r.path in (want, full) or Path(r.path).name == want
                or (len(want) >= 8 and (r.sha256 or "").startswith(want.lower()))]
        if not hits:
            missing.append(want)
        chosen += [r for r in hits if r not in chosen]
    if missing:
        raise LayerScopeError(f"not among the results: {', '.join(missing)}")
    return chosen


def rescan(results: Sequence[ScanResult], device: str = "auto",
           progress: Callable[[int, int | None, str], None] | None = None) -> list[ScanResult]:
    """Scan the files again to get their arrays; a file whose bytes changed since the stored scan says so."""
    from deepfake_gui.core.jobs import Progress
    from deepfake_gui.engine.scan import ScanOptions, scan_job

    fresh = []
    for event in scan_job([r.path for r in results], ScanOptions(device=device, keep_arrays=True)):
        if isinstance(event, Progress) and progress is not None:
            progress(event.done, event.total, event.message)
        elif isinstance(event, ScanResult):
            fresh.append(event)
    by_path = {r.path: r for r in results}
    for new in fresh:
        old = by_path.get(new.path)
        if old is not None and old.sha256 and new.sha256 and old.sha256 != new.sha256:
            new.caveats.append(f"this file changed since the stored scan (its SHA-256 was {old.sha256}); "
                               "the report shows the new scan")
        new.caveats.append("rescanned for this report (the arrays behind the heatmap and timeline are not "
                           "stored in a JSON-lines result)")
    return fresh


def case_report_inputs(name: str, files: Iterable[str] | None = None,
                       db_path: Path | None = None) -> tuple[list[ScanResult], CaseMeta]:
    """The results (arrays restored) and metadata of a stored case: the adapter to the case database."""
    try:
        from deepfake_gui.cases import CaseStore
    except ImportError as exc:
        raise LayerScopeError(f"--case {name}: this LayerScope has no case database (deepfake_gui.cases is "
                              f"missing: {exc}); report from `layerscope scan --out` with --results FILE.jsonl"
                              ) from exc
    with CaseStore.open(name, db_path) as store:
        entries = store.entries(arrays=True)
        info = store.info()
        return case_inputs_from_entries(entries, name=store.name, created=info.created_utc, notes=store.notes,
                                        files=files)


def case_inputs_from_entries(entries: Iterable[Any], name: str, created: str | None = None, notes: str = "",
                             files: Iterable[str] | None = None) -> tuple[list[ScanResult], CaseMeta]:
    """Results and CaseMeta from case rows that have ``path``, ``review_status``, ``notes`` and ``result``."""
    entries = list(entries)
    meta = CaseMeta(name=name, created=created, notes=notes or "", source=f"case {name!r}",
                    statuses={e.result.path: e.review_status for e in entries if getattr(e, "review_status", "")},
                    file_notes={e.result.path: e.notes for e in entries if getattr(e, "notes", "")})
    meta.relocated.update({e.result.path: e.moved_from for e in entries if getattr(e, "moved_from", None)})
    if not entries:
        raise LayerScopeError(f"case {name!r} has no scanned files to report")
    return select_files([e.result for e in entries], files), meta


def follow_relocations(meta: CaseMeta, moved: dict[str, str]) -> CaseMeta:
    """Key the case's review states and notes by each moved file's new path (``moved``: new -> stored)."""
    for new, old in moved.items():
        for keyed in (meta.statuses, meta.file_notes):
            if old in keyed:
                keyed[new] = keyed.pop(old)
    meta.relocated.update(moved)
    return meta


def relocate_inputs(chosen: list[ScanResult], meta: CaseMeta, look_in: Sequence[str | Path],
                    progress: Callable[[int, int | None, str], None] | None = None,
                    tell: Callable[[str], None] | None = None) -> None:
    """Find the results' moved files by SHA-256 in ``look_in``; the report then reads them at their new paths.

    The case's review states and notes follow their file, and the report says where each one was found.
    """
    from deepfake_gui.engine.relocate import apply_relocations, find_moved

    found = find_moved(chosen, look_in, progress)
    follow_relocations(meta, apply_relocations(chosen, found.found))
    for line in found.lines():
        if tell is not None:
            tell(line)


def report_command(out: str, case: str | None = None, results: str | None = None, files: Sequence[str] = (),
                   rescan_files: bool = False, device: str = "auto",
                   progress: Callable[[int, int | None, str], None] | None = None,
                   look_in: Sequence[str | Path] = (), tell: Callable[[str], None] | None = None) -> Path:
    """What `layerscope report` does; returns the path written.

    ``look_in``: folders where files that moved since the scan are found again by their SHA-256;
    ``tell`` gets one sentence per file looked for.
    """
    from deepfake_gui.report.render import write_report

    if bool(case) == bool(results):
        raise LayerScopeError("report: give exactly one of --case NAME or --results FILE.jsonl")
    if case:
        chosen, meta = case_report_inputs(case, files)
    else:
        chosen = select_files(load_results_jsonl(results), files)
        meta = CaseMeta(name=Path(results).stem, source=f"results file {Path(results).name}")
    if look_in:
        relocate_inputs(chosen, meta, look_in, progress, tell)
    if rescan_files and not case:
        chosen = rescan(chosen, device, progress)
    return write_report(chosen, out, meta, progress=None if progress is None else
                        (lambda d, t, m: progress(d, t, f"report: {m}")))
