"""MediaPipe face mesh (``face_landmark.tflite``, 468 landmarks), in PyTorch.

Input: RGB ``[B, 3, 192, 192]`` float32 in ``[0, 1]`` (``ImageToTensorCalculator`` with
``output_tensor_float_range {min: 0 max: 1}``), a face crop rotated upright.

Output (raw): ``landmarks [B, 468, 3]`` — x, y in pixels of the 192 input, z in the same scale
relative to the face's centre depth — and ``face_flag_logit [B]`` (sigmoid gives the
face-presence score).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from unflat.face.nets._tf import Conv2dSame, depthwise, pad_channels, pointwise


class MeshBlock(nn.Module):
    """``prelu(shortcut(x) + pw(dw(x)))``; stride 2 max-pools the shortcut, wider zero-pads it."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.stride = stride
        self.out_channels = out_channels
        self.dw = depthwise(in_channels, 3, stride)
        self.pw = pointwise(in_channels, out_channels)
        self.act = nn.PReLU(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pw(self.dw(x))
        if self.stride == 2:
            x = F.max_pool2d(x, 2, 2)
        return self.act(pad_channels(x, self.out_channels) + y)


def _head(out_channels: int, blocks_at_3x3: int) -> nn.Sequential:
    """6×6×128 features -> ``[B, out_channels, 1, 1]``."""
    return nn.Sequential(
        MeshBlock(128, 128, stride=2),
        *(MeshBlock(128, 128) for _ in range(blocks_at_3x3)),
        pointwise(128, 32),
        nn.PReLU(32),
        MeshBlock(32, 32),
        nn.Conv2d(32, out_channels, 3, stride=3),
    )


class FaceMesh(nn.Module):
    """BlazeNet-style backbone with a landmark head and a face-flag head."""

    input_size = 192
    num_landmarks = 468

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(
            Conv2dSame(3, 16, 3, stride=2),
            nn.PReLU(16),
            MeshBlock(16, 16),
            MeshBlock(16, 16),
            MeshBlock(16, 32, stride=2),
            MeshBlock(32, 32),
            MeshBlock(32, 32),
            MeshBlock(32, 64, stride=2),
            MeshBlock(64, 64),
            MeshBlock(64, 64),
            MeshBlock(64, 128, stride=2),
            MeshBlock(128, 128),
            MeshBlock(128, 128),
            MeshBlock(128, 128, stride=2),
            MeshBlock(128, 128),
            MeshBlock(128, 128),
        )
        # Heads in the order of the graph's outputs (landmarks, then face flag).
        self.landmark_head = _head(self.num_landmarks * 3, blocks_at_3x3=2)
        self.flag_head = _head(1, blocks_at_3x3=0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.backbone(x)
        landmarks = self.landmark_head(features).reshape(x.shape[0], self.num_landmarks, 3)
        flag = self.flag_head(features).reshape(x.shape[0])
        return landmarks, flag
