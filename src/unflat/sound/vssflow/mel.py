"""The mel front end of the published VSSFlow: 16 kHz audio -> the AudioLDM2 log-mel [B, T, 64].

The published training step computes the VAE's input this way (facts from its ``mel_filter``
code, written here in torch): remove the mean of each clip (DC), scale its peak to 0.5, pad both
ends by ``(n_fft - hop) / 2 = 432`` samples with reflection, take a Hann-windowed STFT with no
centring (so a clip of ``N`` samples gives ``N / hop`` frames), its magnitude, a Slaney mel
filterbank (librosa's default: 64 bands, 0-8 kHz) and ``log(clamp(x, 1e-5))``. Clips are cut or
padded to ``seconds * 100`` frames, padding with -11 (about log 1e-5, silence).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from unflat.errors import InputError
from unflat.sound.vssflow.frontend import mel_filterbank


@dataclass(frozen=True)
class MelSettings:
    """AudioLDM2's mel: the values the published VSSFlow passes to its mel extractor."""

    sample_rate: int = 16000
    n_fft: int = 1024
    hop: int = 160
    window: int = 1024
    n_mels: int = 64
    f_min: float = 0.0
    f_max: float = 8000.0
    peak: float = 0.5
    log_floor: float = 1e-5
    pad_value: float = -11.0

    @property
    def frames_per_second(self) -> float:
        return self.sample_rate / self.hop


AUDIOLDM2_MEL = MelSettings()


def normalise_waveform(wave: Tensor, peak: float = AUDIOLDM2_MEL.peak) -> Tensor:
    """Each clip [B, N] minus its mean, scaled so its largest magnitude is ``peak``."""
    wave = wave - wave.mean(dim=1, keepdim=True)
    # The 1e-8 keeps a silent clip silent instead of dividing by zero (as published).
    return wave / (wave.abs().amax(dim=1, keepdim=True) + 1e-8) * peak


def log_mel(
    wave: Tensor, frames: int | None = None, settings: MelSettings = AUDIOLDM2_MEL
) -> Tensor:
    """The log-mel [B, frames, n_mels] of 16 kHz clips [B, N] (normalised here first).

    ``frames`` cuts or pads (with ``settings.pad_value``) to a fixed length; None keeps
    ``N // hop`` frames.
    """
    if wave.ndim != 2 or wave.shape[1] < settings.n_fft - settings.hop:
        raise InputError(
            f"a mel needs audio clips [batch, samples] of at least {settings.n_fft} samples, "
            f"got {tuple(wave.shape)}",
            "pass a longer 16 kHz clip",
        )
    wave = normalise_waveform(wave.float(), settings.peak)
    side = (settings.n_fft - settings.hop) // 2
    wave = torch.nn.functional.pad(wave[:, None], (side, side), mode="reflect")[:, 0]
    spectrum = torch.stft(
        wave,
        settings.n_fft,
        hop_length=settings.hop,
        win_length=settings.window,
        window=torch.hann_window(settings.window, device=wave.device),
        center=False,
        return_complex=True,
    ).abs()
    bank = mel_filterbank(
        settings.sample_rate, settings.n_fft, settings.n_mels, settings.f_min, settings.f_max
    ).to(wave.device)
    mel = torch.log(torch.clamp(bank @ spectrum, min=settings.log_floor)).transpose(1, 2)
    if frames is None:
        return mel
    if mel.shape[1] >= frames:
        return mel[:, :frames]
    padding = mel.new_full((mel.shape[0], frames - mel.shape[1], mel.shape[2]), settings.pad_value)
    return torch.cat([mel, padding], dim=1)


__all__ = ["AUDIOLDM2_MEL", "MelSettings", "log_mel", "normalise_waveform"]
