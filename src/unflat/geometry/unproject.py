"""Unprojection: pixels with a depth back to 3D points in the camera frame.

The one convention for every capability: pixel ``(u, v)`` (column, row) is the square
``[u, u+1) x [v, v+1)`` and is sampled at its centre ``(u + 0.5, v + 0.5)`` in the pixel
coordinates of ``K``. The renderer (:mod:`unflat.splat.render`) samples there too, and
:meth:`unflat.types.DepthMap.intrinsics` and :meth:`unflat.types.Camera.pinhole` put the
principal point of the image centre at ``(W / 2, H / 2)``. Intrinsics written for the other
common convention (OpenCV's, where pixel ``u``'s centre is at ``u``) need ``0.5`` added to
``cx`` and ``cy`` first.

Points are in the OpenCV camera frame (x right, y down, z forward), and depth is z along the
optical axis (not the distance along the ray), in metres.
"""

from __future__ import annotations

import numpy as np


def unproject(depth: np.ndarray, K: np.ndarray) -> np.ndarray:
    """``float64 [H,W,3]``: every pixel centre of ``depth [H,W]`` at its depth (z).

    ``K`` is ``[[fx, s, cx], [0, fy, cy], [0, 0, 1]]`` (a skew ``s`` is inverted exactly):
    pixel ``(u, v)`` goes to ``z * K^-1 (u + 0.5, v + 0.5, 1)``. Invalid depths (NaN, inf,
    <= 0) give points as they are; filter them with the depth, not the points.
    """
    metres = np.asarray(depth)
    if metres.ndim != 2:
        raise ValueError(f"depth must be [H,W], got shape {metres.shape}")
    intrinsics = np.asarray(K, dtype=np.float64)
    if intrinsics.shape != (3, 3):
        raise ValueError(f"K must be 3x3, got shape {intrinsics.shape}")
    if intrinsics[1, 0] != 0 or intrinsics[2].tolist() != [0.0, 0.0, 1.0]:
        raise ValueError(
            f"K must be [[fx, s, cx], [0, fy, cy], [0, 0, 1]], got {intrinsics.tolist()}"
        )
    fx, skew, cx = intrinsics[0]
    fy, cy = intrinsics[1, 1:]
    height, width = metres.shape
    rows = (np.arange(height) + 0.5 - cy) / fy  # y / z of each row's centres
    columns = np.arange(width) + 0.5 - cx
    points = np.empty((height, width, 3), dtype=np.float64)
    if skew == 0:
        points[..., 0] = (columns / fx)[None, :] * metres
    else:  # x / z = (u + 0.5 - cx - s * y / z) / fx
        points[..., 0] = (columns[None, :] - skew * rows[:, None]) / fx * metres
    points[..., 1] = rows[:, None] * metres
    points[..., 2] = metres
    return points
