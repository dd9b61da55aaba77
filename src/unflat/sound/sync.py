"""How well a soundtrack fits a face: timing measures between speech audio and the lips."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from unflat.sound.activity import SpeechActivity, closed_level
from unflat.sound.tts.speech import Phone
from unflat.sound.voice_activity import HOP_S, band_energy_db
from unflat.types import Audio

#: Lags searched by :func:`opening_energy_lag` (s).
MAX_LAG_S = 0.3
#: A bilabial counts as hit when the lips are closed within this time of its middle (s).
BILABIAL_TOLERANCE_S = 0.04


def opening_energy_lag(activity: SpeechActivity, audio: Audio) -> tuple[float, float]:
    """Lag (s) of the best cross-correlation of mouth opening and speech-band energy, and its
    correlation. Positive: the sound comes after the mouth. Measured inside the speech spans
    (plus 0.2 s either side), on z-scored curves at the audio's 10 ms frame rate."""
    frame_times, energy = band_energy_db(audio)
    frame_times = frame_times + 0.0125  # frame centres
    floor = float(np.percentile(energy, 10))
    energy = np.maximum(energy, floor)
    opening = np.interp(frame_times, activity.times, activity.opening)
    near = np.zeros(len(frame_times), dtype=bool)
    for start, end in activity.spans:
        near |= (frame_times >= start - 0.2) & (frame_times < end + 0.2)
    if near.sum() < 10:
        return float("nan"), float("nan")
    steps = round(MAX_LAG_S / HOP_S)
    best_lag, best_r = 0, -np.inf
    index = np.nonzero(near)[0]
    for lag in range(-steps, steps + 1):
        shifted = index + lag
        ok = (shifted >= 0) & (shifted < len(energy))
        a, b = opening[index[ok]], energy[shifted[ok]]
        if a.std() < 1e-9 or b.std() < 1e-9:
            continue
        r = float(np.corrcoef(a, b)[0, 1])
        if r > best_r:
            best_lag, best_r = lag, r
    return best_lag * HOP_S, best_r


def closed_threshold(activity: SpeechActivity) -> float:
    """The opening under which the lips count as closed (as for the activity's closures)."""
    speaking = activity.opening[activity.active] if activity.active.any() else activity.opening
    return closed_level(speaking, float(np.percentile(activity.opening, 5)))


def bilabial_hit_rate(activity: SpeechActivity, phones: Sequence[Phone]) -> tuple[float, int]:
    """Share of /p b m/ whose middle has closed lips within ±40 ms, and how many there were."""
    closed = activity.opening <= closed_threshold(activity)
    middles = [(p.start + p.end) / 2 for p in phones if p.is_bilabial]
    if not middles:
        return float("nan"), 0
    hits = 0
    for t in middles:
        near = np.abs(activity.times - t) <= BILABIAL_TOLERANCE_S + 0.5 / _fps(activity)
        hits += bool(closed[near].any())
    return hits / len(middles), len(middles)


def _fps(activity: SpeechActivity) -> float:
    return 1.0 / float(np.median(np.diff(activity.times))) if len(activity.times) > 1 else 25.0
