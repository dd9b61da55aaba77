"""M, the motion extractor, and the head-pose and keypoint formulas the reference applies to it.

The reference's refinement: each of pitch, yaw and roll is the expectation of a softmax over 66
bins of 3 degrees, shifted by -97.5 (the reference moved the centre from 99 to 97.5); keypoints
and expression are reshaped to ``[B, K, 3]``. Its rotation convention: ``R = (Rz(roll) Ry(yaw)
Rx(pitch))ᵀ`` applied to row vectors (``kp @ R``), and a keypoint is ``x = s (kp R + exp) + t``
with the depth of ``t`` dropped.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from unflat.face.liveportrait.config import BackboneParams, MotionParams
from unflat.face.liveportrait.convnext import POSE_BINS, ConvNeXtV2

DEGREES_PER_BIN = 3.0
# Degrees of bin 0's centre, negated: bins cover about -97.5..+97.5 degrees.
POSE_OFFSET = 97.5


class MotionExtractor(nn.Module):
    """M of the paper: the ConvNeXt-V2 ``detector`` and its heads."""

    def __init__(self, params: MotionParams, backbone: BackboneParams) -> None:
        super().__init__()
        self.detector = ConvNeXtV2(backbone, params.num_kp)

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """Raw head outputs (pose as bin logits, keypoints flat)."""
        return self.detector(image)


def bins_to_degrees(logits: torch.Tensor) -> torch.Tensor:
    """``[B, 66]`` pose-bin logits -> ``[B, 1]`` degrees (the softmax expectation)."""
    centres = torch.arange(POSE_BINS, dtype=logits.dtype, device=logits.device)
    expected = (torch.softmax(logits, dim=1) * centres).sum(dim=1, keepdim=True)
    return expected * DEGREES_PER_BIN - POSE_OFFSET


def refine(raw: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The reference's refined motion: degrees for the pose, ``[B, K, 3]`` for kp and exp."""
    batch = raw["kp"].shape[0]
    motion = {name: bins_to_degrees(raw[name]) for name in ("pitch", "yaw", "roll")}
    motion["t"] = raw["t"]
    motion["exp"] = raw["exp"].reshape(batch, -1, 3)
    motion["scale"] = raw["scale"]
    motion["kp"] = raw["kp"].reshape(batch, -1, 3)
    return motion


def rotation_matrix(pitch: torch.Tensor, yaw: torch.Tensor, roll: torch.Tensor) -> torch.Tensor:
    """``[B, 3, 3]`` from angles in degrees (``[B]`` or ``[B, 1]``), for row vectors: the
    transpose of :func:`unflat.geometry.rotations.euler_to_rotation`'s convention, batched in
    torch in the reference's own arithmetic (the fixtures hold it to that)."""
    angles = [torch.as_tensor(a).reshape(-1) * (math.pi / 180) for a in (pitch, yaw, roll)]
    (cos_x, cos_y, cos_z), (sin_x, sin_y, sin_z) = (
        [torch.cos(a) for a in angles],
        [torch.sin(a) for a in angles],
    )
    one, zero = torch.ones_like(cos_x), torch.zeros_like(cos_x)

    def matrix(*rows: torch.Tensor) -> torch.Tensor:
        return torch.stack(rows, dim=-1).reshape(-1, 3, 3)

    about_x = matrix(one, zero, zero, zero, cos_x, -sin_x, zero, sin_x, cos_x)
    about_y = matrix(cos_y, zero, sin_y, zero, one, zero, -sin_y, zero, cos_y)
    about_z = matrix(cos_z, -sin_z, zero, sin_z, cos_z, zero, zero, zero, one)
    return (about_z @ about_y @ about_x).transpose(1, 2)


def motion_rotation(motion: dict[str, torch.Tensor]) -> torch.Tensor:
    """The rotation matrix of a refined motion dict."""
    return rotation_matrix(motion["pitch"], motion["yaw"], motion["roll"])


def place_keypoints(
    kp: torch.Tensor,
    rotation: torch.Tensor,
    exp: torch.Tensor,
    scale: torch.Tensor,
    t: torch.Tensor,
) -> torch.Tensor:
    """``s (kp R + exp) + t`` with ``t``'s depth dropped; ``[B, K, 3]``."""
    points = scale[..., None] * (kp @ rotation + exp)
    shift = torch.cat([t[:, :2], torch.zeros_like(t[:, 2:3])], dim=1)
    return points + shift[:, None, :]
