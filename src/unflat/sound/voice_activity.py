"""Voice activity in audio: where someone speaks, from speech-band energy.

The reference the visual detector and our synthesised speech are measured against: short frames
(25 ms every 10 ms), their energy in the speech band (300-3400 Hz) in dB, and hysteresis
thresholds set above the recording's own noise floor (its quietest frames), so the same settings
work on a quiet studio take and on a noisy phone clip.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unflat.sound.frames import framed
from unflat.sound.spans import Span, clean_spans, hysteresis, mask_to_spans
from unflat.types import Audio

FRAME_S, HOP_S = 0.025, 0.010
SPEECH_BAND_HZ = (300.0, 3400.0)
# Thresholds above the noise floor (the 10th percentile of frame energies), in dB.
ON_DB, OFF_DB = 15.0, 9.0
# Pauses shorter than this are bridged; bursts shorter than this are dropped (clicks).
MIN_GAP_S, MIN_SPEECH_S = 0.25, 0.12


@dataclass
class VoiceActivity:
    times: np.ndarray  # [F] frame starts, seconds
    energy_db: np.ndarray  # [F] speech-band energy
    floor_db: float
    spans: list[Span]


def band_energy_db(
    audio: Audio, band: tuple[float, float] = SPEECH_BAND_HZ
) -> tuple[np.ndarray, np.ndarray]:
    """Frame start times and speech-band energy in dB (Hann-windowed 25 ms frames, 10 ms hop)."""
    rate = audio.sample_rate
    size, hop = round(FRAME_S * rate), round(HOP_S * rate)
    frames = framed(np.asarray(audio.samples, dtype=np.float64), size, hop)
    count = len(frames)
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(size), axis=1)) ** 2
    freqs = np.fft.rfftfreq(size, 1.0 / rate)
    in_band = (freqs >= band[0]) & (freqs <= band[1])
    energy = spectrum[:, in_band].sum(axis=1) / size
    return np.arange(count) * HOP_S, 10.0 * np.log10(energy + 1e-12)


def voice_activity(audio: Audio) -> VoiceActivity:
    """Speech spans of ``audio`` (see the module docstring)."""
    times, energy = band_energy_db(audio)
    # even continuous speech has quiet frames (closures, breaths) about 15 dB or more below its
    # vowels, so the quietest tenth stands for the floor; steady noise or hum sets it too
    floor = float(np.percentile(energy, 10))
    active = hysteresis(energy, floor + ON_DB, floor + OFF_DB)
    spans = clean_spans(mask_to_spans(active, times + FRAME_S / 2, HOP_S), MIN_GAP_S, MIN_SPEECH_S)
    return VoiceActivity(times, energy, floor, spans)
