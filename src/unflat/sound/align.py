"""Speech timing that fits the lips: which words go in which speech span, and a time map per span.

The visual evidence (:mod:`unflat.sound.activity`) is a set of speech spans, mouth-opening peaks
(syllable nuclei) and lip closures; closed-mouth gaps inside a span are where pauses belong.
Speech synthesised at a natural pace gives the same kinds of events: vowel nuclei, /p b m/ and
pauses. The aligner

1. distributes the transcript's words over the spans, breaking preferably at sentence and
   clause ends, so that each span's words take about as long as the span lasts
   (:func:`distribute`);
2. matches, in order, the speech's events to the same kind of visual events near where a uniform
   stretch would put them (dynamic programming with skips), and turns the matches into a
   monotonic piecewise-linear time map from natural-pace time to video time, with the local
   speed-up kept within natural bounds (:func:`time_map`).

The dubbing pipeline then re-synthesises each word at the rate the map asks for and pauses where
it asks, and time-stretches (WSOLA) only the remaining difference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from unflat.errors import InputError
from unflat.sound.activity import SpeechActivity, closed_level
from unflat.sound.spans import Span, mask_to_spans
from unflat.sound.tts.speech import Phone

#: Overall pace limits: the transcript at the voice's normal rate may take at most this many
#: times (or at least this share of) the time the face speaks for.
MAX_PACE, MIN_PACE = 2.2, 0.35
#: Local speed-up limits of the time map (target duration over natural duration).
MIN_SLOPE, MAX_SLOPE = 0.4, 2.5
#: Cost of a span with moving lips but no words, and of breaking a phrase across two spans.
EMPTY_SPAN_COST, MID_PHRASE_COST = 6.0, 4.0
#: Event matching: timing error scale (s), the cost of leaving an event unmatched, the furthest
#: a match may move an event from where a uniform stretch puts it (s).
MATCH_SIGMA_S, SKIP_COST, MAX_SHIFT_S = 0.15, 1.5, 0.35
#: A closed-mouth gap inside a span is a pause candidate when it lasts this long (s).
MIN_GAP_S = 0.12

VOWEL, BILABIAL, PAUSE = "vowel", "bilabial", "pause"


@dataclass
class TimeMap:
    """A monotonic piecewise-linear map from one time axis to another, through anchors."""

    source: np.ndarray
    target: np.ndarray

    def __call__(self, times: np.ndarray | float) -> np.ndarray:
        return np.interp(times, self.source, self.target)

    @property
    def slopes(self) -> np.ndarray:
        return np.diff(self.target) / np.diff(self.source)


def closed_gaps(activity: SpeechActivity, span: Span) -> list[Span]:
    """Stretches inside ``span`` where the mouth rests closed long enough for a pause."""
    times, opening = activity.times, activity.opening
    inside = (times >= span[0]) & (times < span[1])
    if inside.sum() < 3:
        return []
    closed = closed_level(opening[inside], float(np.percentile(opening, 5)))
    step = float(np.median(np.diff(times)))
    gaps = mask_to_spans(inside & (opening <= closed), times, step)
    # a gap touching the span's edge is the span's edge, not a pause inside it
    return [
        (s, e) for s, e in gaps if e - s >= MIN_GAP_S and s > span[0] + step and e < span[1] - step
    ]


def distribute(
    word_times: Sequence[tuple[float, float]], breaks: Sequence[float], spans: Sequence[Span]
) -> list[range]:
    """Contiguous word ranges, one per span (possibly empty), by dynamic programming.

    The cost of a span's words is the squared log ratio of their natural duration to the span's;
    breaking after a word costs ``MID_PHRASE_COST`` times how weak a break it is; a span with no
    words costs ``EMPTY_SPAN_COST``.
    """
    n, k = len(word_times), len(spans)
    starts = np.array([s for s, _ in word_times])
    ends = np.array([e for _, e in word_times])
    unit = math.log(1.5) ** 2  # a 1.5x speed-up or slow-down costs 1

    def group_cost(first: int, last: int, span: Span) -> float:
        natural = max(ends[last] - starts[first], 1e-3)
        return math.log(natural / max(span[1] - span[0], 1e-3)) ** 2 / unit

    cost = np.full((k + 1, n + 1), np.inf)
    choice = np.zeros((k + 1, n + 1), dtype=int)
    cost[0, 0] = 0.0
    for span_index in range(1, k + 1):
        span = spans[span_index - 1]
        for i in range(n + 1):
            best, best_j = cost[span_index - 1, i] + EMPTY_SPAN_COST, i
            for j in range(i):
                if not np.isfinite(cost[span_index - 1, j]):
                    continue
                total = cost[span_index - 1, j] + group_cost(j, i - 1, span)
                if i < n:
                    total += MID_PHRASE_COST * (1.0 - breaks[i - 1])
                if total < best:
                    best, best_j = total, j
            cost[span_index, i], choice[span_index, i] = best, best_j
    ranges, i = [], n
    for span_index in range(k, 0, -1):
        j = choice[span_index, i]
        ranges.append(range(j, i))
        i = j
    return ranges[::-1]


def check_pace(natural_seconds: float, spoken_seconds: float) -> None:
    """Refuse a transcript far too long or too short for the time the face speaks."""
    if spoken_seconds <= 0:
        raise InputError(
            "no speech is visible: the face's lips never move like talking",
            "use a video in which the face speaks, or place the audio yourself with --wav",
        )
    pace = natural_seconds / spoken_seconds
    if pace > MAX_PACE:
        raise InputError(
            f"the transcript is too long: it takes {natural_seconds:.1f} s at a natural pace but "
            f"the face speaks for only {spoken_seconds:.1f} s",
            f"shorten the text to about {spoken_seconds / natural_seconds:.0%} of its length, "
            "or speak faster with --rate",
        )
    if pace < MIN_PACE:
        raise InputError(
            f"the transcript is too short: it takes {natural_seconds:.1f} s at a natural pace "
            f"but the face speaks for {spoken_seconds:.1f} s",
            "give the whole text the person says, or speak slower with --rate",
        )


def speech_events(phones: Sequence[Phone]) -> list[tuple[float, str]]:
    """Vowel nuclei, /p b m/ closures and inner pauses of synthesised speech (mid-phone times)."""
    events = []
    for i, phone in enumerate(phones):
        middle = (phone.start + phone.end) / 2
        if phone.is_vowel:
            events.append((middle, VOWEL))
        elif phone.is_bilabial:
            events.append((middle, BILABIAL))
        elif phone.is_pause and 0 < i < len(phones) - 1 and phone.duration >= 0.05:
            events.append((middle, PAUSE))
    return events


def visual_events(activity: SpeechActivity, span: Span) -> list[tuple[float, str]]:
    """Opening peaks, lip closures and closed-mouth gaps inside ``span`` (video seconds)."""
    inside = [(float(t), VOWEL) for t in activity.peaks if span[0] <= t < span[1]]
    inside += [(float(t), BILABIAL) for t in activity.closures if span[0] <= t < span[1]]
    inside += [((s + e) / 2, PAUSE) for s, e in closed_gaps(activity, span)]
    return sorted(inside)


def match_events(
    predicted: Sequence[tuple[float, str]], observed: Sequence[tuple[float, str]]
) -> list[tuple[int, int]]:
    """Ordered one-to-one matches of same-kind events (indices), by dynamic programming."""
    n, m = len(predicted), len(observed)
    cost = np.zeros((n + 1, m + 1))
    cost[1:, 0] = SKIP_COST * np.arange(1, n + 1)
    cost[0, 1:] = SKIP_COST * np.arange(1, m + 1)
    move = np.zeros((n + 1, m + 1), dtype=np.int8)  # 0 match, 1 skip predicted, 2 skip observed
    move[1:, 0], move[0, 1:] = 1, 2
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            options = [cost[i - 1, j] + SKIP_COST, cost[i, j - 1] + SKIP_COST]
            (a, kind_a), (b, kind_b) = predicted[i - 1], observed[j - 1]
            if kind_a == kind_b and abs(a - b) <= MAX_SHIFT_S:
                options.insert(0, cost[i - 1, j - 1] + ((a - b) / MATCH_SIGMA_S) ** 2)
            else:
                options.insert(0, np.inf)
            best = int(np.argmin(options))
            cost[i, j], move[i, j] = options[best], best
    pairs, i, j = [], n, m
    while i > 0 or j > 0:
        if move[i, j] == 0:
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif move[i, j] == 1:
            i -= 1
        else:
            j -= 1
    return pairs[::-1]


def time_map(phones: Sequence[Phone], activity: SpeechActivity, span: Span) -> TimeMap:
    """Natural-pace time of ``phones`` to video time inside ``span`` (see the module docstring).

    Leading and trailing pauses of the speech are dropped: the first sound starts at the span's
    start and the last ends at its end.
    """
    voiced = [p for p in phones if not p.is_pause]
    if not voiced:
        raise InputError("the voice produced no speech for the text", "check the text's language")
    begin, finish = voiced[0].start, voiced[-1].end
    scale = (span[1] - span[0]) / (finish - begin)
    uniform = TimeMap(np.array([begin, finish]), np.array(span, dtype=float))
    events = [(t, kind) for t, kind in speech_events(phones) if begin < t < finish]
    predicted = [(float(uniform(t)), kind) for t, kind in events]
    observed = visual_events(activity, span)
    pairs = match_events(predicted, observed)
    anchors = [(events[i][0], observed[j][0], (predicted[i][0] - observed[j][0]) ** 2)
               for i, j in pairs]  # fmt: skip
    # keep local speed-ups natural: drop the worse-fitting anchor of the steepest violation
    lo, hi = MIN_SLOPE * scale, MAX_SLOPE * scale
    lo, hi = min(lo, MIN_SLOPE), max(hi, MAX_SLOPE)
    while anchors:
        source = np.array([begin] + [a[0] for a in anchors] + [finish])
        target = np.array([span[0]] + [a[1] for a in anchors] + [span[1]])
        slopes = np.diff(target) / np.diff(source)
        bad = np.nonzero((slopes < lo) | (slopes > hi) | (np.diff(target) <= 0))[0]
        if len(bad) == 0:
            break
        worst = bad[np.argmax(np.abs(np.log(np.maximum(slopes[bad], 1e-6) / scale)))]
        # segment ``worst`` runs from anchor worst-1 to anchor worst (0 and -1 are the ends)
        candidates = [a for a in (worst - 1, worst) if 0 <= a < len(anchors)]
        del anchors[max(candidates, key=lambda a: anchors[a][2])]
    source = np.array([begin] + [a[0] for a in anchors] + [finish])
    target = np.array([span[0]] + [a[1] for a in anchors] + [span[1]])
    return TimeMap(source, target)
