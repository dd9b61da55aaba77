"""Waveform <-> VSSFlow's latent, as published: 16 kHz audio, the AudioLDM2 log-mel (100
frames/s), the mel VAE's posterior sample packed to 128 channels at 25 frames/s; back through the
VAE's decoder and the HiFi-GAN vocoder."""

from __future__ import annotations

import torch
from torch import Tensor

from unflat.errors import InputError
from unflat.sound.vssflow.hifigan import HifiGan
from unflat.sound.vssflow.mel import AUDIOLDM2_MEL, log_mel
from unflat.sound.vssflow.vae import MelVAE, pack_latent, sample_posterior, unpack_latent

# The VAE halves time and frequency twice: 4 mel frames per latent frame.
MEL_FRAMES_PER_LATENT = 4


class LatentCodec:
    """``encode(wave [B, N]) -> latent [B, 128, T]`` and ``decode(latent) -> wave [B, 640 T]``."""

    sample_rate = AUDIOLDM2_MEL.sample_rate
    latent_fps = AUDIOLDM2_MEL.frames_per_second / MEL_FRAMES_PER_LATENT

    def __init__(self, vae: MelVAE, vocoder: HifiGan | None = None):
        self.vae = vae
        self.vocoder = vocoder

    @property
    def latent_channels(self) -> int:
        bands = AUDIOLDM2_MEL.n_mels // MEL_FRAMES_PER_LATENT
        return bands * self.vae.config.latent_channels

    @torch.no_grad()
    def encode(
        self, wave: Tensor, frames: int | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        """Latents of 16 kHz clips [B, N]: ``frames`` latent frames (default N / 640, rounded
        down), the mel cut or padded as published, the posterior sampled with ``generator``."""
        frames = (
            wave.shape[1] // (AUDIOLDM2_MEL.hop * MEL_FRAMES_PER_LATENT)
            if frames is None
            else frames
        )
        if frames < 1:
            raise InputError("a clip shorter than 40 ms has no latent frame", "pass longer audio")
        mel = log_mel(wave, frames * MEL_FRAMES_PER_LATENT)
        parameter = next(self.vae.parameters())
        mean, logvar = self.vae.encode(mel[:, None].to(parameter.device, parameter.dtype))
        return pack_latent(sample_posterior(mean, logvar, generator))

    @torch.no_grad()
    def decode_mel(self, latent: Tensor) -> Tensor:
        """The log-mel [B, 4 T, 64] of latents [B, 128, T]."""
        parameter = next(self.vae.parameters())
        unpacked = unpack_latent(latent.to(parameter.device, parameter.dtype))
        return self.vae.decode(unpacked)[:, 0]

    @torch.no_grad()
    def decode(self, latent: Tensor) -> Tensor:
        """16 kHz waveforms [B, 640 T] of latents [B, 128, T] (the vocoder's tail cut)."""
        if self.vocoder is None:
            raise InputError("this codec has no vocoder", "load one to decode to audio")
        mel = self.decode_mel(latent)
        parameter = next(self.vocoder.parameters())
        wave = self.vocoder(mel.to(parameter.device, parameter.dtype)).float()
        # The vocoder's transposed convolutions give 32 samples more; cut as published.
        return wave[:, : mel.shape[1] * AUDIOLDM2_MEL.hop]


__all__ = ["MEL_FRAMES_PER_LATENT", "LatentCodec"]
