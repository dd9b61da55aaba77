"""G, the SPADE decoder: the warped feature to an image, 2x larger with ``upscale`` 2.

A 3x3 conv doubles the channels; six SPADE residual blocks at the feature's size, then nearest
2x upsampling and a block halving the channels, 2x again and a block down to 64 channels; a
leaky ReLU, a 3x3 conv to 12 channels and a pixel shuffle (to 3 at twice the size), and a
sigmoid. Every SPADE normalisation is modulated by the warped feature itself. The residual
blocks' convolutions carry spectral normalisation (``weight_orig``, ``weight_u``, ``weight_v``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as functional
from torch import nn

from unflat.face.liveportrait.config import SpadeParams, spade_channels

# Fixed in the reference: the SPADE hidden width, the last block's width and the leaky slope.
SPADE_HIDDEN = 128
OUTPUT_FEATURES = 64
LEAKY_SLOPE = 0.2
MIDDLE_BLOCKS = 6
# Power iterations that give freshly initialised spectral norms a sensible sigma.
INITIAL_POWER_ITERATIONS = 3


class SpectralConv2d(nn.Module):
    """A convolution whose weight is divided by its largest singular value.

    Stores the tensors of ``torch.nn.utils.spectral_norm`` (``weight_orig`` and the singular
    vectors ``weight_u``, ``weight_v``) and computes the weight as that does in eval mode:
    ``sigma = u · (W v)`` from the stored vectors, with no power iteration (inference only).
    """

    def __init__(self, fin: int, fout: int, kernel_size: int, bias: bool = True) -> None:
        super().__init__()
        self.padding = kernel_size // 2
        self.weight_orig = nn.Parameter(torch.empty(fout, fin, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(fout)) if bias else None
        self.register_buffer("weight_u", torch.empty(fout))
        self.register_buffer("weight_v", torch.empty(fin * kernel_size * kernel_size))
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        nn.init.kaiming_uniform_(self.weight_orig, a=5**0.5)
        matrix = self.weight_orig.flatten(1)
        self.weight_v.copy_(functional.normalize(torch.randn_like(self.weight_v), dim=0))
        for _ in range(INITIAL_POWER_ITERATIONS):
            self.weight_u.copy_(functional.normalize(matrix @ self.weight_v, dim=0))
            self.weight_v.copy_(functional.normalize(matrix.t() @ self.weight_u, dim=0))

    def weight(self) -> torch.Tensor:
        matrix = self.weight_orig.flatten(1)
        sigma = torch.dot(self.weight_u, matrix @ self.weight_v)
        return self.weight_orig / sigma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return functional.conv2d(x, self.weight(), self.bias, padding=self.padding)


class Spade(nn.Module):
    """Instance norm (no affine) modulated by ``1 + gamma`` and ``beta`` predicted from a map."""

    def __init__(self, channels: int, label_channels: int) -> None:
        super().__init__()
        self.mlp_shared = nn.Sequential(
            nn.Conv2d(label_channels, SPADE_HIDDEN, kernel_size=3, padding=1), nn.ReLU()
        )
        self.mlp_gamma = nn.Conv2d(SPADE_HIDDEN, channels, kernel_size=3, padding=1)
        self.mlp_beta = nn.Conv2d(SPADE_HIDDEN, channels, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        normalised = functional.instance_norm(x)
        label = functional.interpolate(label, size=x.shape[2:], mode="nearest")
        hidden = self.mlp_shared(label)
        return normalised * (1 + self.mlp_gamma(hidden)) + self.mlp_beta(hidden)


class SpadeResBlock(nn.Module):
    """Two SPADE, leaky ReLU, spectral 3x3 conv steps; a SPADE + 1x1 shortcut when widths differ."""

    def __init__(self, fin: int, fout: int, label_channels: int) -> None:
        super().__init__()
        middle = min(fin, fout)
        self.conv_0 = SpectralConv2d(fin, middle, 3)
        self.conv_1 = SpectralConv2d(middle, fout, 3)
        self.norm_0 = Spade(fin, label_channels)
        self.norm_1 = Spade(middle, label_channels)
        self.learned_shortcut = fin != fout
        if self.learned_shortcut:
            self.conv_s = SpectralConv2d(fin, fout, 1, bias=False)
            self.norm_s = Spade(fin, label_channels)

    def forward(self, x: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        shortcut = self.conv_s(self.norm_s(x, label)) if self.learned_shortcut else x
        out = self.conv_0(functional.leaky_relu(self.norm_0(x, label), LEAKY_SLOPE))
        out = self.conv_1(functional.leaky_relu(self.norm_1(out, label), LEAKY_SLOPE))
        return shortcut + out


class SpadeDecoder(nn.Module):
    """G of the paper, with the reference's module names (``G_middle_0..5``, ``up_0``, ...)."""

    def __init__(self, params: SpadeParams) -> None:
        super().__init__()
        channels = spade_channels(params)
        wide = 2 * channels
        self.fc = nn.Conv2d(channels, wide, kernel_size=3, padding=1)
        for index in range(MIDDLE_BLOCKS):
            self.add_module(f"G_middle_{index}", SpadeResBlock(wide, wide, channels))
        self.up_0 = SpadeResBlock(wide, channels, channels)
        self.up_1 = SpadeResBlock(channels, OUTPUT_FEATURES, channels)
        if params.upscale > 1:
            self.conv_img = nn.Sequential(
                nn.Conv2d(OUTPUT_FEATURES, 3 * 4, kernel_size=3, padding=1), nn.PixelShuffle(2)
            )
        else:
            self.conv_img = nn.Conv2d(OUTPUT_FEATURES, 3, kernel_size=3, padding=1)

    def forward(self, feature: torch.Tensor) -> torch.Tensor:
        """``[B, C, H, W]`` warped feature -> ``[B, 3, 4H x upscale, 4W x upscale]`` in [0, 1]."""
        x = self.fc(feature)
        for index in range(MIDDLE_BLOCKS):
            x = getattr(self, f"G_middle_{index}")(x, feature)
        x = self.up_0(functional.interpolate(x, scale_factor=2.0, mode="nearest"), feature)
        x = self.up_1(functional.interpolate(x, scale_factor=2.0, mode="nearest"), feature)
        return torch.sigmoid(self.conv_img(functional.leaky_relu(x, LEAKY_SLOPE)))
