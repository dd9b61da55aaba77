"""Offline vocoder: mel magnitudes -> waveform by fast Griffin-Lim (no learned weights).

The published VSSFlow decodes with a HiFi-GAN (AudioLDM's); that needs weights, so the default
here is phase reconstruction: mel -> linear magnitude by a clamped pseudo-inverse refined with a
few projected-gradient non-negative least-squares steps, then fast Griffin-Lim
(Perraudin, Balazs & Sondergaard 2013: Griffin-Lim with a momentum/extrapolation step).
Any callable ``mel_magnitude [B, n_mels, frames] -> wave [B, frames * hop]`` can replace it.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor


class Vocoder(Protocol):
    """Mel magnitudes [B, n_mels, frames] -> waveform [B, frames * hop_length]."""

    def __call__(self, mel: Tensor) -> Tensor: ...


def stft_magnitude_phase(wave: Tensor, n_fft: int, hop: int, win: int, window: Tensor) -> Tensor:
    """Complex STFT [B, n_fft//2+1, N//hop + 1] (centred, reflect-padded)."""
    return torch.stft(
        wave,
        n_fft,
        hop_length=hop,
        win_length=win,
        window=window,
        center=True,
        pad_mode="reflect",
        return_complex=True,
    )


def griffin_lim(
    magnitude: Tensor,
    *,
    n_fft: int,
    hop: int,
    win: int,
    window: Tensor,
    length: int,
    n_iter: int = 64,
    momentum: float = 0.99,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Fast Griffin-Lim: a waveform [B, length] whose |STFT| approximates ``magnitude``.

    ``magnitude``: [B, n_fft//2+1, frames] with frames = length // hop + 1 (centred STFT).
    """
    phase = torch.rand(magnitude.shape, device=magnitude.device, generator=generator)
    spec = magnitude * torch.exp(2j * torch.pi * phase)
    prev: Tensor | None = None
    for _ in range(n_iter):
        wave = torch.istft(
            spec, n_fft, hop_length=hop, win_length=win, window=window, length=length
        )
        proj = stft_magnitude_phase(wave, n_fft, hop, win, window)
        # Extrapolate along the last projection step: this is what makes it "fast".
        extra = proj if prev is None else proj + momentum * (proj - prev)
        prev = proj
        spec = magnitude * extra / extra.abs().clamp_min(1e-12)
    return torch.istft(spec, n_fft, hop_length=hop, win_length=win, window=window, length=length)


def mel_to_linear(mel: Tensor, mel_basis: Tensor, nnls_iters: int = 20) -> Tensor:
    """Non-negative linear magnitudes [B, F, frames] with ``mel_basis @ S ~= mel``.

    Starts from the clamped pseudo-inverse and takes projected-gradient steps on
    ``||basis S - mel||^2`` subject to ``S >= 0`` (a cheap NNLS).
    """
    basis = mel_basis.to(mel.dtype)
    s = (torch.linalg.pinv(basis) @ mel).clamp_min(0.0)
    step = 1.0 / torch.linalg.matrix_norm(basis, ord=2) ** 2
    for _ in range(nnls_iters):
        s = (s - step * (basis.T @ (basis @ s - mel))).clamp_min(0.0)
    return s


class GriffinLimVocoder:
    """Mel magnitudes -> waveform by NNLS mel inversion and fast Griffin-Lim."""

    def __init__(
        self,
        mel_basis: Tensor,
        *,
        n_fft: int,
        hop_length: int,
        win_length: int,
        n_iter: int = 64,
        momentum: float = 0.99,
        seed: int = 0,
    ):
        self.mel_basis = mel_basis
        self.n_fft, self.hop, self.win = n_fft, hop_length, win_length
        self.n_iter, self.momentum, self.seed = n_iter, momentum, seed

    def linear(self, mel: Tensor) -> Tensor:
        """Linear magnitudes [B, F, frames] for mel magnitudes [B, n_mels, frames]."""
        return mel_to_linear(mel, self.mel_basis.to(mel.device))

    def __call__(self, mel: Tensor) -> Tensor:
        frames = mel.shape[-1]
        mag = self.linear(mel)
        # Our front end drops the final centred frame; repeat it so istft sees N//hop + 1 frames.
        mag = torch.cat([mag, mag[..., -1:]], dim=-1)
        window = torch.hann_window(self.win, device=mel.device, dtype=mel.dtype)
        gen = torch.Generator(device=mel.device).manual_seed(self.seed)
        return griffin_lim(
            mag,
            n_fft=self.n_fft,
            hop=self.hop,
            win=self.win,
            window=window,
            length=frames * self.hop,
            n_iter=self.n_iter,
            momentum=self.momentum,
            generator=gen,
        )
