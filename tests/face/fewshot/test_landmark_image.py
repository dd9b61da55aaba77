"""Landmark images: each part of the mesh drawn in its own colour where its points are."""

from __future__ import annotations

import numpy as np

from unflat.face.canonical import reference_face
from unflat.face.fewshot.landmark_image import PARTS, draw_landmarks, landmark_images
from unflat.face_mesh import OUTER_LIP


def _mesh(size: int) -> np.ndarray:
    points = reference_face()[:, :2]
    centre, extent = points.mean(0), (points.max(0) - points.min(0)).max()
    return (points - centre) / extent * size * 0.8 + size / 2


def test_parts_drawn_in_their_colours_at_their_points() -> None:
    mesh = _mesh(128)
    image = draw_landmarks(mesh, 128)
    assert image.shape == (128, 128, 3) and image.dtype == np.uint8
    colours = {colour for _, _, colour in PARTS}
    assert len(colours) == len(PARTS)  # every part tells itself apart
    x, y = np.round(mesh[OUTER_LIP[5]]).astype(int)
    lip = np.array(next(c for indices, _, c in PARTS if indices == OUTER_LIP))
    patch = image[y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3).astype(int)
    assert np.abs(patch - lip).sum(axis=1).min() < 60
    # Far from every part (a corner) the image is black; the lines cover a small share.
    assert image[:5, :5].max() == 0 and 0.01 < (image.max(axis=2) > 0).mean() < 0.2


def test_batched_tensor_matches_the_single_drawing() -> None:
    meshes = np.stack([_mesh(64), _mesh(64) + 3])
    images = landmark_images(meshes, 64)
    assert images.shape == (2, 3, 64, 64) and images.max() <= 1
    np.testing.assert_array_equal(
        (images[1].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8),
        draw_landmarks(meshes[1], 64),
    )
