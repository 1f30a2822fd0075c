"""What several models share: a progress bar's state, a status line, the progress clock, verdict colours.

Plain Python: the views render these (``QProgressBar``, a ``QLabel``), the tests read them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from deepfake_gui.core.jobs import Progress
from deepfake_gui.core.results import ScanResult

VERDICT_COLORS = {"fake": "#c62828", "real": "#2e7d32", "inconclusive": "#e69500", None: "#757575"}
TEST_ENCODERS_ENV = "LAYERSCOPE_TEST_ENCODERS"  # "1": offer the test suite's random-weight encoders too
BAR_STEPS = 1000  # a known fraction is drawn on a 0-1000 bar


def verdict_color(verdict: str | None) -> str:
    return VERDICT_COLORS.get(verdict, VERDICT_COLORS[None])


def offered_encoders(choices: Iterable[Any]) -> list[Any]:
    """The encoders a user may pick: not the test suite's random-weight ones (``test-*``).

    Their maps and probes measure nothing about real files; the test suite (and a developer)
    sets LAYERSCOPE_TEST_ENCODERS=1 to see them.
    """
    if os.environ.get(TEST_ENCODERS_ENV) == "1":
        return list(choices)
    return [c for c in choices if not (str(c.name).startswith("test-") or getattr(c, "random_init", False))]


@dataclass(frozen=True)
class Bar:
    """What a progress bar shows: ``maximum`` 0 is a busy (moving) bar; ``text`` is its format."""

    maximum: int = 1
    value: int = 0
    text: str = ""

    @classmethod
    def busy(cls, text: str) -> Bar:
        return cls(0, 0, text)

    @classmethod
    def fraction(cls, fraction: float | None, text: str) -> Bar:
        """A known fraction on the 0-1000 scale; None: busy."""
        return cls.busy(text) if fraction is None else cls(BAR_STEPS, round(fraction * BAR_STEPS), text)

    @classmethod
    def idle(cls, done: bool, text: str) -> Bar:
        return cls(1, 1 if done else 0, text)

    def with_text(self, text: str) -> Bar:
        return Bar(self.maximum, self.value, text)


@dataclass(frozen=True)
class Status:
    """The status line: a sentence, red when it reports an error."""

    text: str = ""
    error: bool = False


def error_reason(result: ScanResult) -> str:
    """Why the file could not be scanned, without the path the engine's message starts with (the row names it)."""
    message = result.error or result.status
    prefix = f"{result.path}: "
    return message[len(prefix):] if message.startswith(prefix) else message


def user_message(message: str) -> str:
    """Drop the exception class the worker prefixes ("LayerScopeError: …"): users need the sentence."""
    head, sep, rest = message.partition(": ")
    return rest if sep and head.endswith("Error") and " " not in head else message


@dataclass
class ProgressClock:
    """Turns Progress events into a fraction and an ETA (plain Python, so it is testable without Qt).

    The fraction counts whole files plus the current file's batch fraction; the clock
    starts at the first event with a known total, so loading detectors does not skew the ETA.
    """

    started_at: float | None = None
    fraction: float | None = None
    eta_s: float | None = None
    last: Progress | None = field(default=None, repr=False)

    def update(self, event: Progress, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self.last = event
        self.fraction = progress_fraction(event)
        if self.fraction is None:
            self.eta_s = None
            return
        if self.started_at is None:
            self.started_at = now
        elapsed = now - self.started_at
        if self.fraction <= 0.0 or elapsed < 0.5:
            self.eta_s = None
        else:
            self.eta_s = elapsed * (1.0 - self.fraction) / self.fraction


def progress_fraction(event: Progress) -> float | None:
    """Files done plus the current file's batch fraction, over the file count; None when unknown."""
    if not event.total:
        return None if event.total is None else 1.0
    within = 0.0
    if event.item_done is not None and event.item_total and event.done < event.total:
        within = min(1.0, max(0.0, event.item_done / event.item_total))
    return min(1.0, max(0.0, (event.done + within) / event.total))


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
