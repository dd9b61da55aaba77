"""The AudioLDM HiFi-GAN vocoder at 16 kHz (transformers ``SpeechT5HifiGan`` parameter names).

Log-mel frames [B, T, 64] -> waveform [B, 160 T]: a 7-tap conv, five transposed-conv upsamplers
(x5, x4, x2, x2, x2), each followed by the mean of three multi-receptive-field residual blocks
(kernels 3, 7, 11; dilations 1, 3, 5), then a 7-tap conv and tanh. Leaky ReLU slope 0.1 inside,
0.01 before the last conv (as ``SpeechT5HifiGan`` does). The names match the ``vocoder/`` of
``cvssp/audioldm2`` (``conv_pre``, ``upsampler.N``, ``resblocks.N.convs1.M``, ``conv_post``,
and the ``mean``/``scale`` buffers, used only when ``normalize_before``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unflat.config import read_config
from unflat.errors import InputError
from unflat.registry import ModelEntry, WeightFile, register_architecture, register_model
from unflat.sound.vssflow.vae import AUDIOLDM2_TERMS, AUDIOLDM2_URL


@dataclass
class HifiGanConfig:
    """``SpeechT5HifiGanConfig`` fields; defaults are ``cvssp/audioldm2``'s ``vocoder/``."""

    model_in_dim: int = 64
    sampling_rate: int = 16000
    upsample_initial_channel: int = 1024
    upsample_rates: tuple[int, ...] = (5, 4, 2, 2, 2)
    upsample_kernel_sizes: tuple[int, ...] = (16, 16, 8, 4, 4)
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    resblock_dilation_sizes: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))
    leaky_relu_slope: float = 0.1
    normalize_before: bool = False


class ResidualBlock(nn.Module):
    """Pairs of (dilated conv, conv), each pair added back onto its input."""

    def __init__(self, channels: int, kernel: int, dilations: tuple[int, ...], slope: float):
        super().__init__()
        self.convs1 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel, dilation=d, padding=(kernel * d - d) // 2)
            for d in dilations
        )
        self.convs2 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel, padding=(kernel - 1) // 2) for _ in dilations
        )
        self.slope = slope

    def forward(self, x: Tensor) -> Tensor:
        for dilated, plain in zip(self.convs1, self.convs2, strict=True):
            x = x + plain(F.leaky_relu(dilated(F.leaky_relu(x, self.slope)), self.slope))
        return x


class HifiGan(nn.Module):
    """``forward(mel [B, T, n_mels]) -> wave [B, T * prod(upsample_rates)]``."""

    def __init__(self, config: HifiGanConfig | None = None):
        super().__init__()
        self.config = config = config or HifiGanConfig()
        if len(config.upsample_rates) != len(config.upsample_kernel_sizes):
            raise InputError("one upsample kernel size per upsample rate", "fix the config")
        width = config.upsample_initial_channel
        self.conv_pre = nn.Conv1d(config.model_in_dim, width, 7, padding=3)
        self.upsampler = nn.ModuleList(
            nn.ConvTranspose1d(
                width // 2**i,
                width // 2 ** (i + 1),
                kernel,
                stride=rate,
                padding=(kernel - rate) // 2,
            )
            for i, (rate, kernel) in enumerate(
                zip(config.upsample_rates, config.upsample_kernel_sizes, strict=True)
            )
        )
        self.resblocks = nn.ModuleList(
            ResidualBlock(width // 2 ** (i + 1), kernel, tuple(dilations), config.leaky_relu_slope)
            for i in range(len(self.upsampler))
            for kernel, dilations in zip(
                config.resblock_kernel_sizes, config.resblock_dilation_sizes, strict=True
            )
        )
        self.conv_post = nn.Conv1d(width // 2 ** len(self.upsampler), 1, 7, padding=3)
        self.register_buffer("mean", torch.zeros(config.model_in_dim))
        self.register_buffer("scale", torch.ones(config.model_in_dim))

    @property
    def hop(self) -> int:
        """Samples per mel frame."""
        return int(torch.tensor(self.config.upsample_rates).prod())

    def forward(self, mel: Tensor) -> Tensor:
        if mel.ndim != 3 or mel.shape[-1] != self.config.model_in_dim:
            raise InputError(
                f"the vocoder takes a mel [B, T, {self.config.model_in_dim}], "
                f"got {tuple(mel.shape)}",
                "pass the VAE's decoded mel without its channel axis",
            )
        if self.config.normalize_before:
            mel = (mel - self.mean) / self.scale
        x = self.conv_pre(mel.transpose(1, 2))
        kernels = len(self.config.resblock_kernel_sizes)
        for i, upsample in enumerate(self.upsampler):
            x = upsample(F.leaky_relu(x, self.config.leaky_relu_slope))
            blocks = self.resblocks[i * kernels : (i + 1) * kernels]
            x = sum(block(x) for block in blocks) / kernels
        # The last activation uses torch's default slope (0.01), as the published vocoder does.
        return torch.tanh(self.conv_post(F.leaky_relu(x))).squeeze(1)


def build_hifigan(config: dict) -> HifiGan:
    """``build_model({"architecture": "audioldm_hifigan", ...})``: the 16 kHz vocoder."""
    return HifiGan(read_config(HifiGanConfig, config, "audioldm_hifigan"))


register_architecture("audioldm_hifigan", build_hifigan, HifiGanConfig)
register_model(
    ModelEntry(
        name="audioldm2-vocoder",
        task="sound",
        architecture={"architecture": "audioldm_hifigan"},
        description=(
            "AudioLDM's HiFi-GAN (the vocoder/ of cvssp/audioldm2): 64-band log-mel at 100 "
            "frames/s -> 16 kHz waveform; VSSFlow's vocoder."
        ),
        files=(
            WeightFile(
                # Saved under another name: the cache's own converted file is model.safetensors.
                filename="vocoder.safetensors",
                urls=(f"{AUDIOLDM2_URL}/resolve/main/vocoder/model.safetensors",),
                # 55.3 M float32 parameters; exact bytes and hash not yet pinned.
                approx_bytes=221_000_000,
            ),
        ),
        **AUDIOLDM2_TERMS,  # type: ignore[arg-type]
    )
)

__all__ = ["HifiGan", "HifiGanConfig", "ResidualBlock", "build_hifigan"]
