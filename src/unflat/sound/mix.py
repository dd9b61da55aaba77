"""Mixing soundtracks: speech over effects or over a video's own sound, with ducking."""

from __future__ import annotations

import numpy as np

from unflat.io.audio import resample
from unflat.types import Audio

#: How far the background drops under speech (dB), and how fast it goes down and comes back (s).
DUCK_DB, ATTACK_S, RELEASE_S = 12.0, 0.05, 0.3


def activity_envelope(
    audio: Audio, attack: float = ATTACK_S, release: float = RELEASE_S
) -> np.ndarray:
    """0..1 per sample: 1 where ``audio`` is sounding, with smooth attack and release."""
    rate = audio.sample_rate
    hop = max(round(0.01 * rate), 1)
    count = len(audio.samples) // hop + 1
    padded = np.pad(audio.samples, (0, count * hop - len(audio.samples)))
    level = np.sqrt(np.mean(padded.reshape(count, hop) ** 2, axis=1))
    on = (level > 10 ** (-45 / 20)).astype(np.float64)  # above -45 dBFS RMS: sound, not silence
    smooth = np.zeros(count)
    up, down = 1 - np.exp(-0.01 / attack), 1 - np.exp(-0.01 / release)
    state = 0.0
    # look ahead by the attack time so the background is already down when speech starts
    ahead = max(round(attack / 0.01), 1)
    target = np.maximum.reduce([np.roll(on, -k) for k in range(ahead + 1)])
    target[-ahead:] = on[-ahead:]
    for i, goal in enumerate(target):
        state += (up if goal > state else down) * (goal - state)
        smooth[i] = state
    return np.interp(np.arange(len(audio.samples)) / hop, np.arange(count), smooth)


def mix_ducked(foreground: Audio, background: Audio, duck_db: float = DUCK_DB) -> Audio:
    """``foreground`` over ``background`` (resampled to the foreground's rate), the background
    lowered by ``duck_db`` wherever the foreground sounds; as long as the longer of the two."""
    background = resample(background, foreground.sample_rate)
    length = max(len(foreground.samples), len(background.samples))
    front = np.pad(foreground.samples, (0, length - len(foreground.samples)))
    back = np.pad(background.samples, (0, length - len(background.samples)))
    gain = 1.0 - (1.0 - 10 ** (-duck_db / 20)) * activity_envelope(
        Audio(front, foreground.sample_rate)
    )
    return Audio((front + back * gain).astype(np.float32), foreground.sample_rate)
