"""A portrait prepared for animation: its face, pose, neutral shape, person mask and plate.

Preparation refuses what a warp of one photo cannot animate well, each with one clear line: no face,
a face too small to carry detail, a profile view. With several faces it takes the largest unless
told which (``face=N``, largest first).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from unflat import face_mesh
from unflat.device import small_work
from unflat.errors import InputError
from unflat.face.canonical import reference_face
from unflat.face.detect import detect
from unflat.face.pose import Pose, head_pose
from unflat.face.segment import segment_person
from unflat.types import Face

# Below this inter-ocular distance (pixels) a face has too little detail to animate.
MIN_INTEROCULAR_PX = 24.0
# Beyond this head yaw (degrees) the far half of the face is hidden: a profile view.
MAX_YAW_DEG = 40.0
# The plate is inpainted at most at this size, then upscaled: it only shows behind a moving head.
_PLATE_SIDE = 640


@dataclass
class Portrait:
    """One prepared portrait (a "shot")."""

    image: np.ndarray  # uint8 [H,W,3]
    face: Face
    pose: Pose
    canonical: np.ndarray  # [478,3] the face with its pose removed (reference units)
    person: np.ndarray  # float32 [H,W] person probability
    mouth_open: float
    face_mean: np.ndarray  # [3] mean colour in the face, for matching shots to each other
    face_std: np.ndarray  # [3]

    @property
    def landmarks(self) -> np.ndarray:
        return self.face.landmarks

    @property
    def size(self) -> tuple[int, int]:
        return self.image.shape[1], self.image.shape[0]

    @property
    def euler_degrees(self) -> tuple[float, float, float]:
        return self.pose.euler_degrees


def polygon_mask(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Boolean mask of the polygon through ``points [N,2]`` (pixels, rounded) in an image of
    ``shape`` (h, w)."""
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 1)
    return mask.astype(bool)


def face_mask(landmarks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """uint8 mask of the face oval (convex hull of the 468 mesh points)."""
    mask = np.zeros(shape, np.uint8)
    hull = cv2.convexHull(np.round(landmarks[: face_mesh.MESH_POINTS, :2]).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1)
    return mask


@small_work
def prepare_portrait(
    image: np.ndarray, *, face: int | None = None, name: str = "the portrait"
) -> Portrait:
    """Detect, check and measure the face of a portrait."""
    faces = detect(image)
    if not faces:
        raise InputError(
            f"no face was found in {name}",
            "use a photo or painting with one clearly visible, roughly frontal face",
        )
    if face is not None:
        if not 0 <= face < len(faces):
            raise InputError(
                f"{name} has {len(faces)} face(s); --face {face} does not exist",
                f"choose --face from 0 to {len(faces) - 1} (0 is the largest)",
            )
        chosen = faces[face]
    else:
        chosen = faces[0]
    if chosen.interocular < MIN_INTEROCULAR_PX:
        raise InputError(
            f"the face in {name} is too small ({chosen.interocular:.0f} px between the eyes)",
            f"use a closer crop: at least {MIN_INTEROCULAR_PX:.0f} px between the eyes",
        )
    reference = reference_face()
    pose = head_pose(chosen.landmarks, reference)
    _, yaw, _ = pose.euler_degrees
    if abs(yaw) > MAX_YAW_DEG:
        raise InputError(
            f"the face in {name} is turned {abs(yaw):.0f} degrees away: a profile view",
            f"use a portrait facing the camera (within {MAX_YAW_DEG:.0f} degrees)",
        )
    canonical = pose.invert(chosen.landmarks)
    mask = face_mask(chosen.landmarks, image.shape[:2]).astype(bool)
    pixels = image[mask].astype(np.float32)
    return Portrait(
        image=image,
        face=chosen,
        pose=pose,
        canonical=canonical,
        person=segment_person(image),
        mouth_open=float(face_mesh.mouth_opening(canonical)),
        face_mean=pixels.mean(axis=0),
        face_std=pixels.std(axis=0) + 1e-3,
    )


def background_plate(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """The image with ``hole`` (bool mask) filled from its surroundings.

    Filled at reduced size (the plate only shows in the strip a moving head uncovers), with
    OpenCV's fast-marching inpainting, then pasted back at full size.
    """
    if not hole.any():
        return image.copy()
    height, width = image.shape[:2]
    scale = min(1.0, _PLATE_SIDE / max(height, width))
    small_size = (max(int(width * scale), 1), max(int(height * scale), 1))
    small = cv2.resize(image, small_size, interpolation=cv2.INTER_AREA)
    small_hole = cv2.resize(hole.astype(np.uint8), small_size, interpolation=cv2.INTER_NEAREST)
    small_hole = cv2.dilate(small_hole, np.ones((5, 5), np.uint8))
    filled = cv2.inpaint(small, small_hole, 5, cv2.INPAINT_TELEA)
    # blur the fill a little: a soft plate reads as out-of-focus background, not as smears
    filled = np.where(small_hole[..., None] > 0, cv2.GaussianBlur(filled, (0, 0), 3), filled)
    big = cv2.resize(filled, (width, height), interpolation=cv2.INTER_LINEAR)
    out = image.copy()
    out[hole] = big[hole]
    return out
