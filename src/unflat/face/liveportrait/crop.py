"""The face crop LivePortrait's released weights were trained on, from unflat's 478-point mesh.

The published pipeline crops with insightface's 106 landmarks. The crop is a square turned so the
line from the eyes' centre to the mouth's centre points straight down (the head's roll undone);
its side is the larger extent of the landmarks in that turned frame, times 2.3; its centre is the
middle of that extent, moved up by 0.125 of the side (more forehead and hair, less neck). The
portrait is resampled into it at 512x512 (the output size) and the network sees that shrunk to
256x256. A driving video is cropped the same way with 2.2 and 0.1, upright, by one square averaged
over all its frames (so the head's shift and size changes stay in the crops).

Here the same square comes from the MediaPipe mesh: the eye centres are the means of each eye's
corners and middle lid points, the mouth's centre the middle of its outer corners (the points the
published 203-point ratios also use), and the extent is measured over the mesh points that match
the 106-point set's outline: the jaw line from ear to ear, the brows, eyes, nose and lips (not
the forehead, which MediaPipe's oval covers and the 106 points do not).

Positions are continuous pixel coordinates (pixel ``i`` spans ``[i, i+1)``, as the landmarks
are); the matrices handed to OpenCV are converted to its pixel-centre convention.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from unflat.face_mesh import (
    BROW_LOWER,
    BROW_UPPER,
    EYE_CORNERS,
    EYE_MIDDLE_LIDS,
    JAW_LINE,
    OUTER_MOUTH_CORNERS,
    landmarks_xy,
)

#: The source portrait's crop: side over the landmarks' extent, and the centre's shift (along the
#: face's across and down axes) as a share of the side; negative down is up.
SOURCE_SCALE = 2.3
SOURCE_SHIFT = (0.0, -0.125)
#: A driving video's crop (upright, one square for the whole clip).
DRIVER_SCALE = 2.2
DRIVER_SHIFT = (0.0, -0.1)
#: The published crop's resolution: the network's output size, twice its input.
CROP_SIZE = 512

# The jaw line from the right ear round the chin to the left ear, then the brows' upper and lower
# edges: with the eyes, nose and lips inside them, the extent of the 106-point set.
OUTLINE = JAW_LINE + BROW_UPPER[0] + BROW_LOWER[0] + BROW_UPPER[1] + BROW_LOWER[1]


def eye_centres(landmarks: np.ndarray) -> np.ndarray:
    """``[2,2]`` each eye's centre (subject's right, left): its corners and middle lids."""
    xy = landmarks_xy(landmarks)
    pairs = zip(EYE_CORNERS, EYE_MIDDLE_LIDS, strict=True)
    return np.stack([xy[[*corners, *lids]].mean(axis=0) for corners, lids in pairs])


def mouth_centre(landmarks: np.ndarray) -> np.ndarray:
    """``[2]`` the middle of the mouth's outer corners."""
    return landmarks_xy(landmarks)[list(OUTER_MOUTH_CORNERS)].mean(axis=0)


def face_axes(landmarks: np.ndarray) -> np.ndarray:
    """``[2,2]`` rows: the face's across axis (towards image right when upright) and its down
    axis (eyes' centre to mouth's centre), unit length."""
    down = mouth_centre(landmarks) - eye_centres(landmarks).mean(axis=0)
    length = float(np.linalg.norm(down))
    down = down / length if length > 1e-3 else np.array([0.0, 1.0])
    return np.stack([np.array([down[1], -down[0]]), down])


@dataclass(frozen=True)
class FaceCrop:
    """A square in the image: ``centre`` (pixels), ``side`` (pixels) and ``axes`` (rows: the
    crop's x and y directions in the image, unit length); ``axes`` is the identity when upright."""

    centre: np.ndarray
    side: float
    axes: np.ndarray

    @property
    def angle_degrees(self) -> float:
        """How far the crop is turned (the face's roll it undoes), degrees clockwise on screen."""
        return float(np.degrees(np.arctan2(self.axes[0, 1], self.axes[0, 0])))

    def to_crop(self, size: int) -> np.ndarray:
        """``[3,3]`` from continuous image pixels to continuous pixels of a ``size`` crop."""
        scale = size / self.side
        linear = scale * self.axes
        matrix = np.eye(3)
        matrix[:2, :2] = linear
        matrix[:2, 2] = size / 2 - linear @ self.centre
        return matrix

    def to_image(self, size: int) -> np.ndarray:
        """``[3,3]`` the inverse of :meth:`to_crop`."""
        return np.linalg.inv(self.to_crop(size))

    def corners(self) -> np.ndarray:
        """``[4,2]`` the square's corners in the image: top left, top right, bottom right,
        bottom left (as the crop sees them)."""
        unit = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.float64) * self.side / 2
        return self.centre + unit @ self.axes

    def cut(self, image: np.ndarray, size: int) -> np.ndarray:
        """The crop of ``image`` resampled to ``size`` x ``size`` (bilinear, black beyond the
        image's edges, as the published crop is)."""
        matrix = pixel_centre_matrix(self.to_crop(size))
        return cv2.warpAffine(image, matrix[:2], (size, size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)  # fmt: skip

    def network_input(self, image: np.ndarray, input_size: int) -> np.ndarray:
        """What the network sees: the crop at twice ``input_size`` (the published 512 for 256),
        shrunk by area averaging, as the published pipeline prepares it."""
        large = self.cut(image, 2 * input_size)
        return cv2.resize(large, (input_size, input_size), interpolation=cv2.INTER_AREA)


def pixel_centre_matrix(matrix: np.ndarray) -> np.ndarray:
    """A continuous-pixel transform ``[3,3]`` rewritten for OpenCV, whose pixel ``i`` sits at
    ``i`` rather than ``i + 0.5``."""
    shift_in, shift_out = np.eye(3), np.eye(3)
    shift_in[:2, 2] = 0.5
    shift_out[:2, 2] = -0.5
    return shift_out @ matrix @ shift_in


def crop_from_landmarks(
    landmarks: np.ndarray,
    *,
    scale: float = SOURCE_SCALE,
    shift: tuple[float, float] = SOURCE_SHIFT,
    rotate: bool = True,
) -> FaceCrop:
    """The crop of a face with 478 landmarks ``[478,>=2]`` (pixels): the source convention by
    default; ``rotate=False`` keeps the square upright (measured in the face's frame all the
    same, as the published driver crop is)."""
    axes = face_axes(landmarks)
    points = landmarks_xy(landmarks)[list(OUTLINE)]
    local = points @ axes.T
    low, high = local.min(axis=0), local.max(axis=0)
    side = float((high - low).max()) * scale
    centre = (low + high) / 2 @ axes + (shift[0] * axes[0] + shift[1] * axes[1]) * side
    return FaceCrop(centre, side, axes if rotate else np.eye(2))


def driver_crop(landmarks: Sequence[np.ndarray] | np.ndarray) -> FaceCrop:
    """One upright square for a whole driving clip (``[T,478,>=2]``): the mean of each frame's
    driver crop, so the head's motion inside it stays visible to the motion extractor."""
    crops = [crop_from_landmarks(frame, scale=DRIVER_SCALE, shift=DRIVER_SHIFT, rotate=False)
             for frame in landmarks]  # fmt: skip
    centre = np.mean([crop.centre for crop in crops], axis=0)
    return FaceCrop(centre, float(np.mean([crop.side for crop in crops])), np.eye(2))
