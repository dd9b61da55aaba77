"""The warped person over what lies behind it, in one pass over the pixels.

Behind the person is the portrait itself where nothing moved and the background plate where the
person has moved away: the plate shows in proportion to how far the warp moved each pixel (fully
after ``settle`` pixels) and to how much of the person the portrait held there. Written as one
compiled loop because the same sum in numpy took about ten passes over full-size float arrays
(30-40 ms per 512x512 frame on a 2-core machine, as much as the warp itself); here it reads each
input once. One thread: frames are many and small, so they are better spread over cores whole
(see :mod:`unflat.device`), and ``nogil`` lets another thread encode meanwhile.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _composite(
    out: np.ndarray,
    warped: np.ndarray,
    alpha: np.ndarray,
    still: np.ndarray,
    plate: np.ndarray,
    foreground: np.ndarray,
    map_x: np.ndarray,
    map_y: np.ndarray,
    x0: int,
    y0: int,
    settle: float,
) -> None:
    height, width = alpha.shape
    per_pixel = np.float32(1.0 / settle)
    one = np.float32(1.0)
    for y in range(height):
        row_y = np.float32(y + y0)
        for x in range(width):
            dx = map_x[y, x] - np.float32(x + x0)
            dy = map_y[y, x] - row_y
            share = min(np.sqrt(dx * dx + dy * dy) * per_pixel, one) * foreground[y, x]
            a = alpha[y, x]
            for c in range(3):
                s = np.float32(still[y, x, c])
                back = s + share * (np.float32(plate[y, x, c]) - s)
                out[y, x, c] = a * np.float32(warped[y, x, c]) + (one - a) * back


def composite(
    out: np.ndarray,
    warped: np.ndarray,
    alpha: np.ndarray,
    still: np.ndarray,
    plate: np.ndarray,
    foreground: np.ndarray,
    maps: tuple[np.ndarray, np.ndarray],
    origin: tuple[int, int],
    settle: float,
) -> None:
    """Write into ``out`` (float32 ``[h,w,3]``, e.g. a view of the frame) the person
    ``warped`` (uint8 ``[h,w,3]``) with weight ``alpha`` (float32 ``[h,w]``) over its
    background: ``still`` (the portrait, uint8), moving towards ``plate`` (uint8) by
    ``foreground`` (float32, how much of the person the portrait holds) times how far the
    backward ``maps`` (float32 source x and y of each pixel; ``origin`` is the box's top-left
    corner in the image) moved the pixel, in units of ``settle`` pixels, at most 1.
    """
    map_x, map_y = maps
    shape = alpha.shape
    for name, array in (("warped", warped), ("still", still), ("plate", plate)):
        if array.shape != (*shape, 3):
            raise ValueError(f"{name} has shape {array.shape}, not {(*shape, 3)}")
    if out.shape != (*shape, 3) or foreground.shape != shape or map_x.shape != shape:
        raise ValueError("out, foreground and the maps must match alpha's shape")
    if map_y.shape != shape:
        raise ValueError("map_y must match alpha's shape")
    _composite(out, warped, alpha, still, plate, foreground, map_x, map_y,
               int(origin[0]), int(origin[1]), float(settle))  # fmt: skip
