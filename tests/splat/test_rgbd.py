"""Scenes from a photo and its depth: geometry of the discs, the background layer, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unflat.colour import linear_to_srgb
from unflat.errors import InputError
from unflat.geometry.rotations import quaternion_to_rotation, rotation_to_quaternion
from unflat.image_quality import psnr
from unflat.splat import render
from unflat.splat.inpaint import background_behind_edges
from unflat.splat.rgbd import RGBD_EPS2D, THICKNESS, fill_depth_holes, from_rgbd
from unflat.types import Camera

WIDTH, HEIGHT, FOCAL = 64, 48, 60.0
K = np.array([[FOCAL, 0, WIDTH / 2], [0, FOCAL, HEIGHT / 2], [0, 0, 1]])


def textured(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (HEIGHT // 4, WIDTH // 4, 3), dtype=np.uint8)
    return np.kron(small, np.ones((4, 4, 1), dtype=np.uint8))


def source_camera() -> Camera:
    return Camera.pinhole(WIDTH, HEIGHT, FOCAL)


def test_flat_wall_gives_one_disc_per_pixel_centre() -> None:
    depth = np.full((HEIGHT, WIDTH), 2.0)
    gaussians = from_rgbd(textured(), depth, K)
    assert len(gaussians) == WIDTH * HEIGHT  # no edge, so no background layer
    row, column = 7, 11
    mean = gaussians.means[row * WIDTH + column].double()
    expected = [(column + 0.5 - WIDTH / 2) / FOCAL * 2, (row + 0.5 - HEIGHT / 2) / FOCAL * 2, 2]
    assert torch.allclose(mean, torch.tensor(expected, dtype=torch.float64), atol=1e-6)
    footprint = 2.0 / FOCAL
    scales = gaussians.scales.sort(dim=1, descending=True).values
    expected_scales = torch.tensor([0.45 * footprint, 0.45 * footprint, THICKNESS * footprint])
    assert torch.allclose(scales, expected_scales.expand_as(scales), rtol=1e-4)
    assert torch.all(gaussians.opacities == 1)


def test_source_view_is_reproduced() -> None:
    # Smooth colours: splats soften one-pixel detail, which is not what this test is about.
    ramp = np.linspace(0, 255, WIDTH)[None, :] * np.ones((HEIGHT, 1))
    image = np.stack([ramp, ramp[::-1], np.full_like(ramp, 128)], axis=-1).astype(np.uint8)
    depth = 2.0 + np.linspace(0, 1, WIDTH)[None, :] * np.ones((HEIGHT, 1))
    gaussians = from_rgbd(image, depth, K)
    result = render(gaussians, source_camera(), eps2d=RGBD_EPS2D)
    shown = np.clip(linear_to_srgb(result.color.numpy()), 0, 1)
    assert psnr(shown, image / 255.0) > 30.0
    assert float(result.alpha.min()) > 0.98


def test_discs_lie_in_a_slanted_surface() -> None:
    # A plane z = 2 + 0.5 x (x in metres): its normal is (-0.5, 0, 1) normalised.
    columns = (np.arange(WIDTH) + 0.5 - WIDTH / 2) / FOCAL
    depth = np.broadcast_to(2.0 / (1.0 - 0.5 * columns)[None, :], (HEIGHT, WIDTH)).copy()
    gaussians = from_rgbd(textured(), depth, K, background=False)
    rotations = quaternion_to_rotation(gaussians.quats.double())
    thinnest = gaussians.scales.argmin(dim=1)
    normals = rotations[torch.arange(len(rotations)), :, thinnest]
    expected = torch.tensor([-0.5, 0.0, 1.0], dtype=torch.float64)
    expected /= expected.norm()
    alignment = (normals @ expected).abs()
    assert float(alignment.min()) > 0.9999


def test_background_layer_holds_the_far_surface_behind_a_near_box() -> None:
    depth = np.full((HEIGHT, WIDTH), 4.0)
    depth[16:32, 24:40] = 1.0
    image = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    image[...] = (200, 40, 40)
    image[16:32, 24:40] = (20, 200, 20)
    gaussians = from_rgbd(image, depth, K, background_radius=6)
    # The band within 6 px of the box's rim; the wall has nothing behind it.
    assert len(gaussians) - WIDTH * HEIGHT == 16 * 16 - 4 * 4
    back = slice(WIDTH * HEIGHT, None)
    assert torch.allclose(gaussians.means[back, 2], torch.tensor(4.0))
    shown = linear_to_srgb(gaussians.colors[back].numpy()) * 255
    assert np.allclose(shown, [200, 40, 40], atol=0.5)


def test_inpainting_takes_the_nearest_surface_behind() -> None:
    # Three layers: wall (6 m, red), a panel (3 m, blue) and a box (1 m, green) on the panel.
    depth = np.full((40, 60), 6.0, np.float32)
    depth[5:35, 10:50] = 3.0
    depth[15:25, 25:35] = 1.0
    rgb = np.zeros((40, 60, 3), np.float32)
    rgb[...] = (1, 0, 0)
    rgb[5:35, 10:50] = (0, 0, 1)
    rgb[15:25, 25:35] = (0, 1, 0)
    layer = background_behind_edges(rgb, depth, radius=4)
    box = layer.mask[15:25, 25:35]
    assert box.sum() == 10 * 10 - 2 * 2  # all but the centre, 5 px from every edge
    assert np.allclose(layer.rgb[15:25, 25:35][box], (0, 0, 1))  # the panel, not the wall
    assert np.allclose(layer.depth[15:25, 25:35][box], 3.0)
    panel_band = layer.mask[5:35, 10:50] & (depth[5:35, 10:50] == 3.0)
    assert panel_band.any()
    assert np.allclose(layer.rgb[5:35, 10:50][panel_band], (1, 0, 0))  # behind the panel: wall
    assert not layer.mask[0:5].any()  # the wall has nothing behind it


def test_holes_take_the_farthest_neighbouring_depth() -> None:
    depth = np.full((10, 10), 2.0)
    depth[:, 5:] = 5.0
    depth[4:6, 4:6] = np.nan
    filled = fill_depth_holes(depth)
    assert np.isfinite(filled).all()
    assert filled[4, 4] == 5.0 and filled[5, 5] == 5.0


def test_rotation_to_quaternion_inverts_quaternion_to_rotation() -> None:
    generator = torch.Generator().manual_seed(0)
    quats = torch.randn(500, 4, generator=generator, dtype=torch.float64)
    # Include half turns (w = 0), where naive formulas divide by zero.
    quats[:3] = torch.tensor([[0, 1, 0, 0], [0, 0, 1, 0], [0, 0.6, 0, 0.8]], dtype=torch.float64)
    quats = quats / quats.norm(dim=1, keepdim=True)
    quats = torch.where(quats[:, :1] < 0, -quats, quats)
    back = rotation_to_quaternion(quaternion_to_rotation(quats))
    same = torch.minimum((back - quats).abs().amax(1), (back + quats).abs().amax(1))
    assert float(same.max()) < 1e-12


@pytest.mark.parametrize(
    ("image", "depth", "intrinsics", "message"),
    [
        (np.zeros((48, 64, 3), np.float32), np.ones((48, 64)), K, "uint8"),
        (np.zeros((48, 64, 3), np.uint8), np.ones((24, 32)), K, "32x24 but the photo is 64x48"),
        (np.zeros((48, 64, 3), np.uint8), np.full((48, 64), 2500.0), K, "not a distance"),
        (np.zeros((48, 64, 3), np.uint8), np.full((48, 64), np.nan), K, "valid depth"),
        (np.zeros((48, 64, 3), np.uint8), np.ones((48, 64)), -K, "pinhole"),
    ],
)
def test_bad_input_is_one_clear_error(image, depth, intrinsics, message) -> None:
    with pytest.raises(InputError, match=message):
        from_rgbd(image, depth, intrinsics)
