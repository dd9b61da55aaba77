"""The gsplat backend: argument mapping with a stand-in rasteriser, and gsplat itself on CUDA."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from tests.splat.test_render import make_camera, psnr, random_scene, single
from unflat.errors import ConfigError
from unflat.splat import render
from unflat.splat.render.gsplat import rasterization_arguments, render_with


def fake_rasterization(calls: list[dict]):
    """A stand-in with gsplat's signature and output shapes: colour 0.25, depth 3, alpha 0.5."""

    def rasterization(**kwargs):
        calls.append(kwargs)
        cameras, height, width = kwargs["viewmats"].shape[0], kwargs["height"], kwargs["width"]
        channels = kwargs["colors"].shape[-1] + 1  # "RGB+ED" appends the depth channel
        colors = torch.full((cameras, height, width, channels), 0.25)
        colors[..., -1] = 3.0
        alphas = torch.full((cameras, height, width, 1), 0.5)
        return colors, alphas, {}

    return rasterization


def test_arguments_follow_gsplat_conventions() -> None:
    gaussians, camera = random_scene(0, 30)
    gaussians.scales = gaussians.scales.double()  # converted to float32 for the CUDA kernels
    background = torch.tensor([0.1, 0.2, 0.3])
    arguments = rasterization_arguments(gaussians, camera, background, near=0.05, eps2d=0.0)
    for name in ("means", "quats", "scales", "colors", "opacities"):
        tensor = arguments[name]
        assert tensor.dtype == torch.float32 and tensor.is_contiguous()
        torch.testing.assert_close(tensor, getattr(gaussians, name).float())
    assert arguments["quats"].shape == (30, 4)  # w, x, y, z: gsplat's order too
    assert arguments["opacities"].shape == (30,)
    torch.testing.assert_close(arguments["viewmats"], camera.world_to_camera[None])
    torch.testing.assert_close(arguments["Ks"], camera.K[None])
    torch.testing.assert_close(arguments["backgrounds"], background[None])
    assert (arguments["width"], arguments["height"]) == (camera.width, camera.height)
    assert arguments["near_plane"] == 0.05 and arguments["eps2d"] == 0.0
    assert arguments["sh_degree"] is None
    assert arguments["render_mode"] == "RGB+ED"
    assert arguments["rasterize_mode"] == "classic"  # no antialiasing opacity compensation
    assert arguments["packed"] is False
    assert arguments["tile_size"] == 16


def test_outputs_are_unpacked() -> None:
    calls: list[dict] = []
    camera = make_camera()
    result = render_with(
        fake_rasterization(calls), single((0.0, 0.0, 2.0), 0.1), camera, torch.zeros(3)
    )
    assert len(calls) == 1
    assert result.color.shape == (camera.height, camera.width, 3)
    assert result.alpha.shape == result.depth.shape == (camera.height, camera.width)
    assert float(result.color.max()) == float(result.color.min()) == 0.25
    assert float(result.alpha.mean()) == 0.5
    assert float(result.depth.mean()) == 3.0


def test_gsplat_needs_cuda_tensors() -> None:
    with pytest.raises(ConfigError, match="gsplat"):
        render(single((0.0, 0.0, 2.0), 0.1), make_camera(), backend="gsplat")


@pytest.mark.skipif(importlib.util.find_spec("gsplat") is None, reason="gsplat is not installed")
@pytest.mark.skipif(not torch.cuda.is_available(), reason="gsplat needs a CUDA device")
@pytest.mark.parametrize("eps2d", [0.3, 0.0])
@pytest.mark.parametrize("count", [300, 1_179_648])  # a small scene and SHARP's size
def test_gsplat_matches_torch_on_cuda(eps2d: float, count: int) -> None:
    gaussians, camera = random_scene(3, count)
    gaussians = type(gaussians)(*(getattr(gaussians, f).cuda() for f in
                                  ("means", "scales", "quats", "colors", "opacities")))  # fmt: skip
    camera.K, camera.world_to_camera = camera.K.cuda(), camera.world_to_camera.cuda()
    options = {"eps2d": eps2d, "background": (0.1, 0.2, 0.3)}
    fast = render(gaussians, camera, backend="gsplat", **options)
    slow = render(gaussians, camera, backend="torch", **options)
    assert fast.color.shape == slow.color.shape
    # gsplat caps footprints at 3.33 sigma where the torch path keeps every weight >= 1/255.
    assert psnr(fast.color, slow.color) >= 40
    covered = slow.alpha > 0.5
    assert float((fast.depth - slow.depth)[covered].abs().max()) < 1e-2
