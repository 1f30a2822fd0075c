"""The resident-memory budget per file: no file may take the scan's process above the models plus N GB.

Why a budget on the scan's own process: the decoders run in a worker with an
address-space limit (engine/isolate.py), but what they hand back (a picture, a
video frame, an audio chunk) and what scoring does with it live here, beside
the loaded models. The budget is measured from the resident size once the
detectors are loaded, and enforced three ways:

- before a decoded array is taken in from the worker, its size is checked
  against what is left (``reserve``): it is refused before it is allocated;
- after every decoded item and at the end of each file (``check``), against
  the highest resident size a watchdog thread saw (sampled every 50 ms) since
  the file began;
- beyond the budget the file is stopped with ``FileStopped`` ("took more than
  2 GB of memory"): its line is an error and the batch goes on.
"""

from __future__ import annotations

import gc
import os
import threading
from pathlib import Path

from deepfake_gui.core.errors import FileStopped

DEFAULT_BUDGET_BYTES = 2 << 30  # 2 GB beside the models (README, Reliability)
WATCH_INTERVAL_S = 0.05


def rss_bytes() -> int | None:
    """This process's resident size now (Linux /proc, else psutil); None when it cannot be read."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except Exception:  # no way to measure here: the budget is not enforced (said in the docs)
        return None


def _gib(n: float) -> str:
    return f"{n / (1 << 30):.1f} GB" if n >= (1 << 30) else f"{n / (1 << 20):.0f} MB"


def release_free_memory() -> None:
    """Collect garbage and hand freed heap pages back to the system (glibc), so RSS falls after a big file."""
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: freed memory is reused all the same


class MemoryGuard:
    """Stops a file whose scan takes this process more than ``budget_bytes`` above its size with the models."""

    def __init__(self, budget_bytes: int = DEFAULT_BUDGET_BYTES, interval_s: float = WATCH_INTERVAL_S) -> None:
        if budget_bytes <= 0:
            raise ValueError(f"the memory budget must be positive, not {budget_bytes}")
        self.budget_bytes = int(budget_bytes)
        self.interval_s = interval_s
        self.baseline: int | None = None
        self._peak = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def limit(self) -> int | None:
        return None if self.baseline is None else self.baseline + self.budget_bytes

    def start(self) -> None:
        """Take the baseline (call once the detectors are loaded) and start the watchdog thread."""
        release_free_memory()
        self.baseline = rss_bytes()
        if self.baseline is None:
            return
        self._peak = self.baseline
        self._thread = threading.Thread(target=self._watch, name="layerscope-memory-watch", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(self.interval_s):
            with self._lock:  # read under the lock: a sample from before begin_file() never lands after it
                self._peak = max(self._peak, rss_bytes() or 0)

    def begin_file(self) -> None:
        """A new file starts: its peak is counted from now."""
        now = rss_bytes()
        with self._lock:
            self._peak = now or 0

    def check(self, path: str | Path) -> None:
        """Raise FileStopped when the process went past the budget since the file began."""
        limit = self.limit
        if limit is None:
            return
        now = rss_bytes() or 0
        with self._lock:
            self._peak = peak = max(self._peak, now)
        if peak > limit:
            raise self._stopped(path, f"the scan's process reached {_gib(peak)} resident")

    def reserve(self, path: str | Path, nbytes: int) -> None:
        """Refuse ``nbytes`` of decoded data before it is allocated if it would not fit in the budget."""
        limit = self.limit
        if limit is None:
            return
        now = rss_bytes() or 0
        if now + nbytes > limit:
            raise self._stopped(path, f"its decoded data ({_gib(nbytes)}) would take the scan's process to "
                                f"{_gib(now + nbytes)} resident; it was refused before being allocated")

    def _stopped(self, path: str | Path, detail: str) -> FileStopped:
        return FileStopped(path, f"took more than {_gib(self.budget_bytes)} of memory",
                           f"{detail}, above the budget of {_gib(self.budget_bytes)} beside the models "
                           f"({_gib(self.baseline or 0)} with the models loaded); the file was stopped and the "
                           "scan went on", "too-large")

    def recover(self) -> None:
        """After a stopped file: give its memory back, so the next file starts from the baseline again."""
        release_free_memory()
        self.begin_file()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
            self._thread = None
