"""The landmark reader for procedural faces: its error measure, and that training teaches it."""

from __future__ import annotations

import numpy as np
import torch

from unflat.face.fewshot.landmark_reader import (
    POINTS,
    LandmarkReader,
    landmark_error,
    train_reader,
)
from unflat.face.fewshot.synthetic import SyntheticFaces

torch.set_num_threads(1)


class _Fixed(LandmarkReader):
    """Finds every point at (10, 20)."""

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return torch.tensor([10.0, 20.0]).expand(len(frames), len(POINTS), 2)


def test_error_is_the_mean_distance_in_pixels() -> None:
    landmarks = np.zeros((2, 478, 2), np.float32)
    landmarks[0, :] = (13, 24)  # 3-4-5: 5 px away
    landmarks[1, :] = (10, 20)  # found exactly
    assert landmark_error(_Fixed(), torch.zeros(2, 3, 32, 32), landmarks) == 2.5


def test_training_teaches_the_reader_where_the_points_are() -> None:
    faces = SyntheticFaces(2, frames=6, size=32, seed=77)
    frames, landmarks = faces.video(0)
    images = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255
    torch.manual_seed(0)
    untrained = landmark_error(LandmarkReader().eval(), images, landmarks)
    reader = train_reader(32, identities=8, frames=6, steps=120, batch_size=16)
    trained = landmark_error(reader, images, landmarks)
    # Unseen identities at 32 px: from ~8 px (the frame's centre) to a few pixels.
    assert trained < 0.6 * untrained and trained < 4.0
    assert reader(images).shape == (6, len(POINTS), 2)
