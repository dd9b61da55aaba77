"""The torch and numba renderers against the brute-force reference and hand-computed cases."""

from __future__ import annotations

import functools
import math
import sys

import pytest
import torch

from unflat.errors import ConfigError, InputError
from unflat.splat import Render, render
from unflat.splat import render as render_any_backend
from unflat.splat.render.reference import render_reference
from unflat.splat.render.torch import render_torch
from unflat.types import Camera, Gaussians

WIDTH, HEIGHT = 64, 48


@pytest.fixture(params=["torch", "cpu"], autouse=True)
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run every test here once per CPU backend; a test's own ``backend=`` still wins."""
    module = sys.modules[__name__]
    monkeypatch.setattr(
        module, "render", functools.partial(render_any_backend, backend=request.param)
    )
    return request.param


def make_camera(
    world_to_camera: torch.Tensor | None = None, focal: float = 50.0, cx: float = 32.0
) -> Camera:
    return Camera.pinhole(WIDTH, HEIGHT, focal, cx=cx, cy=24.0, world_to_camera=world_to_camera)


def look_at(eye: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """World-to-camera matrix for an OpenCV camera at ``eye`` looking at ``target``."""
    forward = torch.nn.functional.normalize(target - eye, dim=0)
    right = torch.nn.functional.normalize(
        torch.linalg.cross(forward, torch.tensor([0.0, 1, 0])), dim=0
    )
    down = torch.linalg.cross(forward, right)
    rotation = torch.stack([right, down, forward])  # rows: camera axes in world coordinates
    matrix = torch.eye(4)
    matrix[:3, :3] = rotation
    matrix[:3, 3] = -rotation @ eye
    return matrix


def single(
    mean: tuple[float, float, float],
    scale: float,
    opacity: float = 0.8,
    color: tuple[float, float, float] = (0.2, 0.5, 0.9),
) -> Gaussians:
    return Gaussians(
        means=torch.tensor([mean]),
        scales=torch.full((1, 3), scale),
        quats=torch.tensor([[1.0, 0.0, 0.0, 0.0]]),
        colors=torch.tensor([color]),
        opacities=torch.tensor([opacity]),
    )


def random_scene(seed: int, count: int) -> tuple[Gaussians, Camera]:
    generator = torch.Generator().manual_seed(seed)

    def uniform(*shape: int, low: float = 0.0, high: float = 1.0) -> torch.Tensor:
        return low + (high - low) * torch.rand(*shape, generator=generator)

    gaussians = Gaussians(
        means=uniform(count, 3, low=-1.0, high=1.0),
        scales=torch.exp(uniform(count, 3, low=math.log(0.01), high=math.log(0.3))),
        quats=torch.randn(count, 4, generator=generator),
        colors=uniform(count, 3),
        opacities=uniform(count, low=0.02, high=1.0),
    )
    direction = torch.nn.functional.normalize(torch.randn(3, generator=generator), dim=0)
    eye = direction * float(uniform(1, low=1.5, high=3.5))  # some scenes have Gaussians behind
    target = uniform(3, low=-0.3, high=0.3)
    camera = make_camera(look_at(eye, target), focal=float(uniform(1, low=30.0, high=80.0)))
    return gaussians, camera


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a.double() - b.double()) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


@pytest.mark.parametrize(
    ("seed", "count", "eps2d"), [(0, 50, 0.3), (1, 120, 0.3), (2, 200, 0.0), (3, 300, 0.3)]
)
def test_matches_reference(seed: int, count: int, eps2d: float) -> None:
    gaussians, camera = random_scene(seed, count)
    fast = render(gaussians, camera, eps2d=eps2d, background=(0.1, 0.2, 0.3))
    slow = render_reference(gaussians, camera, eps2d=eps2d, background=(0.1, 0.2, 0.3))
    assert fast.color.shape == (HEIGHT, WIDTH, 3)
    assert float(slow.alpha.max()) > 0.5  # the scene is really in view
    assert psnr(fast.color, slow.color) >= 45
    assert float((fast.alpha.double() - slow.alpha).abs().max()) < 1e-4
    covered = slow.alpha > 0.05
    assert float((fast.depth.double() - slow.depth)[covered].abs().max()) < 1e-4


def test_chunking_does_not_change_the_image() -> None:
    # Chunks of 2 Gaussians per tile: early termination must carry across chunk boundaries.
    gaussians, camera = random_scene(4, 300)
    background = torch.zeros(3)
    whole = render_torch(gaussians, camera, background)
    chunked = render_torch(gaussians, camera, background, chunk_elements=2 * 256)
    torch.testing.assert_close(chunked.color, whole.color, atol=1e-5, rtol=0)
    torch.testing.assert_close(chunked.depth, whole.depth, atol=1e-4, rtol=0)


def test_single_gaussian_peak_by_hand() -> None:
    # On the optical axis at z = 2 with a principal point on a pixel centre (32.5, 24.5): the
    # projected std is focal * scale / z = 50 * 0.04 / 2 = 1 px, so Σ' = (1 + 0.3) I.
    camera = make_camera(cx=32.5)
    camera.K[1, 2] = 24.5
    result = render(single((0.0, 0.0, 2.0), 0.04), camera)
    assert isinstance(result, Render)
    row, column = divmod(int(result.alpha.argmax()), WIDTH)
    assert (row, column) == (24, 32)
    torch.testing.assert_close(result.color[24, 32], 0.8 * torch.tensor([0.2, 0.5, 0.9]))
    assert float(result.depth[24, 32]) == pytest.approx(2.0)
    # One pixel to the right: alpha = 0.8 exp(-1² / (2 * 1.3)).
    assert float(result.alpha[24, 33]) == pytest.approx(0.8 * math.exp(-0.5 / 1.3), rel=1e-5)
    assert float(result.alpha[24, 31]) == pytest.approx(0.8 * math.exp(-0.5 / 1.3), rel=1e-5)


def test_off_axis_peak_lands_in_projected_pixel() -> None:
    # u = 50 * 0.4 / 2 + 32 = 42.0 and v = 50 * -0.3 / 2 + 24 = 16.5: the centre of pixel row 16
    # and the border between columns 41 and 42, which must then be equally bright.
    result = render(single((0.4, -0.3, 2.0), 0.02, opacity=1.0), make_camera())
    assert int(result.alpha[:, 41:43].sum(1).argmax()) == 16
    assert float(result.alpha[16, 41]) == pytest.approx(float(result.alpha[16, 42]), rel=1e-4)
    assert float(result.alpha[16, 41]) > 0.5


def test_opacity_is_clamped_to_0_99() -> None:
    camera = make_camera(cx=32.5)
    camera.K[1, 2] = 24.5
    result = render(single((0.0, 0.0, 2.0), 0.04, opacity=1.0, color=(1.0, 1.0, 1.0)), camera)
    assert float(result.alpha[24, 32]) == pytest.approx(0.99)


def test_eps2d_widens_footprint_without_compensation() -> None:
    camera = make_camera(cx=32.5)
    camera.K[1, 2] = 24.5
    # A 2 px std Gaussian: Σ' = 4 I, or 4.3 I with the low-pass filter.
    gaussians = single((0.0, 0.0, 2.0), 0.08)
    sharp = render(gaussians, camera, eps2d=0.0)
    filtered = render(gaussians, camera, eps2d=0.3)
    # Plain 3DGS: the peak keeps its opacity (gsplat's antialiased mode would scale it by
    # sqrt(det Σ' / det(Σ' + 0.3 I)) = 4 / 4.3).
    assert float(sharp.alpha[24, 32]) == pytest.approx(0.8, rel=1e-5)
    assert float(filtered.alpha[24, 32]) == pytest.approx(0.8, rel=1e-5)
    assert float(filtered.alpha[24, 35]) == pytest.approx(0.8 * math.exp(-4.5 / 4.3), rel=1e-5)
    # The integrated footprint grows by the determinant ratio sqrt(det(Σ' + 0.3 I) / det Σ').
    ratio = float(filtered.alpha.sum() / sharp.alpha.sum())
    assert ratio == pytest.approx(4.3 / 4.0, rel=0.02)


def test_near_plane_culls() -> None:
    camera = make_camera()
    in_front = single((0.0, 0.0, 2.0), 0.1)
    alone = render(in_front, camera)
    for z in (-1.0, 0.005):  # behind the camera, and in front of it but closer than near
        behind = single((0.0, 0.0, z), 0.5, opacity=1.0)
        assert float(render(behind, camera).alpha.abs().max()) == 0.0
        both = Gaussians(*(torch.cat([getattr(in_front, f), getattr(behind, f)]) for f in
                           ("means", "scales", "quats", "colors", "opacities")))  # fmt: skip
        torch.testing.assert_close(render(both, camera).color, alone.color)
    assert float(render(single((0.0, 0.0, 0.005), 0.5), camera, near=0.001).alpha.max()) > 0


def test_empty_scene() -> None:
    empty = Gaussians(
        means=torch.zeros(0, 3),
        scales=torch.zeros(0, 3),
        quats=torch.zeros(0, 4),
        colors=torch.zeros(0, 3),
        opacities=torch.zeros(0),
    )
    result = render(empty, make_camera())
    assert result.color.shape == (HEIGHT, WIDTH, 3)
    assert float(result.color.abs().max()) == 0.0
    assert float(result.alpha.abs().max()) == 0.0
    assert float(result.depth.abs().max()) == 0.0
    white = render(empty, make_camera(), background=(1.0, 1.0, 1.0))
    torch.testing.assert_close(white.color, torch.ones(HEIGHT, WIDTH, 3))


def test_bad_inputs() -> None:
    camera = make_camera()
    gaussians = single((0.0, 0.0, 2.0), 0.1)
    gaussians.colors = torch.ones(2, 3)
    with pytest.raises(InputError, match=r"colors has shape \(2, 3\), expected \(1, 3\)"):
        render(gaussians, camera)
    gaussians = single((float("nan"), 0.0, 2.0), 0.1)
    with pytest.raises(InputError, match="means has 1 non-finite"):
        render(gaussians, camera)
    gaussians = single((0.0, 0.0, 2.0), 0.1)
    gaussians.opacities = torch.ones(1, 1)
    with pytest.raises(InputError, match="opacities has shape"):
        render(gaussians, camera)
    gaussians = single((0.0, 0.0, 2.0), 0.1)
    with pytest.raises(ConfigError, match="eps2d"):
        render(gaussians, camera, eps2d=-1.0)
    with pytest.raises(ConfigError, match="near plane"):
        render(gaussians, camera, near=0.0)
    with pytest.raises(ConfigError, match="unknown render backend"):
        render(gaussians, camera, backend="vulkan")
    with pytest.raises(ConfigError, match="background"):
        render(gaussians, camera, background=(1.0, 0.0))
    bad_camera = make_camera()
    bad_camera.K = torch.eye(4)
    with pytest.raises(InputError, match=r"Camera\.K"):
        render(gaussians, bad_camera)
