"""Convolution blocks F and W share, named as the reference names them (``conv``, ``norm``).

All use batch norm with running statistics (the released weights are used in eval mode).
"""

from __future__ import annotations

import torch
import torch.nn.functional as functional
from torch import nn


class SameBlock2d(nn.Module):
    """3x3 convolution, batch norm, ReLU (or leaky ReLU, slope 0.01); keeps the size."""

    def __init__(self, in_features: int, out_features: int, leaky: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_features, out_features, kernel_size=3, padding=1)
        self.norm = nn.BatchNorm2d(out_features)
        self.leaky = leaky

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(self.conv(x))
        return functional.leaky_relu(x) if self.leaky else functional.relu(x)


class DownBlock2d(nn.Module):
    """3x3 convolution, batch norm, ReLU, then 2x2 average pooling."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_features, out_features, kernel_size=3, padding=1)
        self.norm = nn.BatchNorm2d(out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return functional.avg_pool2d(functional.relu(self.norm(self.conv(x))), 2)


class DownBlock3d(nn.Module):
    """3x3x3 convolution, batch norm, ReLU, then average pooling of height and width only."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.conv = nn.Conv3d(in_features, out_features, kernel_size=3, padding=1)
        self.norm = nn.BatchNorm3d(out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return functional.avg_pool3d(functional.relu(self.norm(self.conv(x))), (1, 2, 2))


class UpBlock3d(nn.Module):
    """Nearest 2x upsampling of height and width, 3x3x3 convolution, batch norm, ReLU."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.conv = nn.Conv3d(in_features, out_features, kernel_size=3, padding=1)
        self.norm = nn.BatchNorm3d(out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = functional.interpolate(x, scale_factor=(1.0, 2.0, 2.0), mode="nearest")
        return functional.relu(self.norm(self.conv(x)))


class ResBlock3d(nn.Module):
    """Pre-activation residual block: (norm, ReLU, 3x3x3 conv) twice, plus the input."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv3d(features, features, kernel_size=3, padding=1)
        self.conv2 = nn.Conv3d(features, features, kernel_size=3, padding=1)
        self.norm1 = nn.BatchNorm3d(features)
        self.norm2 = nn.BatchNorm3d(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(functional.relu(self.norm1(x)))
        return x + self.conv2(functional.relu(self.norm2(out)))


def widths(block_expansion: int, max_features: int, count: int) -> list[int]:
    """``min(max_features, block_expansion * 2**i)`` for i in 0..count: an encoder's widths."""
    return [min(max_features, block_expansion * 2**i) for i in range(count + 1)]
