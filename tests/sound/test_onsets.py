"""Audio onsets by spectral flux, and one-to-one onset matching with precision/recall/F1."""

from __future__ import annotations

import numpy as np
import pytest

from unflat.sound.onsets import audio_onsets, match_onsets, onset_scores
from unflat.types import Audio

RATE = 22050


def _clicks(times: list[float], seconds: float = 3.0, seed: int = 0) -> Audio:
    """Decaying noise bursts at ``times`` over faint hiss."""
    rng = np.random.default_rng(seed)
    samples = 0.002 * rng.standard_normal(int(seconds * RATE))
    burst = rng.standard_normal(2000) * np.exp(-np.arange(2000) / 300.0)
    for t in times:
        start = int(t * RATE)
        samples[start : start + len(burst)] += 0.5 * burst[: len(samples) - start]
    return Audio(samples.astype(np.float32), RATE)


def test_matching_is_one_to_one_within_the_tolerance() -> None:
    # two predictions near one reference: only one of them counts
    assert onset_scores([1.0, 1.05], [1.02], 0.1) == pytest.approx((0.5, 1.0, 2 / 3))
    # just inside and just outside the tolerance
    assert onset_scores([1.099], [1.0], 0.1) == (1.0, 1.0, 1.0)
    assert onset_scores([1.101], [1.0], 0.1) == (0.0, 0.0, 0.0)
    # order does not matter
    assert onset_scores([2.0, 0.5, 1.0], [1.01, 0.52, 3.0]) == pytest.approx((2 / 3, 2 / 3, 2 / 3))


def test_matching_is_maximal_where_nearest_neighbour_is_not() -> None:
    # 0.15 is nearest to 0.08, which 0.0 also needs; giving 0.15 the later 0.22 matches both
    pairs = match_onsets([0.0, 0.15], [0.08, 0.22], tolerance=0.1)
    assert pairs == [(0, 0), (1, 1)]
    assert onset_scores([0.15, 0.0], [0.22, 0.08], 0.1) == (1.0, 1.0, 1.0)


def test_empty_onset_lists() -> None:
    assert onset_scores([], []) == (1.0, 1.0, 1.0)
    assert onset_scores([], [1.0]) == (0.0, 0.0, 0.0)
    assert onset_scores([1.0], []) == (0.0, 0.0, 0.0)


def test_clicks_are_found_where_they_are_and_nowhere_else() -> None:
    times = [0.3, 0.9, 1.25, 2.0, 2.6]
    onsets = audio_onsets(_clicks(times))
    assert len(onsets.times) == len(times)
    np.testing.assert_allclose(onsets.times, times, atol=0.02)
    assert np.all((onsets.strengths > 0) & (onsets.strengths <= 1))


def test_silence_and_steady_noise_have_no_onsets() -> None:
    assert len(audio_onsets(Audio(np.zeros(RATE * 2, np.float32), RATE)).times) == 0
    rng = np.random.default_rng(1)
    steady = Audio((0.1 * rng.standard_normal(RATE * 3)).astype(np.float32), RATE)
    assert len(audio_onsets(steady).times) <= 1
