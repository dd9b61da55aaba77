"""The thread tuner keeps the thread count that runs a repeated step fastest."""

from __future__ import annotations

import time

import torch

from unflat.device import ThreadTuner


def test_the_tuner_keeps_the_faster_count_and_restores_the_old_one() -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        tuner = ThreadTuner(trials=2, every=10)
        assert tuner.candidates == [2, 1] or tuner.candidates == [1]
        seen = []

        def step() -> int:
            count = torch.get_num_threads()
            seen.append(count)
            time.sleep(0.02 if count > 1 else 0.001)  # two threads lose here (a busy neighbour)
            return count

        results = [tuner.run(step) for _ in range(10)]
        if tuner.candidates == [2, 1]:
            assert seen[:4] == [2, 2, 1, 1]  # two trials of each
            assert tuner.chosen == 1 and results[4:] == [1] * 6
            tuner.run(step)  # step 10: a new round of trials begins
            assert seen[-1] == 2
        tuner.restore()
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
