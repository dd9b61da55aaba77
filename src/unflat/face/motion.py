"""The motion stream that drives a portrait: head pose and expression *changes* from rest.

A driver video and the procedural presets both become a :class:`Motion`; the animator applies it
to a portrait's own pose and face shape. Head pose, eyes, brows and the face's other movements are
relative to a rest frame (the driver's face most at rest, :mod:`unflat.face.neutral`, or its
``--neutral`` frame), so the portrait keeps its identity, framing and resting expression, and only
the change is transferred. The mouth's opening from a driver is a shape instead (the lip gap in
units of the face's own eye-corner distance), so it does not hang on how open the rest frame was.
The same stream (with the driver's :class:`~unflat.types.FaceTrack` for keypoints) is what a
learned renderer will consume.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unflat.face_mesh import LANDMARKS, LIPS_CLOSED, face_unit, lip_gap
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
    - ``gaze`` ``[T,2,2]``: iris shift from rest per eye, (along, across) in eye widths;
    - ``mouth_open`` ``[T]`` or None: the mouth's opening as a *shape*, not a change from rest:
      how far the driver's lips are apart beyond closed (:func:`lip_opening`), in its own
      outer-eye-corner distances. The portrait's lips then part as far beyond its own closed
      lips, in its own eye-corner distances, whatever the rest frame's opening was. None
      (presets) leaves the mouth to ``expression``.
    """

    rotation: np.ndarray
    translation: np.ndarray
    scale: np.ndarray
    expression: np.ndarray
    eye_open: np.ndarray
    gaze: np.ndarray
    fps: float
    mouth_open: np.ndarray | None = None

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
            None if self.mouth_open is None else self.mouth_open[t : t + 1],
        )

    def __add__(self, other: Motion) -> Motion:
        """Combine two motions of equal length: rotations compose, offsets add, ratios multiply.

        A mouth opening given as a shape is not an offset: the first motion's is kept, else the
        second's.
        """
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
            mouth_open=self.mouth_open if self.mouth_open is not None else other.mouth_open,
        )


def from_track(track: FaceTrack, neutral: int | None = None, *, shapes: bool = True) -> Motion:
    """The driver's change from its ``neutral`` frame (default: the track's own).

    With ``shapes`` (the default) the mouth's opening is also carried as a shape
    (``Motion.mouth_open``); ``shapes=False`` leaves it to the change from rest alone, as before
    shapes were retargeted (for comparisons).
    """
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
        mouth_open=lip_opening(track.canonical) if shapes else None,
    )


# The share of a clip's frames whose lip gap may read below closed lips (the mesh losing the lip
# line for a frame, a hard press): 1 frame in 50 is ignored when finding the closed reading.
_STRAY_FRAMES = 2.0


def lip_opening(canonical: np.ndarray) -> np.ndarray:
    """``float32 [T]`` how far apart the lips of pose-free landmarks ``[T,478,3]`` are beyond
    closed, in outer-eye-corner distances (:func:`~unflat.face_mesh.lip_gap`).

    Closed is the clip's own most closed reading (the mesh reads touching lips of different
    faces as 0 to 2 mm apart), but never more than :data:`~unflat.face_mesh.LIPS_CLOSED`: a clip
    that never closes its mouth is not taken as closed at its most closed frame.
    """
    gap = lip_gap(np.asarray(canonical, dtype=np.float64))
    closed = min(float(np.percentile(gap, _STRAY_FRAMES)), LIPS_CLOSED)
    return np.maximum(gap - closed, 0.0).astype(np.float32)


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
        motion.mouth_open,
    )
