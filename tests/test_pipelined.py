"""Frames rendered side by side: in order, the same results, errors where they belong."""

from __future__ import annotations

import threading
import time

import pytest

from unflat.device import frame_workers, pipelined


def test_workers_follow_the_cores() -> None:
    assert [frame_workers(c) for c in (1, 2, 3, 8, 16, 64)] == [1, 1, 1, 4, 4, 4]


def test_results_come_in_order_from_several_threads() -> None:
    names = set()

    def slow_square(x: int) -> int:
        names.add(threading.current_thread().name)
        time.sleep(0.02 * (x % 3))  # later items often finish first
        return x * x

    assert list(pipelined(slow_square, range(12), workers=3)) == [x * x for x in range(12)]
    assert len(names) > 1 and all(n.startswith("frame") for n in names)


def test_items_are_read_no_further_than_twice_the_workers_ahead() -> None:
    read = []

    def items():
        for i in range(100):
            read.append(i)
            yield i

    results = pipelined(lambda x: x, items(), workers=2)
    assert next(results) == 0
    assert len(read) == 4  # 2 workers, 2 each in flight
    results.close()


def test_an_error_is_raised_at_its_item() -> None:
    def fail_at_three(x: int) -> int:
        if x == 3:
            raise ValueError("three")
        return x

    results = pipelined(fail_at_three, range(10), workers=2)
    assert [next(results) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(ValueError, match="three"):
        next(results)
