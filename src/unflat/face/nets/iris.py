"""MediaPipe iris landmarks (``iris_landmark.tflite``), in PyTorch.

Input: RGB ``[B, 3, 64, 64]`` float32 in ``[0, 1]`` (``TfLiteConverterCalculator`` with
``zero_center: false``), an eye crop; MediaPipe flips right eyes horizontally first.

Output (raw): ``eye_contour [B, 71, 3]`` (eyelid and brow points) and ``iris [B, 5, 3]`` (centre,
then four boundary points), x, y in pixels of the 64 input.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from unflat.face.nets._tf import Conv2dSame, depthwise, pad_channels, pointwise


class IrisBlock(nn.Module):
    """Bottleneck ``prelu(shortcut(x) + expand(dw(prelu(reduce(x)))))`` at half the width.

    Stride 2 reduces with a 2×2/2 convolution and max-pools (and, when wider, zero-pads) the
    shortcut.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        mid = out_channels // 2
        self.stride = stride
        self.out_channels = out_channels
        self.reduce = nn.Conv2d(in_channels, mid, stride, stride=stride)
        self.reduce_act = nn.PReLU(mid)
        self.dw = depthwise(mid, 3)
        self.expand = pointwise(mid, out_channels)
        self.act = nn.PReLU(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.expand(self.dw(self.reduce_act(self.reduce(x))))
        if self.stride == 2:
            x = F.max_pool2d(x, 2, 2)
        return self.act(pad_channels(x, self.out_channels) + y)


def _head(out_channels: int) -> nn.Sequential:
    """8×8×128 features -> ``[B, out_channels, 1, 1]``."""
    return nn.Sequential(
        IrisBlock(128, 128),
        IrisBlock(128, 128),
        IrisBlock(128, 128, stride=2),
        IrisBlock(128, 128),
        IrisBlock(128, 128),
        IrisBlock(128, 128, stride=2),
        IrisBlock(128, 128),
        IrisBlock(128, 128),
        nn.Conv2d(128, out_channels, 2),
    )


class IrisLandmark(nn.Module):
    """Shared trunk, then one branch for the eye contour and one for the iris."""

    input_size = 64
    num_contour = 71
    num_iris = 5

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(
            Conv2dSame(3, 64, 3, stride=2),
            nn.PReLU(64),
            IrisBlock(64, 64),
            IrisBlock(64, 64),
            IrisBlock(64, 64),
            IrisBlock(64, 64),
            IrisBlock(64, 128, stride=2),
            IrisBlock(128, 128),
            IrisBlock(128, 128),
            IrisBlock(128, 128),
            IrisBlock(128, 128),
            IrisBlock(128, 128, stride=2),
        )
        # Heads in the order of the graph's outputs (eye contour, then iris).
        self.contour_head = _head(self.num_contour * 3)
        self.iris_head = _head(self.num_iris * 3)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.backbone(x)
        contour = self.contour_head(features).reshape(x.shape[0], self.num_contour, 3)
        iris = self.iris_head(features).reshape(x.shape[0], self.num_iris, 3)
        return contour, iris
