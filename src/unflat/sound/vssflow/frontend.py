"""Pluggable audio front end: waveform <-> the latent sequence the flow models.

Interface (``LatentFrontend``): ``sample_rate``, ``latent_fps``, ``latent_channels``,
``encode(wave [B, N]) -> latent [B, T, C]`` and ``decode(latent) -> wave [B, N]``. A learned VAE
(the published model uses AudioLDM-2's mel VAE: 128 channels at 25 frames/s) implements the same
four members and replaces ``MelFrontend``.

``MelFrontend`` (default): magnitude STFT (Hann window, centred, reflect padding), a mel
filterbank written here - **Slaney** mel scale with Slaney area normalisation (librosa's
default, which AudioLDM/HiFi-GAN mels use), or HTK (``mel_scale="htk"``, also area-normalised) -
``log(clamp(mel, 1e-5))``, then ``(x - latent_mean) / latent_std`` and stacking of
``frames_per_latent`` consecutive mel frames into one latent frame. ``encode`` keeps
``N // hop`` frames (the centred STFT's extra last frame is dropped) so a clip of ``T`` latent
frames is exactly ``T * frames_per_latent * hop`` samples. ``decode`` undoes the normalisation
and hands mel magnitudes to a pluggable vocoder (fast Griffin-Lim by default).
"""

from __future__ import annotations

import math
from typing import Protocol

import torch
from torch import Tensor, nn

from unflat.errors import InputError
from unflat.sound.vssflow.config import VSSFlowConfig
from unflat.sound.vssflow.vocoder import GriffinLimVocoder, Vocoder, stft_magnitude_phase

LOG_FLOOR = 1e-5


class LatentFrontend(Protocol):
    """What the trainer and sampler need from an audio representation."""

    sample_rate: int
    latent_fps: float
    latent_channels: int

    def encode(self, wave: Tensor) -> Tensor: ...

    def decode(self, latent: Tensor) -> Tensor: ...


def hz_to_mel(hz: Tensor, scale: str) -> Tensor:
    """Hz -> mel (Slaney: linear below 1 kHz, log above; HTK: 2595 log10(1 + f/700))."""
    if scale == "htk":
        return 2595.0 * torch.log10(1.0 + hz / 700.0)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0
    lin = hz / f_sp
    log = min_log_mel + torch.log(torch.clamp(hz, min=min_log_hz) / min_log_hz) / logstep
    return torch.where(hz >= min_log_hz, log, lin)


def mel_to_hz(mel: Tensor, scale: str) -> Tensor:
    """Inverse of ``hz_to_mel``."""
    if scale == "htk":
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0
    lin = f_sp * mel
    log = min_log_hz * torch.exp(logstep * (mel - min_log_mel))
    return torch.where(mel >= min_log_mel, log, lin)


def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, f_min: float, f_max: float, scale: str = "slaney"
) -> Tensor:
    """Triangular filters [n_mels, n_fft//2+1], area-normalised (2 / bandwidth in Hz)."""
    fft_hz = torch.linspace(0.0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    lo, hi = hz_to_mel(torch.tensor([f_min, f_max], dtype=torch.float64), scale)
    edges = mel_to_hz(torch.linspace(float(lo), float(hi), n_mels + 2, dtype=torch.float64), scale)
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (fft_hz[None, :] - left) / (centre - left)
    down = (right - fft_hz[None, :]) / (right - centre)
    tri = torch.clamp(torch.minimum(up, down), min=0.0)
    return (tri * (2.0 / (right - left))).float()


class MelFrontend(nn.Module):
    """Normalised, frame-stacked log-mel "latent" with a pluggable vocoder."""

    def __init__(self, cfg: VSSFlowConfig, vocoder: Vocoder | None = None):
        super().__init__()
        self.cfg = cfg
        self.sample_rate = cfg.sample_rate
        self.latent_fps = cfg.latent_fps
        self.latent_channels = cfg.latent_channels
        basis = mel_filterbank(
            cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.f_min, cfg.f_max, cfg.mel_scale
        )
        self.register_buffer("mel_basis", basis, persistent=False)
        self.register_buffer("window", torch.hann_window(cfg.win_length), persistent=False)
        self.vocoder: Vocoder = vocoder or GriffinLimVocoder(
            basis,
            n_fft=cfg.n_fft,
            hop_length=cfg.hop_length,
            win_length=cfg.win_length,
            n_iter=cfg.griffin_lim_iters,
            momentum=cfg.griffin_lim_momentum,
        )

    def mel(self, wave: Tensor) -> Tensor:
        """Mel magnitudes [B, n_mels, N // hop] of waveforms [B, N]."""
        if wave.ndim == 1:
            wave = wave[None]
        if wave.ndim != 2 or wave.shape[-1] < self.cfg.n_fft:
            raise InputError(
                f"waveform must be [B, N] with N >= n_fft ({self.cfg.n_fft}), "
                f"got {tuple(wave.shape)}",
                "pass mono audio at the configured sample rate",
            )
        spec = stft_magnitude_phase(
            wave.float(),
            self.cfg.n_fft,
            self.cfg.hop_length,
            self.cfg.win_length,
            self.window.to(wave.device),
        ).abs()
        frames = wave.shape[-1] // self.cfg.hop_length
        return self.mel_basis.to(wave.device) @ spec[..., :frames]

    def mel_to_latent(self, mel: Tensor) -> Tensor:
        """Mel magnitudes [B, n_mels, frames] -> latent [B, frames // k, n_mels * k]."""
        k = self.cfg.frames_per_latent
        x = (torch.log(mel.clamp_min(LOG_FLOOR)) - self.cfg.latent_mean) / self.cfg.latent_std
        b, m, n = x.shape
        n = n // k * k
        # [B, M, T*k] -> [B, T, k*M]: latent channel j*M + i is mel bin i of sub-frame j.
        return x[..., :n].transpose(1, 2).reshape(b, n // k, k * m)

    def latent_to_mel(self, latent: Tensor) -> Tensor:
        """Latent [B, T, C] -> mel magnitudes [B, n_mels, T * frames_per_latent]."""
        b, t, c = latent.shape
        if c != self.latent_channels:
            raise InputError(
                f"latent has {c} channels, front end expects {self.latent_channels}",
                "decode with the front end of the config that produced the latent",
            )
        x = latent.float().reshape(b, t * self.cfg.frames_per_latent, self.cfg.n_mels)
        return torch.exp(x.transpose(1, 2) * self.cfg.latent_std + self.cfg.latent_mean)

    def encode(self, wave: Tensor) -> Tensor:
        """Waveforms [B, N] -> latents [B, T, C]."""
        return self.mel_to_latent(self.mel(wave))

    def decode(self, latent: Tensor) -> Tensor:
        """Latents [B, T, C] -> waveforms [B, T * frames_per_latent * hop] via the vocoder."""
        return self.vocoder(self.latent_to_mel(latent))


def build_frontend(cfg: VSSFlowConfig, vocoder: Vocoder | None = None) -> MelFrontend:
    """The default front end for ``cfg``."""
    return MelFrontend(cfg, vocoder)
