"""Depth metrics against values worked out by hand on tiny arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest

from unflat.depth import metrics
from unflat.errors import InputError

# Valid pairs (pred, gt): (2, 1), (2, 2), (2, 4); the gt 0 and the NaN are not ground truth.
PRED = np.array([[2.0, 2.0, 9.0], [2.0, 5.0, 7.0]])
GT = np.array([[1.0, 2.0, np.nan], [4.0, 0.0, -1.0]])
LN2 = math.log(2.0)


def test_standard_metrics_by_hand():
    result = metrics.depth_metrics(PRED, GT)
    assert result["abs_rel"] == pytest.approx((1 / 1 + 0 / 2 + 2 / 4) / 3)  # 0.5
    assert result["sq_rel"] == pytest.approx((1 / 1 + 0 / 2 + 4 / 4) / 3)  # 2/3
    assert result["rmse"] == pytest.approx(math.sqrt((1 + 0 + 4) / 3))
    # d = ln p - ln g = (ln 2, 0, -ln 2): mean 0, mean of squares 2 ln²2 / 3
    assert result["log_rmse"] == pytest.approx(LN2 * math.sqrt(2 / 3))
    assert result["silog"] == pytest.approx(100 * LN2 * math.sqrt(2 / 3))
    # ratios max(p/g, g/p) = (2, 1, 2)
    assert result["delta1"] == pytest.approx(1 / 3)
    assert result["delta2"] == pytest.approx(1 / 3)
    assert result["delta3"] == pytest.approx(1 / 3)


def test_delta_thresholds_are_strict_and_symmetric():
    gt = np.ones(5)
    # ratios 1.2, 1.5, 1.9, 2.5 and 1.2 again from below
    pred = np.array([1.2, 1.5, 1.9, 2.5, 1 / 1.2])
    assert metrics.delta_accuracy(pred, gt, threshold=1.25) == pytest.approx(2 / 5)
    assert metrics.delta_accuracy(pred, gt, threshold=1.25**2) == pytest.approx(3 / 5)
    assert metrics.delta_accuracy(pred, gt, threshold=1.25**3) == pytest.approx(4 / 5)
    assert metrics.delta_accuracy(np.array([1.25]), np.array([1.0]), threshold=1.25) == 0.0


def test_mask_narrows_the_pixels():
    mask = np.array([[False, True, True], [True, True, True]])
    # left: (2, 2) and (2, 4) -> abs_rel (0 + 0.5) / 2
    assert metrics.abs_rel(PRED, GT, mask) == pytest.approx(0.25)
    assert metrics.rmse(PRED, GT, mask) == pytest.approx(math.sqrt(4 / 2))


def test_silog_ignores_scale_but_log_rmse_does_not():
    gt = np.array([1.0, 2.0, 5.0, 7.5])
    assert metrics.silog(3 * gt, gt) == pytest.approx(0.0, abs=1e-9)
    assert metrics.log_rmse(3 * gt, gt) == pytest.approx(math.log(3))
    assert metrics.abs_rel(1.1 * gt, gt) == pytest.approx(0.1)


def test_no_valid_pixel_gives_nan():
    assert math.isnan(metrics.abs_rel(np.ones(3), np.zeros(3)))
    assert all(
        math.isnan(v) for v in metrics.depth_metrics(np.ones(2), np.full(2, np.nan)).values()
    )


def test_bad_inputs_raise_input_errors():
    with pytest.raises(InputError, match="shape"):
        metrics.abs_rel(np.ones((2, 2)), np.ones((2, 3)))
    with pytest.raises(InputError, match="non-finite"):
        metrics.rmse(np.array([1.0, np.nan]), np.array([1.0, 1.0]))
    # A non-finite prediction where there is no ground truth does not matter.
    assert metrics.rmse(np.array([1.0, np.nan]), np.array([1.0, 0.0])) == 0.0


def test_zero_prediction_is_clipped_not_dropped():
    # pred 0 counts as 1e-6: relative error 1 - 1e-6, log error large but finite
    assert metrics.abs_rel(np.array([0.0]), np.array([1.0])) == pytest.approx(1 - 1e-6)
    assert metrics.log_rmse(np.array([0.0]), np.array([1.0])) == pytest.approx(-math.log(1e-6))


def test_focal_error():
    assert metrics.focal_error(550.0, 500.0) == pytest.approx(0.1)
    assert metrics.focal_error(450.0, 500.0) == pytest.approx(0.1)
    with pytest.raises(InputError):
        metrics.focal_error(500.0, 0.0)


# --- boundaries ----------------------------------------------------------------------------


def box_scene(background: float = 2.0, box: float = 1.0, col: int = 2) -> np.ndarray:
    """8x8 plane at ``background`` metres with a 3x3 box at ``box`` metres in rows 2-4."""
    depth = np.full((8, 8), background)
    depth[2:5, col : col + 3] = box
    return depth


THRESHOLDS = np.linspace(1.05, 1.25, 10)


def test_neighbour_boundaries_orientation():
    # depth 2 -> 1 -> 1 -> 3 along a row: pixel 1 is in front of pixel 0; pixel 2 of pixel 3
    found = metrics.neighbour_boundaries(np.array([[2.0, 1.0, 1.0, 3.0]]), 1.05)
    assert found.right_front.tolist() == [[True, False, False]]
    assert found.left_front.tolist() == [[False, False, True]]
    assert found.top_front.shape == (0, 4) and found.bottom_front.shape == (0, 4)
    column = metrics.neighbour_boundaries(np.array([[2.0], [1.0]]), 1.05)
    assert column.bottom_front.tolist() == [[True]] and column.top_front.tolist() == [[False]]


def test_exact_prediction_scores_one_at_any_scale():
    gt = box_scene()
    assert metrics.boundary_f1(gt, gt) == pytest.approx(1.0)
    assert metrics.boundary_f1(3.7 * gt, gt) == pytest.approx(1.0)


def test_flat_prediction_scores_zero_and_zero_over_zero_is_zero():
    gt = box_scene()
    flat = np.full_like(gt, 2.0)
    assert metrics.boundary_f1(flat, gt) == 0.0
    # No boundary in either map: precision and recall are 0/0, counted as 0, so F1 = 0.
    assert metrics.boundary_f1_at(flat, flat, 1.05) == (0.0, 0.0, 0.0)
    assert metrics.boundary_f1(flat, flat) == 0.0


def test_edge_shifted_by_one_pixel():
    gt = box_scene(col=2)  # box in columns 2-4
    pred = box_scene(col=3)  # box in columns 3-5
    # left/right sides: the vertical edges all moved, 0 of 3 pairs shared in each orientation;
    # top/bottom sides: pairs in columns 3, 4 shared, 2 of 3 each.
    # P = R = (0 + 0 + 2/3 + 2/3) / 4 = 1/3, so F1 = 1/3 at every threshold (ratio 2 > 1.25).
    f1, precision, recall = metrics.boundary_f1_at(pred, gt, 1.05)
    assert (f1, precision, recall) == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    assert metrics.boundary_f1(pred, gt) == pytest.approx(1 / 3)


def test_step_below_the_lowest_threshold_is_no_boundary():
    gt = box_scene(background=1.04, box=1.0)
    found = metrics.neighbour_boundaries(gt, 1.05)
    assert not any(b.any() for b in found)
    assert metrics.boundary_f1(gt, gt) == 0.0


def test_thresholds_are_weighted_by_value():
    # A 10 % step is a boundary for thresholds 1.05, 1.0722, 1.0944 only.
    gt = box_scene(background=1.1, box=1.0)
    expected = THRESHOLDS[:3].sum() / THRESHOLDS.sum()  # (1.05+1.0722+1.0944) / 11.5
    assert metrics.boundary_f1(gt, gt) == pytest.approx(expected)
    assert expected == pytest.approx(3.21667 / 11.5, abs=1e-5)


def test_each_orientation_weighs_a_quarter():
    # One vertical step (right pixel in front): only one of the 4 orientations has pairs, and an
    # orientation without pairs counts 0 (as published), so even the exact map scores 1/4.
    gt = np.full((4, 6), 3.0)
    gt[:, 3:] = 1.0
    assert metrics.boundary_f1(gt, gt) == pytest.approx(0.25)


def test_invalid_ground_truth_pairs_are_left_out():
    gt = box_scene()
    pred = gt.copy()
    gt[7, :] = 0.0  # no ground truth in the last row; pred has the plane there
    assert metrics.boundary_f1(pred, gt) == pytest.approx(1.0)
    # A mask that hides the box's top edge removes those pairs from both maps; that leaves the
    # "bottom pixel in front" orientation empty, which counts 0, so F1 = 3/4 (not 1).
    mask = np.ones_like(gt, dtype=bool)
    mask[1, :] = False
    assert metrics.boundary_f1(pred, gt, mask=mask) == pytest.approx(0.75)


def test_boundary_recall_against_an_object_mask():
    mask = np.zeros((9, 9), dtype=bool)
    mask[3:6, 3:6] = True
    pred = np.where(mask, 1.0, 4.0)
    assert metrics.boundary_recall(pred, mask) == pytest.approx(1.0)
    assert metrics.boundary_recall(np.full((9, 9), 4.0), mask) == 0.0
    # A matte in 0..255 reads the same as the boolean mask.
    assert metrics.boundary_recall(pred, mask.astype(np.uint8) * 255) == pytest.approx(1.0)
    # The object behind its surroundings is the wrong orientation: nothing is recalled.
    assert metrics.boundary_recall(np.where(mask, 4.0, 1.0), mask) == 0.0


def test_boundary_recall_thins_soft_edges_to_their_steepest_step():
    mask = np.zeros((9, 9), dtype=bool)
    mask[3:6, 3:6] = True
    pred = np.where(mask, 1.0, 4.0)
    # The box's left edge ramps 4 -> 1.2 -> 1: the big step is one pixel left of the mask edge
    # and the 20 % step at the edge is suppressed as part of the same run, so the
    # "right pixel in front" orientation recalls nothing and the other three everything.
    pred[3:6, 2] = 1.2
    assert metrics.boundary_recall(pred, mask) == pytest.approx(0.75)


def test_thinned_boundaries_keep_the_first_maximum_of_each_run():
    depth = np.array([[8.0, 4.0, 2.0, 2.0, 2.0, 1.0]])  # steps 2, 2, -, -, 2 (right in front)
    thinned = metrics.thinned_boundaries(depth, 1.05)
    assert thinned.right_front.tolist() == [[True, False, False, False, True]]
    plain = metrics.neighbour_boundaries(depth, 1.05)
    assert plain.right_front.tolist() == [[True, True, False, False, True]]
    vertical = metrics.thinned_boundaries(depth.T, 1.05)
    assert vertical.bottom_front.T.tolist() == [[True, False, False, False, True]]


def test_boundary_shape_mismatch_is_an_input_error():
    with pytest.raises(InputError):
        metrics.boundary_f1(np.ones((4, 4)), np.ones((4, 5)))
    with pytest.raises(InputError):
        metrics.boundary_recall(np.ones((4, 4)), np.ones((5, 4), dtype=bool))
