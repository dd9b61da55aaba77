"""How open the mouth is while speech plays: from synthesised phones, or from a recording.

Both give an opening per video frame in [0, 1] (1: the widest opening of an open vowel), which a
face animator scales into its own units.

- From phones (speech we synthesised): each phone's viseme has a typical opening (open vowels
  widest, close vowels less, /p b m/ shut, other consonants a little open); the openings are
  held over each phone's time and smoothed with a short coarticulation kernel, so lips and voice
  agree by construction.
- From a recording: the speech-band energy envelope (the same 25 ms / 10 ms frames the voice
  activity detector uses), from the recording's noise floor (closed) to its loud vowels (open).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from unflat.errors import InputError
from unflat.sound.tts.speech import Phone
from unflat.sound.voice_activity import FRAME_S, VoiceActivity, band_energy_db, voice_activity
from unflat.types import Audio

# Viseme openings by the phone's first sound character (eSpeak mnemonics and IPA).
OPEN_VOWELS, MID_VOWELS, CLOSE_VOWELS = "aAæɑɐɒ", "0oOɔVʌEeɛ3ɜ@əɚɘœø&", "iIɪuUʊyʏɨʉɯ"
OPENING = {"open": 1.0, "mid": 0.72, "close": 0.45, "consonant": 0.28, "labiodental": 0.12}
LABIODENTALS = frozenset({"f", "v"})
# Coarticulation: the mouth moves towards each viseme with this time constant (s); /p b m/
# still close fully, as they last longer than this.
SMOOTHING_S = 0.025
# Recording: inside speech, the quietest LOW_PERCENTILE of frames read as closed and the loudest
# (above HIGH_PERCENTILE) as fully open; energy within GATE_DB of the noise floor keeps the mouth
# shut (breath, room noise).
LOW_PERCENTILE, HIGH_PERCENTILE = 15.0, 95.0
GATE_DB = 6.0
_RATE = 200.0  # Hz, the fine time grid the openings are built on before frames are sampled


def phone_opening(phone: Phone) -> float:
    """The viseme opening of one phone, in [0, 1]."""
    if phone.is_pause or phone.is_bilabial:
        return 0.0
    first = phone.bare[:1]
    if first in OPEN_VOWELS:
        return OPENING["open"]
    if first in MID_VOWELS:
        return OPENING["mid"]
    if first in CLOSE_VOWELS:
        return OPENING["close"]
    if phone.bare in LABIODENTALS:
        return OPENING["labiodental"]
    return OPENING["consonant"]


def openings_from_phones(phones: Sequence[Phone], fps: float, frames: int) -> np.ndarray:
    """``float32 [frames]``: the mouth opening at each video frame of speech with ``phones``."""
    fine = np.zeros(max(int(np.ceil(frames / fps * _RATE)) + 1, 1))
    for phone in phones:
        start, end = round(phone.start * _RATE), max(round(phone.end * _RATE), 1)
        fine[start:end] = phone_opening(phone)
    openings = _to_frames(_smooth(fine), fps, frames)
    # the lips must meet for /p b m/: smoothing and frame averaging would leave them ajar
    for phone in phones:
        if phone.is_bilabial:
            index = int((phone.start + phone.end) / 2 * fps)
            if 0 <= index < frames:
                openings[index] = 0.0
    return openings


def check_speech(audio: Audio, source: str) -> VoiceActivity:
    """The voice activity of ``audio``; ``InputError`` when it holds no speech."""
    activity = voice_activity(audio)
    if not activity.spans:
        raise InputError(
            f"{source} has no speech in it (nothing rises 15 dB above its noise floor in the "
            "speech band)",
            hint="give a recording of someone speaking, or --text to synthesise speech",
        )
    return activity


def openings_from_audio(audio: Audio, fps: float, frames: int, *, source: str) -> np.ndarray:
    """``float32 [frames]``: the mouth opening at each video frame while ``audio`` plays.

    Raises ``InputError`` when ``audio`` holds no speech (nothing for a mouth to follow).
    """
    activity = check_speech(audio, source)
    times, energy = band_energy_db(audio)
    centres = times + FRAME_S / 2
    speaking = np.zeros(len(times), dtype=bool)
    for start, end in activity.spans:
        speaking |= (centres >= start) & (centres < end)
    # within speech, consonants and closures sit 10-20 dB under the vowels: span that range
    low, high = np.percentile(energy[speaking], [LOW_PERCENTILE, HIGH_PERCENTILE])
    low = max(float(low), activity.floor_db + GATE_DB)
    level = np.clip((energy - low) / max(float(high) - low, 1.0), 0.0, 1.0)
    level = np.where(speaking, level, 0.0)
    fine_times = np.arange(max(int(np.ceil(frames / fps * _RATE)) + 1, 1)) / _RATE
    fine = np.interp(fine_times, centres, level, left=0.0, right=0.0)
    return _to_frames(_smooth(fine), fps, frames)


def _smooth(fine: np.ndarray) -> np.ndarray:
    """Symmetric coarticulation: a first-order lag run forwards and backwards, which is a
    convolution with ``(1 + |t|/tau) exp(-|t|/tau)``."""
    tau = SMOOTHING_S * _RATE
    offsets = np.arange(-int(6 * tau), int(6 * tau) + 1) / tau
    kernel = (1 + np.abs(offsets)) * np.exp(-np.abs(offsets))
    kernel /= kernel.sum()
    radius = len(kernel) // 2
    padded = np.pad(fine.astype(np.float64), radius, mode="edge")
    return np.convolve(padded, kernel, mode="valid")


def _to_frames(fine: np.ndarray, fps: float, frames: int) -> np.ndarray:
    """The mean opening over each frame's time (a frame shows its whole interval)."""
    edges = np.minimum(np.round(np.arange(frames + 1) / fps * _RATE).astype(int), len(fine))
    sums = np.concatenate([[0.0], np.cumsum(fine)])
    counts = np.maximum(np.diff(edges), 1)
    means = sums[np.maximum(edges[1:], edges[:-1] + 1).clip(max=len(fine))] - sums[edges[:-1]]
    return (means / counts).clip(0.0, 1.0).astype(np.float32)
