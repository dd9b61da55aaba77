"""The motion stream that drives a portrait: head pose and expression *changes* from rest.

A driver video and the procedural presets both become a :class:`Motion`; the animator applies it
to a portrait's own pose and face shape. Everything is relative to a rest frame (the driver's first
or ``--neutral`` frame), so the portrait keeps its identity, framing and resting expression, and
only the change is transferred. The same stream (with the driver's :class:`~unflat.types.FaceTrack`
for keypoints) is what a learned renderer will consume.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unflat.face_mesh import LANDMARKS, face_unit
from unflat.geometry.rotations import euler_to_rotation, rotation_to_euler
from unflat.types import FaceTrack


@dataclass
class Motion:
    """Per-frame change from rest, ``T`` frames at ``fps``.

    - ``rotation`` ``[T,3,3]``: head rotation relative to rest (applied before the portrait's
      own head rotation, in the camera frame);
    - ``translation`` ``[T,2]``: head shift in outer-eye-corner distances (x right, y down);
    - ``scale`` ``[T]``: head size relative to rest;
    - ``expression`` ``[T,478,3]``: landmark offsets from rest in the canonical face frame
      (reference units, about centimetres), pose removed;
    - ``eye_open`` ``[T,2]``: eye opening relative to rest per eye (subject's right, left):
      1 as at rest, 0 closed;
    - ``gaze`` ``[T,2,2]``: iris shift from rest per eye, (along, across) in eye widths.
    """

    rotation: np.ndarray
    translation: np.ndarray
    scale: np.ndarray
    expression: np.ndarray
    eye_open: np.ndarray
    gaze: np.ndarray
    fps: float

    def __len__(self) -> int:
        return int(self.rotation.shape[0])

    @property
    def euler_degrees(self) -> np.ndarray:
        """``[T,3]`` pitch, yaw, roll of the rotation from rest, in degrees."""
        return np.array([rotation_to_euler(r) for r in self.rotation], dtype=np.float32)

    @classmethod
    def still(cls, frames: int, fps: float) -> Motion:
        """No motion at all for ``frames`` frames."""
        return cls(
            rotation=np.repeat(np.eye(3, dtype=np.float32)[None], frames, axis=0),
            translation=np.zeros((frames, 2), np.float32),
            scale=np.ones(frames, np.float32),
            expression=np.zeros((frames, LANDMARKS, 3), np.float32),
            eye_open=np.ones((frames, 2), np.float32),
            gaze=np.zeros((frames, 2, 2), np.float32),
            fps=float(fps),
        )

    def frame(self, t: int) -> Motion:
        """Frame ``t`` as a one-frame motion."""
        return Motion(
            self.rotation[t : t + 1],
            self.translation[t : t + 1],
            self.scale[t : t + 1],
            self.expression[t : t + 1],
            self.eye_open[t : t + 1],
            self.gaze[t : t + 1],
            self.fps,
        )

    def __add__(self, other: Motion) -> Motion:
        """Combine two motions of equal length: rotations compose, offsets add, ratios multiply."""
        if len(self) != len(other):
            raise ValueError(f"cannot combine motions of {len(self)} and {len(other)} frames")
        return Motion(
            rotation=np.einsum("tij,tjk->tik", other.rotation, self.rotation).astype(np.float32),
            translation=self.translation + other.translation,
            scale=self.scale * other.scale,
            expression=self.expression + other.expression,
            eye_open=self.eye_open * other.eye_open,
            gaze=self.gaze + other.gaze,
            fps=self.fps,
        )


def from_track(track: FaceTrack, neutral: int | None = None) -> Motion:
    """The driver's change from its ``neutral`` frame (default: the track's own)."""
    n = track.neutral if neutral is None else neutral
    rest_rotation = track.rotation[n]
    rotation = np.einsum("tij,kj->tik", track.rotation, rest_rotation)
    # translation in units of the rest face's eye-corner distance, measured in the image
    unit = float(face_unit(track.landmarks[n]))
    rest_eye = np.maximum(track.eye_ratio[n], 1e-3)
    return Motion(
        rotation=rotation.astype(np.float32),
        translation=((track.translation[:, :2] - track.translation[n, :2]) / unit).astype(
            np.float32
        ),
        scale=(track.scale / track.scale[n]).astype(np.float32),
        expression=(track.canonical - track.canonical[n]).astype(np.float32),
        eye_open=np.clip(track.eye_ratio / rest_eye, 0.0, 1.6).astype(np.float32),
        gaze=(track.gaze - track.gaze[n]).astype(np.float32),
        fps=float(track.fps),
    )


def limit_pose(
    motion: Motion, base_euler: tuple[float, float, float], limits: np.ndarray
) -> Motion:
    """Clamp the portrait's resulting head angles to ``limits`` (pitch, yaw, roll degrees).

    ``base_euler`` is the portrait's own pose; the motion's rotations are reduced so that
    base + motion stays within +-limits, which keeps a warp of one photo plausible.
    """
    base = np.asarray(base_euler, dtype=np.float64)
    euler = motion.euler_degrees.astype(np.float64)
    clamped = np.clip(base + euler, -limits, limits) - base
    rotation = np.stack([euler_to_rotation(*e) for e in clamped]).astype(np.float32)
    return Motion(
        rotation,
        motion.translation,
        motion.scale,
        motion.expression,
        motion.eye_open,
        motion.gaze,
        motion.fps,
    )
