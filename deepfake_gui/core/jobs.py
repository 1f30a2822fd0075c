"""The engine's job protocol, shared by the CLI and the GUI worker thread.

A job is a generator that yields Progress events and result objects and checks a
CancelToken between batches, so one implementation serves every front end.
"""

from __future__ import annotations

import threading
from collections.abc import Generator
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """``done``/``total`` count files; ``item_done``/``item_total`` count batches inside the current file."""

    done: int
    total: int | None
    message: str = ""
    item_done: int | None = None
    item_total: int | None = None


class Cancelled(Exception):
    """Raised inside a job when its token was cancelled."""


class CancelToken:
    """Thread-safe flag; the GUI sets it, the job checks it between batches."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


def job_result(job: Generator):
    """Run a job generator to its end without watching its progress, and return what it returned."""
    while True:
        try:
            next(job)
        except StopIteration as stop:
            return stop.value
