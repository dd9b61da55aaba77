"""Portrait depth without weights: the mesh's relief made metric, the person, the background."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import cv2
import numpy as np
import pytest

from unflat.errors import InputError
from unflat.face.canonical import reference_face
from unflat.face.relief import (
    BACKGROUND_FACTOR,
    EAR_POINTS,
    INTERPUPILLARY_M,
    MODEL_NAME,
    NOSE_TIP,
    NoFaceError,
    Relief,
    default_focal_px,
    eye_distance_px,
    landmark_depths,
    portrait_depth,
    portrait_relief,
    rasterise_mesh,
)
from unflat.io.images import read_photo

CHEEKS = (50, 280)  # the mesh's cheek points below each eye


@lru_cache(maxsize=1)
def mona_lisa() -> np.ndarray:
    path = resources.files("unflat") / "assets" / "portraits" / "mona_lisa.jpg"
    with resources.as_file(path) as file:
        return read_photo(file).rgb


@lru_cache(maxsize=2)
def mona_lisa_relief(focal_px: float | None = None) -> Relief:
    return portrait_relief(mona_lisa(), focal_px=focal_px)


def test_one_triangle_is_interpolated_at_pixel_centres() -> None:
    points = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    depth = rasterise_mesh(points, np.array([1.0, 2.0, 3.0]), np.array([[0, 1, 2]]), (12, 12))
    # pixel (2, 3) is sampled at (2.5, 3.5): weights 0.4, 0.25, 0.35
    assert depth[3, 2] == pytest.approx(1.0 * 0.4 + 2.0 * 0.25 + 3.0 * 0.35)
    assert depth[0, 0] == pytest.approx(1.0 + 0.05 + 0.1)
    assert np.isinf(depth[9, 9]) and np.isinf(depth[11, 0])  # beyond the hypotenuse, below
    assert np.isfinite(depth).sum() == sum(10 - y for y in range(10))  # x + y + 1 <= 10


def test_where_triangles_overlap_the_nearest_wins() -> None:
    points = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]])
    faces = np.array([[0, 1, 2], [0, 1, 2]])
    near = rasterise_mesh(points, np.array([5.0, 5.0, 5.0]), faces[:1], (8, 8))
    both = rasterise_mesh(
        np.vstack([points, points]), np.array([5.0, 5.0, 5.0, 2.0, 2.0, 2.0]),
        np.array([[0, 1, 2], [3, 4, 5]]), (8, 8),
    )  # fmt: skip
    assert np.isfinite(near).sum() == np.isfinite(both).sum()
    assert np.all(both[np.isfinite(both)] == 2.0)


def test_the_canonical_face_at_a_known_scale_is_the_average_adult() -> None:
    """The canonical face in cm, drawn at 10 px per cm: 1 mm per pixel, eyes 63 mm apart, and
    the nose tip about 100 mm in front of the ears."""
    landmarks = reference_face() * 10.0 + np.array([300.0, 300.0, 0.0], np.float32)
    assert eye_distance_px(landmarks) == pytest.approx(63.0, abs=0.1)
    depths, metres_per_px = landmark_depths(landmarks, focal_px=1000.0)
    assert metres_per_px == pytest.approx(INTERPUPILLARY_M / eye_distance_px(landmarks))
    relief_mm = 1000 * (np.mean(depths[list(EAR_POINTS)]) - depths[NOSE_TIP])
    assert relief_mm == pytest.approx(100.0, abs=1.0)
    # the eyes lie at f * L / l: 1000 px * 63 mm / 63 px = 1 m
    eyes = [33, 133, 263, 362]
    assert np.mean(depths[eyes]) == pytest.approx(1000.0 * metres_per_px, rel=1e-6)


def test_the_default_focal_is_a_50mm_lens() -> None:
    # a 36x24 "photo" in millimetres-as-pixels: 50 mm on a full-frame sensor
    assert default_focal_px(36, 24) == pytest.approx(50.0)
    assert default_focal_px(512, 640) == pytest.approx(50 / 43.2666 * np.hypot(512, 640), 1e-4)


def test_mona_lisa_depth_is_finite_positive_and_a_portrait() -> None:
    depth = portrait_depth(mona_lisa())
    assert depth.model == MODEL_NAME and depth.focal_source == "default"
    assert depth.depth.shape == mona_lisa().shape[:2] and depth.depth.dtype == np.float32
    assert np.isfinite(depth.depth).all() and (depth.depth > 0).all()
    assert depth.focal_px == pytest.approx(default_focal_px(512, 640))


def test_mona_lisa_nose_is_in_front_of_cheeks_and_ears_by_plausible_millimetres() -> None:
    relief = mona_lisa_relief()
    nose = relief.landmark_depths[NOSE_TIP]
    cheeks_mm = 1000 * (np.mean(relief.landmark_depths[list(CHEEKS)]) - nose)
    ears_mm = 1000 * (np.mean(relief.landmark_depths[list(EAR_POINTS)]) - nose)
    assert 20 < cheeks_mm < 60  # the canonical face: 40.5 mm
    assert 90 < ears_mm < 130  # nose tip to tragion, adults
    # the dense surface agrees with the landmarks it was built from, at the nose tip
    x, y = relief.face.landmarks[NOSE_TIP, :2].astype(int)
    assert relief.depth[y, x] == pytest.approx(nose, abs=0.005)


def test_mona_lisa_person_stands_before_the_background_with_a_step() -> None:
    relief = mona_lisa_relief()
    depth, person = relief.depth, relief.person_mask
    assert 0.2 < person.mean() < 0.8  # a half-length portrait
    assert np.all(depth[~person] == pytest.approx(relief.background_m))
    assert depth[person].max() + 0.5 <= relief.background_m + 1e-6
    assert relief.background_m >= BACKGROUND_FACTOR * relief.eye_distance_m - 1e-6
    # a real step at the silhouette: neighbours across it differ by at least half a metre
    inner = person & ~cv2.erode(person.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert np.all(relief.background_m - depth[inner] >= 0.5)
    # inside the person no cliff: neighbouring pixels differ by under 3 cm (the steepest is
    # where the far side of her turned face recedes, 2 cm per pixel at this size)
    for axis in (0, 1):
        inside = np.diff(person.astype(np.int8), axis=axis) == 0
        steps = np.abs(np.diff(depth, axis=axis))[inside & np.delete(person, 0, axis=axis)]
        assert steps.max() < 0.03


def test_doubling_the_focal_length_doubles_the_distance_not_the_face() -> None:
    short, long = mona_lisa_relief(900.0), mona_lisa_relief(1800.0)
    assert long.eye_distance_m == pytest.approx(2 * short.eye_distance_m, rel=1e-9)
    assert long.focal_source == "user"
    relief_short = short.landmark_depths - short.landmark_depths[NOSE_TIP]
    relief_long = long.landmark_depths - long.landmark_depths[NOSE_TIP]
    np.testing.assert_allclose(relief_long, relief_short, atol=1e-5)
    # 63 mm between the eyes, seen about 79 px apart at 900 px focal: about 0.72 m away
    assert short.eye_distance_m == pytest.approx(900 * 0.063 / 79.0, rel=0.03)


def test_no_face_is_an_input_error_saying_where_depth_can_come_from() -> None:
    grey = np.full((96, 96, 3), 128, np.uint8)
    with pytest.raises(NoFaceError) as caught:
        portrait_depth(grey)
    assert isinstance(caught.value, InputError)
    assert "--depth FILE" in caught.value.hint and "depth-pro" in caught.value.hint
    with pytest.raises(NoFaceError):
        portrait_depth(np.zeros((20, 20, 3), np.uint8))  # too small to hold a face


def test_a_face_that_does_not_exist_and_a_bad_focal_are_refused() -> None:
    with pytest.raises(InputError, match="--face 3 does not exist"):
        portrait_depth(mona_lisa(), face=3)
    with pytest.raises(InputError, match="focal length must be positive"):
        portrait_depth(mona_lisa(), focal_px=-5.0)
