"""Short overlapping frames of a signal, the unit every sound measure works on."""

from __future__ import annotations

import numpy as np


def framed(samples: np.ndarray, size: int, hop: int) -> np.ndarray:
    """``[count, size]`` frames every ``hop`` samples (a view; a signal shorter than one frame is
    zero-padded to one)."""
    if len(samples) < size:
        samples = np.pad(samples, (0, size - len(samples)))
    return np.lib.stride_tricks.sliding_window_view(samples, size)[::hop]
