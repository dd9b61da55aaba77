"""The thin lens in pixels, the blur's size against it, highlights, and lens settings refused."""

from __future__ import annotations

import math

import numpy as np
import pytest

from unflat.errors import ConfigError
from unflat.lens.evaluate import disc_diameter, edge_diameter
from unflat.lens.refocus import (
    Lens,
    circle_of_confusion,
    equivalent_focal_mm,
    fill_missing_depth,
    refocus,
    refocus_linear,
    to_srgb8,
)


def test_circle_of_confusion_hand_computed() -> None:
    # 26 mm at f/2 (aperture 13 mm) focused at 1 m, a point at 3 m, 1000 px focal length:
    # 1000 x 0.013 x (3 - 1) / (3 x (1 - 0.026)) = 8.898 px; nearer points are negative:
    # 0.5 m gives 1000 x 0.013 x (0.5 - 1) / (0.5 x 0.974) = -13.347 px
    diameters = circle_of_confusion(np.array([3.0, 1.0, 0.5]), 1.0, 2.0, 0.026, 1000.0)
    np.testing.assert_allclose(diameters, [8.898, 0.0, -13.347], atol=1e-3)


def test_equivalent_focal_length_is_on_the_diagonal() -> None:
    # a 4000x3000 photo with a 26 mm equivalent lens: focal_px = 26 x 5000 / 43.267
    assert equivalent_focal_mm(26 * 5000 / math.hypot(36, 24), 4000, 3000) == pytest.approx(26)


# (focal_px, focal_mm, f-number, focus m, object m)
SETTINGS = [
    (1000, 26, 2.0, 1.0, 3.0),
    (1000, 50, 1.4, 2.0, 4.0),
    (1500, 35, 2.8, 0.5, 5.0),
    (800, 85, 1.8, 3.0, 2.0),
    (1000, 26, 8.0, 1.0, 10.0),
]


@pytest.mark.parametrize(("focal_px", "focal_mm", "f_number", "focus", "distance"), SETTINGS)
def test_blur_size_follows_the_thin_lens(focal_px, focal_mm, f_number, focus, distance) -> None:
    f = focal_mm / 1000
    expected = focal_px * (f / f_number) * abs(distance - focus) / (distance * (focus - f))
    size = 301  # the cap on the radius (5% of the diagonal) stays out of the way
    depth = np.full((size, size), distance, np.float32)
    point = np.zeros((size, size, 3), np.uint8)
    point[size // 2, size // 2] = 255
    lens = Lens(f_number, focal_mm)
    disc = refocus_linear(point, depth, focal_px, focus, lens)[..., 0]
    assert disc_diameter(disc, (size // 2, size // 2)) == pytest.approx(expected, abs=0.01)
    step = np.zeros((size, size, 3), np.uint8)
    step[:, size // 2 :] = 255
    edge = refocus_linear(step, depth, focal_px, focus, lens)[size // 2, :, 0]
    assert edge_diameter(edge) == pytest.approx(expected, abs=1.0)


def test_in_focus_photo_is_unchanged_and_srgb_round_trips() -> None:
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    depth = np.full((30, 40), 2.0, np.float32)
    np.testing.assert_array_equal(refocus(photo, depth, 500.0, 2.0, Lens(1.4)), photo)
    values = np.arange(256, dtype=np.uint8)[:, None, None].repeat(3, axis=2)
    np.testing.assert_array_equal(to_srgb8(refocus_linear(values, np.ones((256, 1)), 1.0, 1.0,
                                                          Lens(2.0, 26.0))), values)  # fmt: skip


def test_clipped_highlights_become_bright_discs() -> None:
    photo = np.full((61, 61, 3), 20, np.uint8)
    photo[30, 30] = 255
    depth = np.full((61, 61), 4.0, np.float32)
    lens = Lens(2.0, 26.0)  # 1000 px focal length, focus 1 m: a disc 9.7 px wide
    plain = refocus(photo, depth, 1000.0, 1.0, lens, highlights=1.0)
    bright = refocus(photo, depth, 1000.0, 1.0, lens, highlights=4.0)
    assert int(bright[30, 30, 0]) > int(plain[30, 30, 0]) + 30
    # a disc, not a Gaussian: flat inside, nothing past its radius (4.85 px)
    assert np.ptp(bright[30, 27:34, 0]) <= 1
    assert bright[30, 36, 0] == 20 and bright[36, 30, 0] == 20
    # in focus, the highlight keeps its value
    sharp = refocus(photo, depth, 1000.0, 4.0, lens, highlights=4.0)
    np.testing.assert_array_equal(sharp, photo)


def test_a_warm_colour_with_one_channel_near_255_is_no_highlight() -> None:
    # skin or a red flower: its red channel near 255, its luma (0.83) below the highlights'
    photo = np.zeros((41, 41, 3), np.uint8)
    photo[:] = (248, 210, 131)
    depth = np.full((41, 41), 4.0, np.float32)
    lens = Lens(2.0, 26.0)
    plain = refocus(photo, depth, 1000.0, 1.0, lens, highlights=1.0)
    boosted = refocus(photo, depth, 1000.0, 1.0, lens, highlights=4.0)
    np.testing.assert_array_equal(boosted, plain)


def test_missing_depth_takes_the_nearest_valid_value() -> None:
    depth = np.array([[1.0, np.nan, np.nan, 5.0], [1.0, 0.0, -1.0, np.inf]], np.float32)
    np.testing.assert_array_equal(fill_missing_depth(depth), [[1, 1, 5, 5], [1, 1, 5, 5]])
    with pytest.raises(ConfigError, match="no valid"):
        fill_missing_depth(np.full((2, 2), np.nan))


@pytest.mark.parametrize("f_number", [0.0, -2.0, 0.3, 100.0, math.nan, math.inf])
def test_bad_f_numbers_are_refused(f_number: float) -> None:
    with pytest.raises(ConfigError, match="f-number"):
        Lens(f_number).check()


def test_focus_inside_the_focal_length_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"cannot focus at 0\.02 m"):
        circle_of_confusion(np.ones((2, 2)), 0.02, 2.0, 0.026, 1000.0)
    with pytest.raises(ConfigError, match="focal length"):
        Lens(2.0, 0.0).check()
