"""Eye and lip openings in the published ratios' units, from the 478-point mesh."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from unflat.face import detect
from unflat.face.liveportrait.retarget import (
    LIPS_OPEN,
    Openings,
    eye_condition,
    eye_ratios,
    eyes_target,
    lip_condition,
    lip_ratio,
    mouth_target,
)
from unflat.face_mesh import MOUTH_INNER, OUTER_MOUTH_CORNERS, face_unit
from unflat.io.images import read_photo
from unflat.pipelines.animate import bundled_portrait


@lru_cache(maxsize=1)
def landmarks() -> np.ndarray:
    return detect(read_photo(bundled_portrait()).rgb)[0].landmarks.astype(np.float64)


def _width(points: np.ndarray) -> float:
    a, b = OUTER_MOUTH_CORNERS
    return float(np.linalg.norm(points[a, :2] - points[b, :2]))


def test_a_closed_mouth_reads_closed_and_an_opened_one_its_gap_over_its_width() -> None:
    closed = landmarks()
    assert lip_ratio(closed) < LIPS_OPEN  # the Mona Lisa's lips are together
    opened = closed.copy()
    upper, lower = MOUTH_INNER
    # the lower lip's middle 0.3 mouth widths below the upper's: a ratio of 0.3
    opened[lower, :2] = opened[upper, :2] + [0.0, 0.3 * _width(closed)]
    assert abs(float(lip_ratio(opened)) - 0.3) < 1e-9
    np.testing.assert_allclose(lip_condition(opened, 0.0), [[0.3, 0.0]], atol=1e-6)


def test_eyes_read_open_and_closed() -> None:
    open_eyes = eye_ratios(landmarks())
    assert open_eyes.shape == (2,) and (open_eyes > 0.2).all() and (open_eyes < 0.45).all()
    shut = landmarks().copy()
    for upper, lower in ((159, 145), (386, 374)):
        shut[upper, :2] = shut[lower, :2]
    np.testing.assert_allclose(eye_ratios(shut), 0.0, atol=1e-12)
    condition = eye_condition(landmarks(), 0.1)
    assert condition.shape == (1, 3) and condition[0, 2] == np.float32(0.1)
    # a motion's eye opening scales the portrait's own
    assert abs(eyes_target(landmarks(), np.array([0.5, 0.5])) - open_eyes.mean() / 2) < 1e-9


def test_a_motions_mouth_opening_becomes_a_lip_ratio() -> None:
    points = landmarks()
    width_units = _width(points) / float(face_unit(points))
    # an opening of 0.2 eye-corner distances beyond closed lips, over the mouth's width
    assert abs(mouth_target(points, opening=0.2) - 0.2 / width_units) < 1e-9
    # without an opening, the expression's offsets give the shape to measure
    offsets = np.zeros_like(points)
    offsets[MOUTH_INNER[1], 1] = 0.25 * _width(points)
    assert abs(mouth_target(points, offsets) - lip_ratio(points + offsets)) < 1e-12
    assert mouth_target(points, offsets) > 0.2


def test_openings_measured_once_give_what_the_landmarks_give_every_time() -> None:
    points = landmarks()
    openings = Openings.measure(points, points, closed_gap=0.05)
    eyes = openings.eyes_target(np.array([0.4, 0.6]))
    assert eyes == eyes_target(points, np.array([0.4, 0.6]))
    assert np.array_equal(openings.eye_condition(eyes), eye_condition(points, eyes))
    assert np.array_equal(openings.lip_condition(0.2), lip_condition(points, 0.2))
    wanted = mouth_target(points, opening=0.1, closed_gap=0.05)
    assert openings.mouth_target(points, None, 0.1) == wanted
    assert openings.mouth_target(points, None, None) == mouth_target(points)
