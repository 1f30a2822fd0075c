"""Decoding in a worker process with limits: a decoder that crashes, hangs or runs out of memory costs one line.

Why: every read of a file's bytes (the probe, the picture, the audio track, the
sampled video frames, the metadata) runs native decoders (Pillow's C plugins,
libtiff, FFmpeg, the C2PA library) on untrusted bytes. Here they run in a
separate process with an address-space limit, and every answer must come within
a time limit. A segfault becomes "decoder crashed", a hang "decoder took too
long", an allocation beyond the limit "image too large", and the scan goes on
with a fresh worker.

What crosses the boundary: requests go to the worker as (operation, the path's
bytes, plain parameters). Answers come back as a JSON header and, for arrays,
their raw bytes (dtype and shape from a short list, size bounded), read
straight into a new numpy array. Nothing the worker sends is unpickled, so a
worker subverted by a hostile file can send wrong numbers, never code.

Streams (audio chunks, video frames) go one item at a time: the worker decodes
the next item while the scan scores the current one, and stops when told to.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable, Iterator
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_gui.core.errors import FileStopped, MediaError
from deepfake_gui.engine import decoding
from deepfake_gui.engine.decoding import Item, RecentPictures

DECODE_TIMEOUT_S = 120.0
STARTUP_TIMEOUT_S = 120.0  # a new worker imports numpy, Pillow and PyAV before its first file
WORKER_MEMORY_BYTES = 4 << 30  # address space of the worker: imports (~1 GB virtual) plus a 100 MP picture
MAX_HEADER_BYTES = 8 << 20  # a probe or provenance answer is a few KB; more means a broken worker
MAX_ARRAY_BYTES = 1 << 30  # a 100 MP RGB picture is 300 MB; nothing legitimate comes near
ARRAY_DTYPES = frozenset({"uint8", "uint16", "int16", "int32", "int64", "float32", "float64"})
_RAW_PIPE = sys.platform != "win32" and hasattr(os, "readv")  # array bytes straight on the socket


# ------------------------------------------------------------------ in the worker
def _limit_worker(memory_bytes: int) -> None:
    """In the worker: cap its address space so a runaway allocation fails there, not in the scan."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    except (ImportError, ValueError, OSError):
        pass  # no RLIMIT_AS here (not Linux): the time limit and the crash containment still hold


def _worker_main(conn, memory_bytes: int) -> None:
    """The worker's loop: one request at a time, answered with headers and raw array bytes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the scan's to handle; it stops the worker
    _limit_worker(memory_bytes)
    import deepfake_gui.media  # noqa: F401  (the decoders, imported once: a file's time limit does not pay for it)

    try:
        _send_header(conn, {"kind": "ready"})
        while True:
            request = conn.recv()  # from the scan (trusted): (operation, path bytes, parameters, streamed)
            if request is None:
                return
            op, raw_path, params, streamed = request
            _serve(conn, op, os.fsdecode(raw_path), params, streamed)
    except (EOFError, OSError):
        return  # the scan closed the pipe or went away


def _serve(conn, op: Callable[..., Iterator[Item]], path: str, params: tuple, streamed: bool) -> None:
    """Run one operation, sending its items one by one while the scan asks for more, then "end" or "error".

    Not ``streamed``: one item, then "end" at once (a picture, a probe: one round trip, not two).
    """
    items: Iterator[Item] | None = None
    try:
        while True:
            try:
                if items is None:
                    items = op(path, *params)
                meta, array = next(items)
            except StopIteration:
                _send_header(conn, {"kind": "end"})
                return
            except Exception as exc:  # anything a decoder raises is this file's error, said in plain words
                _send_header(conn, _error_header(exc))
                return
            _send_item(conn, meta, array)
            if not streamed:
                _send_header(conn, {"kind": "end"})
                return
            if conn.recv() != "next":
                return  # "stop": the scan has what it needs
    finally:
        if items is not None and hasattr(items, "close"):
            with contextlib.suppress(Exception):  # a decoder failing as it closes changes no answer sent
                items.close()


def _error_header(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, MediaError):
        what, why, reason = exc.what, exc.why, exc.reason
    elif isinstance(exc, MemoryError):
        what, why, reason = ("image too large", "decoding it needed more memory than the decoding worker's "
                             f"{WORKER_MEMORY_BYTES >> 30} GB limit", "too-large")
    else:
        what, why, reason = "cannot decode", f"unexpected {type(exc).__name__}: {str(exc)[:300]}", "unreadable"
    return {"kind": "error", "what": what, "why": why, "reason": reason}


def _send_header(conn, header: dict[str, Any]) -> None:
    conn.send_bytes(json.dumps(header, default=str).encode("utf-8"))


def _send_item(conn, meta: dict[str, Any], array: np.ndarray | None) -> None:
    header: dict[str, Any] = {"kind": "item", "meta": meta}
    if array is None:
        _send_header(conn, header)
        return
    array = np.ascontiguousarray(array)
    header["array"] = {"dtype": array.dtype.name, "shape": list(array.shape)}
    _send_header(conn, header)
    view = _bytes_of(array)
    if not _RAW_PIPE:
        conn.send_bytes(view)
        return
    fd, sent = conn.fileno(), 0
    while sent < len(view):
        sent += os.write(fd, view[sent:])


def _bytes_of(array: np.ndarray) -> memoryview:
    """The bytes of a C-contiguous array, without a copy (an empty array has none)."""
    return memoryview(array).cast("B") if array.size else memoryview(b"")


# ------------------------------------------------------------------ in the scan
class _Worker:
    """One spawned worker process and the scan's end of its socket."""

    def __init__(self, memory_bytes: int) -> None:
        context = get_context("spawn")
        self.conn, child = context.Pipe(duplex=True)
        self.process = context.Process(target=_worker_main, args=(child, memory_bytes), daemon=True,
                                       name="layerscope-decoder")
        self.process.start()
        child.close()  # so the scan sees end-of-file when the worker dies

    def how_it_ended(self) -> str:
        """'killed by SIGSEGV', 'exit code 134', ... for the error line (after a short wait for the exit)."""
        self.process.join(timeout=1.0)
        code = self.process.exitcode
        if code is None:
            return "it stopped answering"
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit code {code}"

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5.0)


class _Broken(Exception):
    """The worker died, went silent or broke the protocol: the current file is stopped."""

    def __init__(self, what: str, why: str, reason: str) -> None:
        super().__init__(why)
        self.what, self.why, self.reason = what, why, reason


class IsolatedDecoder:
    """The LocalDecoder's operations run in one long-lived worker process, restarted after a crash or time-out.

    ``timeout_s`` bounds each answer: the probe, a picture, each audio chunk or
    video frame. ``guard`` (engine.memory.MemoryGuard) is asked before an array
    is taken in, and after each one.
    """

    isolated = True

    def __init__(self, timeout_s: float = DECODE_TIMEOUT_S, memory_bytes: int = WORKER_MEMORY_BYTES,
                 guard=None) -> None:
        self.timeout_s = timeout_s
        self.memory_bytes = memory_bytes
        self.guard = guard
        self.recent = RecentPictures()
        self._worker: _Worker | None = None
        self._greeted = False  # the worker said it is ready
        self._pending = False  # one answer from the worker is still to be read
        self._owner: object | None = None  # the stream that may read it

    # -- the operations
    def probe(self, path: str | Path):
        from deepfake_gui.media.probe import MediaInfo

        meta, _ = self._one(decoding.probe_op, path)
        return MediaInfo(**meta["info"])

    def image(self, path: str | Path) -> np.ndarray:
        known = self.recent.get(path)
        if known is not None:
            return known
        _, array = self._one(decoding.image_op, path)
        return self.recent.keep(path, _require_array(path, array))

    def audio_chunks(self, path: str | Path, rate: int) -> Iterator[np.ndarray]:
        for _, array in self._items(decoding.audio_chunks_op, path, int(rate)):
            yield _require_array(path, array)

    def audio(self, path: str | Path, rate: int, max_seconds: float | None = None) -> np.ndarray:
        _, array = self._one(decoding.audio_op, path, int(rate), max_seconds)
        return _require_array(path, array)

    def video_frames(self, path: str | Path, per_second: float) -> Iterator:
        from deepfake_gui.media.video import VideoFrame

        for meta, array in self._items(decoding.video_frames_op, path, float(per_second)):
            yield VideoFrame(int(meta["index"]), float(meta["time_s"]), _require_array(path, array),
                             bool(meta["keyframe"]))

    def jpeg_quality(self, path: str | Path) -> int | None:
        meta, _ = self._one(decoding.jpeg_quality_op, path)
        quality = meta.get("quality")
        return int(quality) if isinstance(quality, int) else None

    def provenance(self, path: str | Path, modality: str) -> dict[str, Any]:
        meta, _ = self._one(decoding.provenance_op, path, modality)
        value = meta.get("provenance")
        if not isinstance(value, dict):
            raise FileStopped(path, "cannot read metadata", "the decoding worker gave no provenance", "unreadable")
        return value

    def close(self) -> None:
        """Stop the worker now (a hung decoder does not answer a polite shutdown)."""
        worker, self._worker = self._worker, None
        self._pending, self._owner = False, None
        if worker is not None:
            worker.kill()

    # -- the protocol
    def _one(self, op: Callable[..., Iterator[Item]], path: str | Path, *params) -> Item:
        items = self._items(op, path, *params, streamed=False)
        try:
            return next(items)
        except StopIteration:
            raise FileStopped(path, "cannot decode", "the decoding worker sent no answer", "unreadable") from None
        finally:
            items.close()

    def _items(self, op: Callable[..., Iterator[Item]], path: str | Path, *params,
               streamed: bool = True) -> Iterator[Item]:
        """Run ``op(path, *params)`` in the worker and yield its items; a failed worker raises FileStopped.

        ``streamed``: the worker sends an item each time it is asked for the next; else one item and "end".
        """
        self._settle()
        token = object()
        self._owner = token
        try:
            try:
                worker = self._ready_worker()
                worker.conn.send((op, os.fsencode(path), params, streamed))
                self._pending = True
                while True:
                    header = self._header(worker)
                    kind = header.get("kind")
                    if kind == "end":
                        return
                    if kind == "error":
                        raise _media_error(path, header)
                    if kind != "item":
                        raise _Broken("decoder crashed", "the decoding worker broke the protocol", "crashed")
                    array = self._array(worker, path, header.get("array"))
                    meta = header.get("meta")
                    if self.guard is not None and array is not None:
                        self.guard.check(path)
                    if streamed:
                        worker.conn.send("next")  # the worker decodes the next item while this one is used
                    self._pending = True  # the next item, or "end"
                    yield (meta if isinstance(meta, dict) else {}), array
            except _Broken as broken:
                self.close()
                raise FileStopped(path, broken.what, broken.why, broken.reason) from None
            except (OSError, EOFError, ValueError):  # the socket broke under a send
                why = self._crash_reason()
                self.close()
                raise FileStopped(path, "decoder crashed", why, "crashed") from None
            except FileStopped:  # the memory budget refused an array whose bytes were still on the way
                self.close()
                raise
        finally:
            if self._owner is token:
                self._owner = None
                self._settle()

    def start(self) -> None:
        """Spawn the worker now without waiting for it: its imports run while the caller does other work."""
        if self._worker is None:
            self._worker, self._greeted = _Worker(self.memory_bytes), False

    def _ready_worker(self) -> _Worker:
        if self._worker is not None and not self._worker.process.is_alive():
            self.close()  # it died between two files
        self.start()
        worker = self._worker
        assert worker is not None
        if self._greeted:
            return worker
        try:
            if not worker.conn.poll(STARTUP_TIMEOUT_S):
                raise _Broken("decoder did not start", f"the decoding worker gave no sign of life within "
                              f"{STARTUP_TIMEOUT_S:g} s", "crashed")
            header = self._read_header(worker)
        except (OSError, EOFError):
            raise _Broken("decoder did not start", f"the decoding worker failed to start ({worker.how_it_ended()})",
                          "crashed") from None
        if header.get("kind") != "ready":
            raise _Broken("decoder did not start", "the decoding worker sent a wrong greeting", "crashed")
        self._greeted = True
        return worker

    def _header(self, worker: _Worker) -> dict[str, Any]:
        """The pending answer's header, within the time limit."""
        try:
            if not worker.conn.poll(self.timeout_s):
                raise _Broken("decoder took too long", f"no answer within {self.timeout_s:g} s (a hang or a file "
                              "built to be slow); it was stopped", "timeout")
            header = self._read_header(worker)
        except (OSError, EOFError):
            raise _Broken("decoder crashed", self._crash_reason(), "crashed") from None
        self._pending = False
        return header

    @staticmethod
    def _read_header(worker: _Worker) -> dict[str, Any]:
        raw = worker.conn.recv_bytes(MAX_HEADER_BYTES)
        try:
            header = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise _Broken("decoder crashed", "the decoding worker sent an unreadable answer", "crashed") from None
        if not isinstance(header, dict):
            raise _Broken("decoder crashed", "the decoding worker sent an unreadable answer", "crashed")
        return header

    def _array(self, worker: _Worker, path: str | Path, spec: Any) -> np.ndarray | None:
        """The array announced by ``spec``, read into new memory (checked against the budget first)."""
        if spec is None:
            return None
        dtype, shape = _array_spec(spec)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if self.guard is not None:
            self.guard.reserve(path, nbytes)
        array = np.empty(shape, dtype=dtype)
        try:
            _receive_into(worker.conn, _bytes_of(array), self.timeout_s)
        except TimeoutError:
            raise _Broken("decoder took too long", f"the decoded data did not arrive within {self.timeout_s:g} s",
                          "timeout") from None
        except (OSError, EOFError):
            raise _Broken("decoder crashed", self._crash_reason(), "crashed") from None
        return array

    def _settle(self) -> None:
        """Read the answer a stream left behind (its reader stopped early) and tell the worker to stop."""
        worker = self._worker
        if not self._pending or worker is None:
            self._pending = False
            return
        try:
            header = self._header(worker)
            if header.get("kind") == "item":  # only a stream sends a second item: it waits for a word
                dtype, shape = _array_spec(header["array"]) if header.get("array") is not None else (None, ())
                if dtype is not None:
                    _discard(worker.conn, int(np.prod(shape, dtype=np.int64)) * dtype.itemsize, self.timeout_s)
                worker.conn.send("stop")
        except (_Broken, OSError, EOFError, TimeoutError, KeyError, TypeError):
            self.close()  # a fresh worker for the next request

    def _crash_reason(self) -> str:
        ended = self._worker.how_it_ended() if self._worker is not None else "it went away"
        return f"the decoding worker process died on this file ({ended}); the scan went on with a new worker"


def _require_array(path: str | Path, array: np.ndarray | None) -> np.ndarray:
    if array is None:
        raise FileStopped(path, "cannot decode", "the decoding worker sent no data", "unreadable")
    return array


def _media_error(path: str | Path, header: dict[str, Any]) -> MediaError:
    """The worker's MediaError, rebuilt from its three plain strings."""
    parts = [str(header.get(k) or "")[:1000] for k in ("what", "why", "reason")]
    return MediaError(path, parts[0] or "cannot decode", parts[1], parts[2] or "unreadable")


def _array_spec(spec: Any) -> tuple[np.dtype, tuple[int, ...]]:
    """A checked (dtype, shape): a known dtype, at most 4 non-negative dimensions, at most MAX_ARRAY_BYTES."""
    try:
        name, shape = spec["dtype"], tuple(spec["shape"])
    except (KeyError, TypeError):
        raise _Broken("decoder crashed", "the decoding worker sent a malformed array", "crashed") from None
    ok = (name in ARRAY_DTYPES and len(shape) <= 4
          and all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < (1 << 40) for n in shape))
    dtype = np.dtype(name) if ok else None
    if dtype is None or int(np.prod(shape, dtype=np.float64)) * dtype.itemsize > MAX_ARRAY_BYTES:
        raise _Broken("decoder crashed", "the decoding worker announced an array that is not plausible", "crashed")
    return dtype, shape


def _receive_into(conn, view: memoryview, timeout_s: float) -> None:
    """Read exactly ``len(view)`` bytes from the worker into ``view``; TimeoutError if they stop coming."""
    if not _RAW_PIPE:
        data = conn.recv_bytes() if conn.poll(timeout_s) else None
        if data is None:
            raise TimeoutError
        if len(data) != len(view):
            raise EOFError
        view[:] = data
        return
    fd, got = conn.fileno(), 0
    while got < len(view):
        if not conn.poll(timeout_s):
            raise TimeoutError
        n = os.readv(fd, [view[got:]])
        if n == 0:
            raise EOFError
        got += n


def _discard(conn, nbytes: int, timeout_s: float) -> None:
    """Read and drop an array's bytes (a stream its reader left)."""
    if not _RAW_PIPE:
        if nbytes and conn.poll(timeout_s):
            conn.recv_bytes()
        return
    scratch = memoryview(bytearray(min(nbytes, 1 << 20) or 1))
    left = nbytes
    while left:
        take = min(left, len(scratch))
        _receive_into(conn, scratch[:take], timeout_s)
        left -= take


# the former name: probing is one of the decoder's operations
IsolatedProber = IsolatedDecoder
