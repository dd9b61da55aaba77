"""Time-stretching by WSOLA (waveform-similarity overlap-add), keeping pitch.

WSOLA (Verhelst & Roelands, 1993) cuts the input into windowed frames and overlap-adds them
at a constant output hop. Each frame is read near where the time map says it belongs, shifted
by up to a small tolerance to the spot whose waveform best continues the previous frame's
natural continuation. Frames are never resampled, so pitch and timbre stay; only the rhythm
changes. Unlike a phase vocoder there is no phase smearing ("phasiness"), which suits speech.

:func:`time_warp` follows a piecewise-linear map given by anchor pairs (source second ->
output second), so each stretch of speech can be fitted to its own time slot;
:func:`stretch` is the uniform case.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numba
import numpy as np

from unflat.errors import ConfigError
from unflat.io.audio import mono_samples

# 20 ms Hann frames (the usual speech analysis frame): two pitch periods of a 100 Hz voice, so
# a frame carries a whole waveform shape to match, yet short, because a frame is copied
# unstretched: a sound is placed to within about (factor - 1) x 10 ms of its mapped time, and
# longer frames would smear and misplace onsets more.
WINDOW_S = 0.020
# Search +-10 ms around the nominal position: covers a full pitch period down to 50 Hz, so a
# matching phase is always in reach, while bounding how far a sound can drift from the map.
TOLERANCE_S = 0.010
# Similarity is computed on every n-th sample so that search cost does not grow with the
# sample rate: ~16 kHz of resolution is plenty to align speech waveforms.
SEARCH_RATE_HZ = 16000


def time_warp(
    samples: np.ndarray,
    sample_rate: int,
    source_times: Sequence[float],
    target_times: Sequence[float],
) -> np.ndarray:
    """``samples`` re-timed by the piecewise-linear map ``source_times[i] -> target_times[i]``.

    Times are in seconds and both lists strictly increase; the first pair is normally
    ``(0, 0)`` and the last maps the end of the source to the output length. The output
    (float32) has exactly ``round(target_times[-1] * sample_rate)`` samples, and a sound at
    source time ``s`` comes out at ``map(s)`` (within a few ms). Outside the anchors the map
    continues the first and last segments' slopes; reading past the input gives silence.
    """
    x = _check_samples(samples, sample_rate)
    source, target = _check_anchors(source_times, target_times)
    n_out = round(float(target[-1]) * sample_rate)
    return _warp(x, sample_rate, source, target, n_out)


def stretch(samples: np.ndarray, sample_rate: int, factor: float) -> np.ndarray:
    """``samples`` made ``factor`` times as long (``round(len * factor)`` samples), same pitch."""
    x = _check_samples(samples, sample_rate)
    if not (math.isfinite(factor) and factor > 0.0):
        raise ConfigError(
            f"stretch factor {factor} is not a positive number",
            hint="give a factor > 0: 1.5 makes audio 50 % longer, 0.8 makes it 20 % shorter",
        )
    n_out = round(len(x) * factor)
    seconds = max(len(x), 1) / sample_rate
    return _warp(x, sample_rate, np.array([0.0, seconds]), np.array([0.0, seconds * factor]), n_out)


def _warp(
    x: np.ndarray, sample_rate: int, source: np.ndarray, target: np.ndarray, n_out: int
) -> np.ndarray:
    if n_out <= 0:
        return np.zeros(0, np.float32)
    hop = max(1, round(WINDOW_S * sample_rate / 2))
    tolerance = max(1, round(TOLERANCE_S * sample_rate))
    stride = max(1, round(sample_rate / SEARCH_RATE_HZ))
    # Frame centres every hop from output sample 0 until one lands at or past the last
    # sample: with a periodic Hann window the weights then sum to 1 on every output sample.
    centres = np.arange(0, n_out - 1 + hop, hop, dtype=np.float64)
    nominal = np.round(_inverse_map(centres / sample_rate, source, target) * sample_rate)
    # Far outside the input everything reads silence; clamping keeps indices small.
    nominal = np.clip(nominal, -2 * hop, len(x) + 2 * hop).astype(np.int64)
    # Zero padding so every candidate and continuation read stays inside the array.
    pad = 4 * hop + 2 * tolerance
    padded = np.zeros(len(x) + 2 * pad, np.float32)
    padded[pad : pad + len(x)] = x
    out = _wsola(padded, nominal + pad, hop, tolerance, stride, n_out)
    return out.astype(np.float32)


@numba.njit(cache=True, fastmath=True)
def _wsola(
    x: np.ndarray, nominal: np.ndarray, hop: int, tolerance: int, stride: int, n_out: int
) -> np.ndarray:
    window = 2 * hop
    hann = np.empty(window, np.float32)
    for i in range(window):
        hann[i] = 0.5 - 0.5 * math.cos(2.0 * math.pi * i / window)
    # Output buffers are shifted by hop: frame k covers output samples [k*hop - hop, k*hop + hop).
    out = np.zeros(n_out + 2 * window + hop, np.float64)
    weight = np.zeros(n_out + 2 * window + hop, np.float64)
    previous = -1
    for k in range(nominal.shape[0]):
        best = nominal[k]
        if k > 0:
            # The natural continuation is what followed the previous frame in the input: the
            # segment centred one hop after it, so it starts at the previous centre. Only its
            # first half is compared: that is where the two frames overlap in the output, and
            # a sound further ahead would otherwise pull this frame early (it is then placed
            # by a frame that holds it only in its faded tail).
            natural = previous
            best_score = -np.inf
            # Offsets in the order 0, +1, -1, +2, -2, ...: on ties (silence, pure tones) the
            # frame stays nearest to where the map puts it.
            for j in range(2 * tolerance + 1):
                offset = (j + 1) // 2 if j % 2 == 1 else -(j // 2)
                start = nominal[k] + offset - hop
                dot = 0.0
                energy = 0.0
                for i in range(0, hop, stride):
                    v = x[start + i]
                    dot += v * x[natural + i]
                    energy += v * v
                score = dot / math.sqrt(energy) if energy > 1e-20 else 0.0
                if score > best_score:
                    best_score = score
                    best = nominal[k] + offset
        start = best - hop
        base = k * hop
        for i in range(window):
            out[base + i] += hann[i] * x[start + i]
            weight[base + i] += hann[i]
        previous = best
    result = np.empty(n_out, np.float64)
    for i in range(n_out):
        w = weight[hop + i]
        result[i] = out[hop + i] / w if w > 1e-6 else 0.0
    return result


def _inverse_map(output_times: np.ndarray, source: np.ndarray, target: np.ndarray) -> np.ndarray:
    # Source time for each output time; beyond the anchors the end segments' slopes continue.
    times = np.interp(output_times, target, source)
    before = output_times < target[0]
    after = output_times > target[-1]
    first_slope = (source[1] - source[0]) / (target[1] - target[0])
    last_slope = (source[-1] - source[-2]) / (target[-1] - target[-2])
    times[before] = source[0] + (output_times[before] - target[0]) * first_slope
    times[after] = source[-1] + (output_times[after] - target[-1]) * last_slope
    return times


def _check_samples(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    x = mono_samples(samples, "time-stretching", np.float32)
    if not sample_rate > 0:
        raise ConfigError(
            f"sample rate {sample_rate} is not positive",
            hint="pass the audio's sample rate in Hz, e.g. audio.sample_rate",
        )
    return x


def _check_anchors(
    source_times: Sequence[float], target_times: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    hint = (
        "give two equally long lists of at least 2 times in seconds, each strictly increasing, "
        "e.g. source [0, 1.2, 3.0] -> target [0, 1.5, 3.4]"
    )
    try:
        source = np.asarray(source_times, dtype=np.float64)
        target = np.asarray(target_times, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"time-map anchors are not numbers: {error}", hint=hint) from None
    if source.ndim != 1 or target.ndim != 1 or len(source) != len(target) or len(source) < 2:
        raise ConfigError(
            f"time-map anchors need two 1-D lists of the same length >= 2, got "
            f"{source.shape} and {target.shape}",
            hint=hint,
        )
    if not (np.all(np.isfinite(source)) and np.all(np.isfinite(target))):
        raise ConfigError("time-map anchors contain NaN or infinity", hint=hint)
    if np.any(np.diff(source) <= 0) or np.any(np.diff(target) <= 0):
        raise ConfigError("time-map anchors must strictly increase in both lists", hint=hint)
    if target[-1] <= 0:
        raise ConfigError(
            f"the time map ends at {target[-1]} s, before the output starts", hint=hint
        )
    return source, target
