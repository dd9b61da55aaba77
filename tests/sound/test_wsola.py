"""WSOLA time-stretching: exact lengths, kept pitch, mapped timing, identity, speed."""

from __future__ import annotations

import time

import numpy as np
import pytest

from unflat.errors import ConfigError
from unflat.sound.wsola import stretch, time_warp

RATE = 16000


def tone(freq: float, seconds: float, rate: int = RATE) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_frequency(samples: np.ndarray, rate: int) -> float:
    """The strongest frequency of the middle half, by a padded FFT and a parabolic peak fit."""
    middle = samples[len(samples) // 4 : 3 * len(samples) // 4].astype(np.float64)
    n = 1 << 20
    spectrum = np.abs(np.fft.rfft(middle * np.hanning(len(middle)), n))
    k = int(np.argmax(spectrum))
    left, centre, right = np.log(spectrum[k - 1 : k + 2])
    shift = 0.5 * (left - right) / (left - 2 * centre + right)
    return (k + shift) * rate / n


def bursts(times: np.ndarray, seconds: float) -> np.ndarray:
    """Sharp-onset 700 Hz bursts (2 ms rise, 8 ms decay) starting at ``times``, in silence."""
    x = np.zeros(round(seconds * RATE))
    t = np.arange(round(0.03 * RATE)) / RATE
    burst = 0.8 * np.minimum(1.0, t / 0.002) * np.exp(-t / 0.008) * np.sin(2 * np.pi * 700 * t)
    for start in times:
        i = round(start * RATE)
        x[i : i + len(burst)] += burst
    return x.astype(np.float32)


def onsets(samples: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """First time near each expected time where the magnitude reaches 30 % of its local max."""
    found = []
    for at in expected:
        lo = round((at - 0.06) * RATE)
        window = np.abs(samples[lo : lo + round(0.12 * RATE)])
        found.append((lo + int(np.argmax(window > 0.3 * window.max()))) / RATE)
    return np.array(found)


@pytest.mark.parametrize("factor", [0.25, 0.7, 1.0, 1.3, 4.0])
def test_stretch_length_is_exact(factor: float) -> None:
    x = tone(220, 1.2345)
    assert len(stretch(x, RATE, factor)) == round(len(x) * factor)


def test_time_warp_length_is_exact() -> None:
    x = tone(220, 2.0)
    out = time_warp(x, RATE, [0.0, 0.5, 2.0], [0.0, 1.23456, 2.71828])
    assert len(out) == round(2.71828 * RATE)
    assert out.dtype == np.float32


@pytest.mark.parametrize("factor", [1.5, 0.7])
def test_stretch_keeps_pitch(factor: float) -> None:
    out = stretch(tone(220, 2.0), RATE, factor)
    assert peak_frequency(out, RATE) == pytest.approx(220.0, rel=0.01)
    # And the level stays: WSOLA adds in phase, no cancellation.
    middle = out[RATE // 4 : -RATE // 4]
    assert np.sqrt(np.mean(middle**2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.05)


def test_sounds_land_at_their_mapped_times() -> None:
    times = np.array([0.37, 0.81, 1.29, 1.73, 2.46, 2.93, 3.37, 4.21, 4.66, 5.18, 5.55])
    source = [0.0, 2.0, 4.0, 6.0]
    target = [0.0, 3.0, 4.4, 7.0]  # local factors 1.5, 0.7, 1.3
    x = bursts(times, 6.0)
    out = time_warp(x, RATE, source, target)
    expected = np.interp(times, source, target)
    # Onset detection has its own bias (the rise); measure it on the input and remove it.
    bias = onsets(x, times) - times
    error = onsets(out, expected) - expected - bias
    assert np.max(np.abs(error)) < 0.005


def test_identity_map_returns_the_input() -> None:
    rng = np.random.default_rng(0)
    # Noise shaped like speech: a random-walk spectrum through a short smoothing filter.
    x = np.convolve(rng.standard_normal(3 * RATE), np.hanning(9), mode="same")
    x = (0.3 * x / np.max(np.abs(x))).astype(np.float32)
    out = time_warp(x, RATE, [0.0, 3.0], [0.0, 3.0])
    edge = round(0.05 * RATE)
    error = out[edge:-edge] - x[edge:-edge]
    snr = 10 * np.log10(np.sum(x[edge:-edge] ** 2) / max(np.sum(error**2), 1e-30))
    assert snr > 30


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ([0.0, 1.0], [0.0, 1.0, 2.0]),  # lengths differ
        ([0.0], [0.0]),  # fewer than 2 anchors
        ([0.0, 1.0, 1.0], [0.0, 1.0, 2.0]),  # source not strictly increasing
        ([0.0, 1.0, 2.0], [0.0, 1.5, 1.2]),  # target not increasing
        ([0.0, float("nan")], [0.0, 1.0]),
        ([0.0, 1.0], [-2.0, -1.0]),  # no output at all
    ],
)
def test_bad_anchors_raise_config_error(source: list[float], target: list[float]) -> None:
    with pytest.raises(ConfigError) as caught:
        time_warp(tone(220, 1.0), RATE, source, target)
    assert caught.value.hint


@pytest.mark.parametrize("factor", [0.0, -1.0, float("inf")])
def test_bad_factor_raises_config_error(factor: float) -> None:
    with pytest.raises(ConfigError):
        stretch(tone(220, 0.5), RATE, factor)


def test_faster_than_real_time() -> None:
    rng = np.random.default_rng(1)
    x = (0.1 * rng.standard_normal(10 * RATE)).astype(np.float32)
    stretch(x[:RATE], RATE, 1.3)  # compile / load the numba kernel outside the timing
    started = time.perf_counter()
    out = stretch(x, RATE, 1.3)
    elapsed = time.perf_counter() - started
    assert len(out) == round(len(x) * 1.3)
    assert elapsed < 2.0  # ~0.1 s on an idle core


def test_stereo_is_refused_with_a_downmix_hint() -> None:
    from unflat.errors import InputError
    from unflat.sound.loudness import integrated_loudness
    from unflat.sound.recognise import transcribe
    from unflat.types import Audio

    stereo = np.zeros((RATE, 2), np.float32)
    for what, call in (
        ("time-stretching", lambda: stretch(stereo, RATE, 1.5)),
        ("loudness", lambda: integrated_loudness(Audio(stereo, RATE))),
        ("speech recognition", lambda: transcribe(Audio(stereo, RATE))),
    ):
        with pytest.raises(InputError, match=f"{what} needs mono samples") as error:
            call()
        assert "downmix" in (error.value.hint or "")
