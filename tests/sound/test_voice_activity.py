"""Voice activity on synthetic sound, and reading/writing audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import shared_path
from unflat.errors import InputError
from unflat.io.audio import read_audio, write_wav
from unflat.sound.voice_activity import voice_activity
from unflat.types import Audio

RATE = 16000


def _sound(bursts: list[tuple[float, float]], seconds: float = 4.0, hum: float = 0.0) -> Audio:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * RATE)) / RATE
    samples = 0.002 * rng.standard_normal(len(t))  # a quiet room
    samples += hum * np.sin(2 * np.pi * 60.0 * t)  # mains hum, below the speech band
    for start, end in bursts:
        inside = (t >= start) & (t < end)
        # a voiced sound: 150 Hz fundamental with harmonics reaching into the speech band
        samples[inside] += sum(
            0.3 / k * np.sin(2 * np.pi * 150.0 * k * t[inside]) for k in range(1, 12)
        )
    return Audio(samples.astype(np.float32), RATE)


def test_voice_spans_match_the_bursts() -> None:
    bursts = [(0.5, 1.3), (2.0, 2.8)]
    spans = voice_activity(_sound(bursts)).spans
    assert len(spans) == 2
    for (start, end), (s, e) in zip(bursts, spans, strict=True):
        assert abs(s - start) < 0.03 and abs(e - end) < 0.03


def test_hum_and_clicks_are_not_speech() -> None:
    sound = _sound([(1.0, 1.05)], hum=0.5)  # a 50 ms click over loud 60 Hz hum
    assert voice_activity(sound).spans == []


def test_short_pauses_are_bridged() -> None:
    spans = voice_activity(_sound([(0.5, 1.0), (1.15, 1.8)])).spans
    assert len(spans) == 1 and spans[0][0] == pytest.approx(0.5, abs=0.03)


def test_wav_round_trip(tmp_path: Path) -> None:
    sound = _sound([(0.2, 0.6)], seconds=1.0)
    path = write_wav(tmp_path / "speech.wav", sound)
    back = read_audio(path, sample_rate=RATE)
    assert back.sample_rate == RATE and len(back.samples) == len(sound.samples)
    assert np.abs(back.samples - sound.samples).max() < 1.0 / 32767 + 1e-6
    half = read_audio(path, sample_rate=8000)
    assert abs(len(half.samples) - len(sound.samples) // 2) <= 32
    with pytest.raises(Exception, match="already exists"):
        write_wav(path, sound, overwrite=False)


def test_reading_sound_from_a_video_and_from_a_silent_one() -> None:
    talk = read_audio(shared_path("data", "faces", "videos", "talk_2.mp4"))
    assert talk.sample_rate == 16000 and talk.seconds == pytest.approx(5.0, abs=0.1)
    assert 0.05 < np.abs(talk.samples).max() <= 1.0
    with pytest.raises(InputError, match="has no audio stream"):
        read_audio(shared_path("data", "faces", "videos", "lp_d0.mp4"))
    with pytest.raises(InputError, match="does not exist"):
        read_audio("no/such/file.wav")
