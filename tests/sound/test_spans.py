"""Span helpers: hysteresis, span cleaning, IoU and boundary errors, peak prominence."""

from __future__ import annotations

import numpy as np
import pytest

from unflat.sound.spans import (
    boundary_errors,
    clean_spans,
    hysteresis,
    local_peaks,
    mask_to_spans,
    span_iou,
    spans_to_mask,
)


def test_hysteresis_does_not_chatter() -> None:
    score = np.array([0, 5, 11, 7, 9, 7, 3, 9, 12, 2.0])
    assert hysteresis(score, high=10, low=5).tolist() == [
        False, False, True, True, True, True, False, False, True, False,
    ]  # fmt: skip
    with pytest.raises(ValueError):
        hysteresis(score, high=1, low=2)


def test_masks_and_spans_round_trip() -> None:
    times = np.arange(10) * 0.1
    mask = np.array([0, 1, 1, 0, 0, 0, 1, 1, 1, 0], bool)
    spans = mask_to_spans(mask, times)
    np.testing.assert_allclose(spans, [(0.1, 0.3), (0.6, 0.9)])
    assert spans_to_mask(spans, times + 1e-9).tolist() == mask.tolist()
    assert mask_to_spans(np.zeros(10, bool), times) == []
    # a 0.3 s gap is bridged at min_gap 0.35, not at 0.25; short spans are dropped
    np.testing.assert_allclose(clean_spans(spans, 0.35, 0.0), [(0.1, 0.9)])
    np.testing.assert_allclose(clean_spans(spans, 0.25, 0.25), [(0.6, 0.9)])


def test_span_iou_and_boundary_errors_by_hand() -> None:
    truth = [(1.0, 2.0), (3.0, 4.0)]
    pred = [(1.2, 2.0), (2.9, 4.5)]
    # intersection 0.8 + 1.0 = 1.8; union 2.0 + 2.4 - 1.8 = 2.6
    assert span_iou(pred, truth) == pytest.approx(1.8 / 2.6)
    assert span_iou([], []) == 1.0 and span_iou(pred, []) == 0.0
    onset, offset = boundary_errors(pred, truth)
    assert onset == pytest.approx((0.2 + 0.1) / 2) and offset == pytest.approx((0.0 + 0.5) / 2)
    assert np.isnan(boundary_errors([], truth)[0])


def test_local_peaks_by_prominence_and_spacing() -> None:
    x = np.array([0, 3, 1, 1.5, 1.2, 4, 0, 0.5, 0.4, 2.0])
    # prominences: 3 (i=1) -> 3 - max(0, 1) = 2; 1.5 (i=3) -> 1.5 - max(1, 1.2) = 0.3;
    # 4 (i=5) -> 4 - max(0, 0) = 4; 0.5 (i=7) -> 0.5 - max(0, 0.4) = 0.1; the edge (i=9) is none
    assert local_peaks(x, 1.0).tolist() == [1, 5]
    assert local_peaks(x, 0.25).tolist() == [1, 3, 5]
    assert local_peaks(x, 0.25, min_distance=5).tolist() == [5]  # 1 and 3 are nearer, lower
