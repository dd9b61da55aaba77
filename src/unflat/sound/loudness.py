"""Programme loudness after EBU R128 / ITU-R BS.1770-4, and normalising speech to a target.

``integrated_loudness`` measures gated integrated loudness in LUFS of mono audio (channel
weight 1): K-weighting (the standard's high-shelf "pre-filter" then its RLB high-pass), mean
square over 400 ms blocks every 100 ms, an absolute gate at -70 LUFS and a relative gate 10 LU
below the loudness of the blocks that passed the first. ``normalise_loudness`` applies the gain
that hits a target loudness, then a look-ahead peak limiter that keeps every sample under a
ceiling (a true-peak ceiling: between samples too, so that resampling and encoding do not
clip what was limited).

The K-weighting biquads are derived from their analog prototypes (centre frequency, gain, Q)
with the bilinear transform, as the common open meters do, so any sample rate works; at 48 kHz
they reproduce the coefficients published in BS.1770 (two deliberate differences from
libebur128 at other rates: see :func:`k_weighting_coefficients`). The recursions run in
numba, so minutes of audio filter in well under a second, with no scipy.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from unflat.errors import ConfigError, InputError
from unflat.io.audio import mono_samples
from unflat.types import Audio

# Analog prototypes of the two K-weighting stages, fitted (by the open meters, e.g.
# libebur128) so that the bilinear transform at 48 kHz lands on the standard's coefficients.
SHELF_HZ = 1681.974450955533
SHELF_GAIN_DB = 3.999843853973347
SHELF_Q = 0.7071752369554196
# Exponent splitting the shelf gain between the band edges (the "Vb = Vh^x" of that fit).
SHELF_VB_EXPONENT = 0.4996667741545416
HIGHPASS_HZ = 38.13547087602444
HIGHPASS_Q = 0.5003270373238773
# The standard's coefficients are for this rate; other rates are made to match its response.
REFERENCE_RATE = 48000
# The frequency of the calibration sine (a full-scale 997 Hz sine reads -3.01 LUFS).
CALIBRATION_HZ = 997.0

BLOCK_S = 0.4  # gating block
HOP_S = 0.1  # 75 % overlap
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
# The -0.691 dB offset makes a 997 Hz sine read its RMS level in dBFS (K-weighting gains
# +0.691 dB at 997 Hz).
LOUDNESS_OFFSET = -0.691

LIMITER_LOOKAHEAD_S = 0.005
LIMITER_RELEASE_S = 0.05
# True peak: the waveform between samples, which a resampler or a lossy encoder reproduces,
# can swing above every sample (a mix limited to 0.891 in samples came out of AAC at 1.04).
# It is estimated 8x oversampled (BS.1770-4 asks at least 4x; 8x is within 0.05 dB for
# content up to a quarter of the sample rate) with a Kaiser-windowed sinc spanning 16 samples.
TRUE_PEAK_OVERSAMPLING = 8
TRUE_PEAK_HALF_TAPS = 8
TRUE_PEAK_KAISER_BETA = 8.0
# Limiter passes with a ceiling lowered by what the last one missed (the gain moves within
# the interpolation filter's span, so one pass can leave a true peak a hair over).
TRUE_PEAK_PASSES = 3
# Gain make-up after limiting: extra limiter passes, and the shortfall (LU) worth one.
MAKEUP_PASSES = 3
MAKEUP_TOLERANCE_LU = 0.01
# Headroom (relative) under the ceiling that absorbs float64 round-off and the float32 cast.
_CEILING_MARGIN = 1e-6


def k_weighting_coefficients(
    sample_rate: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(b_shelf, a_shelf, b_highpass, a_highpass)``: the two K-weighting biquads, ``a[0] = 1``.

    Bilinear transforms of the analog prototypes. At 48 kHz they are the standard's published
    coefficients. At other rates two choices keep the response on the 48 kHz one:

    - the shelf's bilinear warping is anchored at 997 Hz (the frequency the -0.691 dB offset
      calibrates) instead of at its own 1.68 kHz, so the response is exact from DC to 1 kHz
      (where speech has most of its energy) and within 0.1 dB above, for rates >= 16 kHz;
    - the high-pass keeps the standard's +0.043 dB passband gain at every rate. libebur128
      reuses the numerator (1, -2, 1) unchanged, which raises that gain as the rate drops
      (+0.13 dB at 16 kHz), a level offset across the whole band.
    """
    _check_rate(sample_rate)
    k = _warped(SHELF_HZ, CALIBRATION_HZ, sample_rate)
    vh = 10.0 ** (SHELF_GAIN_DB / 20.0)
    vb = vh**SHELF_VB_EXPONENT
    a0 = 1.0 + k / SHELF_Q + k * k
    b_shelf = np.array(
        [
            (vh + vb * k / SHELF_Q + k * k) / a0,
            2.0 * (k * k - vh) / a0,
            (vh - vb * k / SHELF_Q + k * k) / a0,
        ]
    )
    a_shelf = np.array([1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / SHELF_Q + k * k) / a0])

    k = math.tan(math.pi * HIGHPASS_HZ / sample_rate)
    a0 = 1.0 + k / HIGHPASS_Q + k * k
    b_highpass = np.array([1.0, -2.0, 1.0]) * (highpass_passband_gain() / a0)
    a_highpass = np.array([1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / HIGHPASS_Q + k * k) / a0])
    return b_shelf, a_shelf, b_highpass, a_highpass


def highpass_passband_gain() -> float:
    """Linear passband gain of the standard's RLB high-pass (numerator 1, -2, 1 at 48 kHz)."""
    k = math.tan(math.pi * HIGHPASS_HZ / REFERENCE_RATE)
    # A bilinear high-pass with numerator g * (1, -2, 1) / a0 has passband gain g: the
    # standard's numerator (1, -2, 1) means g = a0 at 48 kHz.
    return 1.0 + k / HIGHPASS_Q + k * k


def _warped(prototype_hz: float, match_hz: float, sample_rate: int) -> float:
    # The bilinear "K" that maps prototype_hz so the digital response at match_hz equals the
    # 48 kHz design's; at 48 kHz it is the usual tan(pi f0 / fs).
    reference = math.tan(math.pi * prototype_hz / REFERENCE_RATE)
    return (
        math.tan(math.pi * match_hz / sample_rate)
        * reference
        / math.tan(math.pi * match_hz / REFERENCE_RATE)
    )


@numba.njit(cache=True)
def _two_biquads(x: np.ndarray, b1: np.ndarray, a1: np.ndarray, b2: np.ndarray, a2: np.ndarray):
    # Transposed direct form II in float64: both stages in one pass keeps the data in cache.
    y = np.empty(x.shape[0], np.float64)
    s1 = 0.0
    s2 = 0.0
    t1 = 0.0
    t2 = 0.0
    for i in range(x.shape[0]):
        v = x[i]
        u = b1[0] * v + s1
        s1 = b1[1] * v - a1[1] * u + s2
        s2 = b1[2] * v - a1[2] * u
        w = b2[0] * u + t1
        t1 = b2[1] * u - a2[1] * w + t2
        t2 = b2[2] * u - a2[2] * w
        y[i] = w
    return y


def k_weight(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """The K-weighted signal (float64), exact IIR filtering from a zero state."""
    b1, a1, b2, a2 = k_weighting_coefficients(sample_rate)
    return _two_biquads(np.ascontiguousarray(samples, dtype=np.float64), b1, a1, b2, a2)


def block_mean_squares(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mean square of the K-weighted signal over each complete 400 ms block, hop 100 ms."""
    block = round(BLOCK_S * sample_rate)
    n = len(samples)
    if n < block:
        return np.zeros(0)
    weighted = k_weight(samples, sample_rate)
    # Prefix sums turn every block's sum into one subtraction; float64 keeps the error far
    # below the 0.01 LU we care about even over an hour of audio.
    cumulative = np.concatenate(([0.0], np.cumsum(weighted * weighted)))
    starts = np.round(np.arange(0, n - block + 1, HOP_S * sample_rate)).astype(np.int64)
    starts = starts[starts + block <= n]
    return (cumulative[starts + block] - cumulative[starts]) / block


def integrated_loudness(audio: Audio) -> float:
    """Gated integrated loudness in LUFS (BS.1770-4 / EBU R128, mono, channel weight 1).

    Returns ``-math.inf`` when no 400 ms block passes the absolute gate: digital silence,
    very quiet audio, and audio shorter than one block (400 ms), which the standard cannot
    measure.
    """
    samples = _mono(audio)
    z = block_mean_squares(samples, audio.sample_rate)
    with np.errstate(divide="ignore"):
        block_lufs = LOUDNESS_OFFSET + 10.0 * np.log10(z)
    z = z[block_lufs > ABSOLUTE_GATE_LUFS]
    if z.size == 0:
        return -math.inf
    relative_gate = LOUDNESS_OFFSET + 10.0 * math.log10(float(np.mean(z))) + RELATIVE_GATE_LU
    with np.errstate(divide="ignore"):
        z = z[LOUDNESS_OFFSET + 10.0 * np.log10(z) > relative_gate]
    return LOUDNESS_OFFSET + 10.0 * math.log10(float(np.mean(z)))


@numba.njit(cache=True)
def _limiter_gain(x: np.ndarray, ceiling: float, lookahead: int, release: float) -> np.ndarray:
    n = x.shape[0]
    required = np.ones(n)
    for i in range(n):
        a = abs(x[i])
        if a > ceiling:
            required[i] = ceiling / a
    # need[k]: the smallest gain required anywhere in the look-ahead [k, k + lookahead), so the
    # gain starts falling a whole look-ahead before each peak. Van Herk / Gil-Werman running
    # minimum: O(n) however many samples are over the ceiling.
    forward = required.copy()
    backward = required.copy()
    for start in range(0, n, lookahead):
        stop = min(start + lookahead, n)
        for i in range(start + 1, stop):
            forward[i] = min(forward[i], forward[i - 1])
        for i in range(stop - 2, start - 1, -1):
            backward[i] = min(backward[i], backward[i + 1])
    need = np.empty(n)
    for k in range(n):
        need[k] = min(backward[k], forward[min(k + lookahead - 1, n - 1)])
    # Release: recover towards unity along a one-pole curve, never above what is needed.
    held = np.empty(n)
    level = 1.0
    for k in range(n):
        level += (1.0 - level) * release
        if level > 1.0 - 1e-9:
            level = 1.0
        level = min(level, need[k])
        held[k] = level
    # Attack: two cascaded causal moving averages (a triangular window spanning exactly the
    # look-ahead). Every value averaged for sample i is at most the gain i needs, so the
    # average is too: the ceiling is never crossed and the gain moves without steps (no
    # clicks). Running sums of the gain *reduction* stay exactly 0 where nothing happens.
    first = (lookahead + 1) // 2
    second = lookahead - first + 1
    stage = _moving_average_of_reduction(held, first)
    return _moving_average_of_reduction(stage, second)


@numba.njit(cache=True)
def _moving_average_of_reduction(gain: np.ndarray, length: int) -> np.ndarray:
    n = gain.shape[0]
    out = np.ones(n)
    # Before the start the gain is taken as gain[0] (not unity): a peak in the first
    # look-ahead is then still fully covered.
    before = 1.0 - gain[0]
    total = (length - 1) * before
    last_active = 0 if before != 0.0 else -length
    for i in range(n):
        reduction = 1.0 - gain[i]
        total += reduction
        total -= 1.0 - gain[i - length] if i >= length else before
        if reduction != 0.0:
            last_active = i
        if i - last_active >= length:
            total = 0.0  # the window is all unity: drop accumulated round-off
        out[i] = 1.0 - total / length
    return out


def interpolation_taps(
    phases: int = TRUE_PEAK_OVERSAMPLING, half: int = TRUE_PEAK_HALF_TAPS
) -> np.ndarray:
    """``[phases - 1, 2 * half]`` taps: row ``p - 1`` gives the signal at ``i + p / phases``
    from samples ``i - half + 1 .. i + half`` (a Kaiser-windowed sinc, unity gain at DC)."""
    offsets = np.arange(-half + 1, half + 1)
    rows = []
    for phase in range(1, phases):
        t = phase / phases - offsets  # distance from each sample to the point wanted
        window = np.i0(TRUE_PEAK_KAISER_BETA * np.sqrt(np.clip(1.0 - (t / half) ** 2, 0.0, 1.0)))
        taps = np.sinc(t) * window
        rows.append(taps / taps.sum())
    return np.asarray(rows)


@numba.njit(cache=True)
def _true_peak_levels(x: np.ndarray, taps: np.ndarray) -> np.ndarray:
    # level[i]: the largest magnitude of the waveform within one sample of sample i
    n = x.shape[0]
    phases, width = taps.shape
    half = width // 2
    level = np.abs(x)
    for i in range(n - 1):
        best = 0.0
        for p in range(phases):
            acc = 0.0
            for k in range(width):
                j = i - half + 1 + k
                if 0 <= j < n:
                    acc += taps[p, k] * x[j]
            best = max(best, abs(acc))
        level[i] = max(level[i], best)
        level[i + 1] = max(level[i + 1], best)
    return level


def true_peak_levels(samples: np.ndarray) -> np.ndarray:
    """Per sample, the largest magnitude the waveform reaches within one sample of it (8x
    oversampled); its maximum is the true peak."""
    x = np.ascontiguousarray(samples, dtype=np.float64)
    return _true_peak_levels(x, interpolation_taps())


def true_peak(samples: np.ndarray) -> float:
    """The true peak (linear, 8x oversampled) of mono samples; 0 for none."""
    return float(true_peak_levels(samples).max()) if len(samples) else 0.0


def limit_peaks(
    samples: np.ndarray, sample_rate: int, peak_dbfs: float = -1.0, *, true: bool = True
) -> np.ndarray:
    """Look-ahead limiter: float32 samples whose peaks stay at or under ``peak_dbfs``.

    ``true`` (the default) limits the true peak (:func:`true_peak`, dBTP), so the waveform
    stays under the ceiling once resampled or encoded too; else sample peaks only. Attack is a
    smooth (piecewise-quadratic) ramp over a 5 ms look-ahead, release a one-pole recovery with
    a 50 ms time constant; samples that never approach the ceiling pass unchanged.
    """
    x = np.ascontiguousarray(samples, dtype=np.float64)
    ceiling = 10.0 ** (peak_dbfs / 20.0) * (1.0 - _CEILING_MARGIN)
    if x.size == 0:
        return x.astype(np.float32)
    level = true_peak_levels(x) if true else np.abs(x)
    if float(level.max()) <= ceiling:
        return x.astype(np.float32)
    lookahead = max(1, round(LIMITER_LOOKAHEAD_S * sample_rate))
    release = 1.0 - math.exp(-1.0 / (LIMITER_RELEASE_S * sample_rate))
    target = ceiling
    for _ in range(TRUE_PEAK_PASSES):
        limited = x * _limiter_gain(level, target, lookahead, release)
        reached = float((true_peak_levels(limited) if true else np.abs(limited)).max())
        if reached <= ceiling:
            return limited.astype(np.float32)
        target *= ceiling / reached
    # still a hair over after the passes: a last plain trim keeps the promise
    return (limited * (ceiling / reached)).astype(np.float32)


def normalise_loudness(audio: Audio, target_lufs: float = -16.0, peak_dbfs: float = -1.0) -> Audio:
    """``audio`` at ``target_lufs`` integrated loudness with true peaks under ``peak_dbfs``.

    A single gain brings the loudness to the target; where that pushes peaks over the ceiling
    a look-ahead limiter (:func:`limit_peaks`) turns just those peaks down. Limiting lowers
    the loudness (LJSpeech LJ001-0003 at -16 LUFS / -1 dBFS reads 0.47 LU short after one
    pass), so the shortfall is made up by raising the gain and limiting again, up to
    ``MAKEUP_PASSES`` times: speech then lands within ~0.01 LU. The result can still end
    slightly below the target when the limiter has to act hard (a loud target under a low
    ceiling). Audio the meter cannot measure (silence, or shorter than 400 ms) comes back
    unchanged.
    """
    if not math.isfinite(target_lufs) or target_lufs > 0.0:
        raise ConfigError(
            f"target loudness {target_lufs} LUFS is not a usable level",
            hint="give a finite target at or below 0 LUFS, e.g. -16 for speech, -23 for EBU R128",
        )
    if not math.isfinite(peak_dbfs) or peak_dbfs > 0.0:
        raise ConfigError(
            f"peak ceiling {peak_dbfs} dBFS is not a usable level",
            hint="give a finite ceiling at or below 0 dBFS, e.g. -1",
        )
    samples = _mono(audio)
    loudness = integrated_loudness(audio)
    if not math.isfinite(loudness):
        return Audio(samples.astype(np.float32, copy=True), audio.sample_rate)
    x = samples.astype(np.float64)
    gain = 10.0 ** ((target_lufs - loudness) / 20.0)
    limited = limit_peaks(x * gain, audio.sample_rate, peak_dbfs)
    for _ in range(MAKEUP_PASSES):
        reached = integrated_loudness(Audio(limited, audio.sample_rate))
        if not target_lufs - reached > MAKEUP_TOLERANCE_LU:
            break
        gain *= 10.0 ** ((target_lufs - reached) / 20.0)
        limited = limit_peaks(x * gain, audio.sample_rate, peak_dbfs)
    return Audio(limited, audio.sample_rate)


def _mono(audio: Audio) -> np.ndarray:
    samples = mono_samples(audio.samples, "loudness")
    _check_rate(audio.sample_rate)
    return samples


def _check_rate(sample_rate: int) -> None:
    # The shelf prototype sits at 1.68 kHz: below ~3.4 kHz sampling it would be past Nyquist.
    if not sample_rate > 2.0 * SHELF_HZ:
        raise InputError(
            f"sample rate {sample_rate} Hz is too low to K-weight",
            hint="resample the audio to 8 kHz or more before measuring loudness",
        )
