"""Mouth, eye and gaze measures from 478 landmarks, free of head pose and face size.

Every measure is computed on landmarks in the neutral reference frame (pose removed, see
:mod:`unflat.face.pose`), and distances are divided by the distance between the outer eye
corners, so the same expression reads the same whether the face is near, far or turned.
"""

from __future__ import annotations

import numpy as np

# Inner-lip midpoints (upper, lower) and mouth corners.
MOUTH_INNER = (13, 14)
MOUTH_CORNERS = (78, 308)
# Outer eye corners: the unit of length.
EYE_OUTER = (33, 263)
# Per eye (subject's right, then left): corners (outer, inner) and three upper/lower lid pairs.
EYE_CORNERS = ((33, 133), (263, 362))
EYE_LIDS = (
    ((160, 144), (159, 145), (158, 153)),
    ((387, 373), (386, 374), (385, 380)),
)
IRIS_CENTRES = (468, 473)
# Lip contours, closed loops starting at the subject's right corner: inner (the mouth opening)
# and outer (the lips' edge).
INNER_LIP = (
    78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95,
)  # fmt: skip
OUTER_LIP = (
    61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146,
)  # fmt: skip


def _dist(points: np.ndarray, a: int, b: int) -> np.ndarray:
    return np.linalg.norm(points[..., a, :2] - points[..., b, :2], axis=-1)


def face_unit(points: np.ndarray) -> np.ndarray:
    """Distance between the outer eye corners (x, y only)."""
    return _dist(points, *EYE_OUTER)


def mouth_opening(points: np.ndarray) -> np.ndarray:
    """Inner-lip gap over the eye-corner distance: 0 closed, about 0.3-0.5 wide open."""
    return _dist(points, *MOUTH_INNER) / face_unit(points)


def mouth_width(points: np.ndarray) -> np.ndarray:
    """Corner-to-corner mouth width over the eye-corner distance (rises with a smile)."""
    return _dist(points, *MOUTH_CORNERS) / face_unit(points)


def eye_aspect_ratios(points: np.ndarray) -> np.ndarray:
    """Eye aspect ratio (mean lid gap over corner distance) per eye ``[...,2]``: ~0.3 open, <0.1
    closed."""
    ratios = []
    for corners, lids in zip(EYE_CORNERS, EYE_LIDS, strict=True):
        gap = sum(_dist(points, a, b) for a, b in lids) / len(lids)
        ratios.append(gap / _dist(points, *corners))
    return np.stack(ratios, axis=-1)


def gaze(points: np.ndarray) -> np.ndarray:
    """Iris centre in each eye's own frame ``[...,2,2]``: (along, across) the corner line.

    ``along`` is 0 at the eye's middle and +-0.5 at its corners (positive towards image right);
    ``across`` is the offset perpendicular to it (positive downwards), in eye widths.
    """
    out = []
    for (outer, inner), iris in zip(EYE_CORNERS, IRIS_CENTRES, strict=True):
        a, b = points[..., outer, :2], points[..., inner, :2]
        left = np.where((a[..., :1] <= b[..., :1]), a, b)
        right = np.where((a[..., :1] <= b[..., :1]), b, a)
        axis = right - left
        length = np.linalg.norm(axis, axis=-1, keepdims=True)
        unit = axis / length
        rel = points[..., iris, :2] - (left + right) / 2
        along = (rel * unit).sum(-1) / length[..., 0]
        across = (rel[..., 1] * unit[..., 0] - rel[..., 0] * unit[..., 1]) / length[..., 0]
        out.append(np.stack([along, across], axis=-1))
    return np.stack(out, axis=-2)
