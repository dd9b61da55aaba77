"""F, the appearance feature extractor: a source image to a 3D feature volume.

A 2D encoder (one same-size block, ``num_down_blocks`` halvings, a 1x1 convolution to
``max_features``) whose channels are folded into ``reshape_channel`` x ``reshape_depth``, then
refined by 3D residual blocks: ``[B, 3, 256, 256]`` -> ``[B, 32, 16, 64, 64]`` at full size.
"""

from __future__ import annotations

import torch
from torch import nn

from unflat.face.liveportrait.blocks import DownBlock2d, ResBlock3d, SameBlock2d, widths
from unflat.face.liveportrait.config import AppearanceParams


class AppearanceFeatureExtractor(nn.Module):
    """F of the paper, with the reference's module names."""

    def __init__(self, params: AppearanceParams) -> None:
        super().__init__()
        self.reshape_channel = params.reshape_channel
        self.reshape_depth = params.reshape_depth
        self.first = SameBlock2d(params.image_channel, params.block_expansion)
        sizes = widths(params.block_expansion, params.max_features, params.num_down_blocks)
        self.down_blocks = nn.ModuleList(
            DownBlock2d(sizes[i], sizes[i + 1]) for i in range(params.num_down_blocks)
        )
        self.second = nn.Conv2d(sizes[-1], params.max_features, kernel_size=1)
        self.resblocks_3d = nn.Sequential()
        for index in range(params.num_resblocks):
            self.resblocks_3d.add_module(f"3dr{index}", ResBlock3d(params.reshape_channel))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W]`` in [0, 1] -> ``[B, C, D, H / 2^n, W / 2^n]``."""
        out = self.first(image)
        for block in self.down_blocks:
            out = block(out)
        out = self.second(out)
        batch, _, height, width = out.shape
        volume = out.view(batch, self.reshape_channel, self.reshape_depth, height, width)
        return self.resblocks_3d(volume)
