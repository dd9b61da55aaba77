"""EBU R128 / BS.1770-4 loudness: calibration, gating, normalising and peak limiting."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.conftest import shared_path
from unflat.errors import ConfigError
from unflat.sound.loudness import (
    highpass_passband_gain,
    integrated_loudness,
    k_weighting_coefficients,
    limit_peaks,
    normalise_loudness,
)
from unflat.types import Audio


def sine(freq: float, seconds: float, rate: int, amplitude: float = 1.0) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def speech(rate: int = 22050) -> Audio:
    from unflat.io.audio import read_audio

    return read_audio(shared_path("data", "audio", "speech", "LJ001-0003.wav"), sample_rate=rate)


def test_48k_coefficients_are_the_standards() -> None:
    b_shelf, a_shelf, b_highpass, a_highpass = k_weighting_coefficients(48000)
    # ITU-R BS.1770-4, tables 1 and 2.
    np.testing.assert_allclose(
        b_shelf, [1.53512485958697, -2.69169618940638, 1.19839281085285], atol=1e-6
    )
    np.testing.assert_allclose(a_shelf, [1.0, -1.69065929318241, 0.73248077421585], atol=1e-6)
    np.testing.assert_allclose(b_highpass, [1.0, -2.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(a_highpass, [1.0, -1.99004745483398, 0.99007225036621], atol=1e-6)


@pytest.mark.parametrize("rate", [48000, 22050, 16000])
def test_full_scale_997hz_sine_reads_minus_3_01(rate: int) -> None:
    loudness = integrated_loudness(Audio(sine(997, 5.0, rate), rate))
    assert loudness == pytest.approx(-3.01, abs=0.05)


def test_minus_20_dbfs_sine_reads_minus_23_01() -> None:
    audio = Audio(sine(997, 5.0, 48000, amplitude=10 ** (-20 / 20)), 48000)
    assert integrated_loudness(audio) == pytest.approx(-23.01, abs=0.05)


def test_gates_keep_silence_and_quiet_passages_out() -> None:
    rate = 16000
    tone = sine(997, 20.0, rate, amplitude=0.1)  # -23.01 LUFS on its own
    with_silence = np.concatenate([tone, np.zeros(60 * rate, np.float32)])
    # Ungated, 20 s in 80 s would read 6.02 LU lower; the absolute gate drops the silence
    # (the three blocks straddling the tone's end still count: -0.03 LU).
    assert integrated_loudness(Audio(with_silence, rate)) == pytest.approx(-23.01, abs=0.05)
    # A long -60 LUFS hum passes the absolute gate but not the relative one (~-39 LUFS here).
    hum = sine(997, 60.0, rate, amplitude=0.001)
    assert integrated_loudness(Audio(np.concatenate([tone, hum]), rate)) == pytest.approx(
        -23.01, abs=0.05
    )


def test_silence_and_too_short_audio_are_unmeasurable() -> None:
    rate = 16000
    silence = Audio(np.zeros(3 * rate, np.float32), rate)
    assert integrated_loudness(silence) == -math.inf
    short = Audio(sine(997, 0.3, rate), rate)  # under one 400 ms block
    assert integrated_loudness(short) == -math.inf
    assert integrated_loudness(Audio(np.zeros(0, np.float32), rate)) == -math.inf
    for audio in (silence, short):
        out = normalise_loudness(audio)
        np.testing.assert_array_equal(out.samples, audio.samples)
        assert out.sample_rate == rate


def test_normalise_speech_hits_target_under_the_ceiling() -> None:
    audio = speech()
    out = normalise_loudness(audio, target_lufs=-16.0, peak_dbfs=-1.0)
    assert len(out.samples) == len(audio.samples)
    assert out.samples.dtype == np.float32
    assert integrated_loudness(out) == pytest.approx(-16.0, abs=0.1)
    assert float(np.max(np.abs(out.samples))) <= 10 ** (-1 / 20)
    # The limiter touches only the peaks: most of the speech just gets the plain gain.
    gain = 10 ** ((-16.0 - integrated_loudness(audio)) / 20)
    loud = np.abs(audio.samples) > 0.01
    ratio = out.samples[loud] / (audio.samples[loud] * gain)
    assert np.mean(ratio > 0.99) > 0.9


def test_agrees_with_pyloudnorm() -> None:
    pyloudnorm = pytest.importorskip("pyloudnorm")
    audio = speech()
    ours = integrated_loudness(audio)
    theirs = pyloudnorm.Meter(audio.sample_rate).integrated_loudness(
        audio.samples.astype(np.float64)
    )
    # pyloudnorm normalises the RLB high-pass to unity passband gain, so it reads every signal
    # 0.043 dB below the standard (its full-scale 997 Hz sine is -3.05 LUFS, not -3.01).
    offset = 20 * math.log10(highpass_passband_gain())
    assert offset == pytest.approx(0.0433, abs=1e-3)
    assert abs(ours - (theirs + offset)) < 0.05
    assert abs(ours - theirs) < 0.1


def test_limiter_is_smooth_and_local() -> None:
    rate = 48000
    x = sine(200, 3.0, rate, amplitude=0.5).astype(np.float64)
    peak_at = rate  # one 2x overshoot at t = 1 s
    x[peak_at] = 2.0
    y = limit_peaks(x, rate, peak_dbfs=-1.0).astype(np.float64)
    ceiling = 10 ** (-1 / 20)
    assert np.max(np.abs(y)) <= ceiling
    gain = np.ones_like(x)
    nonzero = np.abs(x) > 1e-3
    gain[nonzero] = y[nonzero] / x[nonzero]
    # Untouched before the 5 ms look-ahead and once the 50 ms release has run out.
    assert np.allclose(gain[: peak_at - round(0.006 * rate)], 1.0, atol=1e-6)
    assert np.allclose(gain[peak_at + round(0.8 * rate) :], 1.0, atol=1e-6)
    # The gain glides down over the look-ahead (no step, so no click) ...
    assert np.max(np.abs(np.diff(gain[nonzero][:-1]))) < 0.02
    # ... and is back above 0.9 (-1 dB) 0.1 s after the peak: no long pumping.
    assert np.min(gain[peak_at + round(0.1 * rate) : peak_at + round(0.2 * rate)]) > 0.9


def test_bad_levels_raise_config_error() -> None:
    audio = Audio(sine(997, 1.0, 16000), 16000)
    with pytest.raises(ConfigError):
        normalise_loudness(audio, target_lufs=math.nan)
    with pytest.raises(ConfigError):
        normalise_loudness(audio, peak_dbfs=3.0)
