"""The one-pass composite: hand-checked pixels, and the numpy formula it replaced."""

from __future__ import annotations

import numpy as np
import pytest

from unflat.face.composite import composite


def _run(alpha: float, shift: float, foreground: float, *, origin=(10, 20), settle=2.0):
    """One 1x2 box at ``origin``: still 100, plate 200, warped 0; the warp moved each pixel
    ``shift`` pixels to the right."""
    shape = (1, 2)
    out = np.zeros((*shape, 3), np.float32)
    x0, y0 = origin
    map_x = np.array([[x0 + shift, x0 + 1 + shift]], np.float32)
    map_y = np.full(shape, y0, np.float32)
    composite(out, np.zeros((*shape, 3), np.uint8), np.full(shape, alpha, np.float32),
              np.full((*shape, 3), 100, np.uint8), np.full((*shape, 3), 200, np.uint8),
              np.full(shape, foreground, np.float32), (map_x, map_y), origin, settle)  # fmt: skip
    return out


def test_an_unmoved_pixel_shows_the_portrait_behind_the_person() -> None:
    # nothing moved: the plate never shows, however much person the portrait held there
    assert np.allclose(_run(alpha=0.0, shift=0.0, foreground=1.0), 100)
    assert np.allclose(_run(alpha=0.5, shift=0.0, foreground=1.0), 50)


def test_the_plate_shows_by_movement_and_by_how_much_person_was_there() -> None:
    # half the settling distance, all person: halfway from portrait (100) to plate (200)
    assert np.allclose(_run(alpha=0.0, shift=1.0, foreground=1.0), 150)
    # past settling, half person: also halfway
    assert np.allclose(_run(alpha=0.0, shift=3.0, foreground=0.5), 150)
    # no person there: the portrait, however far the warp moved
    assert np.allclose(_run(alpha=0.0, shift=3.0, foreground=0.0), 100)
    # the warped person (0) over that background with weight 1/4: 0.75 * 150
    assert np.allclose(_run(alpha=0.25, shift=3.0, foreground=0.5), 112.5)


def test_it_equals_the_numpy_formula_on_a_frame_view() -> None:
    rng = np.random.default_rng(3)
    h, w, x0, y0, settle = 37, 53, 5, 7, 1.7
    warped, still, plate = (rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(3))
    alpha, foreground = (rng.random((h, w), dtype=np.float32) for _ in range(2))
    grid_y, grid_x = np.mgrid[y0 : y0 + h, x0 : x0 + w].astype(np.float32)
    map_x = grid_x + rng.normal(0, 2, (h, w)).astype(np.float32)
    map_y = grid_y + rng.normal(0, 2, (h, w)).astype(np.float32)
    frame = np.zeros((h + 20, w + 20, 3), np.float32)
    composite(frame[y0 : y0 + h, x0 : x0 + w], warped, alpha, still, plate, foreground,
              (map_x, map_y), (x0, y0), settle)  # fmt: skip
    share = np.clip(np.hypot(map_x - grid_x, map_y - grid_y) / settle, 0, 1) * foreground
    back = still + share[..., None] * (plate.astype(np.float32) - still)
    expected = alpha[..., None] * warped + (1 - alpha[..., None]) * back
    assert np.abs(frame[y0 : y0 + h, x0 : x0 + w] - expected).max() < 1e-3
    assert not frame[:y0].any() and not frame[y0 + h :].any()


def test_mismatched_shapes_are_refused() -> None:
    out = np.zeros((4, 4, 3), np.float32)
    small = np.zeros((4, 3, 3), np.uint8)
    ones = np.ones((4, 4), np.float32)
    with pytest.raises(ValueError, match="warped"):
        composite(out, small, ones, out.astype(np.uint8), out.astype(np.uint8), ones,
                  (ones, ones), (0, 0), 1.0)  # fmt: skip
