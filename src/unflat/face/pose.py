"""Head pose from landmarks: a similarity Procrustes fit of rigid points to a neutral face.

The face mesh gives x, y in pixels and z in the same units (relative depth), so an orthographic
similarity ``points ~ scale * R @ reference + t`` explains a head's motion well at portrait
distances. The fit is weighted towards points that expressions barely move (MediaPipe's 33
weighted landmarks: nose, forehead, eye corners, cheekbones), so a smile or an open jaw does not
tilt the estimated head.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unflat.face.canonical import pose_weights
from unflat.geometry.rotations import rotation_to_euler


@dataclass(frozen=True)
class Pose:
    """``points ~ scale * rotation @ reference + translation`` (rows are points)."""

    rotation: np.ndarray  # [D,D], D = 3 (or 2 for image-plane fits)
    translation: np.ndarray  # [D]
    scale: float

    def apply(self, reference: np.ndarray) -> np.ndarray:
        """Reference-frame points [N,D] to image-frame points."""
        return (self.scale * reference @ self.rotation.T + self.translation).astype(np.float32)

    def invert(self, points: np.ndarray) -> np.ndarray:
        """Image-frame points [N,D] to the reference frame (head pose removed)."""
        return (((points - self.translation) @ self.rotation) / self.scale).astype(np.float32)

    @property
    def euler_degrees(self) -> tuple[float, float, float]:
        """(pitch, yaw, roll) in degrees, x right, y down, z away from the camera."""
        return rotation_to_euler(self.rotation)


def fit_similarity(
    source: np.ndarray, target: np.ndarray, weights: np.ndarray | None = None
) -> Pose:
    """Weighted least-squares similarity taking ``source`` [N,D] onto ``target`` [N,D].

    Umeyama's (1991) closed form, with per-point weights; D is 3 for head pose, 2 for fits in
    the image plane.
    """
    src = np.asarray(source, dtype=np.float64)
    dst = np.asarray(target, dtype=np.float64)
    w = np.ones(len(src)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    mu_s, mu_d = w @ src, w @ dst
    s0, d0 = src - mu_s, dst - mu_d
    cov = (d0 * w[:, None]).T @ s0
    u, sigma, vt = np.linalg.svd(cov)
    # A reflection would fit a mirror image of the face: flip the weakest axis instead.
    d = np.ones(src.shape[1])
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1.0
    rotation = u @ np.diag(d) @ vt
    variance = (w[:, None] * s0**2).sum()
    scale = float((sigma * d).sum() / variance) if variance > 0 else 1.0
    translation = mu_d - scale * rotation @ mu_s
    return Pose(rotation, translation, scale)


def head_pose(landmarks: np.ndarray, reference: np.ndarray) -> Pose:
    """Pose of a face whose landmarks [>=468,3] are given, against the neutral ``reference``."""
    ids, weights = pose_weights()
    return fit_similarity(reference[ids], landmarks[ids], weights)


def frontalise(landmarks: np.ndarray, reference: np.ndarray) -> tuple[list[Pose], np.ndarray]:
    """Per set of landmarks ``[T,>=468,3]``: its :func:`head_pose` and the landmarks with that
    pose removed (``[T,N,3]``, reference units, facing front)."""
    poses = [head_pose(points, reference) for points in landmarks]
    frontal = np.stack([p.invert(points) for p, points in zip(poses, landmarks, strict=True)])
    return poses, frontal
