"""The background plate: filled smoothly from around the hole, shown only where the head left."""

from __future__ import annotations

import numpy as np

from tests.face.test_animate import _motion, animator, mona
from unflat.face.portrait import _push_pull, background_plate


def test_a_hole_in_one_colour_is_filled_with_that_colour() -> None:
    image = np.full((64, 80, 3), (30.0, 120.0, 200.0), np.float32)
    known = np.ones((64, 80), np.float32)
    known[20:50, 10:40] = 0
    filled = _push_pull(image * known[..., None], known)
    assert np.abs(filled - image).max() < 0.5


def test_a_hole_between_two_colours_shades_from_one_to_the_other() -> None:
    image = np.zeros((64, 96, 3), np.float32)
    image[:, 48:] = 200.0
    known = np.ones((64, 96), np.float32)
    known[16:48, 32:64] = 0
    filled = _push_pull(image, known)[32, 32:64, 0]
    assert filled[0] < 60 and filled[-1] > 140  # each side continues its neighbour
    assert np.all(np.diff(filled) > -1.0)  # no streak or band on the way: it only rises


def test_the_plate_keeps_the_photo_away_from_the_hole() -> None:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (120, 100, 3), dtype=np.uint8)
    hole = np.zeros((120, 100), bool)
    hole[40:80, 30:70] = True
    plate = background_plate(image, hole)
    far = np.ones_like(hole)
    far[30:90, 20:80] = False
    assert np.array_equal(plate[far], image[far])


def test_the_plate_shows_only_where_the_head_moved_away() -> None:
    a = animator()
    turned, warp = a.render_warped(a.target_landmarks(a.limited(_motion(0, 20, 0)), 0))
    turned = turned.astype(np.float32)
    x0, y0, x1, y1 = a.rig.region
    portrait = mona().astype(np.float32)
    person = a.primary.person
    # background that no head covers, before or after: the portrait itself, not the plate
    plate_differs = np.abs(a.rig.plate - portrait).max(-1) > 20
    clear = (person < 0.01) & plate_differs
    uncovered = np.zeros(person.shape, bool)
    uncovered[y0:y1, x0:x1] = warp.alpha < 0.01
    clear &= uncovered
    assert clear.any()
    assert np.abs(turned[clear] - portrait[clear]).mean() < 3.0
