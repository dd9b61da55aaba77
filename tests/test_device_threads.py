"""``device.small_work``: per-frame face work runs on one intra-op thread, then restores."""

from __future__ import annotations

import pytest
import torch

from unflat.device import small_work


def test_small_work_runs_single_threaded_and_restores() -> None:
    seen = []

    @small_work
    def work(value: int) -> int:
        seen.append(torch.get_num_threads())
        return value * 2

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert work(21) == 42 and seen == [1]
        assert torch.get_num_threads() == 2
        with pytest.raises(ZeroDivisionError):
            small_work(lambda: 1 / 0)()
        assert torch.get_num_threads() == 2  # restored after an exception too
    finally:
        torch.set_num_threads(before)


def test_the_face_tracker_runs_single_threaded(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    tracking = importlib.import_module("unflat.face.track")
    from unflat.face.portrait import prepare_portrait

    seen = []

    def spy(frame: object) -> object:
        seen.append(torch.get_num_threads())
        raise KeyboardInterrupt  # stop here: only the thread count matters

    monkeypatch.setattr(tracking, "check_image", spy)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with pytest.raises(KeyboardInterrupt):
            tracking.FaceTracker().update(None, 0.0)  # type: ignore[arg-type]
        assert seen == [1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert prepare_portrait.__wrapped__ is not None  # type: ignore[attr-defined]
