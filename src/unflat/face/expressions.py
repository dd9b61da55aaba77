"""Geometric expression deformers on the canonical face, for procedural motion.

Each function returns landmark *offsets* ``float32 [...,478,3]`` from the neutral
:func:`~unflat.face.canonical.reference_face` (reference units, about centimetres; x right,
y down, z away from the camera) for an ``amount`` that is nominally in ``[0,1]``: a float gives
``[478,3]``, an array of amounts gives one face per amount (``[*amount.shape,478,3]``), which is
how :mod:`unflat.face.presets` builds a whole clip at once.

The weights that say how much each point takes part are smooth functions of its position on the
reference face (distances to the mouth line, the mouth corners, the brows), so neighbouring
points move alike and the skin does not tear; the only intended discontinuity is the mouth slit,
where the lips part. The irises (468-477) are no part of any deformer: they ride with their
eyelids (the mean offset of the eye's lid contour, zero for every deformer here), and where they
look is the motion's ``gaze``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from unflat.face.canonical import reference_face
from unflat.face_mesh import (
    EYE_CONTOUR_INDICES,
    EYE_LID_POINTS,
    INNER_LOWER_LIP,
    INNER_UPPER_LIP,
    IRISES,
    LANDMARKS,
    MESH_POINTS,
)
from unflat.face_mesh import OUTER_MOUTH_CORNERS as MOUTH_CORNERS

# --- jaw_open: a rotation of the lower face about the temporomandibular joints.
# Hinge axis parallel to x, a little above the nose-bottom level (y = 2.1) and well behind the
# face's side edge (z = 2.4 at the ears): about where the condyles sit.
JAW_HINGE_YZ = (1.6, 5.0)
# Degrees at amount 1: the inner-lip gap then reads ~0.40 of the outer-eye-corner distance.
JAW_MAX_DEGREES = 18.0
# Softness (cm) of the upper/lower split at the mouth line, and its growth per cm beyond the
# mouth corners (up to 1.5 cm beyond): a crisp slit between the lips, a gentle stretch over the
# cheeks, and the jaw line again carried nearly whole.
_JAW_SOFTNESS = 0.06
_JAW_SOFTNESS_GROWTH = 0.7
_JAW_SOFTNESS_REACH = 1.5
# Beyond the mouth corners the split rises to this height at the face's side edge.
_JAW_RAMUS_TOP_Y = 2.6
_FACE_HALF_WIDTH = 7.7
# Nothing above this band moves with the jaw (cheekbones, eyes, ears): y from 1.0 to 2.6.
_JAW_TOP = (1.0, 2.6)
# The lips stay joined at the corners: on the lower lip the jaw's share falls towards them, to
# this fraction at the corner, from this fraction of the mouth's half-width outwards, so the
# opening is lens-shaped rather than a box. Below the lip (cm) the chin takes its full share.
_CORNER_SHARE = 0.3
_CORNER_TAPER_FROM = 0.35
_LIP_BAND = 0.9
_CORNER_FADE = 1.5

# --- smile: mouth corners out and up, cheeks up, lips thinner.
SMILE_CORNER_SHIFT = (0.45, -0.38, 0.15)  # outward, up, back (cm at amount 1)
_SMILE_CORNER_SIGMA = 1.1
SMILE_CHEEK_RAISE = 0.25  # cm
_SMILE_CHEEKS = ((-3.9, 1.6, -4.0), (3.9, 1.6, -4.0))
_SMILE_CHEEK_SIGMA = 1.4
SMILE_LIP_THINNING = 0.18  # fraction by which the lips' height shrinks

# --- brow_raise: brows and forehead up.
BROW_RAISE = 0.9  # cm at amount 1
_BROW_FADE_Y = (-3.0, -4.4)  # 0 at the upper lid, 1 at the brows' lower edge
_GLABELLA_SHARE = 0.5  # between the brows, at brow height, the skin moves this share
_FOREHEAD_TOP_SHARE = 0.6  # the top of the forehead moves this share of the brows' rise

# --- lips_pucker: corners in, lips forward.
PUCKER_CONTRACTION = 0.3  # share of a point's distance to the mouth's middle, at the corners
PUCKER_FORWARD = 0.55  # cm towards the camera at the lips
_PUCKER_SIGMA_XY = (2.0, 1.0)


def _smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    u = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def _face() -> np.ndarray:
    return reference_face().astype(np.float64)


@lru_cache(maxsize=1)
def _mouth_line() -> tuple[np.ndarray, np.ndarray, float]:
    """The mouth slit as y(x): midway between the inner lips, plus the corners' half-width."""
    face = _face()
    upper, lower = face[list(INNER_UPPER_LIP)], face[list(INNER_LOWER_LIP)]
    xs = (upper[:, 0] + lower[:, 0]) / 2
    ys = (upper[:, 1] + lower[:, 1]) / 2
    return xs, ys, float(np.abs(xs).max())


def _mouth_line_y(x: np.ndarray) -> np.ndarray:
    xs, ys, _ = _mouth_line()
    return np.interp(x, xs, ys)  # constant beyond the corners


def _jaw_line_y(x: np.ndarray) -> np.ndarray:
    """The upper edge of what the jaw carries: the mouth slit, then rising from the corners
    towards the jaw joints, like the mandible's ramus."""
    _, _, half_width = _mouth_line()
    corner_y = float(_mouth_line_y(np.array(half_width)))
    beyond = np.maximum(np.abs(x) - half_width, 0.0)
    rise = (corner_y - _JAW_RAMUS_TOP_Y) / (_FACE_HALF_WIDTH - half_width)
    return _mouth_line_y(x) - rise * beyond


def _irises_follow_lids(offsets: np.ndarray) -> np.ndarray:
    """Irises take their eye's mean lid-contour offset (zero when the eyes do not move)."""
    for lids, iris in zip(EYE_CONTOUR_INDICES, IRISES, strict=True):
        mean = offsets[..., list(lids[:EYE_LID_POINTS]), :].mean(axis=-2, keepdims=True)
        offsets[..., list(iris), :] = mean
    return offsets


def _scaled(amount: float | np.ndarray, unit: np.ndarray) -> np.ndarray:
    """Offsets linear in ``amount``: ``amount * unit`` with the amount's shape in front."""
    a = np.asarray(amount, dtype=np.float32)
    return (a[..., None, None] * unit).astype(np.float32)


@lru_cache(maxsize=1)
def jaw_weights() -> np.ndarray:
    """``[478]`` how much each point follows the jaw: 1 on the lower lip and chin, 0 above."""
    face = _face()
    x, y = face[:, 0], face[:, 1]
    _, _, half_width = _mouth_line()
    beyond = np.maximum(np.abs(x) - half_width, 0.0)
    softness = _JAW_SOFTNESS + _JAW_SOFTNESS_GROWTH * np.minimum(beyond, _JAW_SOFTNESS_REACH)
    below = 1.0 / (1.0 + np.exp(-(y - _jaw_line_y(x)) / softness))
    weights = below * _smoothstep(*_JAW_TOP, y)
    # the taper peaks at the corners and fades out again over the cheeks beyond them
    corner = _smoothstep(_CORNER_TAPER_FROM * half_width, half_width, np.abs(x))
    corner *= 1.0 - _smoothstep(half_width, half_width + _CORNER_FADE, np.abs(x))
    taper = 1.0 - (1.0 - _CORNER_SHARE) * corner
    near_lip = np.exp(-(((y - _mouth_line_y(x)) / _LIP_BAND) ** 2))
    weights *= 1.0 - near_lip * (1.0 - taper)
    weights[MESH_POINTS:] = 0.0
    return weights


def jaw_open(amount: float | np.ndarray) -> np.ndarray:
    """Open the mouth by rotating the lower jaw about the jaw joints.

    The lower lip, chin and lower face turn about an axis parallel to x through
    :data:`JAW_HINGE_YZ` (behind the face at about nose-bottom height) by up to
    :data:`JAW_MAX_DEGREES` at amount 1, each point by its :func:`jaw_weights` share: the lower
    lip and chin fully, the cheeks partly, fading to nothing at the cheekbones and ears; the
    upper lip stays put. At amount 1 the inner-lip gap (13-14) is about 0.4 of the
    outer-eye-corner distance, a wide-open talking mouth.
    """
    a = np.asarray(amount, dtype=np.float64)
    face = _face()
    weights = jaw_weights()
    theta = np.radians(JAW_MAX_DEGREES) * a[..., None] * weights  # [...,478]
    hinge_y, hinge_z = JAW_HINGE_YZ
    dy, dz = face[:, 1] - hinge_y, face[:, 2] - hinge_z
    cos, sin = np.cos(theta), np.sin(theta)
    # Opening turns the chin down (+y) and back (+z): a rotation about +x by +theta.
    offsets = np.zeros((*a.shape, LANDMARKS, 3))
    offsets[..., 1] = dy * cos - dz * sin - dy
    offsets[..., 2] = dy * sin + dz * cos - dz
    return _irises_follow_lids(offsets).astype(np.float32)


@lru_cache(maxsize=1)
def _smile_unit() -> np.ndarray:
    face = _face()
    offsets = np.zeros((LANDMARKS, 3))
    out, up, back = SMILE_CORNER_SHIFT
    for corner, side in zip(MOUTH_CORNERS, (-1.0, 1.0), strict=True):
        d2 = ((face - face[corner]) ** 2).sum(axis=1)
        w = np.exp(-d2 / (2 * _SMILE_CORNER_SIGMA**2))
        offsets += w[:, None] * np.array([side * out, up, back])
    for cheek in _SMILE_CHEEKS:
        d2 = ((face - np.asarray(cheek)) ** 2).sum(axis=1)
        offsets[:, 1] -= SMILE_CHEEK_RAISE * np.exp(-d2 / (2 * _SMILE_CHEEK_SIGMA**2))
    # Thinner lips: the lips' height shrinks towards the mouth line, within the mouth.
    x, y = face[:, 0], face[:, 1]
    _, _, half_width = _mouth_line()
    around = np.exp(-((x / (half_width + 0.4)) ** 4)) * np.exp(-(((y - 4.3) / 1.4) ** 2))
    offsets[:, 1] -= SMILE_LIP_THINNING * (y - _mouth_line_y(x)) * around
    offsets[MESH_POINTS:] = 0.0
    return _irises_follow_lids(offsets)


def smile(amount: float | np.ndarray) -> np.ndarray:
    """Smile: the mouth corners (61, 291 and their neighbours) move outward, up and slightly
    back (:data:`SMILE_CORNER_SHIFT` at amount 1, Gaussian falloff over ~1 cm), the cheeks rise
    a little (:data:`SMILE_CHEEK_RAISE`) and the lips thin by :data:`SMILE_LIP_THINNING` of
    their height. Linear in ``amount``."""
    return _scaled(amount, _smile_unit())


@lru_cache(maxsize=1)
def _brow_unit() -> np.ndarray:
    face = _face()
    x, y = face[:, 0], face[:, 1]
    top = float(y.min())
    weights = _smoothstep(*_BROW_FADE_Y, y)
    # the forehead's top (hairline) moves less than the brows, and the temples less than the
    # middle of the face
    weights *= 1.0 - (1.0 - _FOREHEAD_TOP_SHARE) * _smoothstep(-5.2, top, y)
    weights *= 1.0 - 0.5 * _smoothstep(5.5, 7.8, np.abs(x))
    # the nose's root between the brows stays lower than the brows themselves
    glabella = (1.0 - _smoothstep(0.3, 1.2, np.abs(x))) * (1.0 - _smoothstep(-4.6, -6.0, y))
    weights *= 1.0 - (1.0 - _GLABELLA_SHARE) * glabella
    offsets = np.zeros((LANDMARKS, 3))
    offsets[:, 1] = -BROW_RAISE * weights
    offsets[MESH_POINTS:] = 0.0
    return _irises_follow_lids(offsets)


def brow_raise(amount: float | np.ndarray) -> np.ndarray:
    """Raise the brows: brows and forehead move up (y negative) by :data:`BROW_RAISE` at
    amount 1, fading out between the brows' lower edge and the upper eyelids; the top of the
    forehead and the temples move less. Linear in ``amount``."""
    return _scaled(amount, _brow_unit())


@lru_cache(maxsize=1)
def _pucker_unit() -> np.ndarray:
    face = _face()
    xs, ys, _ = _mouth_line()
    centre = np.array([0.0, float(np.interp(0.0, xs, ys))])
    sx, sy = _PUCKER_SIGMA_XY
    rel = face[:, :2] - centre
    w = np.exp(-0.5 * ((rel[:, 0] / sx) ** 2 + (rel[:, 1] / sy) ** 2))
    offsets = np.zeros((LANDMARKS, 3))
    offsets[:, 0] = -PUCKER_CONTRACTION * rel[:, 0] * w
    # the lips round: a little of the vertical pull towards the middle too
    offsets[:, 1] = -0.1 * rel[:, 1] * w
    offsets[:, 2] = -PUCKER_FORWARD * w
    offsets[MESH_POINTS:] = 0.0
    return _irises_follow_lids(offsets)


def lips_pucker(amount: float | np.ndarray) -> np.ndarray:
    """Pucker the lips (for "oo", "w"): the mouth corners move in towards the mouth's middle
    (:data:`PUCKER_CONTRACTION` of their distance) and the lips forward (z negative,
    :data:`PUCKER_FORWARD` at amount 1), fading over ~2 cm. Linear in ``amount``."""
    return _scaled(amount, _pucker_unit())
