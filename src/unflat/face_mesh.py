"""The 478-point face mesh every capability shares: its named points and measures over them.

MediaPipe's 468-point face mesh with its eye contours refined by the iris model, then the
subject's right iris (468-472: centre, then 4 rim points) and left iris (473-477); "right" is the
subject's right, image left. Landmark arrays are ``[..., N, >=2]`` (x, y, any further column
ignored); the measures read the same at any face size because they divide by a distance between
the eyes.

The pose-free measures (:func:`mouth_opening`, :func:`mouth_width`, :func:`eye_aspect_ratios`,
:func:`gaze`) expect landmarks with the head pose removed (``FaceTrack.canonical``), so the same
expression reads the same whether the face is near, far or turned.
"""

from __future__ import annotations

import numpy as np

#: Points of a refined mesh: 468 mesh points, then 5 per iris.
LANDMARKS = 478
MESH_POINTS = 468
IRISES = (range(468, 473), range(473, 478))
IRIS_CENTRES = (IRISES[0][0], IRISES[1][0])
# Inner-lip midpoints (upper, lower) and the mouth's inner corners.
MOUTH_INNER = (13, 14)
MOUTH_CORNERS = (78, 308)
# Lips count as closed up to this inner-lip gap, in outer-eye-corner distances. That distance is
# about 9 cm on an adult (8.9 reference units on MediaPipe's canonical face), so 0.03 is under
# 3 mm: lips that touch, read through the mesh's own imprecision at the lip line.
LIPS_CLOSED = 0.03
# Outer eye corners: the unit of length.
EYE_OUTER = (33, 263)
# Per eye (subject's right, then left): corners (outer, inner) and three upper/lower lid pairs.
EYE_CORNERS = ((33, 133), (263, 362))
EYE_LIDS = (
    ((160, 144), (159, 145), (158, 153)),
    ((387, 373), (386, 374), (385, 380)),
)
# Each eye's middle upper and lower lid point.
EYE_MIDDLE_LIDS = (EYE_LIDS[0][1], EYE_LIDS[1][1])
# The face's outline, clockwise from the forehead's top (MediaPipe's FACE_OVAL).
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
# The jaw line from the subject's right ear round the chin to the left ear.
JAW_LINE = (
    127, 234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152,
    377, 400, 378, 379, 365, 397, 288, 361, 323, 454, 356,
)  # fmt: skip
# Each brow's upper and lower edge (subject's right, then left), from its outer end inwards.
BROW_UPPER = ((70, 63, 105, 66, 107), (300, 293, 334, 296, 336))
BROW_LOWER = ((46, 53, 52, 65, 55), (276, 283, 282, 295, 285))
# Lip contours, closed loops starting at the subject's right corner: inner (the mouth opening)
# and outer (the lips' edge).
INNER_LIP = (
    78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95,
)  # fmt: skip
OUTER_LIP = (
    61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146,
)  # fmt: skip
# The inner contour's halves, corner to corner, subject's right to left (MediaPipe FACEMESH_LIPS).
INNER_UPPER_LIP = INNER_LIP[:11]
INNER_LOWER_LIP = (INNER_LIP[0], *INNER_LIP[:9:-1])
# The outer contour's corners (subject's right, left).
OUTER_MOUTH_CORNERS = (OUTER_LIP[0], OUTER_LIP[10])
# Mesh indices that the iris model's 71 eye-contour points replace, for the subject's right eye;
# the left eye's list follows in the same order (MediaPipe's UpdateFaceLandmarksCalculator).
EYE_CONTOUR_INDICES = (
    (33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173, 130, 25, 110,
     24, 23, 22, 26, 112, 243, 247, 30, 29, 27, 28, 56, 190, 226, 31, 228, 229, 230, 231, 232,
     233, 244, 113, 225, 224, 223, 222, 221, 189, 35, 124, 46, 53, 52, 65, 143, 111, 117, 118,
     119, 120, 121, 128, 245, 156, 70, 63, 105, 66, 107, 55, 193),
    (263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398, 359, 255,
     339, 254, 253, 252, 256, 341, 463, 467, 260, 259, 257, 258, 286, 414, 446, 261, 448, 449,
     450, 451, 452, 453, 464, 342, 445, 444, 443, 442, 441, 413, 265, 353, 276, 283, 282, 295,
     372, 340, 346, 347, 348, 349, 350, 357, 465, 383, 300, 293, 334, 296, 336, 285, 417),
)  # fmt: skip
# The first 16 of each eye's contour indices are its eyelid points (corner, lower lid, corner,
# upper lid); the iris centre of a neutral face sits at their mean.
EYE_LID_POINTS = 16


def landmarks_xy(points: np.ndarray) -> np.ndarray:
    """x, y of landmarks ``[..., N, >=2]`` as float64; anything else is a ``ValueError``."""
    array = np.asarray(points, dtype=np.float64)
    if array.ndim < 2 or array.shape[-1] < 2:
        raise ValueError(f"expected landmarks [..., N, >=2], got shape {list(array.shape)}")
    return array[..., :2]


def interocular(points: np.ndarray) -> np.ndarray:
    """Inter-ocular distance of landmarks ``[..., N, >=2]``, one per set: ``[...]``.

    Between the iris centres (468, 473) when there are at least 478 points, else between the
    outer eye corners (33, 263).
    """
    xy = landmarks_xy(points)
    i, j = IRIS_CENTRES if xy.shape[-2] >= LANDMARKS else EYE_OUTER
    if xy.shape[-2] <= j:
        raise ValueError(f"need at least {j + 1} landmarks for the eyes, got {xy.shape[-2]}")
    return np.linalg.norm(xy[..., i, :] - xy[..., j, :], axis=-1)


def _dist(points: np.ndarray, a: int, b: int) -> np.ndarray:
    return np.linalg.norm(points[..., a, :2] - points[..., b, :2], axis=-1)


def face_unit(points: np.ndarray) -> np.ndarray:
    """Distance between the outer eye corners (x, y only)."""
    return _dist(points, *EYE_OUTER)


def mouth_opening(points: np.ndarray) -> np.ndarray:
    """Inner-lip gap over the eye-corner distance: 0 closed, about 0.3-0.5 wide open."""
    return _dist(points, *MOUTH_INNER) / face_unit(points)


def lip_gap(points: np.ndarray) -> np.ndarray:
    """Inner-lip gap *down the face* over the eye-corner distance: like :func:`mouth_opening`,
    but signed (below 0 when the lip midpoints cross) and blind to sideways offsets of the lips,
    so lips can be opened or closed to a given value along the jaw's path."""
    upper, lower = MOUTH_INNER
    return (points[..., lower, 1] - points[..., upper, 1]) / face_unit(points)


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
