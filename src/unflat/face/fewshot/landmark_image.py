"""Landmark images: the 478-point mesh drawn as the paper draws its 68 points, one coloured
polyline per part (jaw, brows, nose bridge, nostrils, eyes, outer and inner lips) on black.

The parts are taken from the mesh so that they follow the contours a 68-point annotation marks:
the jaw line from ear to ear, each brow's upper edge, the nose's bridge and base, the eyelids
and both lip contours.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from unflat.face_mesh import (
    BROW_UPPER,
    EYE_CONTOUR_INDICES,
    INNER_LIP,
    JAW_LINE,
    OUTER_LIP,
    landmarks_xy,
)

# The brows' upper edges, each drawn from image left to right.
BROWS = (BROW_UPPER[0], BROW_UPPER[1][::-1])
NOSE_BRIDGE = (168, 6, 197, 195, 5, 4)
NOSTRILS = (98, 97, 2, 326, 327)


def _eyelids(contour: tuple[int, ...]) -> tuple[int, ...]:
    """A closed eyelid loop from the eye contour's first 16 points: corner, lower lid, other
    corner, upper lid (stored outer to inner, so walked backwards)."""
    return (*contour[:9], *contour[15:8:-1])


# (points, closed, RGB colour) for each part, in drawing order.
PARTS: tuple[tuple[tuple[int, ...], bool, tuple[int, int, int]], ...] = (
    (JAW_LINE, False, (255, 255, 255)),
    (BROWS[0], False, (255, 128, 0)),
    (BROWS[1], False, (255, 200, 0)),
    (NOSE_BRIDGE, False, (0, 160, 255)),
    (NOSTRILS, False, (0, 80, 255)),
    (_eyelids(EYE_CONTOUR_INDICES[0]), True, (0, 255, 0)),
    (_eyelids(EYE_CONTOUR_INDICES[1]), True, (0, 255, 160)),
    (OUTER_LIP, True, (255, 0, 128)),
    (INNER_LIP, True, (200, 0, 255)),
)
# Fixed-point bits for sub-pixel polylines.
_SHIFT = 4


def draw_landmarks(points: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """``uint8 [H, W, 3]`` landmark image of one ``[478, >=2]`` mesh in pixel coordinates."""
    height, width = (size, size) if isinstance(size, int) else size
    canvas = np.zeros((height, width, 3), np.uint8)
    xy = np.round(landmarks_xy(np.asarray(points, np.float64)) * (1 << _SHIFT)).astype(np.int32)
    thickness = max(1, round(min(height, width) / 128))
    for indices, closed, colour in PARTS:
        line = xy[list(indices)].reshape(-1, 1, 2)
        cv2.polylines(canvas, [line], closed, colour, thickness, cv2.LINE_AA, shift=_SHIFT)
    return canvas


def landmark_images(points: np.ndarray, size: int) -> torch.Tensor:
    """``float32 [T, 3, size, size]`` in [0, 1] for ``[T, 478, >=2]`` meshes in pixels."""
    images = np.stack([draw_landmarks(frame, size) for frame in np.asarray(points)])
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
