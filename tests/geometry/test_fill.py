"""Nearest-pixel filling of missing values."""

import numpy as np

from unflat.geometry.fill import nearest_fill


def test_missing_pixels_take_the_nearest_kept_value():
    values = np.array([[1.0, 0.0, 0.0, 7.0], [2.0, 0.0, 0.0, 8.0]], dtype=np.float32)
    missing = values == 0
    assert nearest_fill(values, missing).tolist() == [[1, 1, 7, 7], [2, 2, 8, 8]]


def test_nothing_or_everything_missing_leaves_values_alone():
    values = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(nearest_fill(values, np.zeros((2, 3), bool)), values)
    np.testing.assert_array_equal(nearest_fill(values, np.ones((2, 3), bool)), values)


def test_a_far_hole_is_filled_from_its_own_side():
    values = np.zeros((1, 9), np.float32)
    values[0, 0], values[0, 8] = 3.0, 5.0
    filled = nearest_fill(values, values == 0)
    assert filled[0, :4].tolist() == [3, 3, 3, 3] and filled[0, 5:].tolist() == [5, 5, 5, 5]
