"""A bounded, ordered read-ahead: the next files are probed (hashed) while the current one is scored.

Why threads: hashing (hashlib) and PyAV/Pillow decoding release the GIL, so a
worker thread overlaps them with inference at no extra process cost. Why
bounded: at most ``depth`` results wait in the queue, so memory does not grow
with the number of files. Results come back in input order; an exception
raised by the work is returned as the value, for the caller to report.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def prefetch(work: Callable[[T], R], items: Iterable[T], depth: int = 2,
             workers: int = 1) -> Iterator[tuple[T, R | BaseException]]:
    """Yield (item, work(item) or the exception it raised), in order, with at most ``depth`` run ahead.

    ``depth`` 0 runs the work inline (no thread). Closing the generator (a
    cancelled scan) drops what was not started and waits for nothing.
    """
    if depth <= 0:
        for item in items:
            yield item, _call(work, item)
        return
    pending: deque[tuple[T, Future]] = deque()
    source = iter(items)
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="layerscope-prefetch")
    try:
        for item in source:
            pending.append((item, pool.submit(_call, work, item)))
            if len(pending) > depth:
                done_item, future = pending.popleft()
                yield done_item, future.result()
        while pending:
            done_item, future = pending.popleft()
            yield done_item, future.result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _call(work: Callable[[T], R], item: T) -> R | BaseException:
    try:
        return work(item)
    except Exception as exc:  # handed to the consumer, which decides what an error means
        return exc
