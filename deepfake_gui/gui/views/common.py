"""Helpers every evidence view shares: verdict colours, the plots' scale, remembered layout, background loading.

Timelines plot calibrated probabilities of fake (0-1), the number the verdict card
and the report print, mapped by ``engine.explain.probability_track`` through the
calibration that made each detector's verdict, so the threshold, the inconclusive
band and the file's own probability sit on the same axis as the points. Heatmaps
stay on the decision-score (logit) scale, labelled as such.
"""

from __future__ import annotations

import functools
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QRunnable, QSettings, QThreadPool
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSplitter, QWidget

from deepfake_gui.core.jobs import CancelToken
from deepfake_gui.core.results import ScanResult
from deepfake_gui.engine.explain import TimeSeries
from deepfake_gui.gui.jobs import CANCELLED, FAILED, FINISHED, RESULT, STARTED, JobHandle, JobRouter
from deepfake_gui.gui.models.common import TEST_ENCODERS_ENV as TEST_ENCODERS_ENV  # re-exported (Qt-free)
from deepfake_gui.gui.models.common import VERDICT_COLORS as VERDICT_COLORS
from deepfake_gui.gui.models.common import offered_encoders as offered_encoders
from deepfake_gui.gui.models.common import verdict_color as verdict_color

SCORE_LABEL = "score (logit)"  # heatmaps: decision scores
PROBABILITY_LABEL = "P(fake)"  # timelines: calibrated probability of fake, 0-1


@dataclass
class DisplayPrefs:
    """What the evidence plots draw besides the scores (Settings ▸ threshold display); read when a view is built."""

    show_threshold: bool = True
    show_band: bool = True


DISPLAY = DisplayPrefs()


def fill(role: str) -> tuple[int, int, int, int]:
    """A translucent fill ("band", "segment") readable on the current theme's plots."""
    from deepfake_gui.gui.theme import plot_fill

    return plot_fill(role)


def view_settings() -> QSettings:
    """Where views remember their layout: the app's gui.ini in the data folder (the main window's file)."""
    from deepfake_gui.core.config import data_dir

    return QSettings(str(data_dir() / "gui.ini"), QSettings.Format.IniFormat)


def remember_splitter(splitter: QSplitter, key: str, default: list[int]) -> None:
    """Restore a splitter's sizes from the settings (else ``default``) and save them whenever the user drags it.

    Every result gets a new view; without this the room a user gave the timelines would reset on each file.
    """
    saved = view_settings().value(key)
    if not (saved is not None and splitter.restoreState(saved)):
        splitter.setSizes(default)

    def save(*_args: object) -> None:
        view_settings().setValue(key, splitter.saveState())

    splitter.splitterMoved.connect(save)


def accent(role: str) -> str:
    """A plot line's colour ("threshold", "cursor", "frame", "window", "wave", "file", "smooth") for the theme."""
    from deepfake_gui.gui.theme import plot_accent

    return plot_accent(role)


def detectors_for(result: ScanResult, track: str) -> list[str]:
    """Detectors with arrays for a track, the one leading it first."""
    names = [k.split("/", 1)[1] for k in result.arrays if k.startswith(f"{track}/")]
    lead = (result.series.get(track) or {}).get("detector")
    return sorted(names, key=lambda n: n != lead)


def detector_picker(names: list[str], label: str) -> tuple[QWidget, QComboBox]:
    """A labelled combo; hidden when there is only one detector to pick."""
    host = QWidget()
    row = QHBoxLayout(host)
    row.setContentsMargins(0, 0, 0, 0)
    combo = QComboBox()
    combo.addItems(names)
    row.addWidget(QLabel(label))
    row.addWidget(combo, stretch=1)
    host.setVisible(len(names) > 1)
    return host, combo


def media_duration(result: ScanResult, *series: TimeSeries | None) -> float:
    duration = (result.media or {}).get("duration_s")
    if duration:
        return float(duration)
    ends = [float(np.max(s.ends_s if s.ends_s is not None else s.times_s)) for s in series if s is not None]
    return max(ends, default=1.0)


# --- background work -----------------------------------------------------------------


class _Call(QRunnable):
    """Runs one function on the pool; posts its events by job id (it never holds the handle itself)."""

    def __init__(self, fn: Callable[[], Any], job_id: str, token: CancelToken, router: JobRouter) -> None:
        super().__init__()
        self.fn, self.job_id, self.token, self.router = fn, job_id, token, router

    def run(self) -> None:
        post = functools.partial(self.router.post, self.job_id)
        if self.token.cancelled:
            post(CANCELLED)
            return
        post(STARTED)
        try:
            value = self.fn()
        except Exception as exc:  # shown in the view, never raised into Qt's thread
            post(FAILED, (f"{type(exc).__name__}: {exc}", traceback.format_exc()))
            return
        if self.token.cancelled:  # a plain function cannot stop half-way: its answer is dropped
            post(CANCELLED)
            return
        post(RESULT, value)
        post(FINISHED)


_POOL: QThreadPool | None = None
_ROUTER: JobRouter | None = None


def pool() -> QThreadPool:
    """Two threads: decoding stays off the GUI thread without competing with the scan worker."""
    global _POOL
    if _POOL is None:
        _POOL = QThreadPool()
        _POOL.setMaxThreadCount(2)
    return _POOL


def _router() -> JobRouter:
    """The pool's router: made on the GUI thread (the first call), alive for the app's lifetime."""
    global _ROUTER
    if _ROUTER is None:
        _ROUTER = JobRouter()
    return _ROUTER


def run_in_background(fn: Callable[[], Any], on_done: Callable[[Any], None] | None = None,
                      on_failed: Callable[[str], None] | None = None, *,
                      parent: QObject | None = None) -> JobHandle:
    """Run ``fn`` on the views' pool; returns its ``JobHandle`` (signals emitted on the GUI thread).

    ``fn``'s return value arrives as the handle's ``result``; ``on_done``/``on_failed``, when
    given, are connected to ``result`` and ``failed`` (``on_failed`` gets the message).
    ``cancel()`` skips a job not yet started and drops the answer of one running.
    ``fn`` itself must not hold a QObject (a widget captured in a lambda): the pool
    thread drops ``fn`` last, and a widget whose last reference dies there is
    destroyed off the GUI thread, which deadlocks Qt (seen in CI). So it is refused.
    """
    if _holds_qobject(fn):
        raise TypeError("run_in_background: the job captures a QObject; pass plain data (paths, numbers) instead")
    router = _router()
    handle = router.open("background", parent=parent)
    if on_done is not None:
        handle.result.connect(on_done)
    if on_failed is not None:
        handle.failed.connect(on_failed)
    pool().start(_Call(fn, handle.job_id, handle.token, router))
    return handle


def _holds_qobject(fn: Callable[[], Any]) -> bool:
    """Whether a callable keeps a QObject alive: bound to one, a partial over one, or a closure over one."""
    held: list[Any] = [getattr(fn, "__self__", None), getattr(fn, "func", None)]
    held += list(getattr(fn, "args", ()) or ()) + list((getattr(fn, "keywords", None) or {}).values())
    held += [cell.cell_contents for cell in (getattr(fn, "__closure__", None) or ()) if _filled(cell)]
    return any(isinstance(obj, QObject) or (obj is not fn and callable(obj) and isinstance(
        getattr(obj, "__self__", None), QObject)) for obj in held)


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018 (an empty cell raises)
    except ValueError:
        return False
    return True


def wait_for_background(timeout_ms: int = 10_000) -> bool:
    """Block until queued loads finish (tests and the screenshot script)."""
    return pool().waitForDone(timeout_ms)
