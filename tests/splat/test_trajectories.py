"""Camera paths against SHARP's formulas and geometric invariants; stereo pairs and anaglyphs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from unflat.errors import ConfigError, InputError
from unflat.splat.stereo import anaglyph, comfortable_baseline, side_by_side, stereo_pair
from unflat.splat.trajectories import (
    TRAJECTORIES,
    DepthRange,
    TrajectoryOptions,
    depth_range_from_depth,
    depth_range_from_gaussians,
    make_trajectory,
    max_offsets_m,
)
from unflat.types import Camera, DepthMap, Gaussians

WIDTH, HEIGHT, FOCAL = 640, 480, 500.0
DEPTH = DepthRange(near=1.5, focus=3.0, far=20.0)


def source_camera() -> Camera:
    return Camera.pinhole(WIDTH, HEIGHT, FOCAL)


def centre(camera: Camera) -> np.ndarray:
    """Camera centre in world coordinates."""
    matrix = camera.world_to_camera.double().numpy()
    return -matrix[:3, :3].T @ matrix[:3, 3]


def project(camera: Camera, point: np.ndarray) -> np.ndarray:
    matrix = camera.world_to_camera.double().numpy()
    local = matrix[:3, :3] @ point + matrix[:3, 3]
    pixel = camera.K.double().numpy() @ local
    return pixel[:2] / pixel[2]


# SHARP: lateral = 0.08 * hypot(W/f, H/f) * near = 0.08 * 1.6 * 1.5; forward = 0.15 * near
SHARP_LATERAL = 0.08 * math.hypot(WIDTH / FOCAL, HEIGHT / FOCAL) * DEPTH.near
SHARP_FORWARD = 0.15 * DEPTH.near


def test_sharp_amplitudes() -> None:
    lateral, forward = max_offsets_m(source_camera(), DEPTH, TrajectoryOptions())
    assert lateral == pytest.approx(0.192) and lateral == pytest.approx(SHARP_LATERAL)
    assert forward == pytest.approx(0.225)
    overridden = max_offsets_m(source_camera(), DEPTH, TrajectoryOptions(amplitude_m=0.5))
    assert overridden == pytest.approx((0.5, 0.225))


@pytest.mark.parametrize("name", sorted(TRAJECTORIES))
@pytest.mark.parametrize("loop", [True, False])
def test_every_path_has_the_frames_and_valid_rotations(name: str, loop: bool) -> None:
    options = TrajectoryOptions(num_frames=24, repeats=2, loop=loop)
    cameras = make_trajectory(name, source_camera(), DEPTH, options)
    assert len(cameras) == 48
    for camera in cameras:
        rotation = camera.world_to_camera[:3, :3].double()
        assert torch.allclose(rotation @ rotation.T, torch.eye(3, dtype=torch.float64), atol=1e-6)
        assert torch.linalg.det(rotation).item() == pytest.approx(1.0, abs=1e-6)
        assert torch.equal(camera.world_to_camera[3], torch.tensor([0.0, 0.0, 0.0, 1.0]))
        assert (camera.width, camera.height) == (WIDTH, HEIGHT)
        assert camera.K.dtype == torch.float32


def test_frames_from_seconds_and_errors() -> None:
    assert TrajectoryOptions(seconds=2.5, fps=24).frames_per_cycle == 60
    assert TrajectoryOptions().total_frames == 60  # SHARP's num_steps
    with pytest.raises(ConfigError):
        _ = TrajectoryOptions(num_frames=10, seconds=1.0).frames_per_cycle
    with pytest.raises(ConfigError):
        _ = TrajectoryOptions(num_frames=1).frames_per_cycle
    with pytest.raises(ConfigError, match="unknown camera path"):
        make_trajectory("zoom", source_camera(), DEPTH)


def test_swipe_moves_along_x_by_the_amplitude() -> None:
    cameras = make_trajectory("swipe", source_camera(), DEPTH, TrajectoryOptions(loop=False))
    centres = np.array([centre(camera) for camera in cameras])
    assert centres[0] == pytest.approx([-SHARP_LATERAL, 0, 0], abs=1e-6)
    assert centres[-1] == pytest.approx([SHARP_LATERAL, 0, 0], abs=1e-6)
    assert np.allclose(np.diff(centres[:, 0]), 2 * SHARP_LATERAL / 59, atol=1e-6)  # linear
    assert np.abs(centres[:, 1:]).max() < 1e-6
    # look_at="point": every camera looks at (0, 0, max(2 m, focus)) = (0, 0, 3)
    for camera in cameras:
        assert project(camera, np.array([0.0, 0.0, 3.0])) == pytest.approx([320, 240], abs=1e-3)
    # "ahead": pure translation, no rotation
    ahead = make_trajectory(
        "swipe", source_camera(), DEPTH, TrajectoryOptions(loop=False, look_at="ahead")
    )
    assert all(torch.allclose(c.world_to_camera[:3, :3], torch.eye(3)) for c in ahead)


def test_focus_floor_of_two_metres() -> None:
    near_scene = DepthRange(near=0.5, focus=0.8, far=3.0)
    cameras = make_trajectory("swipe", source_camera(), near_scene, TrajectoryOptions(loop=False))
    assert project(cameras[0], np.array([0.0, 0.0, 2.0])) == pytest.approx([320, 240], abs=1e-3)


def test_looped_swipe_goes_there_and_back() -> None:
    cameras = make_trajectory("swipe", source_camera(), DEPTH, TrajectoryOptions(num_frames=40))
    x = np.array([centre(camera)[0] for camera in cameras])
    assert x[0] == pytest.approx(-SHARP_LATERAL) and x[20] == pytest.approx(SHARP_LATERAL)
    # one step past the last frame is the first: seamless when the video loops
    assert x[-1] == pytest.approx(-SHARP_LATERAL * math.cos(2 * math.pi * 39 / 40))


@pytest.mark.parametrize("name", ["rotate", "rotate_forward"])
def test_rotate_paths_follow_sharp(name: str) -> None:
    options = TrajectoryOptions(loop=False)
    cameras = make_trajectory(name, source_camera(), DEPTH, options)
    t = np.linspace(0, 1, 60)
    centres = np.array([centre(camera) for camera in cameras])
    if name == "rotate":
        expected = np.stack(
            [SHARP_LATERAL * np.sin(2 * np.pi * t), SHARP_LATERAL * np.cos(2 * np.pi * t), 0 * t], 1
        )
    else:
        expected = np.stack(
            [
                SHARP_LATERAL * np.sin(2 * np.pi * t),
                0 * t,
                SHARP_FORWARD * (1 - np.cos(2 * np.pi * t)) / 2,
            ],
            1,
        )
    assert np.allclose(centres, expected, atol=1e-6)
    # SHARP's sampling includes the end point: the last frame is the first
    assert torch.allclose(cameras[0].world_to_camera, cameras[-1].world_to_camera, atol=1e-6)
    looped = make_trajectory(name, source_camera(), DEPTH, TrajectoryOptions())
    step = np.linalg.norm(centre(looped[1]) - centre(looped[0]))
    closing = np.linalg.norm(centre(looped[0]) - centre(looped[-1]))
    assert closing == pytest.approx(step, rel=1e-3)  # the loop closes with one ordinary step
    assert np.linalg.norm(centre(looped[30]) - expected[0]) > SHARP_LATERAL  # halfway is far


def test_shake_is_x_then_y() -> None:
    cameras = make_trajectory("shake", source_camera(), DEPTH, TrajectoryOptions(num_frames=40))
    centres = np.array([centre(camera) for camera in cameras])
    assert np.abs(centres[:20, 1]).max() < 1e-6 and np.abs(centres[20:, 0]).max() < 1e-6
    assert centres[:20, 0].max() == pytest.approx(SHARP_LATERAL, rel=1e-6)  # t = 5/20
    assert centres[20:, 1].min() == pytest.approx(-SHARP_LATERAL, rel=1e-6)


def test_orbit_keeps_its_distance_to_the_pivot() -> None:
    options = TrajectoryOptions(num_frames=30, amplitude_m=1.0)
    cameras = make_trajectory("orbit", source_camera(), DEPTH, options)
    pivot = np.array([0.0, 0.0, DEPTH.focus])
    distances = [np.linalg.norm(centre(camera) - pivot) for camera in cameras]
    assert np.allclose(distances, DEPTH.focus, atol=1e-6)
    for camera in cameras:
        assert project(camera, pivot) == pytest.approx([320, 240], abs=1e-3)
    x = np.array([centre(camera)[0] for camera in cameras])
    assert x.max() == pytest.approx(1.0, rel=0.02)  # reaches the lateral amplitude
    assert centre(cameras[0]) == pytest.approx([0, 0, 0], abs=1e-9)


def test_dolly_zoom_keeps_the_subject_size_and_changes_the_background() -> None:
    cameras = make_trajectory("dolly_zoom", source_camera(), DEPTH, TrajectoryOptions())
    subject = [np.array([-0.3, 0.1, DEPTH.focus]), np.array([0.3, 0.1, DEPTH.focus])]
    background = [np.array([-2.0, 0.0, 15.0]), np.array([2.0, 0.0, 15.0])]

    def size(camera: Camera, pair: list[np.ndarray]) -> float:
        return float(np.linalg.norm(project(camera, pair[0]) - project(camera, pair[1])))

    subject_sizes = [size(camera, subject) for camera in cameras]
    background_sizes = [size(camera, background) for camera in cameras]
    assert np.allclose(subject_sizes, 0.6 * FOCAL / DEPTH.focus, rtol=1e-5)
    # pulled back by 0.4 * 3 m and zoomed 1.4x: the background at 15 m grows by 1.4 * 15 / 16.2
    assert max(background_sizes) / background_sizes[0] == pytest.approx(1.4 * 15 / 16.2, rel=1e-3)
    focals = [float(camera.K[0, 0]) for camera in cameras]
    assert focals[0] == pytest.approx(FOCAL) and max(focals) == pytest.approx(1.4 * FOCAL)
    towards = make_trajectory("dolly_zoom", source_camera(), DEPTH, TrajectoryOptions(loop=False))
    z = [centre(camera)[2] for camera in towards]
    assert z[0] == pytest.approx(-1.2) and z[-1] == pytest.approx(0.0, abs=1e-9)
    assert np.all(np.diff(z) > 0)  # moves towards the subject
    with pytest.raises(ConfigError):
        make_trajectory("dolly_zoom", source_camera(), DEPTH, TrajectoryOptions(forward_m=-3.5))


def test_ken_burns_pushes_in_and_pans() -> None:
    options = TrajectoryOptions(loop=False, num_frames=50)
    cameras = make_trajectory("ken_burns", source_camera(), DEPTH, options)
    start, end = centre(cameras[0]), centre(cameras[-1])
    assert start == pytest.approx([-SHARP_LATERAL / 2, 0, 0], abs=1e-6)
    assert end == pytest.approx([SHARP_LATERAL / 2, 0, SHARP_FORWARD], abs=1e-6)
    assert all(torch.allclose(c.world_to_camera[:3, :3], torch.eye(3)) for c in cameras)


def test_source_pose_is_composed() -> None:
    moved = source_camera()
    moved.world_to_camera = torch.eye(4)
    moved.world_to_camera[:3, 3] = torch.tensor([1.0, 2.0, 3.0])
    cameras = make_trajectory("swipe", moved, DEPTH, TrajectoryOptions(loop=False))
    assert centre(cameras[0]) == pytest.approx([-1.0 - SHARP_LATERAL, -2.0, -3.0], abs=1e-5)


def test_depth_range_from_gaussians_and_depth_maps() -> None:
    z = torch.linspace(1.0, 10.0, 10_001)
    means = torch.stack([torch.zeros_like(z), torch.zeros_like(z), z], 1)
    means = torch.cat([means, torch.tensor([[0.0, 0.0, -5.0]])])  # behind: ignored
    n = len(means)
    gaussians = Gaussians(
        means=means,
        scales=torch.ones(n, 3),
        quats=torch.tensor([[1.0, 0, 0, 0]]).repeat(n, 1),
        colors=torch.ones(n, 3),
        opacities=torch.ones(n),
    )
    found = depth_range_from_gaussians(gaussians)
    assert (found.near, found.focus, found.far) == pytest.approx((1.009, 1.9, 9.991))
    depth = np.full((40, 50), np.nan, dtype=np.float32)
    depth[:20] = 2.0
    depth[20:] = 8.0
    from_map = depth_range_from_depth(DepthMap(depth=depth, focal_px=100.0))
    assert (from_map.near, from_map.focus, from_map.far) == pytest.approx((2.0, 2.0, 8.0))
    with pytest.raises(InputError):
        depth_range_from_depth(np.full((4, 4), np.nan))


def test_stereo_pair_baseline() -> None:
    left, right = stereo_pair(source_camera(), 0.065)
    assert centre(left) == pytest.approx([-0.0325, 0, 0], abs=1e-7)
    assert centre(right) == pytest.approx([0.0325, 0, 0], abs=1e-7)
    point = np.array([0.0, 0.0, 2.0])
    disparity = project(left, point)[0] - project(right, point)[0]
    assert disparity == pytest.approx(FOCAL * 0.065 / 2.0, rel=1e-5)
    assert comfortable_baseline(DEPTH) == pytest.approx(0.05)
    assert comfortable_baseline(DepthRange(3.0, 4.0, 9.0)) == pytest.approx(0.063)


def test_side_by_side_and_anaglyph() -> None:
    rng = np.random.default_rng(0)
    left = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    right = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    pair = side_by_side(left, right)
    assert pair.shape == (6, 16, 3)
    assert np.array_equal(pair[:, :8], left) and np.array_equal(pair[:, 8:], right)
    assert np.array_equal(side_by_side(left, right, cross_eyed=True)[:, :8], right)
    colour = anaglyph(left, right, method="color")
    assert np.array_equal(colour[..., 0], left[..., 0])
    assert np.array_equal(colour[..., 1:], right[..., 1:])
    white, black = np.full((2, 2, 3), 255, np.uint8), np.zeros((2, 2, 3), np.uint8)
    # Dubois: the left view goes to red only, the right view to green and blue only
    assert anaglyph(white, black)[0, 0].tolist() == [255, 0, 0]
    assert anaglyph(black, white)[0, 0].tolist() == [0, 255, 255]
    grey = np.full((2, 2, 3), 128, np.uint8)
    mixed = anaglyph(grey, grey)[0, 0].astype(int)
    assert mixed[0] > 100 and mixed[1] > 100 and mixed[2] > 100
    with pytest.raises(ValueError):
        anaglyph(left, right[:, :4])
