"""The shared data types' own constructors and checks."""

from __future__ import annotations

import torch

from unflat.types import Camera


def test_pinhole_camera_defaults_to_the_image_centre_and_identity_pose() -> None:
    camera = Camera.pinhole(640, 481, 500.0)
    expected = torch.tensor([[500.0, 0.0, 320.0], [0.0, 500.0, 240.5], [0.0, 0.0, 1.0]])
    assert camera.K.dtype == torch.float32 and torch.equal(camera.K, expected)
    assert torch.equal(camera.world_to_camera, torch.eye(4))
    assert (camera.width, camera.height) == (640, 481)


def test_pinhole_camera_with_principal_point_and_pose() -> None:
    pose = torch.eye(4, dtype=torch.float64)
    pose[0, 3] = 0.25
    camera = Camera.pinhole(37, 53, 40, cx=18.0, cy=27.5, world_to_camera=pose)
    assert camera.K[0, 2] == 18.0 and camera.K[1, 2] == 27.5 and camera.K[1, 1] == 40.0
    assert camera.world_to_camera is pose
