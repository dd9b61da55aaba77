"""The AudioLDM2 mel VAE (diffusers ``AutoencoderKL`` parameter names) and VSSFlow's latent packing.

The published VSSFlow encodes a log-mel [B, 1, 1000, 64] (10 s) into a posterior whose sample is
[B, 8, 250, 16], and packs it to 128 channels at 25 frames/s: channel ``16 * c + f`` would be
the natural order, but the published code moves the mel-frequency axis before the latent
channels, so packed channel ``8 * f + c`` holds latent channel ``c`` at frequency ``f``.

The network is written here with the parameter names of diffusers' ``AutoencoderKL`` so the
``vae/diffusion_pytorch_model.safetensors`` of ``cvssp/audioldm2`` loads with ``strict=True``:
a 2-D conv encoder (``DownEncoderBlock2D`` stages of ResNet blocks, stride-2 convs after a
right/bottom zero pad), a mid block (ResNet, single-head self-attention over all positions,
ResNet), GroupNorm(32, eps 1e-6) + SiLU, and the mirrored decoder (nearest x2 upsampling).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unflat.config import read_config
from unflat.errors import InputError
from unflat.registry import ModelEntry, WeightFile, register_architecture, register_model

EPS = 1e-6
# The published code keeps diffusers' posterior clamp of the log-variance.
LOGVAR_RANGE = (-30.0, 20.0)


@dataclass
class MelVAEConfig:
    """``AutoencoderKL`` fields; the defaults are ``cvssp/audioldm2``'s ``vae/config.json``."""

    in_channels: int = 1
    out_channels: int = 1
    block_out_channels: tuple[int, ...] = (128, 256, 512)
    layers_per_block: int = 2
    latent_channels: int = 8
    norm_num_groups: int = 32


class ResnetBlock2D(nn.Module):
    """GroupNorm, SiLU, 3x3 conv, twice, plus a 1x1 shortcut when the width changes."""

    def __init__(self, in_channels: int, out_channels: int, groups: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, in_channels, eps=EPS)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, out_channels, eps=EPS)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.conv_shortcut = (
            nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None
        )

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return (x if self.conv_shortcut is None else self.conv_shortcut(x)) + h


class SpatialAttention(nn.Module):
    """One-head self-attention over every position of a feature map, with a residual."""

    def __init__(self, channels: int, groups: int):
        super().__init__()
        self.group_norm = nn.GroupNorm(groups, channels, eps=EPS)
        self.to_q = nn.Linear(channels, channels)
        self.to_k = nn.Linear(channels, channels)
        self.to_v = nn.Linear(channels, channels)
        self.to_out = nn.ModuleList([nn.Linear(channels, channels)])

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        tokens = self.group_norm(x.reshape(b, c, h * w)).transpose(1, 2)
        q, k, v = self.to_q(tokens), self.to_k(tokens), self.to_v(tokens)
        out = F.scaled_dot_product_attention(q[:, None], k[:, None], v[:, None])[:, 0]
        out = self.to_out[0](out).transpose(1, 2).reshape(b, c, h, w)
        return out + x


class MidBlock(nn.Module):
    def __init__(self, channels: int, groups: int):
        super().__init__()
        self.resnets = nn.ModuleList(
            [ResnetBlock2D(channels, channels, groups), ResnetBlock2D(channels, channels, groups)]
        )
        self.attentions = nn.ModuleList([SpatialAttention(channels, groups)])

    def forward(self, x: Tensor) -> Tensor:
        return self.resnets[1](self.attentions[0](self.resnets[0](x)))


class Downsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        # Zero padding on the right and bottom only, so odd sizes round down as published.
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Upsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Stage(nn.Module):
    """ResNet blocks, then an optional resampler (``downsamplers`` or ``upsamplers``)."""

    def __init__(self, widths: list[int], groups: int, resample: str | None):
        super().__init__()
        self.resnets = nn.ModuleList(
            ResnetBlock2D(a, b, groups) for a, b in itertools.pairwise(widths)
        )
        if resample == "down":
            self.downsamplers = nn.ModuleList([Downsample(widths[-1])])
        elif resample == "up":
            self.upsamplers = nn.ModuleList([Upsample(widths[-1])])
        self.resample = resample

    def forward(self, x: Tensor) -> Tensor:
        for block in self.resnets:
            x = block(x)
        if self.resample == "down":
            x = self.downsamplers[0](x)
        elif self.resample == "up":
            x = self.upsamplers[0](x)
        return x


class Encoder(nn.Module):
    def __init__(self, config: MelVAEConfig):
        super().__init__()
        widths, groups = list(config.block_out_channels), config.norm_num_groups
        self.conv_in = nn.Conv2d(config.in_channels, widths[0], 3, padding=1)
        stages, previous = [], widths[0]
        for i, width in enumerate(widths):
            last = i == len(widths) - 1
            chain = [previous] + [width] * config.layers_per_block
            stages.append(Stage(chain, groups, None if last else "down"))
            previous = width
        self.down_blocks = nn.ModuleList(stages)
        self.mid_block = MidBlock(widths[-1], groups)
        self.conv_norm_out = nn.GroupNorm(groups, widths[-1], eps=EPS)
        self.conv_out = nn.Conv2d(widths[-1], 2 * config.latent_channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv_in(x)
        for stage in self.down_blocks:
            x = stage(x)
        x = self.mid_block(x)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


class Decoder(nn.Module):
    def __init__(self, config: MelVAEConfig):
        super().__init__()
        widths, groups = list(reversed(config.block_out_channels)), config.norm_num_groups
        self.conv_in = nn.Conv2d(config.latent_channels, widths[0], 3, padding=1)
        self.mid_block = MidBlock(widths[0], groups)
        stages, previous = [], widths[0]
        for i, width in enumerate(widths):
            last = i == len(widths) - 1
            chain = [previous] + [width] * (config.layers_per_block + 1)
            stages.append(Stage(chain, groups, None if last else "up"))
            previous = width
        self.up_blocks = nn.ModuleList(stages)
        self.conv_norm_out = nn.GroupNorm(groups, widths[-1], eps=EPS)
        self.conv_out = nn.Conv2d(widths[-1], config.out_channels, 3, padding=1)

    def forward(self, z: Tensor) -> Tensor:
        x = self.mid_block(self.conv_in(z))
        for stage in self.up_blocks:
            x = stage(x)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


class MelVAE(nn.Module):
    """``AutoencoderKL``: ``encode`` gives the posterior's (mean, logvar), ``decode`` the mel."""

    def __init__(self, config: MelVAEConfig | None = None):
        super().__init__()
        self.config = config = config or MelVAEConfig()
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
        self.quant_conv = nn.Conv2d(2 * config.latent_channels, 2 * config.latent_channels, 1)
        self.post_quant_conv = nn.Conv2d(config.latent_channels, config.latent_channels, 1)

    def encode(self, mel: Tensor) -> tuple[Tensor, Tensor]:
        """Posterior mean and log-variance [B, latent, H/2^k, W/2^k] of ``mel`` [B, 1, H, W]."""
        moments = self.quant_conv(self.encoder(mel))
        mean, logvar = moments.chunk(2, dim=1)
        return mean, logvar.clamp(*LOGVAR_RANGE)

    def decode(self, latent: Tensor) -> Tensor:
        return self.decoder(self.post_quant_conv(latent))

    def forward(self, mel: Tensor) -> Tensor:
        """The mel reconstructed from the posterior mean."""
        return self.decode(self.encode(mel)[0])


def sample_posterior(
    mean: Tensor, logvar: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """``mean + exp(logvar / 2) * noise``, the posterior sample the published training takes."""
    noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
    return mean + torch.exp(0.5 * logvar) * noise


def pack_latent(latent: Tensor) -> Tensor:
    """[B, C, T, F] VAE latent -> [B, F * C, T]: channel ``C * f + c`` (the published order)."""
    if latent.ndim != 4:
        raise InputError(f"a VAE latent is [B, C, T, F], got {tuple(latent.shape)}", "pass one")
    b, c, t, f = latent.shape
    return latent.permute(0, 3, 1, 2).reshape(b, f * c, t)


def unpack_latent(packed: Tensor, latent_channels: int = 8) -> Tensor:
    """Inverse of ``pack_latent``: [B, F * C, T] -> [B, C, T, F]."""
    b, channels, t = packed.shape
    if channels % latent_channels:
        raise InputError(
            f"{channels} packed channels are not a multiple of {latent_channels} latent channels",
            "pass the 128-channel latent the flow samples",
        )
    return packed.reshape(b, channels // latent_channels, latent_channels, t).permute(0, 2, 3, 1)


def build_mel_vae(config: dict) -> MelVAE:
    """``build_model({"architecture": "audioldm2_vae", ...})``: the AudioLDM2 mel VAE."""
    return MelVAE(read_config(MelVAEConfig, config, "audioldm2_vae"))


AUDIOLDM2_URL = "https://huggingface.co/cvssp/audioldm2"
AUDIOLDM2_TERMS: dict[str, object] = {
    "licence": "CC BY-NC-SA 4.0",
    "licence_url": "https://creativecommons.org/licenses/by-nc-sa/4.0/",
    "licence_summary": (
        "Creative Commons Attribution-NonCommercial-ShareAlike 4.0 (the cvssp/audioldm2 model "
        "card): share and adapt with credit to the AudioLDM 2 authors, non-commercial use only, "
        "adaptations under the same licence. A summary, not legal advice."
    ),
    "commercial_use": False,
    "homepage": "https://audioldm.github.io/audioldm2/",
    "paper": "AudioLDM 2: Learning Holistic Audio Generation with Self-supervised Pretraining "
    "(arXiv:2308.05734)",
}

register_architecture("audioldm2_vae", build_mel_vae, MelVAEConfig)
register_model(
    ModelEntry(
        name="audioldm2-vae",
        task="sound",
        architecture={"architecture": "audioldm2_vae"},
        description=(
            "AudioLDM 2's mel VAE (the vae/ of cvssp/audioldm2): 16 kHz 64-band log-mel <-> "
            "an 8-channel latent at 1/4 the mel's size; VSSFlow's latent space."
        ),
        files=(
            WeightFile(
                filename="diffusion_pytorch_model.safetensors",
                urls=(f"{AUDIOLDM2_URL}/resolve/main/vae/diffusion_pytorch_model.safetensors",),
                # 55.4 M float32 parameters; exact bytes and hash not yet pinned.
                approx_bytes=222_000_000,
            ),
        ),
        **AUDIOLDM2_TERMS,  # type: ignore[arg-type]
    )
)

__all__ = [
    "AUDIOLDM2_TERMS",
    "AUDIOLDM2_URL",
    "Decoder",
    "Encoder",
    "MelVAE",
    "MelVAEConfig",
    "build_mel_vae",
    "pack_latent",
    "sample_posterior",
    "unpack_latent",
]
