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

    Filled at reduced size (the plate only shows in the strip a moving head uncovers) by
    push-pull: the known pixels are averaged down an image pyramid and each hole pixel takes
    the finest level that has enough of them nearby. The fill is a smooth, out-of-focus
    continuation of the background on every side, without the streaks that fast-marching
    inpainting drew from the hair and chair into the hole. Pasted back feathered.
    """
    if not hole.any():
        return image.copy()
    height, width = image.shape[:2]
    scale = min(1.0, _PLATE_SIDE / max(height, width))
    small_size = (max(int(width * scale), 1), max(int(height * scale), 1))
    small = cv2.resize(image, small_size, interpolation=cv2.INTER_AREA).astype(np.float32)
    small_hole = cv2.resize(hole.astype(np.uint8), small_size, interpolation=cv2.INTER_NEAREST)
    small_hole = cv2.dilate(small_hole, np.ones((5, 5), np.uint8))
    filled = _push_pull(small, 1.0 - small_hole.astype(np.float32))
    big = cv2.resize(filled, (width, height), interpolation=cv2.INTER_LINEAR)
    # feathered over a few pixels, so the fill's edge cannot draw a line against the photo
    soft = cv2.GaussianBlur(hole.astype(np.float32), (0, 0), max(1.0, 1.0 / scale))
    soft = np.maximum(soft, hole)[..., None]
    out = image.astype(np.float32) * (1 - soft) + big * soft
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _push_pull(image: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``image`` (float32 [H,W,3]) with the pixels where ``known`` is 0 filled by normalised
    averaging over an image pyramid (known pixels are returned as they are)."""
    levels = [(image * known[..., None], known)]
    while min(levels[-1][1].shape) > 2:
        levels.append((cv2.pyrDown(levels[-1][0]), cv2.pyrDown(levels[-1][1])))
    total, weight = levels[-1]
    fallback = image[known > 0].mean(0) if (known > 0).any() else np.full(3, 128, np.float32)
    estimate = np.where(
        weight[..., None] > 1e-6, total / np.maximum(weight, 1e-6)[..., None], fallback
    ).astype(np.float32)
    for total, weight in reversed(levels[:-1]):
        estimate = cv2.pyrUp(estimate, dstsize=(weight.shape[1], weight.shape[0]))
        # a level is trusted where at least a quarter of its neighbourhood is known
        trust = np.clip(weight * 4.0, 0.0, 1.0)[..., None]
        local = total / np.maximum(weight, 1e-6)[..., None]
        estimate = trust * local + (1 - trust) * estimate
    return estimate
