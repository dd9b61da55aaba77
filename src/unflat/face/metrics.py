"""Metrics for animated faces: pixels, landmarks, head pose, temporal steadiness and identity.

Used by the faces evaluation (self- and cross-reenactment of talking-head videos). All are pure
functions of numpy arrays:

- pixels: :func:`l1`, and :func:`psnr` / :func:`ssim` re-exported from
  :mod:`unflat.image_quality` (those take float images in [0, 1]; :func:`to_unit` converts);
- landmarks ``[N,>=2]`` or ``[T,N,>=2]`` (x, y in pixels, any further column ignored):
  :func:`akd`, :func:`jitter` and :func:`shape_distance`, all divided by the inter-ocular
  distance (:func:`interocular`) so that they read the same at any face size;
- head pose: :func:`pose_error_degrees` between rotation matrices.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from unflat.face.pose import fit_similarity
from unflat.face_mesh import interocular, landmarks_xy
from unflat.image_quality import psnr, ssim

__all__ = [
    "akd",
    "interocular",
    "jitter",
    "l1",
    "pose_error_degrees",
    "psnr",
    "shape_distance",
    "ssim",
    "to_unit",
]


def to_unit(image: np.ndarray) -> np.ndarray:
    """An image as float64 in [0, 1]: integer images are divided by 255, floats kept as they are."""
    array = np.asarray(image)
    if np.issubdtype(array.dtype, np.integer):
        return array.astype(np.float64) / 255.0
    return array.astype(np.float64)


def l1(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean absolute difference of two images in [0, 1] units (uint8 is divided by 255).

    With a boolean ``mask [H,W]`` only the masked pixels count (all their channels); an empty
    mask gives ``nan``.
    """
    x, y = to_unit(a), to_unit(b)
    if x.shape != y.shape:
        raise ValueError(f"l1: images differ in shape, {x.shape} vs {y.shape}")
    error = np.abs(x - y)
    if mask is not None:
        error = error[np.asarray(mask, dtype=bool)]
    return float(error.mean()) if error.size else math.nan


def akd(pred: np.ndarray, target: np.ndarray) -> float:
    """Average keypoint distance between landmark sets ``[..., N, >=2]``, in inter-ocular units.

    Per set: the mean Euclidean x, y distance over the N points, divided by the *target's*
    inter-ocular distance; then the mean over the sets (frames) of a batch ``[T, N, ...]``.
    """
    p, t = landmarks_xy(pred), landmarks_xy(target)
    if p.shape != t.shape:
        raise ValueError(f"akd: landmark shapes differ, {p.shape} vs {t.shape}")
    per_set = np.linalg.norm(p - t, axis=-1).mean(axis=-1) / interocular(target)
    return float(np.mean(per_set))


def pose_error_degrees(rot_a: np.ndarray, rot_b: np.ndarray) -> float | np.ndarray:
    """Geodesic angle between rotation matrices ``[..., 3, 3]``, in degrees ([0, 180]).

    The angle of the relative rotation ``A^T B``, via ``atan2`` of its sine and cosine, which
    stays accurate near 0 and 180 degrees. A float for a single pair, else an array ``[...]``.
    """
    a = np.asarray(rot_a, dtype=np.float64)
    b = np.asarray(rot_b, dtype=np.float64)
    r = np.swapaxes(a, -1, -2) @ b
    cosine2 = np.trace(r, axis1=-2, axis2=-1) - 1.0  # 2 cos(theta)
    axis = np.stack(
        [r[..., 2, 1] - r[..., 1, 2], r[..., 0, 2] - r[..., 2, 0], r[..., 1, 0] - r[..., 0, 1]],
        axis=-1,
    )
    sine2 = np.linalg.norm(axis, axis=-1)  # 2 sin(theta)
    angle = np.degrees(np.arctan2(sine2, cosine2))
    return float(angle) if angle.ndim == 0 else angle


def jitter(landmarks: np.ndarray, times: np.ndarray | None = None) -> float:
    """Temporal jitter of a landmark track ``[T, N, >=2]``: acceleration in inter-ocular units.

    The mean over frames and points of the magnitude of the second difference of the x, y
    positions, ``|p[t+1] - 2 p[t] + p[t-1]|``, divided by the mean inter-ocular distance: 0 for
    a still face and for one moving at constant velocity. With ``times [T]`` (seconds, for a
    variable frame rate) the acceleration is taken on that non-uniform grid and scaled by the
    squared mean frame interval, so it still reads per frame and equals the uniform case when
    the frames are evenly spaced. ``nan`` for fewer than 3 frames.
    """
    xy = landmarks_xy(landmarks)
    if xy.ndim != 3:
        raise ValueError(f"jitter: expected landmarks [T, N, >=2], got {list(xy.shape)}")
    if len(xy) < 3:
        return math.nan
    if times is None:
        accel = xy[2:] - 2.0 * xy[1:-1] + xy[:-2]
    else:
        t = np.asarray(times, dtype=np.float64)
        if t.shape != (len(xy),) or np.any(np.diff(t) <= 0):
            raise ValueError("jitter: times must be [T] and strictly increasing")
        h0 = (t[1:-1] - t[:-2])[:, None, None]
        h1 = (t[2:] - t[1:-1])[:, None, None]
        slope0 = (xy[1:-1] - xy[:-2]) / h0
        slope1 = (xy[2:] - xy[1:-1]) / h1
        accel = 2.0 * (slope1 - slope0) / (h0 + h1) * np.mean(np.diff(t)) ** 2
    magnitude = np.linalg.norm(accel, axis=-1).mean()
    return float(magnitude / np.mean(interocular(xy)))


def shape_distance(
    a: np.ndarray, b: np.ndarray, points: Sequence[int] | np.ndarray | None = None
) -> float:
    """Identity-shape distance between landmark sets ``[..., N, >=2]``, in inter-ocular units.

    ``a`` is aligned onto ``b`` by the least-squares similarity in x, y (translation, rotation,
    uniform scale; no mirroring), then the mean point distance is divided by ``b``'s inter-ocular
    distance. 0 for a set against a shifted, rotated or scaled copy of itself. Batches
    ``[T, N, ...]`` give the mean over sets. With ``points`` only those indices are aligned and
    measured (e.g. the rigid points, which no expression moves); the unit stays ``b``'s
    inter-ocular distance.
    """
    x, y = landmarks_xy(a), landmarks_xy(b)
    if x.shape != y.shape:
        raise ValueError(f"shape_distance: landmark shapes differ, {x.shape} vs {y.shape}")
    n = x.shape[-2]
    xs, ys = x.reshape(-1, n, 2), y.reshape(-1, n, 2)
    iod = interocular(ys)
    if points is not None:
        xs, ys = xs[:, points], ys[:, points]
    distances = []
    for p, q, unit in zip(xs, ys, iod, strict=True):
        fit = fit_similarity(p, q)  # in float64: Pose.apply rounds to float32
        moved = fit.scale * p @ fit.rotation.T + fit.translation
        distances.append(np.linalg.norm(moved - q, axis=-1).mean() / unit)
    return float(np.mean(distances))
