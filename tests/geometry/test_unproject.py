"""The one unprojection: pixel (u, v) is sampled at its centre (u + 0.5, v + 0.5)."""

from __future__ import annotations

import numpy as np
import pytest

from unflat.geometry.unproject import unproject


def test_pixel_centres_hand_computed() -> None:
    K = np.array([[100.0, 0.0, 1.0], [0.0, 200.0, 0.5], [0.0, 0.0, 1.0]])
    depth = np.array([[2.0, 3.0, 1.0], [1.0, 1.0, 4.0]], dtype=np.float32)
    points = unproject(depth, K)
    assert points.dtype == np.float64 and points.shape == (2, 3, 3)
    # (u=0, v=0, z=2): centre (0.5, 0.5): x = (0.5 - 1) * 2 / 100, y = (0.5 - 0.5) * 2 / 200
    np.testing.assert_allclose(points[0, 0], [-0.01, 0.0, 2.0])
    # (u=2, v=1, z=4): centre (2.5, 1.5): x = (2.5 - 1) * 4 / 100, y = (1.5 - 0.5) * 4 / 200
    np.testing.assert_allclose(points[1, 2], [0.06, 0.02, 4.0])
    # every point lies on the ray through its pixel's centre: K p / z = (u + 0.5, v + 0.5, 1)
    rays = points @ K.T / points[..., 2:]
    v, u = np.mgrid[0:2, 0:3]
    np.testing.assert_allclose(rays, np.stack([u + 0.5, v + 0.5, np.ones((2, 3))], -1))


def test_image_centre_is_on_the_axis() -> None:
    # principal point at (W/2, H/2) = (2, 1.5) for a 4x3 image: the centre is the corner shared
    # by pixels (1, 1) and (2, 1), which are mirror images across the axis
    K = np.array([[10.0, 0.0, 2.0], [0.0, 10.0, 1.5], [0.0, 0.0, 1.0]])
    points = unproject(np.full((3, 4), 5.0), K)
    np.testing.assert_allclose(points[1, 1], [-0.25, 0.0, 5.0])
    np.testing.assert_allclose(points[1, 2], [0.25, 0.0, 5.0])


def test_skew_is_inverted_exactly() -> None:
    K = np.array([[100.0, 10.0, 0.0], [0.0, 100.0, 0.0], [0.0, 0.0, 1.0]])
    point = unproject(np.full((2, 2), 10.0), K)[1, 1]
    # centre (1.5, 1.5): y = 1.5 / 100 * z = 0.15, x = (1.5 - 10 * 0.015) / 100 * z = 0.135
    np.testing.assert_allclose(point, [0.135, 0.15, 10.0])
    np.testing.assert_allclose(K @ (point / point[2]), [1.5, 1.5, 1.0])


def test_bad_shapes_are_refused() -> None:
    K = np.eye(3)
    with pytest.raises(ValueError, match=r"depth must be \[H,W\]"):
        unproject(np.zeros((2, 2, 1)), K)
    with pytest.raises(ValueError, match="K must be 3x3"):
        unproject(np.zeros((2, 2)), np.eye(4))
    with pytest.raises(ValueError, match="K must be"):
        unproject(np.zeros((2, 2)), np.ones((3, 3)))
