"""Visual speech activity: when a face is talking, from its mouth landmarks alone.

From a :class:`~unflat.types.FaceTrack` (its pose-free ``canonical`` landmarks and
``mouth_open``), per frame:

- ``opening``: the inner-lip gap over the eye-corner distance (face-size free);
- ``energy``: lip motion energy, the RMS speed of the 40 lip-contour points in eye-corner
  distances per second over a short window (talking moves the lips several times a second;
  a held smile or an open-mouthed stare does not);
- ``spans``: speech spans, by hysteresis on the energy, pauses bridged, blips and spans
  without a single opening peak dropped;
- ``peaks``: mouth-opening peaks inside the spans (syllable nuclei: vowels open the mouth);
- ``closures``: moments inside or at the edges of the spans where the lips close (/p b m/).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unflat.face_mesh import INNER_LIP, OUTER_LIP, face_unit
from unflat.sound.spans import (
    Span,
    clean_spans,
    hysteresis,
    local_peaks,
    mask_to_spans,
    spans_to_mask,
)
from unflat.types import FaceTrack

# The lip contours, inner then outer.
LIP_POINTS = INNER_LIP + OUTER_LIP
# Window (seconds) over which lip speed is averaged into energy.
ENERGY_WINDOW_S = 0.25
# Hysteresis on the energy (eye-corner distances per second): speech starts above ON and lasts
# until the energy falls below OFF.
ENERGY_ON, ENERGY_OFF = 0.09, 0.06
# Pauses shorter than this are bridged; spans shorter than this are dropped.
MIN_GAP_S, MIN_SPEECH_S = 0.3, 0.2
# Syllable nuclei: opening peaks at least this prominent, at least this far apart.
PEAK_PROMINENCE, PEAK_SPACING_S = 0.02, 0.1
# Lip closure: a local minimum of the opening within this share of the way from the face's rest
# opening (its 5th percentile over the video) to the span's median opening.
CLOSED_SHARE = 0.35
# Lips move before the voice starts and after it stops, and the energy window smears both ways:
# a span starts at most this long before its first syllable peak and ends at most this long
# after its last one (s). Measured on talk_1/talk_2 against their voices.
LEAD_S, TAIL_S = 0.15, 0.25
# A pause of the lips shorter than this during which the mouth never rests closed is a slow
# stretch of speech, not a pause (s).
OPEN_GAP_S = 0.8


@dataclass
class SpeechActivity:
    """Visual speech evidence of one face over a video (see the module docstring)."""

    times: np.ndarray  # [T] seconds
    opening: np.ndarray  # [T]
    energy: np.ndarray  # [T]
    active: np.ndarray  # [T] bool, frames inside the spans
    spans: list[Span]
    peaks: np.ndarray  # [P] seconds
    closures: np.ndarray  # [C] seconds

    @property
    def speaking_seconds(self) -> float:
        return float(sum(e - s for s, e in self.spans))


def lip_energy(
    canonical: np.ndarray, times: np.ndarray, window: float = ENERGY_WINDOW_S
) -> np.ndarray:
    """RMS speed of the lip points ``[T]`` (eye-corner distances per second), over ``window``."""
    lips = np.asarray(canonical, dtype=np.float64)[:, list(LIP_POINTS), :2]
    unit = float(np.median(face_unit(canonical)))
    times = np.asarray(times, dtype=np.float64)
    if len(times) < 2:
        return np.zeros(len(times))
    speed = np.linalg.norm(np.diff(lips, axis=0), axis=-1).mean(axis=1)
    speed = speed / np.maximum(np.diff(times), 1e-6) / unit
    # a frame's speed is the mean of the steps into and out of it
    per_frame = np.concatenate([[speed[0]], (speed[1:] + speed[:-1]) / 2, [speed[-1]]])
    step = float(np.median(np.diff(times)))
    half = max(round(window / step / 2), 0)
    squared = np.pad(per_frame**2, half, mode="edge")
    kernel = np.ones(2 * half + 1) / (2 * half + 1)
    return np.sqrt(np.convolve(squared, kernel, mode="valid"))


def speech_activity(track: FaceTrack) -> SpeechActivity:
    """Speech spans, syllable nuclei and lip closures of the tracked face."""
    times = np.asarray(track.times, dtype=np.float64)
    opening = np.asarray(track.mouth_open, dtype=np.float64)
    energy = lip_energy(track.canonical, times)
    raw = hysteresis(energy, ENERGY_ON, ENERGY_OFF)
    step = float(np.median(np.diff(times))) if len(times) > 1 else 0.04
    spans = clean_spans(mask_to_spans(raw, times, step), MIN_GAP_S, MIN_SPEECH_S)
    spacing = max(round(PEAK_SPACING_S / step), 1)
    candidates = local_peaks(opening, PEAK_PROMINENCE, spacing)
    # speech is syllables: a span of lip motion without a single opening peak (a mouth opened
    # once and held, a smile forming) is dropped
    spans = [(s, e) for s, e in spans if any(s <= times[i] < e for i in candidates)]
    rest = float(np.percentile(opening, 5))
    spans = _bridge_open_gaps(spans, times, opening, rest)
    spans = _trim_to_syllables(spans, times[candidates])
    active = spans_to_mask(spans, times)
    peaks = [i for i in candidates if active[i]]
    closures = []
    for start, end in spans:
        inside = np.nonzero((times >= start - step) & (times < end + step))[0]
        if len(inside) == 0:
            continue
        # closed: near the face's own rest, however wide this speaker talks
        closed = closed_level(opening[inside], rest)
        for i in local_peaks(-opening[inside], PEAK_PROMINENCE / 2, spacing):
            if opening[inside[i]] <= closed:
                closures.append(inside[i])
    return SpeechActivity(
        times=times,
        opening=opening,
        energy=energy,
        active=active,
        spans=spans,
        peaks=times[np.array(peaks, dtype=int)],
        closures=times[np.array(sorted(set(closures)), dtype=int)],
    )


def closed_level(opening: np.ndarray, rest: float) -> float:
    """The opening under which lips count as closed, for a stretch of ``opening``."""
    return rest + CLOSED_SHARE * max(float(np.median(opening)) - rest, 0.0)


def _bridge_open_gaps(
    spans: list[Span], times: np.ndarray, opening: np.ndarray, rest: float
) -> list[Span]:
    """Join spans separated by a short gap in which the mouth stays open."""
    if not spans:
        return spans
    speaking = spans_to_mask(spans, times)
    closed = closed_level(opening[speaking], rest) if speaking.any() else rest
    joined = [spans[0]]
    for start, end in spans[1:]:
        gap = (times >= joined[-1][1]) & (times < start)
        if start - joined[-1][1] < OPEN_GAP_S and gap.any() and opening[gap].min() > closed:
            joined[-1] = (joined[-1][0], end)
        else:
            joined.append((start, end))
    return joined


def _trim_to_syllables(spans: list[Span], peaks: np.ndarray) -> list[Span]:
    """Pull span edges in to ``LEAD_S`` before the first and ``TAIL_S`` after the last peak."""
    trimmed = []
    for start, end in spans:
        inside = peaks[(peaks >= start) & (peaks < end)]
        trimmed.append(
            (max(start, float(inside[0]) - LEAD_S), min(end, float(inside[-1]) + TAIL_S))
        )
    return trimmed
