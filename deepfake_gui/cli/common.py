"""What every command shares: JSON lines, the progress bar, driving a job, tables, how numbers read.

Nothing heavy at import time (tqdm and the engine are imported on first use).
"""

from __future__ import annotations

import json
import sys

from deepfake_gui.core.present import fmt_number


def _na(value: object, spec: str = ".3f") -> str:
    """A figure as the CLI prints it: "n/a" when there is none (core.present.fmt_number)."""
    return fmt_number(value, spec, missing="n/a")


def _emit(obj, out) -> None:
    out.write(json.dumps(obj, ensure_ascii=False, allow_nan=False, default=str) + "\n")
    out.flush()


class _ProgressBar:
    """tqdm on stderr, silent when stderr is not a terminal (pipes, CI)."""

    def __init__(self, desc: str) -> None:
        from tqdm import tqdm

        self.bar = tqdm(desc=desc, unit="file", file=sys.stderr, disable=None, leave=False)

    def update(self, done: int, total: int | None, message: str) -> None:
        if total is not None and self.bar.total != total:
            self.bar.total = total
        self.bar.n = done
        self.bar.set_postfix_str(message[:40], refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def _run_job(job, desc: str):
    """Drive an engine job: progress to stderr, return its final result object."""
    from deepfake_gui.core.jobs import Progress

    bar = _ProgressBar(desc)
    result = None
    try:
        for event in job:
            if isinstance(event, Progress):
                bar.update(event.done, event.total, event.message)
            else:
                result = event
    finally:
        bar.close()
    return result


def _print_table(rows: list[dict], columns: list[str], *, strip: bool = False) -> None:
    """Columns padded to their widest cell; ``strip``: no trailing spaces at the ends of lines (`cases`)."""
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) if rows else len(c) for c in columns}
    end = str.rstrip if strip else str
    print(end("  ".join(c.ljust(widths[c]) for c in columns)))
    for r in rows:
        print(end("  ".join(str(r[c]).ljust(widths[c]) for c in columns)))
