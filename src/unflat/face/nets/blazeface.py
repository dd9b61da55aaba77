"""BlazeFace short range (MediaPipe ``face_detection_short_range.tflite``), in PyTorch.

Input: RGB ``[B, 3, 128, 128]`` float32 in ``[-1, 1]`` (MediaPipe's ``ImageToTensorCalculator``
with ``output_tensor_float_range {min: -1 max: 1}``, letterboxed with zeros).

Output (raw, no anchor decoding): ``regressors [B, 896, 16]`` — per anchor ``(dx, dy, w, h)``
then six ``(x, y)`` keypoints, in pixels of the 128 input relative to the anchor centre — and
``logits [B, 896]`` (apply a sigmoid for the face score). Anchors are the 512 of the 16×16 grid
(2 per cell) followed by the 384 of the 8×8 grid (6 per cell), row-major.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from unflat.face.nets._tf import Conv2dSame, depthwise, pad_channels, pointwise


class BlazeBlock(nn.Module):
    """``relu(shortcut(x) + pw(dw(x)))``; stride 2 max-pools the shortcut, wider zero-pads it."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.stride = stride
        self.out_channels = out_channels
        self.dw = depthwise(in_channels, 3, stride)
        self.pw = pointwise(in_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pw(self.dw(x))
        if self.stride == 2:
            x = F.max_pool2d(x, 2, 2)
        return F.relu(pad_channels(x, self.out_channels) + y)


class BlazeFace(nn.Module):
    """Front-camera BlazeFace: 896 anchors over 16×16 and 8×8 feature maps."""

    input_size = 128
    num_anchors = 896

    def __init__(self) -> None:
        super().__init__()
        self.backbone1 = nn.Sequential(
            Conv2dSame(3, 24, 5, stride=2),
            nn.ReLU(),
            BlazeBlock(24, 24),
            BlazeBlock(24, 28),
            BlazeBlock(28, 32, stride=2),
            BlazeBlock(32, 36),
            BlazeBlock(36, 42),
            BlazeBlock(42, 48, stride=2),
            BlazeBlock(48, 56),
            BlazeBlock(56, 64),
            BlazeBlock(64, 72),
            BlazeBlock(72, 80),
            BlazeBlock(80, 88),
        )
        self.backbone2 = nn.Sequential(
            BlazeBlock(88, 96, stride=2),
            BlazeBlock(96, 96),
            BlazeBlock(96, 96),
            BlazeBlock(96, 96),
            BlazeBlock(96, 96),
        )
        # Heads in the order of the graph's outputs (regressors, then classificators).
        self.regressor_16 = pointwise(88, 2 * 16)
        self.regressor_8 = pointwise(96, 6 * 16)
        self.classifier_16 = pointwise(88, 2)
        self.classifier_8 = pointwise(96, 6)

    @staticmethod
    def _anchors_last(x: torch.Tensor, width: int) -> torch.Tensor:
        """``[B, A*width, H, W]`` -> ``[B, H*W*A, width]`` (the graph's NHWC reshape)."""
        return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1, width)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f16 = self.backbone1(x)
        f8 = self.backbone2(f16)
        regressors = torch.cat(
            [
                self._anchors_last(self.regressor_16(f16), 16),
                self._anchors_last(self.regressor_8(f8), 16),
            ],
            dim=1,
        )
        logits = torch.cat(
            [
                self._anchors_last(self.classifier_16(f16), 1),
                self._anchors_last(self.classifier_8(f8), 1),
            ],
            dim=1,
        )
        return regressors, logits[..., 0]
