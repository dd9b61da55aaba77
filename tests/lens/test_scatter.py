"""The disc scatter: a uniform blur is a disc convolution; depth layers stop leaks both ways."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from unflat.lens.scatter import disc_kernel, layer_of, scatter_layers


def convolved(image: np.ndarray, radius: float) -> np.ndarray:
    """The disc blur by 2D convolution, renormalised at the borders as the scatter is."""
    kernel = disc_kernel(radius)
    ones = np.ones(image.shape[:2], np.float32)
    weight = cv2.filter2D(ones, -1, kernel, borderType=cv2.BORDER_CONSTANT)
    return cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_CONSTANT) / weight[..., None]


def test_disc_kernel_hand_checked() -> None:
    # radius 0.5: the pixel itself
    np.testing.assert_array_equal(disc_kernel(0.5)[1:2, 1:2], [[1.0]])
    assert disc_kernel(0.5).sum() == pytest.approx(1.0)
    # radius 1.5: rows 0 and ±1 are spans of half-width 1.5 and sqrt(1.25) = 1.118: the
    # centre row covers 3 whole pixels, the others 1 + 2 x 0.618; area 3 + 2 x 2.236
    kernel = disc_kernel(1.5) * (3 + 2 * 2 * np.sqrt(1.25))
    np.testing.assert_allclose(kernel[2, 1:4], [1, 1, 1], atol=1e-6)
    np.testing.assert_allclose(kernel[1, 1:4], [np.sqrt(1.25) - 0.5, 1, np.sqrt(1.25) - 0.5])
    assert kernel[2, 0] == 0 and kernel[0].sum() == 0


@pytest.mark.parametrize("radius", [0.5, 0.8, 1.5, 3.7, 9.2])
def test_uniform_radius_is_the_disc_convolution(radius: float) -> None:
    rng = np.random.default_rng(1)
    image = rng.random((40, 56, 3)).astype(np.float32)
    blurred = scatter_layers(image, np.full((40, 56), radius, np.float32))
    np.testing.assert_allclose(blurred, convolved(image, radius), atol=1e-5)


def test_layers_order_by_signed_radius() -> None:
    radii = np.array([-40.0, -3.0, -0.4, 0.0, 0.49, 0.6, 1.6, 12.0, 60.0])
    layers = layer_of(radii)
    assert list(layers[2:5]) == [0, 0, 0]  # within half a pixel: the sharp layer
    assert np.all(np.diff(layers) >= 0) and layers[0] < 0 < layers[-1]
    assert layers[-1] < 25  # far blur shares layers: about one per 1/8 of the radius


def two_planes(fg_radius: float, bg_radius: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A red square (near) on a green background with blue stripes (far), and radii."""
    image = np.zeros((64, 64, 3), np.float32)
    image[..., 1] = 0.5
    image[::4, :, 2] = 1.0
    square = np.zeros((64, 64), bool)
    square[20:44, 20:44] = True
    image[square] = (1.0, 0.0, 0.0)
    radius = np.where(square, -fg_radius, bg_radius).astype(np.float32)  # near is negative
    return image, radius, square


def test_sharp_foreground_never_bleeds_onto_blurred_background() -> None:
    image, radius, square = two_planes(0.0, 6.0)
    blurred = scatter_layers(image, radius)
    np.testing.assert_array_equal(blurred[square], image[square])  # exactly the photo
    # the background beside the square holds none of its red, and is blurred (stripes gone)
    assert blurred[~square, 0].max() < 1e-6
    assert np.ptp(blurred[10:50, 5, 2]) < 0.1
    # a depth-blind scatter spreads the background's blue over the square
    naive = scatter_layers(image, radius, layers=np.zeros((64, 64), np.int32))
    assert naive[square, 2].max() > 0.1


def test_blurred_foreground_spreads_over_sharp_background() -> None:
    image, radius, _ = two_planes(6.0, 0.0)
    blurred = scatter_layers(image, radius)
    # beyond the disc's reach the background is untouched; within it the red fades in
    far_away = np.ones((64, 64), bool)
    far_away[13:51, 13:51] = False
    np.testing.assert_allclose(blurred[far_away], image[far_away], atol=1e-6)
    assert 0.1 < blurred[32, 17, 0] < 0.6
