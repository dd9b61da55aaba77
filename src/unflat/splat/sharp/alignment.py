"""SHARP's learned depth alignment: a small UNet predicting a per-pixel scale map.

It rescales the monodepth prediction to agree with a given reference depth. Prediction from a
photo alone never uses it, but its weights are part of the released checkpoint.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from unflat.splat.sharp.config import ALIGNMENT_NORM_GROUPS, AlignmentParams, alignment_widths
from unflat.splat.sharp.layers import activation, norm_layer, norm_residual_block


class UNetEncoder(nn.Module):
    """A stem conv, then ``steps`` times (2x average pool, residual blocks) at growing widths."""

    def __init__(
        self,
        dim_in: int,
        widths: Sequence[int],
        norm_type: str = "group_norm",
        norm_num_groups: int = 8,
        blocks_per_level: int = 2,
    ) -> None:
        super().__init__()
        self.conv_in = nn.Sequential(
            nn.Conv2d(dim_in, widths[0], 3, padding=1),
            norm_layer(widths[0], norm_type, norm_num_groups),
            nn.ReLU(),
        )
        self.convs_down = nn.ModuleList(
            nn.Sequential(
                nn.AvgPool2d(2, stride=2),
                *[
                    norm_residual_block(
                        width_in if block == 0 else width_out,
                        width_out,
                        norm_type=norm_type,
                        norm_num_groups=norm_num_groups,
                    )
                    for block in range(blocks_per_level)
                ],
            )
            for width_in, width_out in itertools.pairwise(widths)
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Feature maps of every level, finest first."""
        features = [self.conv_in(x)]
        for down in self.convs_down:
            features.append(down(features[-1]))
        return features


class UNetDecoder(nn.Module):
    """``steps`` times (2x nearest upsampling, residual blocks), concatenating encoder skips."""

    def __init__(
        self,
        dim_out: int,
        widths: Sequence[int],
        steps: int,
        norm_type: str = "group_norm",
        norm_num_groups: int = 8,
        blocks_per_level: int = 2,
    ) -> None:
        super().__init__()
        # Coarsest first: the decoder climbs back only ``steps`` of the encoder's levels.
        dims = list(widths)[::-1][: steps + 1]
        self.convs_up = nn.ModuleList(
            nn.Sequential(
                nn.Upsample(scale_factor=2),
                *[
                    norm_residual_block(
                        (dims[step] * (1 if step == 0 else 2)) if block == 0 else dims[step + 1],
                        dims[step + 1],
                        norm_type=norm_type,
                        norm_num_groups=norm_num_groups,
                    )
                    for block in range(blocks_per_level)
                ],
            )
            for step in range(steps)
        )
        last = dims[-1]
        self.conv_out = nn.Sequential(
            norm_layer(2 * last, norm_type, norm_num_groups),
            nn.ReLU(),
            nn.Conv2d(2 * last, dim_out, 1),
            norm_layer(dim_out, norm_type, norm_num_groups),
            nn.ReLU(),
        )

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        level = len(features) - 1
        out = self.convs_up[0](features[level])
        for up in self.convs_up[1:]:
            level -= 1
            out = up(torch.cat([out, features[level]], dim=1))
        return self.conv_out(torch.cat([out, features[level - 1]], dim=1))


class LearnedAlignment(nn.Module):
    """Scale map that aligns a source depth to a target depth (both ``[B,1,H,W]``, metres)."""

    def __init__(self, params: AlignmentParams, depth_decoder_dim: int) -> None:
        super().__init__()
        self.activation = activation(params.activation_type)
        self.depth_decoder_features = params.depth_decoder_features
        dim_in = 2 + (depth_decoder_dim if params.depth_decoder_features else 0)
        widths = alignment_widths(params)
        steps_decoder = params.steps - int(math.log2(params.stride))
        self.encoder = UNetEncoder(dim_in, widths, norm_num_groups=ALIGNMENT_NORM_GROUPS)
        self.decoder = UNetDecoder(
            widths[0], widths, steps_decoder, norm_num_groups=ALIGNMENT_NORM_GROUPS
        )
        self.conv_out = nn.Conv2d(widths[0], 1, 1, bias=True)
        # Zero weights and a bias at the activation's preimage of 1: initially the identity map.
        nn.init.zeros_(self.conv_out.weight)
        # (On the CPU explicitly, so that building on the meta device works too.)
        one = torch.tensor(1.0, device="cpu")
        nn.init.constant_(self.conv_out.bias, float(self.activation.inverse(one)))

    def forward(
        self,
        source: torch.Tensor,
        target: torch.Tensor,
        decoder_features: torch.Tensor | None = None,
    ) -> torch.Tensor:
        # Depths are mostly >= 1 m: their inverses are a better-conditioned input.
        inputs = [1.0 / source.clamp(min=1e-4), 1.0 / target.clamp(min=1e-4)]
        if self.depth_decoder_features:
            if decoder_features is None:
                raise ValueError("this alignment module needs the monodepth decoder features")
            inputs.append(F.interpolate(decoder_features, size=source.shape[-2:], mode="bilinear"))
        output = self.conv_out(self.decoder(self.encoder(torch.cat(inputs, dim=1))))
        scale = self.activation.forward(output)
        return F.interpolate(scale, size=source.shape[-2:], mode="bilinear", align_corners=False)
