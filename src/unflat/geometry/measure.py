"""Distances in metres between pixels of a photo with metric depth.

A pixel ``(x, y)`` (column, row, from the top-left pixel's centre at ``(0, 0)``; fractions
allowed) is unprojected as in :mod:`unflat.geometry.unproject`: through the point
``(x + 0.5, y + 0.5)`` of ``K``'s pixel frame, to its depth z. The depth is *robust*: the
median of the valid depths in a small square around the pixel, so a point a pixel away from a
depth edge, or on a noisy patch, does not jump; the pixel itself must have a valid depth (a
point on the sky or a hole has none).
"""

from __future__ import annotations

import math

import numpy as np

from unflat.errors import InputError

#: Half the side of the square whose median depth a point takes: 5x5 pixels.
DEPTH_WINDOW = 2


def check_pixel(x: float, y: float, width: int, height: int) -> None:
    """Raise ``InputError`` unless ``(x, y)`` lies in a ``width`` x ``height`` image."""
    if not (math.isfinite(x) and math.isfinite(y) and 0 <= x <= width - 1 and 0 <= y <= height - 1):
        raise InputError(
            f"pixel {x:g},{y:g} is outside the {width}x{height} image",
            hint=f"give X from 0 to {width - 1} and Y from 0 to {height - 1} (from the top-left)",
        )


def _valid(values: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.isfinite(values) & (values > 0)


def robust_depth(depth: np.ndarray, x: float, y: float, window: int = DEPTH_WINDOW) -> float:
    """The median valid depth of the ``(2 window + 1)²`` pixels around pixel ``(x, y)``
    (``window=0``: the pixel's own depth).

    ``InputError`` when the pixel is outside ``depth`` or has no valid depth itself.
    """
    height, width = depth.shape
    check_pixel(x, y, width, height)
    column, row = math.floor(x + 0.5), math.floor(y + 0.5)  # the pixel holding (x, y)
    if not _valid(np.asarray(depth[row, column])):
        raise InputError(
            f"pixel {x:g},{y:g} has no valid depth (sky, a hole or the edge of the depth map)",
            hint="pick a pixel on a surface",
        )
    patch = depth[
        max(0, row - window) : row + window + 1, max(0, column - window) : column + window + 1
    ]
    return float(np.median(patch[_valid(patch)]))


def point_at(
    depth: np.ndarray, K: np.ndarray, x: float, y: float, window: int = DEPTH_WINDOW
) -> np.ndarray:
    """The 3D point (metres, camera frame: x right, y down, z forward) of pixel ``(x, y)``."""
    z = robust_depth(depth, x, y, window)
    intrinsics = np.asarray(K, dtype=np.float64)
    ray = np.linalg.solve(intrinsics, np.array([x + 0.5, y + 0.5, 1.0]))
    return ray / ray[2] * z


def distance(
    depth: np.ndarray,
    K: np.ndarray,
    first: tuple[float, float],
    second: tuple[float, float],
    window: int = DEPTH_WINDOW,
) -> float:
    """The distance in metres between the 3D points of two pixels (``window=0``: exact pixel)."""
    a = point_at(depth, K, *first, window=window)
    b = point_at(depth, K, *second, window=window)
    return float(np.linalg.norm(a - b))
