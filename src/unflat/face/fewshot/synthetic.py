"""Procedural talking faces: distinct identities whose frames are drawn from their landmarks.

Each identity has its own colours (skin, hair, background, eyes, lips) and shape (face width and
height, eye spacing and height, mouth width, nose length, hair size) applied to MediaPipe's
canonical face. A video turns the head (yaw, pitch, roll), moves and scales it, and opens the
mouth along smooth random curves; every frame is drawn with OpenCV from the posed 478 landmarks
(face oval, hair, brows, eyes with irises, nose, lips), so the landmarks are exact by
construction. This is the data that proves the few-shot model learns: a person is only
reproducible from their own frames, and a pose only from the landmarks.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from unflat.face.canonical import reference_face
from unflat.face.fewshot.landmark_image import BROWS, NOSE_BRIDGE, NOSTRILS, PARTS
from unflat.face_mesh import (
    EYE_CONTOUR_INDICES,
    FACE_OVAL,
    INNER_LIP,
    IRISES,
    MOUTH_INNER,
    OUTER_LIP,
)

EYELIDS = (PARTS[5][0], PARTS[6][0])
# Drawn at this multiple of the output size, then reduced: smooth edges at 64 px.
_SUPERSAMPLE = 4
# The canonical face's height (forehead top to chin, cm) fills this share of the frame.
_FACE_SHARE = 0.62
# How far the jaw drops at a fully open mouth, in cm of the canonical face.
_JAW_DROP = 1.6


@dataclass(frozen=True)
class Identity:
    """One synthetic person: RGB colours in 0..255 and shape factors around 1."""

    skin: tuple[int, int, int]
    hair: tuple[int, int, int]
    background: tuple[int, int, int]
    iris: tuple[int, int, int]
    lips: tuple[int, int, int]
    face_width: float
    face_height: float
    eye_spacing: float
    eye_height: float
    mouth_width: float
    nose_length: float
    hair_size: float

    @classmethod
    def draw(cls, rng: np.random.Generator) -> Identity:
        """A random identity."""

        def colour(low: int, high: int) -> tuple[int, int, int]:
            return tuple(int(v) for v in rng.integers(low, high, 3))  # type: ignore[return-value]

        skin = rng.uniform(0.25, 1.0) * np.array([255, 200, 170]) + rng.uniform(-20, 20, 3)
        return cls(
            skin=tuple(int(v) for v in np.clip(skin, 30, 255)),  # type: ignore[arg-type]
            hair=colour(0, 200), background=colour(0, 256), iris=colour(0, 200),
            lips=tuple(int(v) for v in rng.integers([120, 20, 40], [230, 110, 140])),  # type: ignore[arg-type]
            face_width=rng.uniform(0.82, 1.15), face_height=rng.uniform(0.9, 1.1),
            eye_spacing=rng.uniform(0.85, 1.2), eye_height=rng.uniform(-0.6, 0.6),
            mouth_width=rng.uniform(0.75, 1.3), nose_length=rng.uniform(0.8, 1.25),
            hair_size=rng.uniform(0.9, 1.35),
        )  # fmt: skip


@dataclass(frozen=True)
class Pose:
    """Head rotation (degrees), centre offset and scale (shares of the frame), mouth opening."""

    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    shift_x: float = 0.0
    shift_y: float = 0.0
    scale: float = 1.0
    mouth: float = 0.0


def _eye_points(side: int) -> list[int]:
    return [*EYE_CONTOUR_INDICES[side][:16], *IRISES[side], *BROWS[side]]


def identity_face(identity: Identity) -> np.ndarray:
    """``[478, 3]`` the canonical face (cm, centred) reshaped to ``identity``."""
    face = reference_face().astype(np.float64)
    face[:, :2] -= face[:, :2].mean(axis=0)
    face[:, 0] *= identity.face_width
    face[:, 1] *= identity.face_height
    for side in (0, 1):
        points = _eye_points(side)
        centre_x = face[points, 0].mean()
        face[points, 0] += (identity.eye_spacing - 1) * centre_x
        face[points, 1] += identity.eye_height
    lips = list(set(OUTER_LIP) | set(INNER_LIP))
    centre_x = face[lips, 0].mean()
    face[lips, 0] = centre_x + (face[lips, 0] - centre_x) * identity.mouth_width
    nose = list(NOSE_BRIDGE + NOSTRILS)
    top = face[NOSE_BRIDGE[0], 1]
    face[nose, 1] = top + (face[nose, 1] - top) * identity.nose_length
    return face


def posed_landmarks(face: np.ndarray, pose: Pose, size: int) -> np.ndarray:
    """``float32 [478, 2]`` pixel positions of ``face`` under ``pose`` in a ``size`` frame."""
    points = face.copy()
    # The jaw carries the lower lip fully, the upper not; the mouth corners half-way.
    upper, lower = points[MOUTH_INNER[0], 1], points[MOUTH_INNER[1], 1]
    below = np.clip((points[:, 1] - upper) / max(lower - upper, 1e-3), 0, 1)
    points[:, 1] += pose.mouth * _JAW_DROP * below * np.exp(-((points[:, 0] / 6.0) ** 2))
    yaw, pitch, roll = np.radians([pose.yaw, pose.pitch, pose.roll])
    turn_y = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
    turn_x = np.array(
        [[1, 0, 0], [0, np.cos(pitch), -np.sin(pitch)], [0, np.sin(pitch), np.cos(pitch)]]
    )
    turn_z = np.array(
        [[np.cos(roll), -np.sin(roll), 0], [np.sin(roll), np.cos(roll), 0], [0, 0, 1]]
    )
    rotated = points @ (turn_z @ turn_x @ turn_y).T
    pixels_per_cm = _FACE_SHARE * size * pose.scale / np.ptp(reference_face()[:, 1])
    centre = size * (0.5 + np.array([pose.shift_x, pose.shift_y + 0.04]))
    return (rotated[:, :2] * pixels_per_cm + centre).astype(np.float32)


def _darker(colour: tuple[int, int, int], share: float) -> tuple[int, int, int]:
    return tuple(int(c * share) for c in colour)  # type: ignore[return-value]


def render_face(identity: Identity, landmarks: np.ndarray, size: int) -> np.ndarray:
    """``uint8 [size, size, 3]`` RGB frame of ``identity`` drawn from its posed ``landmarks``."""
    big = size * _SUPERSAMPLE
    canvas = np.empty((big, big, 3), np.uint8)
    canvas[:] = identity.background
    xy = landmarks.astype(np.float64) * _SUPERSAMPLE

    def polygon(indices: tuple[int, ...] | list[int]) -> np.ndarray:
        return np.round(xy[list(indices)]).astype(np.int32)

    oval = polygon(FACE_OVAL)
    centre = oval.mean(axis=0)
    extent = np.ptp(oval, axis=0)
    hair_centre = (int(centre[0]), int(centre[1] - 0.18 * extent[1]))
    hair_axes = (
        int(0.62 * extent[0] * identity.hair_size),
        int(0.5 * extent[1] * identity.hair_size),
    )
    cv2.ellipse(canvas, hair_centre, hair_axes, 0, 0, 360, identity.hair, -1, cv2.LINE_AA)
    cv2.fillPoly(canvas, [oval], identity.skin, cv2.LINE_AA)
    line = max(1, round(big / 64))
    for brow in BROWS:
        cv2.polylines(canvas, [polygon(brow)], False, _darker(identity.hair, 0.7), 2 * line,
                      cv2.LINE_AA)  # fmt: skip
    for side in (0, 1):
        _draw_eye(canvas, polygon(EYELIDS[side]), xy[list(IRISES[side])], identity, line)
    nose = _darker(identity.skin, 0.7)
    cv2.polylines(canvas, [polygon(NOSE_BRIDGE[2:])], False, nose, line, cv2.LINE_AA)
    cv2.polylines(canvas, [polygon(NOSTRILS)], False, nose, line, cv2.LINE_AA)
    cv2.fillPoly(canvas, [polygon(OUTER_LIP)], identity.lips, cv2.LINE_AA)
    cv2.fillPoly(canvas, [polygon(INNER_LIP)], (40, 10, 20), cv2.LINE_AA)
    return cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)


def _draw_eye(
    canvas: np.ndarray, lids: np.ndarray, iris: np.ndarray, identity: Identity, line: int
) -> None:
    """White of the eye inside the lids, the iris clipped to them, the lid line over both."""
    _, _, width, height = cv2.boundingRect(lids)
    if width < 2 or height < 1:
        return
    mask = np.zeros(canvas.shape[:2], np.uint8)
    cv2.fillPoly(mask, [lids], 255, cv2.LINE_AA)
    eye = canvas.copy()
    cv2.fillPoly(eye, [lids], (245, 245, 240), cv2.LINE_AA)
    radius = max(1, round(np.linalg.norm(iris[1:] - iris[0], axis=1).mean() * 1.6))
    centre = tuple(int(v) for v in np.round(iris[0]))
    cv2.circle(eye, centre, radius, identity.iris, -1, cv2.LINE_AA)
    cv2.circle(eye, centre, max(1, radius // 2), (10, 10, 10), -1, cv2.LINE_AA)
    weight = (mask.astype(np.float32) / 255.0)[..., None]
    canvas[:] = (canvas * (1 - weight) + eye * weight).astype(np.uint8)
    cv2.polylines(canvas, [lids], True, _darker(identity.skin, 0.45), line, cv2.LINE_AA)


def random_poses(rng: np.random.Generator, frames: int) -> list[Pose]:
    """A talking head's smooth motion: slow sinusoids of random phase for the head, a faster
    one (clipped at closed) for the mouth."""
    t = np.arange(frames, dtype=np.float64)

    def wave(amplitude: float, period: tuple[float, float]) -> np.ndarray:
        speed = 2 * np.pi / rng.uniform(*period)
        return amplitude * np.sin(speed * t + rng.uniform(0, 2 * np.pi))

    yaw, pitch, roll = wave(25, (20, 50)), wave(12, (25, 60)), wave(10, (30, 70))
    shift_x, shift_y, scale = wave(0.05, (30, 80)), wave(0.04, (30, 80)), 1 + wave(0.08, (40, 90))
    mouth = np.clip(wave(1.3, (6, 14)) + rng.uniform(-0.3, 0.3), 0, 1)
    return [Pose(*values) for values in zip(yaw, pitch, roll, shift_x, shift_y, scale, mouth,
                                             strict=True)]  # fmt: skip


class SyntheticFaces:
    """``videos`` procedural videos of ``frames`` frames at ``size`` px, one identity each;
    video ``i`` is a pure function of ``(seed, i)``, drawn on first use and kept."""

    def __init__(self, videos: int, frames: int = 32, size: int = 64, seed: int = 0) -> None:
        self.videos, self.frames_per_video, self.size, self.seed = videos, frames, size, seed
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return self.videos

    def identity(self, video: int) -> Identity:
        return Identity.draw(np.random.default_rng([self.seed, video, 0]))

    def frame_count(self, video: int) -> int:
        return self.frames_per_video

    def video(self, video: int) -> tuple[np.ndarray, np.ndarray]:
        """(``uint8 [T, S, S, 3]`` frames, ``float32 [T, 478, 2]`` landmarks in pixels)."""
        if video not in self._cache:
            identity = self.identity(video)
            face = identity_face(identity)
            poses = random_poses(
                np.random.default_rng([self.seed, video, 1]), self.frames_per_video
            )
            landmarks = np.stack([posed_landmarks(face, pose, self.size) for pose in poses])
            frames = np.stack([render_face(identity, points, self.size) for points in landmarks])
            self._cache[video] = (frames, landmarks)
        return self._cache[video]

    def frames(self, video: int, indices: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """The frames and landmarks of ``video`` at ``indices``."""
        frames, landmarks = self.video(video)
        return frames[indices], landmarks[indices]
