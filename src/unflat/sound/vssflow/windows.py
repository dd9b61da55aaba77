"""Clips longer than the model's window: overlapping windows joined by linear cross-fades, and
the phoneme track laid over the whole clip before it is cut into windows."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from unflat.errors import InputError
from unflat.sound.vssflow.stretch import stretch_phonemes


def window_starts(duration: float, window: float, overlap: float) -> list[float]:
    """Start times (s) of windows of ``window`` s, each overlapping the previous by ``overlap``
    s, that together cover ``duration`` s (one window for a clip no longer than a window)."""
    if not 0 <= overlap < window:
        raise InputError(f"overlap {overlap} s must be below the {window} s window", "lower it")
    if duration <= window:
        return [0.0]
    step = window - overlap
    count = math.ceil((duration - window) / step) + 1
    return [round(i * step, 6) for i in range(count)]


def cross_fade(pieces: list[np.ndarray], starts: list[int], total: int, fade: int) -> np.ndarray:
    """Join ``pieces`` (placed at sample ``starts``) into ``total`` samples; where two overlap,
    the earlier fades out linearly over ``fade`` samples as the later fades in."""
    out = np.zeros(total, np.float64)
    weight = np.zeros(total, np.float64)
    for index, (piece, start) in enumerate(zip(pieces, starts, strict=True)):
        ramp = np.ones(len(piece))
        if index > 0 and fade:  # fade in over the overlap with the previous piece
            ramp[:fade] = np.linspace(0.0, 1.0, fade + 2)[1:-1]
        if index < len(pieces) - 1 and fade:
            ramp[-fade:] = np.minimum(ramp[-fade:], np.linspace(1.0, 0.0, fade + 2)[1:-1])
        end = min(total, start + len(piece))
        out[start:end] += piece[: end - start] * ramp[: end - start]
        weight[start:end] += ramp[: end - start]
    return (out / np.maximum(weight, 1e-12)).astype(np.float32)


def phoneme_track(
    ids: list[int] | None, frames: int, fps: float, span: tuple[float, float] | None = None
) -> Tensor:
    """One id per latent frame [frames] over the whole clip: zeros (no speech) outside the
    speech ``span`` (s; default the whole clip), ``ids`` stretched over it as published."""
    track = torch.zeros(frames, dtype=torch.long)
    if not ids:
        return track
    start_s, end_s = (0.0, frames / fps) if span is None else span
    # As the published inference: the span's length in frames, after a zero prefix.
    first = int(start_s * fps)
    length = int((end_s - start_s) * fps)
    if not 0 <= start_s < end_s or length < 1 or first >= frames:
        raise InputError(f"speech span {span} s does not fit the clip", "pass start < end")
    stretched = stretch_phonemes(ids, length)[: frames - first]
    track[first : first + len(stretched)] = stretched
    return track


__all__ = ["cross_fade", "phoneme_track", "window_starts"]
