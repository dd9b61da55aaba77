"""The few-shot square: the procedural faces' framing, measured on their own landmarks."""

from __future__ import annotations

import numpy as np

from unflat.face.fewshot.framing import (
    CENTRE_DROP,
    FACE_SHARE,
    clip_square,
    cut,
    face_square,
    to_square,
)
from unflat.face.fewshot.synthetic import SyntheticFaces
from unflat.face_mesh import MESH_POINTS


def test_a_procedural_face_is_framed_as_it_was_drawn() -> None:
    faces = SyntheticFaces(1, frames=1, size=64)
    frames, landmarks = faces.frames(0, [0])
    square = face_square(landmarks[0])
    # the mesh's height is FACE_SHARE of the side, its centre CENTRE_DROP below the middle
    points = to_square(square, landmarks[0], 64)[:MESH_POINTS]
    height = float(np.ptp(points[:, 1]))
    assert abs(height - FACE_SHARE * 64) < 1e-3
    middle = (points.min(axis=0) + points.max(axis=0)) / 2
    assert abs(middle[1] - 32 - CENTRE_DROP * 64) < 1e-3
    # the drawn face fills a frame of about that framing: the square is near the whole frame
    assert abs(square.side - 64) < 12 and np.all(np.abs(square.centre - 32) < 8)
    assert cut(square, frames[0], 32).shape == (32, 32, 3)


def test_a_clip_square_is_upright_and_the_mean_of_its_frames() -> None:
    faces = SyntheticFaces(1, frames=4, size=64)
    _, landmarks = faces.frames(0, [0, 1, 2, 3])
    square = clip_square(landmarks)
    assert np.array_equal(square.axes, np.eye(2))
    sides = [face_square(frame, rotate=False).side for frame in landmarks]
    assert abs(square.side - np.mean(sides)) < 1e-9


def test_points_map_into_the_crop_as_the_cut_does() -> None:
    image = np.zeros((100, 120, 3), np.uint8)
    image[40, 70] = 255  # one bright pixel, centred at (70.5, 40.5)
    faces = SyntheticFaces(1, frames=1, size=64)
    _, landmarks = faces.frames(0, [0])
    square = face_square(landmarks[0] + np.array([40, 20], np.float32))
    crop = cut(square, image, 64).astype(float).sum(axis=2)
    y, x = np.unravel_index(np.argmax(crop), crop.shape)
    point = to_square(square, np.array([[70.5, 40.5]]), 64)[0]
    assert abs(x + 0.5 - point[0]) <= 1.0 and abs(y + 0.5 - point[1]) <= 1.0
