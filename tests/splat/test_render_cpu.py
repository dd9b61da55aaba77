"""The numba CPU rasteriser against the float64 reference, the torch backend and edge cases."""

from __future__ import annotations

import importlib
import math

import pytest
import torch

from tests.splat.test_render import (
    HEIGHT,
    WIDTH,
    look_at,
    make_camera,
    psnr,
    random_scene,
    single,
)
from unflat.splat import render
from unflat.splat.render.reference import render_reference
from unflat.types import Camera, Gaussians

FIELDS = ("means", "scales", "quats", "colors", "opacities")


def assert_matches_reference(
    gaussians: Gaussians,
    camera: Camera,
    backend: str = "cpu",
    min_psnr: float = 45.0,
    **options: float | tuple[float, float, float],
) -> None:
    fast = render(gaussians, camera, backend=backend, **options)
    slow = render_reference(gaussians, camera, **options)
    assert fast.color.shape == (camera.height, camera.width, 3)
    assert fast.alpha.shape == fast.depth.shape == (camera.height, camera.width)
    assert fast.color.dtype == torch.float32
    assert psnr(fast.color, slow.color) >= min_psnr
    assert float((fast.alpha.double() - slow.alpha).abs().max()) < 1e-4
    covered = slow.alpha > 0.05
    assert float((fast.depth.double() - slow.depth)[covered].abs().max()) < 1e-4


@pytest.mark.parametrize("backend", ["cpu", "torch"])
@pytest.mark.parametrize(
    ("seed", "count", "eps2d"), [(0, 50, 0.3), (1, 120, 0.3), (2, 200, 0.0), (3, 300, 0.3)]
)
def test_matches_reference(backend: str, seed: int, count: int, eps2d: float) -> None:
    # "torch" too: render()'s default now picks numba on the CPU, keep the torch path checked.
    gaussians, camera = random_scene(seed, count)
    assert float(render_reference(gaussians, camera).alpha.max()) > 0.5  # the scene is in view
    assert_matches_reference(
        gaussians, camera, backend=backend, eps2d=eps2d, background=(0.1, 0.2, 0.3)
    )


def test_matches_torch_on_a_medium_scene() -> None:
    generator = torch.Generator().manual_seed(7)
    count = 20_000
    gaussians = Gaussians(
        means=torch.rand(count, 3, generator=generator) * 2 - 1,
        scales=torch.exp(torch.empty(count, 3).uniform_(math.log(0.003), math.log(0.05),
                                                        generator=generator)),
        quats=torch.randn(count, 4, generator=generator),
        colors=torch.rand(count, 3, generator=generator),
        opacities=torch.rand(count, generator=generator),
    )  # fmt: skip
    eye = torch.tensor([0.3, -0.2, -2.5])
    camera = Camera.pinhole(320, 240, 260.0, world_to_camera=look_at(eye, torch.zeros(3)))
    fast = render(gaussians, camera, backend="cpu", background=(0.5, 0.5, 0.5))
    slow = render(gaussians, camera, backend="torch", background=(0.5, 0.5, 0.5))
    assert float(slow.alpha.mean()) > 0.5  # a busy image, with early termination in play
    assert psnr(fast.color, slow.color) >= 60
    # float32 rounding may flip a 1/255 cut or the T < 1e-4 stop in a rare pixel, which moves
    # its alpha by at most ~1/255; everywhere else the two agree to float32 precision.
    alpha_error = (fast.alpha - slow.alpha).abs()
    assert float(alpha_error.max()) < 5e-3
    assert float((alpha_error > 1e-4).float().mean()) < 1e-3
    covered = slow.alpha > 0.05
    depth_error = (fast.depth - slow.depth)[covered].abs()
    assert float((depth_error > 1e-4).float().mean()) < 1e-3


def test_auto_picks_numba_on_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    # By module path: the package attribute ``unflat.splat.render`` is the function.
    numba_cpu = importlib.import_module("unflat.splat.render.numba_cpu")
    calls = []
    original = numba_cpu.render_numba

    def spy(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(numba_cpu, "render_numba", spy)
    render(single((0.0, 0.0, 2.0), 0.1), make_camera())
    assert len(calls) == 1


def test_single_gaussian_peak_by_hand() -> None:
    # As in test_render: a 1 px std Gaussian on a pixel centre, Σ' = 1.3 I with eps2d = 0.3.
    camera = make_camera(cx=32.5)
    camera.K[1, 2] = 24.5
    result = render(single((0.0, 0.0, 2.0), 0.04), camera, backend="cpu")
    assert divmod(int(result.alpha.argmax()), WIDTH) == (24, 32)
    torch.testing.assert_close(result.color[24, 32], 0.8 * torch.tensor([0.2, 0.5, 0.9]))
    assert float(result.depth[24, 32]) == pytest.approx(2.0)
    assert float(result.alpha[24, 33]) == pytest.approx(0.8 * math.exp(-0.5 / 1.3), rel=1e-5)
    opaque = render(single((0.0, 0.0, 2.0), 0.04, opacity=1.0), camera, backend="cpu")
    assert float(opaque.alpha[24, 32]) == pytest.approx(0.99)


def test_empty_scene_is_background() -> None:
    empty = Gaussians(*(torch.zeros(0, width) for width in (3, 3, 4, 3)), torch.zeros(0))
    result = render(empty, make_camera(), backend="cpu", background=(0.25, 0.5, 1.0))
    torch.testing.assert_close(
        result.color, torch.tensor([0.25, 0.5, 1.0]).expand(HEIGHT, WIDTH, 3)
    )
    assert float(result.alpha.abs().max()) == 0.0
    assert float(result.depth.abs().max()) == 0.0


def test_all_behind_the_camera() -> None:
    gaussians, camera = random_scene(5, 100)
    gaussians.means[:, 2] = -gaussians.means[:, 2].abs() - 0.5
    camera.world_to_camera = torch.eye(4)
    result = render(gaussians, camera, backend="cpu", background=(0.0, 1.0, 0.0))
    assert float(result.alpha.abs().max()) == 0.0
    torch.testing.assert_close(result.color, torch.tensor([0.0, 1.0, 0.0]).expand(HEIGHT, WIDTH, 3))


def test_near_plane_culls() -> None:
    camera = make_camera()
    in_front = single((0.0, 0.0, 2.0), 0.1)
    too_close = single((0.0, 0.0, 0.005), 0.5, opacity=1.0)
    both = Gaussians(*(torch.cat([getattr(in_front, f), getattr(too_close, f)]) for f in FIELDS))
    alone = render(in_front, camera, backend="cpu")
    torch.testing.assert_close(render(both, camera, backend="cpu").color, alone.color)
    assert float(render(too_close, camera, backend="cpu", near=0.001).alpha.max()) > 0


def test_non_square_image_not_a_tile_multiple() -> None:
    gaussians, _ = random_scene(6, 250)
    world_to_camera = look_at(torch.tensor([0.5, -0.4, -2.8]), torch.zeros(3))
    camera = Camera.pinhole(37, 53, 40.0, cx=18.5, cy=27.0, world_to_camera=world_to_camera)
    assert_matches_reference(gaussians, camera, eps2d=0.3, background=(1.0, 1.0, 1.0))


def test_gaussian_straddling_tile_corner() -> None:
    # Centred on the corner shared by four 16x16 tiles (pixel coordinates (16, 16)): the four
    # pixels around it are equally bright, and the splat matches the reference across borders.
    camera = Camera.pinhole(WIDTH, HEIGHT, 50.0, cx=16.0, cy=16.0)
    gaussians = single((0.0, 0.0, 2.0), 0.12, opacity=0.9)  # 3 px std: ~10 px footprint radius
    result = render(gaussians, camera, backend="cpu")
    corner = result.alpha[15:17, 15:17]
    torch.testing.assert_close(corner, corner[0, 0].expand(2, 2), rtol=1e-6, atol=0)
    assert float(result.alpha[15, 15]) == pytest.approx(0.9 * math.exp(-0.25 / 9.3), rel=1e-5)
    # 5.5 px from the centre on both axes, inside each of the four tiles: 0.9 exp(-30.25 / 9.3).
    inside = result.alpha[[10, 10, 21, 21], [10, 21, 10, 21]]
    torch.testing.assert_close(inside, torch.full((4,), 0.9 * math.exp(-30.25 / 9.3)))
    assert_matches_reference(gaussians, camera, min_psnr=60.0)


def test_tensor_inputs_are_not_modified_and_may_be_strided() -> None:
    gaussians, camera = random_scene(8, 80)
    before = [getattr(gaussians, f).clone() for f in FIELDS]
    strided = Gaussians(
        means=torch.stack([gaussians.means] * 2, dim=-1).reshape(-1, 6)[:, ::2],
        scales=gaussians.scales.double(),
        quats=gaussians.quats,
        colors=gaussians.colors,
        opacities=gaussians.opacities,
    )
    result = render(strided, camera, backend="cpu")
    plain = render(gaussians, camera, backend="cpu")
    torch.testing.assert_close(result.color, plain.color)
    for name, old in zip(FIELDS, before, strict=True):
        assert torch.equal(getattr(gaussians, name), old)
