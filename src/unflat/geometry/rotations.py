"""Rotations: unit quaternions (w, x, y, z) to matrices and back, batched in torch (Gaussians'
orientations), and Euler angles to matrices and back in numpy (head poses).
"""

from __future__ import annotations

import math

import numpy as np
import torch


def quaternion_to_rotation(quats: torch.Tensor) -> torch.Tensor:
    """Rotation matrices ``[N,3,3]`` from quaternions ``[N,4]`` (w, x, y, z), normalised first."""
    w, x, y, z = torch.nn.functional.normalize(quats, dim=-1).unbind(-1)
    return torch.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ],
        dim=-1,
    ).reshape(-1, 3, 3)  # fmt: skip


def rotation_to_quaternion(matrices: torch.Tensor) -> torch.Tensor:
    """Quaternions (w, x, y, z) of rotation matrices ``[N, 3, 3]``.

    Shepperd's method, as SciPy's ``Rotation.from_matrix`` (which the published code calls)
    implements it: the largest of w, x, y, z is computed from the diagonal and is positive, the
    rest from off-diagonal sums and differences, then the quaternion is normalised.
    """
    m = matrices
    trace = m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2]
    choice = torch.stack([m[:, 0, 0], m[:, 1, 1], m[:, 2, 2], trace], dim=-1).argmax(dim=-1)
    # Candidates in SciPy's (x, y, z, w) order, one per choice of the largest component.
    candidates = torch.stack(
        [
            torch.stack(
                [
                    1 - trace + 2 * m[:, 0, 0],
                    m[:, 1, 0] + m[:, 0, 1],
                    m[:, 2, 0] + m[:, 0, 2],
                    m[:, 2, 1] - m[:, 1, 2],
                ],
                dim=-1,
            ),
            torch.stack(
                [
                    m[:, 1, 0] + m[:, 0, 1],
                    1 - trace + 2 * m[:, 1, 1],
                    m[:, 2, 1] + m[:, 1, 2],
                    m[:, 0, 2] - m[:, 2, 0],
                ],
                dim=-1,
            ),
            torch.stack(
                [
                    m[:, 2, 0] + m[:, 0, 2],
                    m[:, 2, 1] + m[:, 1, 2],
                    1 - trace + 2 * m[:, 2, 2],
                    m[:, 1, 0] - m[:, 0, 1],
                ],
                dim=-1,
            ),
            torch.stack(
                [
                    m[:, 2, 1] - m[:, 1, 2],
                    m[:, 0, 2] - m[:, 2, 0],
                    m[:, 1, 0] - m[:, 0, 1],
                    1 + trace,
                ],
                dim=-1,
            ),
        ],
        dim=1,
    )
    xyzw = candidates[torch.arange(m.shape[0]), choice]
    xyzw = xyzw / torch.linalg.norm(xyzw, dim=-1, keepdim=True)
    return xyzw[:, [3, 0, 1, 2]]


def rotation_to_euler(rotation: np.ndarray) -> tuple[float, float, float]:
    """Pitch (about x), yaw (about y), roll (about z) in degrees, for ``R = Rz @ Ry @ Rx``."""
    r = np.asarray(rotation, dtype=np.float64)
    yaw = math.asin(max(-1.0, min(1.0, -r[2, 0])))
    pitch = math.atan2(r[2, 1], r[2, 2])
    roll = math.atan2(r[1, 0], r[0, 0])
    return math.degrees(pitch), math.degrees(yaw), math.degrees(roll)


def euler_to_rotation(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """Inverse of :func:`rotation_to_euler` (degrees in, ``Rz @ Ry @ Rx`` out)."""
    p, y, r = (math.radians(v) for v in (pitch, yaw, roll))
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    return rz @ ry @ rx
