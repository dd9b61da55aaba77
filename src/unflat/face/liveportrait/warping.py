"""W, the warping network: dense 3D motion and occlusion from two keypoint sets, applied to F.

The dense motion network (the reference's, after first-order-motion / face-vid2vid):

1. compress the volume to ``compress`` channels (1x1x1 conv, batch norm, ReLU);
2. sparse motions: for each keypoint k a translation of the identity grid,
   ``grid - x_d[k] + x_s[k]``, with the identity itself first (the background);
3. warp the compressed volume by each (``grid_sample``, ``align_corners=False``) and prepend
   a heatmap channel, ``gaussian(x_d[k]) - gaussian(x_s[k])`` (variance 0.01; zero for the
   background): ``(K + 1) x (compress + 1)`` channels, keypoint-major;
4. a 3D hourglass, then a 7x7x7 conv to K + 1 masks (softmax over them) whose weighted sum of
   the sparse motions is the deformation ``[B, D, H, W, 3]``; and a 7x7 conv over the hourglass
   output with depth folded into channels, sigmoid, for the occlusion map ``[B, 1, H, W]``.

W then samples the full volume at the deformation, folds depth into channels, applies a same
block (leaky ReLU) and a 1x1 conv, and multiplies by the occlusion map.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as functional
from torch import nn

from unflat.face.liveportrait.blocks import DownBlock3d, SameBlock2d, UpBlock3d, widths
from unflat.face.liveportrait.config import DenseMotionParams, WarpingParams

# Variance of each keypoint's Gaussian in the [-1, 1] grid.
KEYPOINT_VARIANCE = 0.01


@dataclass
class Warp:
    """What W computes: the warped 2D feature G decodes, and the motion that made it."""

    warped_feature: torch.Tensor  # [B, C, H, W]
    occlusion_map: torch.Tensor | None  # [B, 1, H, W], None without an occlusion head
    deformation: torch.Tensor  # [B, D, H, W, 3], (x, y, z) in [-1, 1]


def coordinate_grid(depth: int, height: int, width: int, like: torch.Tensor) -> torch.Tensor:
    """``[D, H, W, 3]`` (x right, y down, z inward), each in [-1, 1] end to end."""

    def axis(count: int) -> torch.Tensor:
        steps = torch.arange(count, dtype=like.dtype, device=like.device)
        return 2 * (steps / (count - 1)) - 1

    z, y, x = torch.meshgrid(axis(depth), axis(height), axis(width), indexing="ij")
    return torch.stack([x, y, z], dim=-1)


def gaussians(keypoints: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """``[B, K, D, H, W]`` unnormalised Gaussians around ``[B, K, 3]`` keypoints on ``grid``."""
    offset = grid[None, None] - keypoints[:, :, None, None, None, :]
    return torch.exp(-0.5 * offset.pow(2).sum(-1) / KEYPOINT_VARIANCE)


class Hourglass(nn.Module):
    """3D U-Net: ``encoder.down_blocks`` halve H and W, ``decoder.up_blocks`` restore them with
    skip connections; ends in a 3x3x3 conv, batch norm and ReLU of ``out_filters`` channels."""

    def __init__(self, block_expansion: int, in_features: int, blocks: int, max_features: int):
        super().__init__()
        sizes = widths(block_expansion, max_features, blocks)
        self.encoder = nn.Module()
        self.encoder.down_blocks = nn.ModuleList(
            DownBlock3d(in_features if i == 0 else sizes[i], sizes[i + 1]) for i in range(blocks)
        )
        self.decoder = nn.Module()
        # The deepest level enters alone; every later one is concatenated with its skip.
        self.decoder.up_blocks = nn.ModuleList(
            UpBlock3d(sizes[i + 1] * (1 if i == blocks - 1 else 2), sizes[i])
            for i in reversed(range(blocks))
        )
        self.out_filters = block_expansion + in_features
        self.decoder.conv = nn.Conv3d(self.out_filters, self.out_filters, kernel_size=3, padding=1)
        self.decoder.norm = nn.BatchNorm3d(self.out_filters)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        levels = [x]
        for block in self.encoder.down_blocks:
            levels.append(block(levels[-1]))
        out = levels.pop()
        for block in self.decoder.up_blocks:
            out = torch.cat([block(out), levels.pop()], dim=1)
        return functional.relu(self.decoder.norm(self.decoder.conv(out)))


class DenseMotionNetwork(nn.Module):
    """Sparse keypoint motion -> dense deformation and occlusion (see the module docstring)."""

    def __init__(self, params: DenseMotionParams, num_kp: int, channels: int, occlusion: bool):
        super().__init__()
        inputs = (num_kp + 1) * (params.compress + 1)
        self.hourglass = Hourglass(
            params.block_expansion, inputs, params.num_blocks, params.max_features
        )
        filters = self.hourglass.out_filters
        self.mask = nn.Conv3d(filters, num_kp + 1, kernel_size=7, padding=3)
        self.compress = nn.Conv3d(channels, params.compress, kernel_size=1)
        self.norm = nn.BatchNorm3d(params.compress)
        self.occlusion = (
            nn.Conv2d(filters * params.reshape_depth, 1, kernel_size=7, padding=3)
            if occlusion
            else None
        )

    def forward(
        self, volume: torch.Tensor, x_s: torch.Tensor, x_d: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Deformation ``[B, D, H, W, 3]`` and occlusion ``[B, 1, H, W]`` (or None)."""
        compressed = functional.relu(self.norm(self.compress(volume)))
        batch, channels, depth, height, width = compressed.shape
        count = x_s.shape[1] + 1
        grid = coordinate_grid(depth, height, width, x_s)
        shifts = (x_s - x_d)[:, :, None, None, None, :]
        motions = torch.cat([grid[None, None].expand(batch, 1, -1, -1, -1, -1), grid + shifts], 1)
        repeated = compressed[:, None].expand(-1, count, -1, -1, -1, -1)
        deformed = functional.grid_sample(
            repeated.reshape(batch * count, channels, depth, height, width),
            motions.reshape(batch * count, depth, height, width, 3),
            align_corners=False,
        ).view(batch, count, channels, depth, height, width)
        heat = gaussians(x_d, grid) - gaussians(x_s, grid)
        heat = torch.cat([torch.zeros_like(heat[:, :1]), heat], dim=1)[:, :, None]
        stacked = torch.cat([heat, deformed], dim=2).view(batch, -1, depth, height, width)
        prediction = self.hourglass(stacked)
        masks = torch.softmax(self.mask(prediction), dim=1)
        deformation = (motions * masks[..., None]).sum(dim=1)
        if self.occlusion is None:
            return deformation, None
        folded = prediction.reshape(batch, -1, height, width)
        return deformation, torch.sigmoid(self.occlusion(folded))


class WarpingNetwork(nn.Module):
    """W of the paper, with the reference's module names."""

    def __init__(self, params: WarpingParams) -> None:
        super().__init__()
        self.dense_motion_network = DenseMotionNetwork(
            params.dense_motion_params,
            params.num_kp,
            params.reshape_channel,
            params.estimate_occlusion_map,
        )
        out = params.block_expansion * 2**params.num_down_blocks
        self.third = SameBlock2d(params.max_features, out, leaky=True)
        self.fourth = nn.Conv2d(out, out, kernel_size=1)

    def forward(self, volume: torch.Tensor, x_s: torch.Tensor, x_d: torch.Tensor) -> Warp:
        """Warp ``volume`` ``[B, C, D, H, W]`` from source keypoints to driving ones."""
        deformation, occlusion = self.dense_motion_network(volume, x_s, x_d)
        warped = functional.grid_sample(volume, deformation, align_corners=False)
        batch, channels, depth, height, width = warped.shape
        out = self.fourth(self.third(warped.view(batch, channels * depth, height, width)))
        if occlusion is not None:
            out = out * occlusion
        return Warp(out, occlusion, deformation)
