"""ConvNeXt-V2 (with global response normalisation) and the motion extractor's linear heads.

Four stages at 1/4, 1/8, 1/16 and 1/32 of the input; each block is a 7x7 depthwise convolution,
layer norm, a 4x wider pointwise MLP with GELU and GRN, and a residual. The pooled features
feed seven linear heads: canonical keypoints, scale, 66 bins each for pitch, yaw and roll,
translation and expression. Names follow the reference (``downsample_layers``, ``stages``,
``fc_*``), so the released ``motion_extractor.detector.*`` tensors load as they are.
"""

from __future__ import annotations

import torch
import torch.nn.functional as functional
from torch import nn

from unflat.face.liveportrait.config import BackboneParams

# Head pose is classified into 66 bins of 3 degrees (see motion.bins_to_degrees).
POSE_BINS = 66
LAYER_NORM_EPS = 1e-6
# Keeps GRN's division finite when every channel's response is zero.
GRN_EPS = 1e-6


class ChannelsFirstLayerNorm(nn.Module):
    """Layer norm over the channels of a ``[B, C, H, W]`` map."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(1, keepdim=True)
        variance = (x - mean).pow(2).mean(1, keepdim=True)
        x = (x - mean) / torch.sqrt(variance + LAYER_NORM_EPS)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class GlobalResponseNorm(nn.Module):
    """GRN on channels-last maps: each channel scaled by its spatial L2 norm over their mean."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, 1, 1, channels))
        self.beta = nn.Parameter(torch.zeros(1, 1, 1, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        response = torch.linalg.vector_norm(x, dim=(1, 2), keepdim=True)
        normalised = response / (response.mean(dim=-1, keepdim=True) + GRN_EPS)
        return self.gamma * (x * normalised) + self.beta + x


class ConvNeXtBlock(nn.Module):
    """Depthwise 7x7, layer norm, pointwise 4x expansion, GELU, GRN, projection, residual."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.grn = GlobalResponseNorm(4 * dim)
        self.pwconv2 = nn.Linear(4 * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.dwconv(x).permute(0, 2, 3, 1)
        out = self.grn(functional.gelu(self.pwconv1(self.norm(out))))
        return x + self.pwconv2(out).permute(0, 3, 1, 2)


class ConvNeXtV2(nn.Module):
    """The backbone and heads; ``forward`` gives the raw head outputs by name."""

    def __init__(self, backbone: BackboneParams, num_kp: int, in_channels: int = 3) -> None:
        super().__init__()
        dims = backbone.dims
        stem = nn.Sequential(
            nn.Conv2d(in_channels, dims[0], kernel_size=4, stride=4),
            ChannelsFirstLayerNorm(dims[0]),
        )
        self.downsample_layers = nn.ModuleList([stem])
        for index in range(3):
            self.downsample_layers.append(
                nn.Sequential(
                    ChannelsFirstLayerNorm(dims[index]),
                    nn.Conv2d(dims[index], dims[index + 1], kernel_size=2, stride=2),
                )
            )
        self.stages = nn.ModuleList(
            nn.Sequential(*(ConvNeXtBlock(dim) for _ in range(depth)))
            for dim, depth in zip(dims, backbone.depths, strict=True)
        )
        self.norm = nn.LayerNorm(dims[-1], eps=LAYER_NORM_EPS)
        width = dims[-1]
        self.fc_kp = nn.Linear(width, 3 * num_kp)
        self.fc_scale = nn.Linear(width, 1)
        self.fc_pitch = nn.Linear(width, POSE_BINS)
        self.fc_yaw = nn.Linear(width, POSE_BINS)
        self.fc_roll = nn.Linear(width, POSE_BINS)
        self.fc_t = nn.Linear(width, 3)
        self.fc_exp = nn.Linear(width, 3 * num_kp)

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        x = image
        for downsample, stage in zip(self.downsample_layers, self.stages, strict=True):
            x = stage(downsample(x))
        pooled = self.norm(x.mean(dim=(-2, -1)))
        heads = ("kp", "scale", "pitch", "yaw", "roll", "t", "exp")
        return {name: getattr(self, f"fc_{name}")(pooled) for name in heads}
