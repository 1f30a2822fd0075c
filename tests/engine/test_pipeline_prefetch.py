"""The read-ahead queue: input order, errors handed back, never more than ``depth`` items ahead."""

from __future__ import annotations

import threading

import pytest

from deepfake_gui.engine.prefetch import prefetch


@pytest.mark.parametrize("depth", [0, 1, 3])
def test_order_and_errors(depth: int) -> None:
    def work(i: int) -> int:
        if i == 4:
            raise ValueError("bad item 4")
        return i * i

    out = list(prefetch(work, range(8), depth))
    assert [item for item, _ in out] == list(range(8))
    assert [v for i, v in out if i != 4] == [i * i for i in range(8) if i != 4]
    assert isinstance(out[4][1], ValueError) and "bad item 4" in str(out[4][1])


@pytest.mark.parametrize("depth", [1, 2, 4])
def test_the_queue_never_holds_more_than_depth_finished_items(depth: int) -> None:
    lock = threading.Lock()
    started: list[int] = []

    def work(i: int) -> int:
        with lock:
            started.append(i)
        return i

    for consumed, (item, _) in enumerate(prefetch(work, range(20), depth), start=1):
        with lock:
            ahead = len(started) - consumed  # decoded items waiting beyond the one being used
        assert ahead <= depth, (item, ahead)


def test_closing_the_generator_stops_the_work() -> None:
    seen: list[int] = []
    gen = prefetch(seen.append, range(100), 2)
    next(gen)
    gen.close()
    assert len(seen) <= 4
