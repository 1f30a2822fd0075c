"""Probing in a worker process with limits: a decoder that crashes, hangs or runs out of memory costs one line.

Why the probe: it is the first time untrusted bytes reach the native decoders
(Pillow's C plugins, libtiff, FFmpeg), and for pictures it decodes the whole
picture, as scoring does next. Run in a separate process with an address-space
limit and a time limit, a segfault becomes "decoder crashed", a hang becomes
"took longer than N s" and an allocation beyond the limit becomes "image too
large", and the scan goes on with a fresh worker. Only plain values cross the
process boundary (a path's bytes in, a dict or an error's parts out).
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from deepfake_gui.core.errors import MediaError

DECODE_TIMEOUT_S = 120.0
STARTUP_TIMEOUT_S = 120.0  # a new worker imports numpy, Pillow and PyAV before its first file
WORKER_MEMORY_BYTES = 4 << 30  # address space of the worker: imports (~1 GB virtual) plus a 100 MP picture


def _limit_worker(memory_bytes: int) -> None:
    """In the worker: cap its address space so a runaway allocation fails there, not in the scan."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    except (ImportError, ValueError, OSError):
        pass  # no RLIMIT_AS here (not Linux): the time limit and the crash containment still hold


def _warm_up() -> bool:
    """In a new worker: import the decoders once, so a file's time limit does not pay for the start."""
    import deepfake_gui.media  # noqa: F401

    return True


def _probe_in_worker(raw_path: bytes) -> tuple[str, Any]:
    """Runs in the worker: ("ok", MediaInfo fields) or ("media", (what, why, reason))."""
    from deepfake_gui.media import probe

    try:
        return "ok", probe(os.fsdecode(raw_path)).to_dict()
    except MediaError as exc:
        return "media", (exc.what, exc.why, exc.reason)
    except MemoryError:
        return "media", ("image too large", "decoding it needed more memory than the worker's "
                         f"{WORKER_MEMORY_BYTES >> 30} GB limit", "too-large")
    except Exception as exc:  # anything else a decoder raises is still this file's error
        return "media", ("cannot decode", f"unexpected {type(exc).__name__}: {str(exc)[:300]}", "unreadable")


class IsolatedProber:
    """``probe(path)`` run in one long-lived worker process, restarted after a crash or a time-out."""

    def __init__(self, timeout_s: float = DECODE_TIMEOUT_S, memory_bytes: int = WORKER_MEMORY_BYTES) -> None:
        self.timeout_s = timeout_s
        self.memory_bytes = memory_bytes
        self._pool: ProcessPoolExecutor | None = None

    def probe(self, path: str | Path):
        from deepfake_gui.media.probe import MediaInfo

        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"),
                                             initializer=_limit_worker, initargs=(self.memory_bytes,))
            try:
                self._pool.submit(_warm_up).result(timeout=STARTUP_TIMEOUT_S)
            except (FutureTimeout, BrokenProcessPool) as exc:
                self.close()
                raise MediaError(path, "decoder did not start", f"the decoding worker process failed to start "
                                 f"({type(exc).__name__})", "crashed") from None
        future = self._pool.submit(_probe_in_worker, os.fsencode(path))
        try:
            kind, payload = future.result(timeout=self.timeout_s)
        except FutureTimeout:
            self.close()
            raise MediaError(path, "decoder took too long", f"no answer within {self.timeout_s:g} s (a hang or a "
                             "file built to be slow); it was stopped", "timeout") from None
        except BrokenProcessPool:
            self.close()
            raise MediaError(path, "decoder crashed", "the decoding worker process died on this file (the scan "
                             "went on with a new worker)", "crashed") from None
        if kind == "ok":
            return MediaInfo(**payload)
        what, why, reason = payload
        raise MediaError(path, what, why, reason)

    def close(self) -> None:
        """Stop the worker now (a hung decoder does not answer a polite shutdown)."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        for process in list(getattr(pool, "_processes", {}).values()):
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)
