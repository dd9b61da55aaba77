"""Piecewise-affine image warping over a triangle mesh, with back-to-front occlusion.

The animator moves mesh vertices (the 468 face points plus rings around the head and fixed points
on the image border); every output pixel is mapped back into the source image through the affine
map of the output triangle that covers it. Triangles share vertices, so the warp is continuous:
no seams between the face, the hair that moves with it and the background that stays.
Triangles are drawn far to near, so a turned head's near cheek covers its far side.
"""

from __future__ import annotations

import cv2
import numpy as np

from unflat.face.raster import fill_backward_maps

# Sub-pixel precision of the triangle rasteriser (OpenCV ``shift`` bits: 1/16 px).
_SHIFT = 4


def delaunay(points: np.ndarray) -> np.ndarray:
    """Delaunay triangles ``int32 [M,3]`` over ``points`` [N,2] (indices into ``points``)."""
    pts = np.asarray(points, dtype=np.float64)
    lo = pts.min(axis=0) - 10
    hi = pts.max(axis=0) + 10
    subdiv = cv2.Subdiv2D((int(lo[0]), int(lo[1]), int(hi[0] - lo[0]) + 1, int(hi[1] - lo[1]) + 1))
    # Subdiv2D returns vertex ids (offset by its 4 virtual outer vertices) when inserted one by one.
    ids = [subdiv.insert((float(x), float(y))) for x, y in pts]
    lookup = {vid: i for i, vid in enumerate(ids)}
    triangles = []
    for x0, y0, x1, y1, x2, y2 in subdiv.getTriangleList():
        tri = []
        for x, y in ((x0, y0), (x1, y1), (x2, y2)):
            vid, _ = subdiv.findNearest((x, y))
            tri.append(lookup.get(vid, -1))
        if min(tri) >= 0 and len(set(tri)) == 3:
            triangles.append(tri)
    return np.unique(np.sort(np.array(triangles, dtype=np.int32), axis=1), axis=0)


def affine_maps(src: np.ndarray, dst: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Per-triangle 2x3 maps from destination (output) to source coordinates ``[M,2,3]``.

    Degenerate output triangles (zero area: a closed eye) get the identity; they cover no pixel.
    """
    d = np.concatenate([dst[triangles], np.ones((len(triangles), 3, 1))], axis=2)  # [M,3,3]
    s = src[triangles]  # [M,3,2]
    det = np.linalg.det(d)
    ok = np.abs(det) > 1e-6
    out = np.zeros((len(triangles), 2, 3))
    out[:, 0, 0] = out[:, 1, 1] = 1.0
    if ok.any():
        # rows of d @ A.T = s  ->  A.T = inv(d) @ s
        out[ok] = np.transpose(np.linalg.solve(d[ok], s[ok]), (0, 2, 1))
    return out


def triangle_index_map(
    dst: np.ndarray, triangles: np.ndarray, order: np.ndarray, shape: tuple[int, int]
) -> np.ndarray:
    """``int32 [H,W]``: which triangle covers each pixel (-1 none), drawn in ``order``."""
    index = np.full(shape, -1, dtype=np.int32)
    fixed = np.round(dst * (1 << _SHIFT)).astype(np.int32)
    for k in order:
        cv2.fillConvexPoly(index, fixed[triangles[k]], int(k), lineType=cv2.LINE_8, shift=_SHIFT)
    return index


def clip_box(
    box: tuple[float, float, float, float], shape: tuple[int, int]
) -> tuple[int, int, int, int]:
    """A box (x0, y0, x1, y1) rounded outwards to whole pixels and clipped to ``shape`` (h, w)."""
    height, width = shape
    x0, y0, x1, y1 = box
    return (
        max(int(np.floor(x0)), 0),
        max(int(np.floor(y0)), 0),
        min(int(np.ceil(x1)), width),
        min(int(np.ceil(y1)), height),
    )


def backward_map(
    src: np.ndarray,
    dst: np.ndarray,
    triangles: np.ndarray,
    box: tuple[int, int, int, int],
    *,
    depth: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``cv2.remap`` maps for the pixels of ``box`` (x0, y0, x1, y1; see :func:`clip_box`).

    float32 ``[y1-y0, x1-x0]`` x and y source coordinates of the mesh moved from ``src`` to
    ``dst``; pixels no triangle covers map to themselves. ``depth`` (per vertex, larger =
    farther) orders overlapping triangles far to near; without it their order is kept. Callers
    pass the box of every triangle that moves, so the rest of a large image costs nothing.
    """
    x0, y0, x1, y1 = box
    map_x, map_y = np.meshgrid(
        np.arange(x0, max(x1, x0), dtype=np.float32), np.arange(y0, max(y1, y0), dtype=np.float32)
    )
    if x1 <= x0 or y1 <= y0:
        return map_x, map_y
    if depth is None:
        order = np.arange(len(triangles))
    else:
        order = np.argsort(-depth[triangles].mean(axis=1), kind="stable")
    corners = np.asarray(dst, dtype=np.float64)[triangles]
    fill_backward_maps(map_x, map_y, corners, affine_maps(src, dst, triangles), order, (x0, y0))
    return map_x, map_y


def remap(image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    """Sample ``image`` at the maps (bilinear, edges reflected)."""
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
