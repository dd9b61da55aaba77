"""Mouth openings from synthesised phones and from recordings."""

from __future__ import annotations

import numpy as np
import pytest

from unflat.errors import InputError
from unflat.sound.tts.speech import Phone
from unflat.sound.visemes import (
    OPENING,
    openings_from_audio,
    openings_from_phones,
    phone_opening,
)
from unflat.types import Audio


def test_phone_openings_follow_the_viseme_table() -> None:
    assert phone_opening(Phone("m", 0, 0.1, 0)) == 0.0
    assert phone_opening(Phone("_", 0, 0.1, -1)) == 0.0
    assert phone_opening(Phone("'a:", 0, 0.1, 0)) == OPENING["open"]
    assert phone_opening(Phone("i:", 0, 0.1, 0)) == OPENING["close"]
    assert phone_opening(Phone("f", 0, 0.1, 0)) == OPENING["labiodental"]
    assert phone_opening(Phone("t", 0, 0.1, 0)) == OPENING["consonant"]


def test_openings_from_phones_open_on_vowels_and_shut_on_bilabials() -> None:
    # 0.4 s of /a/, 0.2 s of /m/, 0.4 s of /a/, then silence; 25 fps
    phones = [Phone("a", 0.0, 0.4, 0), Phone("m", 0.4, 0.6, 0), Phone("a", 0.6, 1.0, 0),
              Phone("_", 1.0, 1.6, -1)]  # fmt: skip
    openings = openings_from_phones(phones, 25.0, 40)
    assert openings.shape == (40,)
    assert openings[3:8].min() > 0.95  # well inside the first vowel
    assert openings[12] < 0.1  # the middle of /m/ (0.48-0.52 s)
    assert openings[17:22].min() > 0.95  # 0.68-0.88 s, inside the second vowel
    assert openings[30:].max() < 0.01


def _speech_like(seconds: float, rate: int = 16000, syllables_hz: float = 4.0) -> Audio:
    rng = np.random.default_rng(0)
    t = np.arange(round(seconds * rate)) / rate
    envelope = np.clip(np.sin(2 * np.pi * syllables_hz * t), 0, None) ** 2
    envelope[t > seconds * 0.75] = 0.0
    tone = np.sin(2 * np.pi * 700 * t) + 0.5 * np.sin(2 * np.pi * 1400 * t)
    noise = 1e-4 * rng.standard_normal(len(t))
    return Audio((0.3 * envelope * tone + noise).astype(np.float32), rate)


def test_openings_from_audio_follow_the_loudness_envelope() -> None:
    audio = _speech_like(2.0)
    openings = openings_from_audio(audio, 25.0, 50, source="speech.wav")
    t = (np.arange(50) + 0.5) / 25.0
    envelope = np.clip(np.sin(2 * np.pi * 4.0 * t), 0, None) ** 2
    envelope[t > 1.5] = 0.0
    assert np.corrcoef(openings, envelope)[0, 1] > 0.8
    assert openings[t > 1.6].max() < 0.05  # silence after the speech: shut


def test_audio_without_speech_is_refused() -> None:
    quiet = Audio((1e-4 * np.random.default_rng(1).standard_normal(32000)).astype(np.float32),
                  16000)  # fmt: skip
    with pytest.raises(InputError, match="no speech"):
        openings_from_audio(quiet, 25.0, 50, source="hum.wav")
