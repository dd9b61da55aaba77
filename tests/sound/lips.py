"""Synthetic lips for the aligner's tests: speech spans, opening peaks and closures as given."""

from __future__ import annotations

import numpy as np

from unflat.sound.activity import SpeechActivity
from unflat.sound.spans import spans_to_mask
from unflat.sound.tts.speech import Speech

FPS = 25.0


def lips_activity(spans: list[tuple[float, float]], peaks: list[float], closures: list[float],
              seconds: float = 5.0) -> SpeechActivity:  # fmt: skip
    """Lips that open to 0.12 at each peak and close to rest (0.01) at each closure."""
    times = np.arange(round(seconds * FPS)) / FPS
    opening = np.full(len(times), 0.01)
    active = spans_to_mask(spans, times)
    opening[active] = 0.05
    for t in peaks:
        opening += 0.07 * np.exp(-(((times - t) / 0.05) ** 2))
    for t in closures:
        opening = np.where(np.abs(times - t) < 0.03, 0.01, opening)
    return SpeechActivity(times, opening, active.astype(float), active, spans,
                          np.array(peaks), np.array(closures))  # fmt: skip


def lips_after(first: Speech, spans: list[tuple[float, float]]) -> SpeechActivity:
    """Lips for two sentences: in the first span, syllables and /p b m/ closures 70 ms after
    where a uniform stretch of ``first`` over the span puts them (lips lead the sound a little
    in the middle of a phrase); six even syllables in the second."""
    voiced = [p for p in first.phones if not p.is_pause]
    scale = (spans[0][1] - spans[0][0]) / (voiced[-1].end - voiced[0].start)

    def at(phone_start: float, phone_end: float) -> float:
        middle = (phone_start + phone_end) / 2
        return spans[0][0] + scale * (middle - voiced[0].start) + 0.07

    peaks = [at(p.start, p.end) for p in first.phones if p.is_vowel]
    closures = [at(p.start, p.end) for p in first.phones if p.is_bilabial]
    peaks += list(np.linspace(spans[1][0] + 0.2, spans[1][1] - 0.2, 6))
    return lips_activity(spans, peaks, closures)
