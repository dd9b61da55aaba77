"""Audio onsets (where sounds start) and how well two onset lists agree.

:func:`audio_onsets` finds the onsets of a soundtrack by spectral flux: the summed rise of a
log-compressed magnitude spectrogram from one frame to the next, which jumps when energy
appears in any band (a hit, a shot, a bark) but not when a steady sound just goes on. The flux
is made relative to its own local mean (an adaptive threshold, so loud passages do not fire on
every wobble) and to the clip's flux scale, then peaks with enough prominence that also rise
well above the local mean (steady noise never does) become onsets.

:func:`onset_scores` matches predicted onsets to reference onsets one to one within a tolerance
and returns precision, recall and F1 — the usual onset-detection evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from unflat.sound.frames import framed
from unflat.sound.spans import local_peaks
from unflat.types import Audio

# Analysis frames: ~46 ms windows every ~11.6 ms at any sample rate (1024/256 at 22.05 kHz).
WINDOW_S, HOP_S = 0.046, 0.0116
# Log compression log(1 + GAMMA * |X|): large enough that quiet bands count, so onsets are
# found by spectral change rather than by the loudest band alone.
GAMMA = 100.0
# The local mean subtracted from the flux (seconds, centred) — the adaptive threshold.
LOCAL_MEAN_S = 0.25
# Peak prominence as a share of the clip's high flux (its 99th percentile), and the shortest
# gap between two onsets (double hits closer than this are one event at video frame rates).
PROMINENCE, MIN_GAP_S = 0.15, 0.06
# An onset's flux must exceed its local mean by this share.
MIN_RISE = 0.4
# Quieter than this RMS (about -60 dBFS) a frame is treated as silence: no onset in hiss.
SILENCE_RMS = 1e-3


@dataclass
class Onsets:
    """Onsets of a signal: ``times`` in seconds, ``strengths`` in [0, 1] (1 = the strongest
    onset in the clip), and the detection function they were picked from."""

    times: np.ndarray  # [K]
    strengths: np.ndarray  # [K]
    curve_times: np.ndarray  # [T]
    curve: np.ndarray  # [T]


def spectral_flux(audio: Audio) -> tuple[np.ndarray, np.ndarray]:
    """``(times, flux)``: the half-wave rectified log-spectral flux per analysis frame; each
    value is placed at the time of the later of the two frames it compares."""
    rate = int(audio.sample_rate)
    x = np.asarray(audio.samples, dtype=np.float32)
    window = 1 << round(float(np.log2(WINDOW_S * rate)))  # a power of two for the FFT
    hop = max(1, round(HOP_S * rate))
    frames = framed(x, window, hop)
    count = len(frames)
    taper = np.hanning(window).astype(np.float32)
    spectrum = np.abs(np.fft.rfft(frames * taper, axis=1))
    # normalise so GAMMA means the same thing whatever the window length
    log_mag = np.log1p(GAMMA * spectrum / (0.5 * taper.sum()))
    rise = np.maximum(np.diff(log_mag, axis=0), 0.0).sum(axis=1)
    loud = np.sqrt((frames[1:] ** 2).mean(axis=1)) > SILENCE_RMS
    flux = np.where(loud, rise, 0.0)
    times = (np.arange(1, count) * hop + window / 2) / rate
    return times, flux


def audio_onsets(audio: Audio, prominence: float = PROMINENCE) -> Onsets:
    """Onsets of a soundtrack by spectral flux with an adaptive threshold (module docstring).

    ``prominence`` is relative to the clip's high flux; lower finds more, weaker onsets.
    """
    times, flux = spectral_flux(audio)
    if len(flux) < 3:
        return Onsets(np.zeros(0), np.zeros(0), times, flux)
    step = float(times[1] - times[0])
    width = max(1, round(LOCAL_MEAN_S / step)) | 1
    local = np.convolve(np.pad(flux, width // 2, mode="edge"), np.ones(width) / width, "valid")
    curve = np.maximum(flux - local, 0.0)
    scale = float(np.percentile(curve, 99))
    if scale <= 0:
        return Onsets(np.zeros(0), np.zeros(0), times, curve)
    curve = curve / scale
    peaks = local_peaks(curve, prominence, max(1, round(MIN_GAP_S / step)))
    # a real onset lifts the flux well above its surroundings; steady noise only wobbles it
    # (by 5-27 % in white noise), however the clip-relative scale above stretches that
    peaks = peaks[flux[peaks] >= (1.0 + MIN_RISE) * local[peaks]]
    strengths = np.clip(curve[peaks], 0.0, 1.0) if len(peaks) else np.zeros(0)
    # the tapered window weighs a new sound most once it nears the window's middle, so the
    # frame centre is where the flux jumps most: clicks come out within half a hop of the truth
    return Onsets(times[peaks], strengths, times, curve)


def match_onsets(
    predicted: Sequence[float] | np.ndarray,
    reference: Sequence[float] | np.ndarray,
    tolerance: float = 0.1,
) -> list[tuple[int, int]]:
    """Pairs ``(i, j)`` of indices into the *sorted* predicted and reference times, one to one,
    each pair within ``tolerance`` seconds, as many pairs as possible.

    Each prediction can only match a run of consecutive references, and those runs move right
    with the prediction, so one sweep that gives each prediction (in time order) the earliest
    free reference it can reach is a maximum matching.
    """
    pred = np.sort(np.asarray(predicted, dtype=np.float64))
    ref = np.sort(np.asarray(reference, dtype=np.float64))
    pairs: list[tuple[int, int]] = []
    j = 0
    for i, t in enumerate(pred):
        while j < len(ref) and ref[j] < t - tolerance:
            j += 1  # too early for this prediction, hence for every later one too
        if j < len(ref) and ref[j] <= t + tolerance:
            pairs.append((i, j))
            j += 1
    return pairs


def onset_scores(
    predicted: Sequence[float] | np.ndarray,
    reference: Sequence[float] | np.ndarray,
    tolerance: float = 0.1,
) -> tuple[float, float, float]:
    """``(precision, recall, f1)`` of predicted onset times against reference times, matched
    one to one within ``±tolerance`` seconds (:func:`match_onsets`).

    With no predictions and no references all three are 1 (nothing to find, nothing wrong);
    when only one side is empty all three are 0.
    """
    n_pred, n_ref = len(predicted), len(reference)
    if n_pred == 0 and n_ref == 0:
        return 1.0, 1.0, 1.0
    if n_pred == 0 or n_ref == 0:
        return 0.0, 0.0, 0.0
    hits = len(match_onsets(predicted, reference, tolerance))
    precision, recall = hits / n_pred, hits / n_ref
    f1 = 0.0 if hits == 0 else 2 * precision * recall / (precision + recall)
    return precision, recall, f1
