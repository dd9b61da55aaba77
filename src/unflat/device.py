"""Device and dtype choice: cuda > mps > cpu, the precision names the CLI accepts, and threads.

Threads: the large models (Depth Pro, SHARP) split each operation across every core. The face
nets' operations are too small to split: their threads spend more time waiting for one another
than working, and when another process holds a core each operation waits for the slowest thread
(measured on 2 cores: face tracking 66 ms per frame with 2 threads, 52 with 1; with a busy
process beside it 161 against 64). Per-frame face work therefore runs with ``small_work``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import torch

from unflat.errors import DeviceError

PRECISIONS: dict[str, torch.dtype] = {
    "fp32": torch.float32,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}


def pick_device(name: str = "auto") -> torch.device:
    """Resolve ``auto|cpu|cuda|mps`` (or ``cuda:N``) to an available torch device."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError(
            f"device {name!r} was asked for but CUDA is not available",
            "install a CUDA build of PyTorch or pass --device cpu",
        )
    if name == "mps" and not (
        getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    ):
        raise DeviceError("device 'mps' is not available", "pass --device cpu or --device auto")
    if name not in ("cpu", "mps") and not name.startswith("cuda"):
        raise DeviceError(f"unknown device {name!r}", "use auto, cpu, cuda or mps")
    return torch.device(name)


PRECISION_NAMES = (*PRECISIONS, "int8", "int8-fp32")


def check_precision(precision: str, device: torch.device) -> None:
    """Refuse a precision that does not exist or cannot run on ``device``, before any loading.

    ``int8`` (int8 transformer matmuls, bf16 convolutions) is a CPU path; ``fp16`` a GPU one.
    """
    if precision in ("int8", "int8-fp32"):
        if device.type != "cpu":
            raise DeviceError(
                "the int8 path runs on the CPU only", "use --precision fp16 or bf16 on a GPU"
            )
        return
    pick_dtype(precision, device)


def pick_dtype(precision: str, device: torch.device) -> torch.dtype:
    """Resolve a precision name; fp16 on the CPU is refused: its kernels are slow or missing."""
    if precision not in PRECISIONS:
        raise DeviceError(f"unknown precision {precision!r}", "use fp32, bf16, fp16 or int8")
    dtype = PRECISIONS[precision]
    if dtype == torch.float16 and device.type == "cpu":
        raise DeviceError(
            "fp16 is not supported on the CPU", "use --precision bf16 or fp32 on the CPU"
        )
    return dtype


P = ParamSpec("P")
R = TypeVar("R")


def small_work(function: Callable[P, R]) -> Callable[P, R]:
    """Run ``function`` with one intra-op thread (torch), restoring the caller's count after.

    For per-frame work on small networks; see the module docstring for why and the numbers.
    Nested calls keep one thread; setting the count costs well under a microsecond.
    """

    @functools.wraps(function)
    def single_threaded(*args: P.args, **kwargs: P.kwargs) -> R:
        before = torch.get_num_threads()
        if before == 1:
            return function(*args, **kwargs)
        torch.set_num_threads(1)
        try:
            return function(*args, **kwargs)
        finally:
            torch.set_num_threads(before)

    return single_threaded


class ThreadTuner:
    """Picks, for a step repeated many times (one video frame), the thread count that runs it
    fastest on the machine as it is now.

    A parallel step waits for its slowest thread: on a shared machine where another process
    holds a core, two threads take longer than one. So the tuner times ``trials`` steps with
    each candidate count, keeps the fastest, and tries again every ``every`` steps (the
    neighbour may have gone). It sets torch's, numba's and OpenCV's thread counts.
    """

    def __init__(self, *, trials: int = 2, every: int = 100) -> None:
        import os

        most = max(1, min(torch.get_num_threads(), os.cpu_count() or 1))
        self.candidates = sorted({most, 1}, reverse=True)
        self.trials, self.every = trials, every
        self.chosen = most
        self._before = torch.get_num_threads()
        self._before_cv = _cv2_threads()
        self._step = 0
        self._times: dict[int, list[float]] = {}

    def _set(self, count: int) -> None:
        torch.set_num_threads(count)
        _cv2_threads(count)
        try:
            import numba

            numba.set_num_threads(min(count, numba.config.NUMBA_NUM_THREADS))
        except ImportError:  # pragma: no cover - numba is a dependency
            pass

    def restore(self) -> None:
        """Put the thread counts back as they were before the tuner."""
        self._set(self._before)
        _cv2_threads(self._before_cv)

    def run(self, step: Callable[[], R]) -> R:
        """Run ``step`` with the thread count the tuner picks for it now."""
        import time

        phase = self._step % self.every
        trying = phase < self.trials * len(self.candidates)
        count = self.candidates[phase // self.trials] if trying else self.chosen
        self._set(count)
        start = time.perf_counter()
        result = step()
        if trying:
            self._times.setdefault(count, []).append(time.perf_counter() - start)
            if phase == self.trials * len(self.candidates) - 1:
                self.chosen = min(self._times, key=lambda c: min(self._times[c]))
                self._times.clear()
        self._step += 1
        return result


def _cv2_threads(count: int | None = None) -> int:
    """OpenCV's thread count (set it first when ``count`` is given); 0 without OpenCV."""
    try:
        import cv2
    except ImportError:  # pragma: no cover - opencv is a dependency
        return 0
    if count is not None:
        cv2.setNumThreads(count)
    return int(cv2.getNumThreads())
