"""The still stereo pair of a spatial photo: the window disparity by hand, the two eyes of the
source camera, and the photo's mode kept out of the video path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unflat.errors import ConfigError
from unflat.splat.stereo import stereo_pair, window_disparity
from unflat.splat.video import VideoOptions, render_frames, render_stereo_still
from unflat.types import Camera, Gaussians


def test_window_disparity_is_the_disparity_of_that_depth() -> None:
    # f = 100 px, 6.4 cm apart, 2 m away: 3.2 px of a 160 px wide image
    assert window_disparity(100.0, 160, 0.064, 2.0) == pytest.approx(3.2 / 160)
    left, right = stereo_pair(Camera.pinhole(160, 120, 100.0), 0.064)
    point = torch.tensor([0.3, -0.1, 2.0, 1.0])
    xs = [(camera.K @ (camera.world_to_camera @ point)[:3]) for camera in (left, right)]
    measured = float(xs[0][0] / xs[0][2] - xs[1][0] / xs[1][2])
    assert measured / 160 == pytest.approx(window_disparity(100.0, 160, 0.064, 2.0), rel=1e-5)
    with pytest.raises(ValueError):
        window_disparity(100.0, 160, 0.064, 0.0)


def _one_gaussian(x: float, depth: float) -> Gaussians:
    """One opaque white blob ``depth`` metres ahead of the source camera, ``x`` to its side."""
    return Gaussians(
        means=torch.tensor([[x, 0.0, depth]]),
        scales=torch.full((1, 3), 0.02),
        quats=torch.tensor([[1.0, 0.0, 0.0, 0.0]]),
        opacities=torch.tensor([0.99]),
        colors=torch.ones(1, 3),
    )


def test_the_still_pair_sees_the_scene_from_both_eyes() -> None:
    source = Camera.pinhole(96, 64, 100.0)
    options = VideoOptions(stereo="spatial", baseline_m=0.1, backend="cpu", eps2d=0.3)
    left, right, camera = render_stereo_still(_one_gaussian(0.0, 2.0), source, options)
    assert left.shape == right.shape == (64, 96, 3)
    assert (camera.width, camera.height) == (96, 64)
    columns = [np.average(np.arange(96), weights=image[..., 0].sum(0)) for image in (left, right)]
    # the blob lies f * b / z = 100 * 0.1 / 2 = 5 px apart, further right in the left eye
    assert columns[0] - columns[1] == pytest.approx(5.0, abs=0.3)
    assert (columns[0] + columns[1]) / 2 == pytest.approx(47.5, abs=0.3)


def test_the_spatial_mode_is_not_a_video() -> None:
    options = VideoOptions(stereo="spatial")
    options.check()  # a valid mode
    with pytest.raises(ConfigError, match="still photo"):
        next(render_frames(_one_gaussian(0.0, 2.0), [Camera.pinhole(96, 64, 100.0)], options))
