"""The square a face is cut to for the few-shot model: the same for shots, driven frames, and the
clips a model is trained or scored on, so a model sees faces framed as it learnt them.

The square is measured in the face's own frame (across and down axes, so a rolled head is
turned upright): its side makes the mesh's height (forehead top to chin) fill ``FACE_SHARE`` of
it, and the face's centre sits ``CENTRE_DROP`` of the side below the square's centre, as the
procedural faces (:mod:`.synthetic`) are drawn. A clip gets one upright square for all its
frames (the mean of its frames' squares), so the head's motion stays visible in the crops, as in
VoxCeleb's face-centred clips.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from unflat.face.liveportrait.crop import FaceCrop, face_axes
from unflat.face_mesh import MESH_POINTS, landmarks_xy

#: The mesh's height over the square's side, and the face centre's drop below the square's
#: centre (share of the side): the procedural faces' framing.
FACE_SHARE = 0.62
CENTRE_DROP = 0.04
# A crop is cut at up to this multiple of the model's size, then area-averaged down to it.
_SUPERSAMPLE = 4


def face_square(landmarks: np.ndarray, *, rotate: bool = True) -> FaceCrop:
    """The square of one face ``[478,>=2]`` (pixels); ``rotate=False`` keeps it upright."""
    axes = face_axes(landmarks)
    local = landmarks_xy(landmarks)[:MESH_POINTS] @ axes.T
    low, high = local.min(axis=0), local.max(axis=0)
    side = float(high[1] - low[1]) / FACE_SHARE
    centre = (low + high) / 2 @ axes - CENTRE_DROP * side * axes[1]
    return FaceCrop(centre, side, axes if rotate else np.eye(2))


def clip_square(landmarks: Sequence[np.ndarray] | np.ndarray) -> FaceCrop:
    """One upright square for a clip's faces ``[T,478,>=2]``: the mean of their squares."""
    squares = [face_square(frame, rotate=False) for frame in landmarks]
    centre = np.mean([square.centre for square in squares], axis=0)
    return FaceCrop(centre, float(np.mean([square.side for square in squares])), np.eye(2))


def cut(square: FaceCrop, image: np.ndarray, size: int) -> np.ndarray:
    """``uint8 [size,size,3]``: ``image`` inside ``square``, resampled without aliasing (black
    beyond the image's edges)."""
    factor = int(np.clip(round(square.side / size), 1, _SUPERSAMPLE))
    large = square.cut(image, size * factor)
    return cv2.resize(large, (size, size), interpolation=cv2.INTER_AREA) if factor > 1 else large


def to_square(square: FaceCrop, landmarks: np.ndarray, size: int) -> np.ndarray:
    """``float32 [...,478,2]``: landmarks (image pixels) in the pixels of a ``size`` crop."""
    matrix = square.to_crop(size)
    xy = np.asarray(landmarks, np.float64)[..., :2]
    return (xy @ matrix[:2, :2].T + matrix[:2, 2]).astype(np.float32)
