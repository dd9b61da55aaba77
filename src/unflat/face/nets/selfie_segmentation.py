"""MediaPipe selfie segmentation, general model (``selfie_segmentation.tflite``), in PyTorch.

Input: RGB ``[B, 3, 256, 256]`` float32 in ``[0, 1]`` (``ImageToTensorCalculator`` with
``output_tensor_float_range {min: 0 max: 1}``, the whole frame stretched, no letterbox).

Output: ``mask [B, 1, 256, 256]``, the person probability after the model's own sigmoid.

A MobileNetV3-style encoder (hard-swish, squeeze-excite with a logistic gate), an LR-ASPP-like
head at 1/16, and three decoder stages that fuse skips through an SE gate; the last layer is
MediaPipe's custom ``Convolution2DTransposeBias`` (a 2×2/2 transposed convolution with bias).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from unflat.face.nets._tf import Conv2dSame, depthwise, pointwise


class SqueezeExcite(nn.Module):
    """``sigmoid(expand(relu(reduce(mean(x)))))``: a per-channel gate (not applied here)."""

    def __init__(self, channels: int, squeezed: int) -> None:
        super().__init__()
        self.reduce = pointwise(channels, squeezed)
        self.expand = pointwise(squeezed, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = x.mean(dim=(2, 3), keepdim=True)
        return torch.sigmoid(self.expand(F.relu(self.reduce(pooled))))


class InvertedResidual(nn.Module):
    """MobileNetV3 block: expand 1×1, depthwise, optional SE, project 1×1 (+ x if same shape)."""

    def __init__(
        self,
        in_channels: int,
        hidden: int,
        out_channels: int,
        kernel_size: int,
        stride: int,
        se_channels: int | None,
        hard_swish: bool,
    ) -> None:
        super().__init__()
        self.expand = pointwise(in_channels, hidden)
        self.dw = depthwise(hidden, kernel_size, stride)
        self.se = SqueezeExcite(hidden, se_channels) if se_channels else None
        self.project = pointwise(hidden, out_channels)
        self.act = nn.Hardswish() if hard_swish else nn.ReLU()
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.dw(self.act(self.expand(x))))
        if self.se is not None:
            y = y * self.se(y)
        y = self.project(y)
        return x + y if self.residual else y


class SegmentationHead(nn.Module):
    """``relu(conv(x)) * sigmoid(gate(mean(x)))`` at the encoder's 1/16 resolution."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = pointwise(in_channels, out_channels)
        self.gate = pointwise(in_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self.gate(x.mean(dim=(2, 3), keepdim=True)))
        return F.relu(self.conv(x)) * gate


class DecoderBlock(nn.Module):
    """Upsample ×2, project to the skip's width, SE-gate the skip, then a 1×1 + depthwise refine."""

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__()
        self.project = pointwise(in_channels, channels)
        self.se = SqueezeExcite(channels, channels)
        self.conv = pointwise(channels, channels)
        self.dw = depthwise(channels, 3)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        up = self.project(up)
        fused = skip * self.se(skip + up) + up
        fused = F.relu(self.conv(fused))
        return fused + F.relu(self.dw(fused))


class SelfieSegmentation(nn.Module):
    """Person segmentation at 256×256."""

    input_size = 256

    def __init__(self) -> None:
        super().__init__()
        self.stem = Conv2dSame(3, 16, 3, stride=2)
        self.encoder = nn.ModuleList(
            [
                # in, hidden, out, kernel, stride, se, hard-swish
                InvertedResidual(16, 16, 16, 3, 2, 8, False),  # 1/4: skip
                InvertedResidual(16, 72, 24, 3, 2, None, False),
                InvertedResidual(24, 88, 24, 3, 1, None, False),  # 1/8: skip
                InvertedResidual(24, 96, 32, 5, 2, 24, True),
                InvertedResidual(32, 128, 32, 5, 1, 32, True),
                InvertedResidual(32, 128, 32, 5, 1, 32, True),
                InvertedResidual(32, 96, 32, 5, 1, 24, True),
                InvertedResidual(32, 96, 32, 5, 1, 24, True),
            ]
        )
        self.head = SegmentationHead(32, 128)
        self.decoder = nn.ModuleList(
            [DecoderBlock(128, 24), DecoderBlock(24, 16), DecoderBlock(16, 16)]
        )
        self.output = nn.ConvTranspose2d(16, 1, 2, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.hardswish(self.stem(x))
        skips = [x]  # 1/2
        for i, block in enumerate(self.encoder):
            x = block(x)
            if i in (0, 2):  # 1/4 and 1/8
                skips.append(x)
        x = self.head(x)
        for block in self.decoder:
            x = block(x, skips.pop())
        return torch.sigmoid(self.output(x))
