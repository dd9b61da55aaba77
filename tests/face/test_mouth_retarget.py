"""How far a driver's mouth opening parts the portrait's lips: the first parting made visible,
a read-back that keeps growing past its probes, and a clip's openings shrunk together (not
clipped) when its widest would pass the jaw's reach. And where the driver's mouth is taken."""

from __future__ import annotations

import numpy as np
import pytest

from tests.face.test_animate import animator
from unflat.face.animate import _MAX_RENDERED_GAP, visible_opening
from unflat.face.motion import Motion
from unflat.face.mouth import _GROW, _driver_opening
from unflat.face_mesh import INNER_LIP, LIPS_CLOSED, OUTER_LIP, lip_gap


def test_a_first_parting_gains_one_closed_lips_reading_smoothly() -> None:
    assert visible_opening(0.0) == 0.0
    assert visible_opening(0.019) == pytest.approx(0.019)  # under 2/3 of LIPS_CLOSED: as read
    assert visible_opening(0.03) == pytest.approx(0.03 + LIPS_CLOSED / 2)  # halfway up the step
    assert visible_opening(0.05) == pytest.approx(0.05 + LIPS_CLOSED)
    values = np.array([visible_opening(x) for x in np.linspace(0, 0.1, 1001)])
    steps = np.diff(values)
    assert (steps > 0).all()  # in order: a wider driver mouth is never a narrower portrait one
    # no jump: the step's steepest slope is 1 + 1.5 LIPS_CLOSED / (2/3 LIPS_CLOSED) = 3.25
    assert steps.max() <= 3.25 * 1e-4 + 1e-9


def test_the_read_back_keeps_growing_past_its_probes_at_their_mean_rate() -> None:
    a = animator()
    read, literal = a.mouth_response()
    beyond = [a.rendered_opening(read[-1] + d) for d in (0.0, 0.05, 0.1)]
    rate = literal[-1] / read[-1]
    assert beyond[0] == pytest.approx(literal[-1])
    assert beyond[1] - beyond[0] == pytest.approx(0.05 * rate)
    assert beyond[2] - beyond[1] == pytest.approx(0.05 * rate)


def test_a_clip_too_wide_for_the_jaw_shrinks_all_its_openings_together() -> None:
    a = animator()
    closed = float(lip_gap(a.primary.canonical))
    wide = np.array([0.05, 0.1, 0.2, 0.3] * 25, np.float32)  # 100 frames
    motion = Motion.still(len(wide), 25.0)
    motion.mouth_open = wide
    parted = np.array([lip_gap(a.target_canonical(motion, t)) - closed for t in range(4)])
    wanted = np.array([a.rendered_opening(visible_opening(float(x))) for x in wide[:4]])
    assert wanted.max() > _MAX_RENDERED_GAP  # the read-back alone would pass the jaw's reach
    assert parted.max() == pytest.approx(_MAX_RENDERED_GAP, abs=1e-3)
    # one factor for all: the proportions between openings are kept, none is clipped
    assert parted / parted[-1] == pytest.approx(wanted / wanted[-1], rel=1e-3)
    narrow = Motion.still(2, 25.0)
    narrow.mouth_open = np.array([0.02, 0.05], np.float32)
    for t in range(2):  # a clip within reach keeps its gaps
        gap = lip_gap(a.target_canonical(narrow, t)) - closed
        assert gap == pytest.approx(a.rendered_opening(visible_opening(0.02 + 0.03 * t)), abs=1e-3)


def _mouth(inner_gap: float) -> np.ndarray:
    """Landmarks of a mouth: outer lips 20 px tall, inner lips ``inner_gap`` px apart."""
    landmarks = np.zeros((478, 3))
    angle = np.linspace(0, 2 * np.pi, 20, endpoint=False)
    outline = np.stack([np.cos(angle), -np.sin(angle)], 1)
    landmarks[list(OUTER_LIP), :2] = [100, 50] + outline * [40, 10]
    landmarks[list(INNER_LIP), :2] = [100, 50] + outline * [30, inner_gap / 2]
    return landmarks


def test_the_driver_s_mouth_is_taken_up_to_the_upper_teeth() -> None:
    landmarks = _mouth(6.0)
    inner = landmarks[list(INNER_LIP), :2]
    outer = landmarks[list(OUTER_LIP), :2]
    opening = _driver_opening(landmarks)
    upper = slice(1, 10)  # the upper lip between its corners: moved towards the outer lip
    assert opening[upper] == pytest.approx(inner[upper] + _GROW * (outer[upper] - inner[upper]))
    assert opening[[0, 10]] == pytest.approx(inner[[0, 10]])  # corners stay
    assert opening[11:] == pytest.approx(inner[11:])  # the lower lip stays
    # the middle of the upper lip: from 3 px above the centre to 3 + 0.4 * 7 = 5.8 px
    assert opening[5, 1] == pytest.approx(50 - 5.8)
    closed = _mouth(0.5)  # lips together: nothing to take, as before
    assert _driver_opening(closed) == pytest.approx(closed[list(INNER_LIP), :2])
