"""Distances between pixels' points: hand-computed, robust at depth edges, bad pixels refused."""

from __future__ import annotations

import numpy as np
import pytest

from unflat.errors import InputError
from unflat.geometry.measure import distance, point_at, robust_depth

# 10 px focal length, principal point at the centre of a 20x10 image
K = np.array([[10.0, 0.0, 10.0], [0.0, 10.0, 5.0], [0.0, 0.0, 1.0]])


def test_points_on_a_wall_hand_computed() -> None:
    depth = np.full((10, 20), 2.0)
    # pixel (9.5, 4.5) is the image centre: on the axis
    np.testing.assert_allclose(point_at(depth, K, 9.5, 4.5), [0.0, 0.0, 2.0])
    # pixel (19, 4.5): x = (19.5 - 10) / 10 x 2 = 1.9 m
    np.testing.assert_allclose(point_at(depth, K, 19, 4.5), [1.9, 0.0, 2.0])
    # from column 0 to column 19 on a wall 2 m away: 19 px x 2 m / 10 px = 3.8 m
    assert distance(depth, K, (0, 3), (19, 3)) == pytest.approx(3.8)
    # one pixel nearer: points at z=1 and z=2 on the axis are 1 m apart
    depth[4, 9] = 1.0
    assert distance(depth, K, (9.5, 4.5), (9.5, 4.5), window=0) == 0.0
    assert distance(depth, K, (9, 4), (9, 6), window=0) == pytest.approx(
        np.linalg.norm([(9.5 - 10) / 10 * (1 - 2), (4.5 - 5) / 10 * 1 - (6.5 - 5) / 10 * 2, -1])
    )


def test_robust_depth_keeps_to_its_side_of_an_edge_and_ignores_noise() -> None:
    depth = np.full((10, 20), 4.0)
    depth[:, :10] = 1.0  # a near object on the left half
    depth[3, 12] = 9.0  # one wild value
    depth[5, 11] = np.nan  # one hole
    assert robust_depth(depth, 10, 5) == 4.0  # beside the edge, on the far side
    assert robust_depth(depth, 9, 5) == 1.0  # beside it, on the near side
    assert robust_depth(depth, 12, 3) == 4.0  # the wild value is outvoted
    assert robust_depth(depth, 12, 3, window=0) == 9.0


@pytest.mark.parametrize("pixel", [(-1, 0), (20, 0), (0, 9.5), (np.nan, 1)])
def test_pixels_outside_the_image_are_refused(pixel: tuple[float, float]) -> None:
    with pytest.raises(InputError, match="outside the 20x10 image"):
        point_at(np.ones((10, 20)), K, *pixel)


def test_a_pixel_without_depth_is_refused() -> None:
    depth = np.ones((10, 20))
    depth[2, 3] = 0.0
    with pytest.raises(InputError, match="pixel 3,2 has no valid depth"):
        distance(depth, K, (3, 2), (5, 5))
