"""The shared data types' own constructors and checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from unflat.errors import InputError
from unflat.io.gaussians import save_gaussians
from unflat.splat.render import render
from unflat.types import Camera, Gaussians


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


def scene(count: int = 4) -> Gaussians:
    return Gaussians(
        means=torch.zeros(count, 3),
        scales=torch.ones(count, 3),
        quats=torch.tensor([[1.0, 0.0, 0.0, 0.0]]).repeat(count, 1),
        colors=torch.full((count, 3), 0.5),
        opacities=torch.ones(count),
    )


def test_gaussians_validate_names_the_field() -> None:
    scene().validate()
    bad = scene()
    bad.colors = torch.zeros(2, 3)
    with pytest.raises(InputError, match=r"colors has shape \(2, 3\), expected \(4, 3\)"):
        bad.validate()
    bad = scene()
    bad.opacities = bad.opacities.long()
    with pytest.raises(InputError, match=r"opacities is torch\.int64"):
        bad.validate()
    bad = scene()
    bad.scales[1, 2] = float("nan")
    with pytest.raises(InputError, match="scales has 1 non-finite"):
        bad.validate()
    bad.validate(values=False)  # the scan of values is skipped
    assert bad.nonfinite().tolist() == [False, True, False, False]
    assert scene(0).nonfinite().shape == (0,)


def test_writers_and_the_renderer_share_the_validation(tmp_path: Path) -> None:
    bad = scene()
    bad.quats = torch.zeros(4, 3)
    message = r"Gaussians.quats has shape \(4, 3\), expected \(4, 4\)"
    with pytest.raises(InputError, match=message):
        save_gaussians(tmp_path / "scene.ply", bad)
    with pytest.raises(InputError, match=message):
        render(bad, Camera.pinhole(8, 8, 10.0))
    assert list(tmp_path.iterdir()) == []
