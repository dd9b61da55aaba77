"""The multi-resolution convolutional decoder of DPT, as Depth Pro (and SHARP) use it.

Features from the coarsest level are refined and upsampled 2x per level, each time fused with the
next finer encoder level. Parameter names (``convs.N``, ``fusions.N.resnet1.residual.1``,
``fusions.N.deconv``, ``fusions.N.out_conv``) equal the released checkpoints'.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

# How a fusion block doubles its resolution: Depth Pro always learns a transposed convolution;
# SHARP's Gaussian decoder may instead use a parameter-free resampling.
UpsamplingMode = Literal["transposed_conv", "nearest", "bilinear"]
UPSAMPLING_MODES: tuple[str, ...] = ("transposed_conv", "nearest", "bilinear")


class ResidualBlock(nn.Module):
    """``x + residual(x)``, with an optional projection on the shortcut."""

    def __init__(self, residual: nn.Module, shortcut: nn.Module | None = None) -> None:
        super().__init__()
        self.residual = residual
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        delta = self.residual(x)
        if self.shortcut is not None:
            x = self.shortcut(x)
        return x + delta


def preactivation_residual(channels: int, batch_norm: bool = False) -> ResidualBlock:
    """Two (ReLU, 3x3 conv[, BN]) pairs; index 1 and 3 (or 1 and 4 with BN) are the convs."""
    layers: list[nn.Module] = []
    for _ in range(2):
        # Not in-place: the block's input is needed again for the skip connection.
        layers += [
            nn.ReLU(inplace=False),
            nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=not batch_norm),
        ]
        if batch_norm:
            layers.append(nn.BatchNorm2d(channels))
    return ResidualBlock(nn.Sequential(*layers))


class FeatureFusionBlock2d(nn.Module):
    """Fuse a skip feature into the running feature, refine, optionally upsample 2x, project.

    ``dim_out`` (default ``channels``) is the width of the final 1x1 projection; ``upsampling``
    picks how ``deconv`` doubles the resolution (only the transposed convolution has weights).
    """

    def __init__(
        self,
        channels: int,
        deconv: bool = False,
        batch_norm: bool = False,
        dim_out: int | None = None,
        upsampling: UpsamplingMode = "transposed_conv",
    ) -> None:
        super().__init__()
        self.resnet1 = preactivation_residual(channels, batch_norm)
        self.resnet2 = preactivation_residual(channels, batch_norm)
        self.use_deconv = deconv
        if deconv:
            self.deconv = upsampling_layer(channels, upsampling)
        self.out_conv = nn.Conv2d(channels, dim_out or channels, kernel_size=1, bias=True)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        if skip is not None:
            x = x + self.resnet1(skip)
        x = self.resnet2(x)
        if self.use_deconv:
            x = self.deconv(x)
        return self.out_conv(x)


def upsampling_layer(channels: int, mode: UpsamplingMode) -> nn.Module:
    """A 2x upsampling: a bias-free 2x2 transposed convolution, or nearest / bilinear resizing."""
    if mode == "transposed_conv":
        return nn.ConvTranspose2d(channels, channels, kernel_size=2, stride=2, bias=False)
    if mode in ("nearest", "bilinear"):
        return nn.Upsample(scale_factor=2, mode=mode)
    raise ValueError(f"unknown upsampling mode {mode!r}; use one of {UPSAMPLING_MODES}")


class MultiresConvDecoder(nn.Module):
    """Decode encodings ordered finest first; returns (fused features, coarsest projected).

    ``dim_decoder`` is one width for every level (Depth Pro) or one per level (SHARP); level
    ``i``'s fusion then projects to level ``i - 1``'s width, and the output has level 0's.
    """

    def __init__(
        self,
        dims_encoder: Sequence[int],
        dim_decoder: int | Sequence[int],
        upsampling: UpsamplingMode = "transposed_conv",
    ) -> None:
        super().__init__()
        self.dims_encoder = list(dims_encoder)
        if isinstance(dim_decoder, int):
            dims_decoder = [dim_decoder] * len(self.dims_encoder)
        else:
            dims_decoder = list(dim_decoder)
        if len(dims_decoder) != len(self.dims_encoder):
            raise ValueError(
                f"{len(self.dims_encoder)} encoder levels but {len(dims_decoder)} decoder widths"
            )
        self.dims_decoder = dims_decoder
        self.dim_decoder = dims_decoder[0]
        # The finest level is already at decoder width in Depth Pro: no projection there then.
        first: nn.Module = (
            nn.Conv2d(self.dims_encoder[0], dims_decoder[0], kernel_size=1, bias=False)
            if self.dims_encoder[0] != dims_decoder[0]
            else nn.Identity()
        )
        self.convs = nn.ModuleList(
            [first]
            + [
                nn.Conv2d(dim_in, dim_out, kernel_size=3, padding=1, bias=False)
                for dim_in, dim_out in zip(self.dims_encoder[1:], dims_decoder[1:], strict=True)
            ]
        )
        self.fusions = nn.ModuleList(
            FeatureFusionBlock2d(
                dims_decoder[index],
                deconv=index != 0,
                dim_out=dims_decoder[max(index - 1, 0)],
                upsampling=upsampling,
            )
            for index in range(len(self.dims_encoder))
        )

    def forward(self, encodings: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        if len(encodings) != len(self.dims_encoder):
            raise ValueError(
                f"decoder expects {len(self.dims_encoder)} levels, got {len(encodings)}"
            )
        features = self.convs[-1](encodings[-1])
        lowres = features
        features = self.fusions[-1](features)
        for level in range(len(encodings) - 2, -1, -1):
            features = self.fusions[level](features, self.convs[level](encodings[level]))
        return features, lowres
