"""Procedural faces: distinct, reproducible identities that move and talk as their landmarks say."""

from __future__ import annotations

import numpy as np

from unflat.face.fewshot.synthetic import Pose, SyntheticFaces, identity_face, posed_landmarks
from unflat.face_mesh import MOUTH_INNER, interocular


def test_videos_are_reproducible_and_identities_distinct() -> None:
    faces = SyntheticFaces(3, frames=4, size=48, seed=5)
    frames, landmarks = faces.video(1)
    assert frames.shape == (4, 48, 48, 3) and landmarks.shape == (4, 478, 2)
    again = SyntheticFaces(3, frames=4, size=48, seed=5).video(1)
    np.testing.assert_array_equal(again[0], frames)
    assert faces.identity(0) != faces.identity(1)
    # Different people look different: mean colour differs well beyond video noise.
    means = [faces.video(v)[0].reshape(-1, 3).mean(0) for v in range(3)]
    assert min(np.abs(means[a] - means[b]).sum() for a, b in ((0, 1), (0, 2), (1, 2))) > 10
    # The whole face stays in the frame.
    assert landmarks.min() > 0 and landmarks.max() < 48


def test_pose_and_mouth_follow_the_parameters() -> None:
    face = identity_face(SyntheticFaces(1).identity(0))
    rest = posed_landmarks(face, Pose(), 64)
    open_mouth = posed_landmarks(face, Pose(mouth=1.0), 64)
    gap = lambda p: p[MOUTH_INNER[1], 1] - p[MOUTH_INNER[0], 1]  # noqa: E731
    # Fully open: the jaw drops 1.6 cm of a face 17.7 cm tall drawn 0.62 x 64 px high.
    assert abs(gap(open_mouth) - gap(rest) - 1.6 * 0.62 * 64 / 17.66) < 0.3
    turned = posed_landmarks(face, Pose(roll=90.0), 64)
    # A quarter roll turns the eye line vertical, keeping its length.
    eyes = turned[[33, 263]]
    assert abs(eyes[0, 0] - eyes[1, 0]) < 0.5
    np.testing.assert_allclose(interocular(turned), interocular(rest), rtol=1e-4)
