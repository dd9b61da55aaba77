"""RawNet3 speaker embeddings (VSSFlow's reference-voice condition), with the parameter names of
the released ``model.pt`` (``jungjee/RawNet3``: a plain state dict under ``"model"``).

Waveform 16 kHz -> pre-emphasis (0.97) and a one-channel instance norm -> a learned sinc
filterbank (asteroid's ``ParamSincFB``: 128 cosine and 128 sine band-passes of 251 taps from
learned low and band frequencies, stride 10) -> log magnitude, mean removed over time -> three
Res2Net bottleneck blocks (dilations 2, 3, 4; max-pools 5 and 3; feature-map scaling) -> a 1x1
conv to 1536 -> attentive statistics pooling with global context -> BatchNorm -> 256-d. The
published VSSFlow embeds a reference clip as the mean of 10 evenly spaced 3 s crops.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unflat.config import read_config
from unflat.errors import InputError
from unflat.registry import ModelEntry, WeightFile, register_architecture, register_model


@dataclass
class RawNet3Config:
    """The released model: ``C`` 1024, scale 8, 256-d output, no output BatchNorm."""

    channels: int = 1024
    scale: int = 8
    embedding_channels: int = 1536
    out_dim: int = 256
    sinc_kernel: int = 251
    sinc_stride: int = 10
    sample_rate: int = 16000


class PreEmphasis(nn.Module):
    def __init__(self, coef: float = 0.97):
        super().__init__()
        self.register_buffer("flipped_filter", torch.tensor([[[-coef, 1.0]]]))

    def forward(self, wave: Tensor) -> Tensor:
        return F.conv1d(F.pad(wave[:, None], (1, 0), mode="reflect"), self.flipped_filter)


class SincFilterbank(nn.Module):
    """asteroid's ``ParamSincFB``; ``low_hz_``/``band_hz_`` [n/2, 1] are the learned values."""

    def __init__(self, filters: int, kernel: int, sample_rate: int, min_low: float = 50.0):
        super().__init__()
        self.min_low = self.min_band = min_low
        self.sample_rate = float(sample_rate)
        half = kernel // 2
        self.low_hz_ = nn.Parameter(torch.zeros(filters // 2, 1))
        self.band_hz_ = nn.Parameter(torch.zeros(filters // 2, 1))
        self.register_buffer("window_", torch.from_numpy(np.hamming(kernel)[:half]).float())
        times = torch.arange(-half, 0.0).view(1, -1) / self.sample_rate
        self.register_buffer("n_", 2 * math.pi * times)

    def filters(self) -> Tensor:
        low = self.min_low + self.low_hz_.abs()
        high = torch.clamp(
            low + self.min_band + self.band_hz_.abs(), self.min_low, self.sample_rate / 2
        )
        band = high - low
        at_low, at_high = low @ self.n_, high @ self.n_
        half_n = self.n_ / 2
        cos_left = (torch.sin(at_high) - torch.sin(at_low)) / half_n * self.window_
        sin_left = (torch.cos(at_low) - torch.cos(at_high)) / half_n * self.window_
        cosine = torch.cat([cos_left, 2 * band, cos_left.flip(1)], dim=1)
        sine = torch.cat([sin_left, torch.zeros_like(band), -sin_left.flip(1)], dim=1)
        return (torch.cat([cosine, sine]) / (2 * band.repeat(2, 1)))[:, None]


class SincEncoder(nn.Module):
    def __init__(self, filters: int, kernel: int, stride: int, sample_rate: int):
        super().__init__()
        self.filterbank = SincFilterbank(filters, kernel, sample_rate)
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        return F.conv1d(x, self.filterbank.filters(), stride=self.stride)


class FeatureScaling(nn.Module):
    """AFMS: ``(x + alpha) * sigmoid(fc(mean over time))``."""

    def __init__(self, channels: int):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(channels, 1))
        self.fc = nn.Linear(channels, channels)

    def forward(self, x: Tensor) -> Tensor:
        scale = torch.sigmoid(self.fc(x.mean(dim=2)))[:, :, None]
        return (x + self.alpha) * scale


class Bottle2neck(nn.Module):
    """Res2Net block: 1x1 conv, ``scale - 1`` chained dilated convs on channel slices, 1x1."""

    def __init__(self, inplanes: int, planes: int, dilation: int, scale: int, pool: int = 0):
        super().__init__()
        width = planes // scale
        self.width, self.nums = width, scale - 1
        self.conv1 = nn.Conv1d(inplanes, width * scale, 1)
        self.bn1 = nn.BatchNorm1d(width * scale)
        self.convs = nn.ModuleList(
            nn.Conv1d(width, width, 3, dilation=dilation, padding=dilation)
            for _ in range(self.nums)
        )
        self.bns = nn.ModuleList(nn.BatchNorm1d(width) for _ in range(self.nums))
        self.conv3 = nn.Conv1d(width * scale, planes, 1)
        self.bn3 = nn.BatchNorm1d(planes)
        self.pool = pool
        self.afms = FeatureScaling(planes)
        self.residual = (
            nn.Sequential(nn.Conv1d(inplanes, planes, 1, bias=False))
            if inplanes != planes
            else nn.Identity()
        )

    def forward(self, x: Tensor) -> Tensor:
        residual = self.residual(x)
        pieces = torch.split(self.bn1(F.relu(self.conv1(x))), self.width, 1)
        outs, running = [], None
        for i in range(self.nums):
            running = pieces[i] if running is None else running + pieces[i]
            running = self.bns[i](F.relu(self.convs[i](running)))
            outs.append(running)
        out = self.bn3(F.relu(self.conv3(torch.cat([*outs, pieces[self.nums]], 1)))) + residual
        if self.pool:
            out = F.max_pool1d(out, self.pool)
        return self.afms(out)


class RawNet3(nn.Module):
    """``forward(wave [B, N] at 16 kHz) -> embedding [B, out_dim]``."""

    def __init__(self, config: RawNet3Config | None = None):
        super().__init__()
        self.config = c = config or RawNet3Config()
        self.preprocess = nn.Sequential(PreEmphasis(), nn.InstanceNorm1d(1, eps=1e-4, affine=True))
        self.conv1 = SincEncoder(c.channels // 4, c.sinc_kernel, c.sinc_stride, c.sample_rate)
        self.bn1 = nn.BatchNorm1d(c.channels // 4)  # in the released file, unused as published
        self.layer1 = Bottle2neck(c.channels // 4, c.channels, 2, c.scale, pool=5)
        self.layer2 = Bottle2neck(c.channels, c.channels, 3, c.scale, pool=3)
        self.layer3 = Bottle2neck(c.channels, c.channels, 4, c.scale)
        width = c.embedding_channels
        self.layer4 = nn.Conv1d(3 * c.channels, width, 1)
        self.attention = nn.Sequential(
            nn.Conv1d(3 * width, 128, 1),
            nn.ReLU(),
            nn.BatchNorm1d(128),
            nn.Conv1d(128, width, 1),
            nn.Softmax(dim=2),
        )
        self.bn5 = nn.BatchNorm1d(2 * width)
        self.fc6 = nn.Linear(2 * width, c.out_dim)
        self.bn6 = nn.BatchNorm1d(c.out_dim)  # in the released file, unused (out_bn False)

    def forward(self, wave: Tensor) -> Tensor:
        x = torch.log(self.conv1(self.preprocess(wave.float())).abs() + 1e-6)
        x = x - x.mean(dim=-1, keepdim=True)
        x1 = self.layer1(x)
        x2 = self.layer2(x1)
        x3 = self.layer3(F.max_pool1d(x1, 3) + x2)
        x = F.relu(self.layer4(torch.cat([F.max_pool1d(x1, 3), x2, x3], dim=1)))
        frames = x.shape[-1]
        deviation = torch.sqrt(x.var(dim=2, keepdim=True).clamp(1e-4, 1e4))
        context = [
            x,
            x.mean(dim=2, keepdim=True).expand(-1, -1, frames),
            deviation.expand(-1, -1, frames),
        ]
        w = self.attention(torch.cat(context, dim=1))
        mu = (x * w).sum(dim=2)
        sigma = torch.sqrt((((x**2) * w).sum(dim=2) - mu**2).clamp(1e-4, 1e4))
        return self.fc6(self.bn5(torch.cat([mu, sigma], 1)))


@torch.no_grad()
def speaker_embedding(
    model: RawNet3, wave: np.ndarray, crop: int = 48000, crops: int = 10
) -> Tensor:
    """The published reference embedding [out_dim]: the mean over ``crops`` evenly spaced crops
    of ``crop`` samples (a shorter clip is first extended by wrapping around)."""
    wave = np.asarray(wave, dtype=np.float64)
    if wave.ndim != 1 or wave.size == 0:
        raise InputError("RawNet3 takes one mono 16 kHz clip", "pass mono samples")
    if len(wave) < crop:
        wave = np.pad(wave, (0, crop - len(wave) + 1), mode="wrap")
    starts = np.linspace(0, len(wave) - crop, num=crops)
    batch = np.stack([wave[int(s) : int(s) + crop] for s in starts]).astype(np.float32)
    parameter = next(model.parameters())
    return model(torch.from_numpy(batch).to(parameter.device)).mean(0).float().cpu()


def build_rawnet3(config: dict) -> RawNet3:
    """``build_model({"architecture": "rawnet3"})``: the released speaker embedder."""
    return RawNet3(read_config(RawNet3Config, config, "rawnet3"))


register_architecture("rawnet3", build_rawnet3, RawNet3Config)
register_model(
    ModelEntry(
        name="rawnet3",
        task="sound",
        architecture={"architecture": "rawnet3"},
        description=(
            "RawNet3 speaker embedding (256-d from 16 kHz audio): VSSFlow's reference-voice "
            "condition (--reference VOICE.wav)."
        ),
        files=(
            WeightFile(
                filename="model.pt",
                urls=("https://huggingface.co/jungjee/RawNet3/resolve/main/model.pt",),
            ),
        ),
        licence="MIT",
        licence_url="https://github.com/Jungjee/RawNet/blob/master/LICENSE",
        licence_summary="MIT licence (the RawNet repository and its weights). A summary only.",
        commercial_use=True,
        homepage="https://github.com/Jungjee/RawNet",
        paper="Pushing the limits of raw waveform speaker recognition (arXiv:2203.08488)",
    )
)

__all__ = ["RawNet3", "RawNet3Config", "build_rawnet3", "speaker_embedding"]
