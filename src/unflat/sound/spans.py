"""Time spans of activity: hysteresis thresholding, cleaning, and comparing span sets.

A span is ``(start, end)`` in seconds. Both the visual speech detector (mouth landmarks) and the
voice detector (audio) produce per-frame scores on their own time grids; these functions turn a
score into clean spans and measure how two span sets agree.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Span = tuple[float, float]


def hysteresis(score: np.ndarray, high: float, low: float) -> np.ndarray:
    """Boolean ``[T]``: on where ``score`` rises above ``high``, staying on until it falls below
    ``low`` (``low <= high``), so a score hovering near one threshold does not chatter."""
    if low > high:
        raise ValueError(f"hysteresis: low ({low}) must not exceed high ({high})")
    active = np.zeros(len(score), dtype=bool)
    on = False
    for i, value in enumerate(score):
        on = value > low if on else value > high
        active[i] = on
    return active


def mask_to_spans(mask: np.ndarray, times: np.ndarray, step: float | None = None) -> list[Span]:
    """Runs of ``True`` as spans; each frame covers ``[times[i], times[i] + step)``.

    ``step`` defaults to the median frame interval.
    """
    mask = np.asarray(mask, dtype=bool)
    times = np.asarray(times, dtype=np.float64)
    if len(mask) != len(times):
        raise ValueError("mask_to_spans: mask and times differ in length")
    if not mask.any():
        return []
    if step is None:
        step = float(np.median(np.diff(times))) if len(times) > 1 else 0.0
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    return [
        (float(times[s]), float(times[e - 1] + step)) for s, e in zip(starts, ends, strict=True)
    ]


def clean_spans(spans: Sequence[Span], min_gap: float, min_length: float) -> list[Span]:
    """Merge spans closer than ``min_gap`` seconds, then drop those shorter than ``min_length``."""
    merged: list[list[float]] = []
    for start, end in sorted(spans):
        if merged and start - merged[-1][1] < min_gap:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged if e - s >= min_length]


def spans_to_mask(spans: Sequence[Span], times: np.ndarray) -> np.ndarray:
    """Boolean ``[T]``: which of ``times`` fall inside any span."""
    times = np.asarray(times, dtype=np.float64)
    mask = np.zeros(len(times), dtype=bool)
    for start, end in spans:
        mask |= (times >= start) & (times < end)
    return mask


def span_iou(a: Sequence[Span], b: Sequence[Span]) -> float:
    """Intersection over union of the time two span sets cover (1 when both are empty)."""

    def union_length(spans: Sequence[Span]) -> float:
        return sum(e - s for s, e in clean_spans(spans, 0.0, 0.0))

    inter = 0.0
    for s1, e1 in clean_spans(a, 0.0, 0.0):
        for s2, e2 in clean_spans(b, 0.0, 0.0):
            inter += max(0.0, min(e1, e2) - max(s1, s2))
    union = union_length(a) + union_length(b) - inter
    return 1.0 if union <= 0 else inter / union


def boundary_errors(pred: Sequence[Span], truth: Sequence[Span]) -> tuple[float, float]:
    """Mean absolute onset and offset error (seconds): each true span's start (end) against the
    nearest predicted start (end). ``nan`` when either set is empty."""
    if not pred or not truth:
        return float("nan"), float("nan")
    starts, ends = np.array([s for s, _ in pred]), np.array([e for _, e in pred])
    onset = np.mean([np.abs(starts - s).min() for s, _ in truth])
    offset = np.mean([np.abs(ends - e).min() for _, e in truth])
    return float(onset), float(offset)


def local_peaks(signal: np.ndarray, prominence: float, min_distance: int = 1) -> np.ndarray:
    """Indices of local maxima that stand at least ``prominence`` above the higher of the two
    minima separating them from higher ground on each side (topographic prominence, as SciPy
    computes it), at least ``min_distance`` samples apart (the higher peak kept)."""
    x = np.asarray(signal, dtype=np.float64)
    n = len(x)
    # first and last samples are never peaks: what lies beyond them is unknown
    candidates = [i for i in range(1, n - 1) if x[i] > x[i - 1] and x[i] >= x[i + 1]]
    kept = []
    for i in candidates:
        left = i
        left_min = x[i]
        while left > 0 and x[left - 1] <= x[i]:
            left -= 1
            left_min = min(left_min, x[left])
        right = i
        right_min = x[i]
        while right < n - 1 and x[right + 1] <= x[i]:
            right += 1
            right_min = min(right_min, x[right])
        if x[i] - max(left_min, right_min) >= prominence:
            kept.append(i)
    chosen: list[int] = []
    for i in sorted(kept, key=lambda k: -x[k]):
        if all(abs(i - j) >= min_distance for j in chosen):
            chosen.append(i)
    return np.array(sorted(chosen), dtype=int)
