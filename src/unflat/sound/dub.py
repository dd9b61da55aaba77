"""Speech that fits the lips: a transcript spoken where, and as fast as, a face speaks.

:func:`fit_speech` is the core, over plain data: visual speech activity and a transcript in,
a soundtrack (as long as the video) out. Per speech span it synthesises the span's words at a
natural pace, maps that timing onto the lips (:mod:`unflat.sound.align`), synthesises again
with each word's rate and the pauses the map asks for (a Piper voice: with every phone's
duration), and time-stretches (WSOLA) only what still differs, phone boundary by phone
boundary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from unflat.progress import Progress, report
from unflat.sound.activity import SpeechActivity
from unflat.sound.align import TimeMap, check_pace, distribute, time_map
from unflat.sound.spans import Span
from unflat.sound.text import Transcript
from unflat.sound.tts.speech import Phone, PhoneTimedVoice, Speech, Voice
from unflat.sound.wsola import time_warp
from unflat.types import Audio

#: WSOLA's comfortable range for what is left after re-synthesis (local stretch factors).
MIN_STRETCH, MAX_STRETCH = 0.3, 3.5
#: Fade in and out of each span's speech (s): a cut mid-waveform would click.
FADE_S = 0.005


@dataclass
class SpanSpeech:
    """What was spoken in one speech span: its words and phones (video seconds)."""

    span: Span
    words: range
    phones: list[Phone]
    residual: float  # median |log| of the stretch WSOLA still applied (0: none)


@dataclass
class FittedSpeech:
    """A soundtrack for the whole video and where each phone of it lies."""

    audio: Audio
    spans: list[SpanSpeech]

    @property
    def phones(self) -> list[Phone]:
        return [p for s in self.spans for p in s.phones]


def fit_speech(
    activity: SpeechActivity,
    transcript: Transcript,
    voice: Voice,
    duration: float,
    *,
    align: bool = True,
    progress: Progress | None = None,
) -> FittedSpeech:
    """Speak ``transcript`` inside ``activity``'s speech spans (see the module docstring).

    ``align=False`` only stretches each span's natural-pace speech uniformly to fill the span
    (the baseline the alignment is measured against).
    """
    natural = voice.speak(transcript.words)
    word_times = natural.word_times()
    voiced = [p for p in natural.phones if not p.is_pause]
    check_pace(voiced[-1].end - voiced[0].start if voiced else 0.0, activity.speaking_seconds)
    groups = distribute(word_times, transcript.breaks, activity.spans)
    rate = voice.sample_rate
    track = np.zeros(round(duration * rate), dtype=np.float32)
    fitted = []
    for done, (span, words) in enumerate(zip(activity.spans, groups, strict=True)):
        if len(words) > 0:
            piece = _speak_span(voice, transcript.words[words.start : words.stop], activity, span,
                                align)  # fmt: skip
            _place(track, piece.audio, span[0])
            for phone in piece.phones:
                phone.word += words.start if phone.word >= 0 else 0
            fitted.append(SpanSpeech(span, words, piece.phones, piece.residual))
        report(progress, "fitting speech", done + 1, len(groups))
    return FittedSpeech(Audio(track, rate), fitted)


@dataclass
class _Piece:
    audio: Audio  # starts at the span's start
    phones: list[Phone]  # video seconds
    residual: float


def _speak_span(
    voice: Voice, words: Sequence[str], activity: SpeechActivity, span: Span, align: bool
) -> _Piece:
    first = voice.speak(words)
    if align:
        mapping = time_map(first.phones, activity, span)
    else:
        voiced = [p for p in first.phones if not p.is_pause]
        mapping = TimeMap(np.array([voiced[0].start, voiced[-1].end]), np.array(span, float))
    if isinstance(voice, PhoneTimedVoice):
        second = voice.speak_phones(words, _phone_durations(first.phones, mapping))
    else:
        second = voice.speak(words, **_word_timing(first, mapping))
    source, goal = _boundaries(first, second, mapping)
    start, end = source[0], source[-1]
    rate = second.audio.sample_rate
    cut = second.audio.samples[round(start * rate) : round(end * rate)]
    warped = time_warp(cut, rate, source - start, goal - span[0])
    stretch = np.diff(goal) / np.diff(source)
    residual = float(np.median(np.abs(np.log(stretch)))) if len(stretch) else 0.0
    fade = min(round(FADE_S * rate), len(warped) // 2)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
        warped[:fade] *= ramp
        warped[-fade:] *= ramp[::-1]
    final = TimeMap(source, goal)
    phones = [
        Phone(p.symbol, float(final(p.start)), float(final(p.end)), p.word)
        for p in second.phones
        if p.end > start and p.start < end
    ]
    return _Piece(Audio(warped.astype(np.float32), rate), phones, residual)


def _phone_durations(phones: Sequence[Phone], mapping: TimeMap) -> list[float]:
    """Each phone's length once mapped; phones outside the mapped stretch (the silence before
    and after the speech, cut off later) keep theirs."""
    low, high = mapping.source[0], mapping.source[-1]
    durations = []
    for phone in phones:
        if phone.start >= low and phone.end <= high:
            durations.append(float(mapping(phone.end) - mapping(phone.start)))
        else:
            durations.append(phone.duration)
    return durations


def _word_timing(first: Speech, mapping: TimeMap) -> dict[str, list[float]]:
    """Each word's rate and the pause after it that bring ``first`` onto ``mapping``."""
    natural = first.word_times()
    target = [tuple(mapping(np.array(t))) for t in natural]
    rates, pauses = [], []
    for i, ((s, e), (ts, te)) in enumerate(zip(natural, target, strict=True)):
        # a word run into its neighbour has no time of its own: leave its rate alone
        rates.append((e - s) / max(te - ts, 1e-3) if e > s else 1.0)
        if i + 1 < len(natural):
            pauses.append(max((target[i + 1][0] - te) - (natural[i + 1][0] - e), 0.0))
        else:
            pauses.append(0.0)
    return {"word_rates": rates, "pauses_after": pauses}


def _boundaries(first: Speech, second: Speech, mapping: TimeMap) -> tuple[np.ndarray, np.ndarray]:
    """Matching time points in ``second`` and where ``mapping`` wants them (video seconds).

    Phone boundaries where a word kept its phones, word edges otherwise; the first and last
    voiced sound bound the piece. Points that would need more stretching than WSOLA does well
    are dropped.
    """
    source, goal = [], []
    by_word_first = _phones_by_word(first.phones)
    by_word_second = _phones_by_word(second.phones)
    for word, ours in by_word_second.items():
        theirs = by_word_first.get(word, [])
        if [p.symbol for p in ours] == [p.symbol for p in theirs]:
            pairs = [(a.start, b.start) for a, b in zip(ours, theirs, strict=True)]
        elif ours and theirs:
            pairs = [(ours[0].start, theirs[0].start)]
        else:
            continue
        pairs.append((ours[-1].end, theirs[-1].end))
        for here, there in pairs:
            source.append(here)
            goal.append(float(mapping(there)))
    order = np.argsort(source, kind="stable")
    source_sorted, goal_sorted = np.array(source)[order], np.array(goal)[order]
    keep_source, keep_goal = [source_sorted[0]], [goal_sorted[0]]
    for s, g in zip(source_sorted[1:], goal_sorted[1:], strict=True):
        ds, dg = s - keep_source[-1], g - keep_goal[-1]
        if ds > 1e-3 and dg > 1e-3 and MIN_STRETCH <= dg / ds <= MAX_STRETCH:
            keep_source.append(s)
            keep_goal.append(g)
    # the last voiced sound must end where the span ends, even if an inner point goes
    if keep_source[-1] != source_sorted[-1] and source_sorted[-1] > keep_source[-1]:
        keep_source[-1], keep_goal[-1] = source_sorted[-1], goal_sorted[-1]
    return np.array(keep_source), np.array(keep_goal)


def _phones_by_word(phones: Sequence[Phone]) -> dict[int, list[Phone]]:
    words: dict[int, list[Phone]] = {}
    for phone in phones:
        if phone.word >= 0:
            words.setdefault(phone.word, []).append(phone)
    return words


def _place(track: np.ndarray, audio: Audio, start: float) -> None:
    """Add ``audio`` into ``track`` from ``start`` seconds (cut at the track's end)."""
    offset = round(start * audio.sample_rate)
    length = max(min(len(audio.samples), len(track) - offset), 0)
    track[offset : offset + length] += audio.samples[:length]
