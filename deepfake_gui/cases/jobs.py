"""Cases as engine jobs: record a scan's results as they arrive, or load a case's results back.

Both are generators, so the CLI drives them in its loop and the GUI runs them
on its engine thread; the database connection is opened inside the generator,
on the thread that iterates it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from deepfake_gui.cases.store import CaseStore
from deepfake_gui.core.jobs import CancelToken, Progress
from deepfake_gui.core.results import ScanResult


def record_into_case(events: Iterable[object], case: str | CaseStore, db_path: Path | None = None) -> Iterator[object]:
    """Pass a scan's events through, storing each ScanResult (one transaction) before it is yielded.

    ``case`` is an open store (same thread) or a name, opened here and created
    if needed. A result is only handed on once it is on disk, so whatever a
    front end has shown survives a crash.
    """
    store = case if isinstance(case, CaseStore) else CaseStore.open_or_create(case, db_path)
    try:
        for event in events:
            if isinstance(event, ScanResult):
                store.add_result(event)
            yield event
    finally:
        if store is not case:
            store.close()


def load_case_job(name: str, cancel: CancelToken | None = None, db_path: Path | None = None
                  ) -> Iterator[Progress | ScanResult]:
    """Yield a case's latest results with their arrays, one by one (for the GUI's engine thread)."""
    cancel = cancel or CancelToken()
    with CaseStore.open(name, db_path) as store:
        entries = store.entries(arrays=False)
        total = len(entries)
        yield Progress(0, total, f"opening case {store.name}")
        for done, entry in enumerate(entries, start=1):
            cancel.raise_if_cancelled()
            entry.result.arrays = store.arrays(entry.result_id)
            yield entry.result
            yield Progress(done, total, Path(entry.path).name)
