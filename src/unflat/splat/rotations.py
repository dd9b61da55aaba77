"""Rotation matrices to unit quaternions (w, x, y, z), batched in torch."""

from __future__ import annotations

import torch


def rotation_to_quaternion(rotations: torch.Tensor) -> torch.Tensor:
    """Unit quaternions ``[N,4]`` (w, x, y, z, with w >= 0) of rotation matrices ``[N,3,3]``.

    Uses the largest of the four candidate denominators per matrix (Shepperd's method), which
    stays accurate for every rotation, including 180-degree turns where ``w`` is near zero.
    """
    m = rotations
    m00, m11, m22 = m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]
    trace = m00 + m11 + m22
    candidates = torch.stack(
        [
            torch.stack([1 + trace, m[:, 2, 1] - m[:, 1, 2], m[:, 0, 2] - m[:, 2, 0],
                         m[:, 1, 0] - m[:, 0, 1]], dim=-1),
            torch.stack([m[:, 2, 1] - m[:, 1, 2], 1 + m00 - m11 - m22,
                         m[:, 0, 1] + m[:, 1, 0], m[:, 0, 2] + m[:, 2, 0]], dim=-1),
            torch.stack([m[:, 0, 2] - m[:, 2, 0], m[:, 0, 1] + m[:, 1, 0],
                         1 - m00 + m11 - m22, m[:, 1, 2] + m[:, 2, 1]], dim=-1),
            torch.stack([m[:, 1, 0] - m[:, 0, 1], m[:, 0, 2] + m[:, 2, 0],
                         m[:, 1, 2] + m[:, 2, 1], 1 - m00 - m11 + m22], dim=-1),
        ],
        dim=1,
    )  # fmt: skip
    # Row k of candidate k is 4 q_k q; the row with the largest diagonal is best conditioned.
    diagonal = torch.stack([1 + trace, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22,
                            1 - m00 - m11 + m22], dim=-1)  # fmt: skip
    best = diagonal.argmax(dim=-1)
    quats = candidates[torch.arange(len(m), device=m.device), best]
    quats = quats / quats.norm(dim=-1, keepdim=True)
    return torch.where(quats[:, :1] < 0, -quats, quats)
