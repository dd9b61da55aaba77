"""The few-shot model's building blocks: residual down/up blocks (Brock et al. 2019, with
instance norm or AdaIN in place of batch norm), SAGAN self-attention, all spectrally normalised
as the paper does for every convolutional and fully connected layer."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def conv(inputs: int, outputs: int, kernel: int = 3) -> nn.Module:
    """A spectrally normalised convolution keeping the side (odd ``kernel``)."""
    return spectral_norm(nn.Conv2d(inputs, outputs, kernel, padding=kernel // 2))


class AdaptiveInstanceNorm(nn.Module):
    """Instance norm whose scale and bias come from outside (a slice of ψ = P·ê).

    The scale is ``1 + style[:C]`` so that a zero style is the plain instance norm: the projection
    starts near the identity and fine-tuning starts from a working generator."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        scale, bias = style.reshape(style.shape[0], 2, self.channels, 1, 1).unbind(1)
        return F.instance_norm(x) * (1 + scale) + bias


class SelfAttention(nn.Module):
    """SAGAN self-attention: every position attends to every other; ``gamma`` starts at zero, so
    the block starts as the identity and learns how much attention to add."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        inner = max(channels // 8, 1)
        self.query = conv(channels, inner, 1)
        self.key = conv(channels, inner, 1)
        self.value = conv(channels, max(channels // 2, 1), 1)
        self.out = conv(max(channels // 2, 1), channels, 1)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = x.shape
        query = self.query(x).flatten(2).transpose(1, 2)
        key = self.key(x).flatten(2)
        attention = torch.softmax(query @ key, dim=-1)
        value = self.value(x).flatten(2)
        mixed = (value @ attention.transpose(1, 2)).reshape(batch, -1, height, width)
        return x + self.gamma * self.out(mixed)


class DownBlock(nn.Module):
    """Residual downsampling block; ``norm`` adds instance norm (the generator's encoder), and
    ``first`` skips the activation on raw pixels (BigGAN's first discriminator block)."""

    def __init__(self, inputs: int, outputs: int, *, norm: bool = False, first: bool = False):
        super().__init__()
        self.first = first
        self.conv1 = conv(inputs, outputs)
        self.conv2 = conv(outputs, outputs)
        self.skip = conv(inputs, outputs, 1)
        self.norm1 = nn.InstanceNorm2d(inputs, affine=True) if norm else nn.Identity()
        self.norm2 = nn.InstanceNorm2d(outputs, affine=True) if norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        h = h if self.first else F.relu(h)
        h = self.conv2(F.relu(self.norm2(self.conv1(h))))
        return F.avg_pool2d(h, 2) + F.avg_pool2d(self.skip(x), 2)


class ResBlock(nn.Module):
    """Residual block at constant width, with AdaIN (``adaptive``) or no normalisation."""

    def __init__(self, channels: int, *, adaptive: bool) -> None:
        super().__init__()
        self.conv1 = conv(channels, channels)
        self.conv2 = conv(channels, channels)
        self.norms = nn.ModuleList(
            [AdaptiveInstanceNorm(channels) for _ in range(2)] if adaptive else []
        )

    def forward(self, x: torch.Tensor, styles: list[torch.Tensor] | None = None) -> torch.Tensor:
        h = self.norms[0](x, styles[0]) if styles else x
        h = self.conv1(F.relu(h))
        h = self.norms[1](h, styles[1]) if styles else h
        return x + self.conv2(F.relu(h))


class UpBlock(nn.Module):
    """Residual upsampling block (nearest x2) with AdaIN."""

    def __init__(self, inputs: int, outputs: int) -> None:
        super().__init__()
        self.norms = nn.ModuleList([AdaptiveInstanceNorm(inputs), AdaptiveInstanceNorm(outputs)])
        self.conv1 = conv(inputs, outputs)
        self.conv2 = conv(outputs, outputs)
        self.skip = conv(inputs, outputs, 1)

    def forward(self, x: torch.Tensor, styles: list[torch.Tensor]) -> torch.Tensor:
        h = F.interpolate(F.relu(self.norms[0](x, styles[0])), scale_factor=2.0)
        h = self.conv2(F.relu(self.norms[1](self.conv1(h), styles[1])))
        return h + self.skip(F.interpolate(x, scale_factor=2.0))
