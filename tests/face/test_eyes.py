"""Eyes opened wider than the portrait's: a round iris of the portrait's colour and size at the
target's centre, the portrait's white, the upper lid's shadow; nothing drawn at its own opening."""

from __future__ import annotations

import cv2
import numpy as np

from tests.face.test_animate import animator
from unflat.face.animate import Animator
from unflat.face.eyes import (
    _UPPER_REACH,
    _UPPER_SHADOW,
    draw_eyes,
    eye_look,
    eye_looks,
    eye_openings,
    iris_circle,
    lid_outline,
)
from unflat.face.motion import Motion
from unflat.face_mesh import EYE_CONTOUR_INDICES, EYE_CORNERS, EYE_LID_POINTS, IRISES

SKIN, WHITE, IRIS, PUPIL = (200, 150, 130), (235, 228, 220), (90, 60, 40), (20, 15, 10)
# the synthetic eyes: corners 60 px apart, the lids' heights above and below the corner line
CENTRES, HALF_WIDTH, RADIUS, UPPER, LOWER = ((130.0, 100.0), (230.0, 100.0)), 30.0, 11.0, 9.0, 12.0


def _eyes(upper: float = UPPER, gaze: float = 0.0) -> np.ndarray:
    """``[478,3]`` landmarks holding two synthetic eyes: lids as sine arcs over the corners,
    iris rims ``RADIUS`` about the centres (shifted ``gaze`` px right)."""
    points = np.zeros((478, 3), np.float32)
    for eye, (cx, cy) in enumerate(CENTRES):
        lids = list(EYE_CONTOUR_INDICES[eye][:EYE_LID_POINTS])
        t = np.linspace(0.0, 1.0, 9)
        xs = cx - HALF_WIDTH + 2 * HALF_WIDTH * t
        points[lids[:9], 0], points[lids[:9], 1] = xs, cy + LOWER * np.sin(np.pi * t)
        inner = t[1:-1]
        points[lids[9:], 0] = cx - HALF_WIDTH + 2 * HALF_WIDTH * inner
        points[lids[9:], 1] = cy - upper * np.sin(np.pi * inner)
        iris = np.array([0, 0, RADIUS, 0, 0, -RADIUS, -RADIUS, 0, 0, RADIUS]).reshape(5, 2)
        points[list(IRISES[eye]), :2] = iris + np.array([cx + gaze, cy])
    return points


def _portrait() -> tuple[np.ndarray, np.ndarray]:
    """A skin-coloured picture with the two eyes of :func:`_eyes` painted in."""
    landmarks = _eyes()
    image = np.zeros((200, 360, 3), np.uint8)
    image[:] = SKIN
    for eye, (cx, cy) in enumerate(CENTRES):
        eye_only = np.zeros_like(image)
        eye_only[:] = WHITE
        cv2.circle(eye_only, (int(cx), int(cy)), int(RADIUS), IRIS, -1)
        cv2.circle(eye_only, (int(cx), int(cy)), 4, PUPIL, -1)
        opening = np.zeros(image.shape[:2], np.uint8)
        cv2.fillPoly(opening, [np.round(lid_outline(landmarks, eye)).astype(np.int32)], 1)
        image[opening > 0] = eye_only[opening > 0]
    return image, landmarks


def _drawn(upper: float, gaze: float = 0.0) -> np.ndarray:
    image, landmarks = _portrait()
    frame = image.astype(np.float32)
    draw_eyes(frame, _eyes(upper, gaze), eye_looks(image, landmarks), eye_openings(landmarks))
    return frame


def _iris_shape(frame: np.ndarray, box: tuple[int, int, int, int]) -> tuple[float, float]:
    """(minor/major axis ratio, mean radius) of the ellipse fitted to the darkest blob in box."""
    x0, y0, x1, y1 = box
    grey = frame[y0:y1, x0:x1].astype(np.float32) @ np.array([0.299, 0.587, 0.114])
    dark = (grey < 0.5 * (np.mean(IRIS) + np.mean(WHITE))).astype(np.uint8)
    contours, _ = cv2.findContours(dark, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    (_, _), axes, _ = cv2.fitEllipse(max(contours, key=cv2.contourArea))
    return min(axes) / max(axes), 0.25 * sum(axes)


def test_nothing_is_drawn_at_the_portrait_s_own_opening() -> None:
    image, _ = _portrait()
    assert np.array_equal(_drawn(UPPER), image.astype(np.float32))


def test_the_iris_stays_round_where_a_stretch_makes_it_an_oval() -> None:
    box = (95, 70, 165, 120)
    # the lids opened to 1.8 times: the iris, hidden 2 px by the upper lid before, shows whole
    drawn = _drawn(1.8 * UPPER)
    ratio, radius = _iris_shape(drawn, box)
    assert ratio > 0.93
    assert abs(radius - RADIUS) < 1.0
    # what the warp alone does: the eye's inside stretched upwards 1.8 times
    image, _ = _portrait()
    rows = np.arange(200, dtype=np.float32)
    source_y = np.where(rows < 100, 100 - (100 - rows) / 1.8, rows)
    stretched = cv2.remap(
        image,
        np.tile(np.arange(360, dtype=np.float32), (200, 1)),
        np.tile(source_y[:, None], (1, 360)),
        cv2.INTER_LINEAR,
    )
    stretch_ratio, _ = _iris_shape(stretched, box)
    assert stretch_ratio < 0.75


def test_the_iris_and_white_keep_the_portrait_s_colours() -> None:
    drawn = _drawn(1.8 * UPPER, gaze=4.0)
    # the iris follows the gaze 4 px right: its colour halfway out, level with the centre
    assert np.abs(drawn[100, 134 + 7] - IRIS).max() < 10
    assert np.abs(drawn[100, 134 - 7] - IRIS).max() < 10
    # the white beside it (both sides, mid-height, away from the lids' shadows), within the
    # corners' shade (a fifth at the corners, here a tenth of that)
    for x in (112, 150):
        assert np.abs(drawn[100, x] - WHITE).max() < 0.03 * 255 + 8


def test_the_uncovered_white_is_darker_under_the_upper_lid() -> None:
    drawn = _drawn(1.8 * UPPER)
    x = 110  # beside the iris, where the raised lid uncovers new white
    lid = 100 - 1.8 * UPPER * np.sin(np.pi * (x - 100) / 60)
    brightness = drawn[:, x].mean(-1)
    near, deeper = int(np.ceil(lid)) + 1, int(np.ceil(lid)) + 7
    assert brightness[near] < 0.85 * brightness[deeper]
    # the shadow's strength there, against the white's brightness, is what it was set to be
    expected = _UPPER_SHADOW * np.exp(-(near - lid) / (_UPPER_REACH * RADIUS))
    share = 1 - brightness[near] / brightness[deeper]
    assert 0.3 * expected < share < 1.5 * expected


def test_a_slightly_wider_eye_blends_the_drawn_inside_in() -> None:
    image, _ = _portrait()
    little, full = _drawn(1.1 * UPPER), _drawn(1.8 * UPPER)
    assert 0 < np.abs(little - image).max() < np.abs(full - image).max()


def test_a_painted_portrait_s_eye_is_measured_from_its_own_pixels() -> None:
    a = animator()
    for eye in range(2):
        look = eye_look(a.primary.image, a.primary.landmarks, eye)
        assert look is not None
        # the iris is darker than the white, and its edge near the landmarks' rim
        assert look.rings.mean() < look.sclera.mean() - 20
        assert 0.7 <= look.fit <= 1.25
        corners = a.primary.landmarks[list(EYE_CORNERS[eye]), :2]
        assert 0.1 < look.radius / np.linalg.norm(corners[0] - corners[1]) < 0.4


def _iris_change(a: Animator, openness: float) -> list[float]:
    """Per eye, the mean change (0-255) of the portrait's visible iris pixels, followed to the
    rendered iris by a shift alone, with the lids opened ``openness`` times."""
    motion = Motion.still(1, 25.0)
    motion.eye_open[0] = openness
    target = a.target_landmarks(a.limited(motion), 0)
    frame = a.render(target).astype(np.float32)
    changes = []
    for eye in range(2):
        look = eye_look(a.primary.image, a.primary.landmarks, eye)
        ys, xs = np.nonzero(look.seen > 0.9)
        shift = iris_circle(target, eye)[0] - look.centre
        at_x = (xs + look.origin[0] + shift[0]).astype(np.float32)[None]
        at_y = (ys + look.origin[1] + shift[1]).astype(np.float32)[None]
        rendered = cv2.remap(frame, at_x, at_y, cv2.INTER_LINEAR)[0]
        changes.append(float(np.abs(rendered - look.patch[ys, xs]).mean()))
    return changes


def test_a_painted_portrait_s_wide_eyes_keep_its_iris_unstretched() -> None:
    a = animator()
    # the Mona Lisa's lids opened to 1.6 times: her iris is the portrait's, moved, not stretched
    assert max(_iris_change(a, 1.6)) < 2.0
    looks = a._eye_looks
    try:
        a._eye_looks = (None, None)  # the warp alone stretches it
        assert min(_iris_change(a, 1.6)) > 6.0
    finally:
        a._eye_looks = looks
