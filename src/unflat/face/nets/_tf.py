"""TFLite-exact layer helpers shared by the MediaPipe face nets.

TFLite's ``SAME`` padding puts the odd extra row/column at the bottom/right (PyTorch's symmetric
``padding=`` cannot express that for stride 2), and BlazeNet residual shortcuts grow channels by
zero-padding them. These helpers reproduce both exactly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """Zero-pad ``x`` (NCHW) as TFLite's ``SAME`` does: any odd extra goes bottom/right."""
    height, width = x.shape[-2:]
    pad_h = max((-(-height // stride) - 1) * stride + kernel - height, 0)
    pad_w = max((-(-width // stride) - 1) * stride + kernel - width, 0)
    if pad_h == 0 and pad_w == 0:
        return x
    return F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))


def pad_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """Append zero channels up to ``channels`` (the graph's channel ``PAD`` on shortcuts)."""
    extra = channels - x.shape[1]
    return F.pad(x, (0, 0, 0, 0, 0, extra)) if extra > 0 else x


class Conv2dSame(nn.Conv2d):
    """``nn.Conv2d`` with TFLite ``SAME`` padding (square kernel, no dilation)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        groups: int = 1,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, groups=groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(same_pad(x, self.kernel_size[0], self.stride[0]))


def depthwise(channels: int, kernel_size: int = 3, stride: int = 1) -> Conv2dSame:
    """Depthwise ``SAME`` convolution (depth multiplier 1)."""
    return Conv2dSame(channels, channels, kernel_size, stride=stride, groups=channels)


def pointwise(in_channels: int, out_channels: int) -> nn.Conv2d:
    """1×1 convolution with bias."""
    return nn.Conv2d(in_channels, out_channels, 1)
