"""Depth Pro reproduces the published implementation's reference vectors."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

import unflat
from tests.conftest import shared_path
from unflat.errors import ConfigError


@pytest.fixture(scope="module")
def tiny():
    folder = shared_path("fixtures", "depth_pro_tiny_a")
    config = json.loads((folder / "config.json").read_text())
    model = unflat.build_model(config).eval()
    weights = load_file(str(folder / "model.safetensors"))
    model.load_state_dict({k: v.float() for k, v in weights.items()}, strict=True)
    return model, load_file(str(folder / "io.safetensors"))


def test_default_config_matches_released_manifest():
    manifest = json.loads(shared_path("fixtures", "manifests", "depth_pro.json").read_text())
    with torch.device("meta"):
        model = unflat.build_model({"architecture": "depth_pro"})
    shapes = {name: list(t.shape) for name, t in model.state_dict().items()}
    assert len(shapes) == len(manifest) == 1119
    assert shapes == {name: spec[0] for name, spec in manifest.items()}


def test_forward_matches_reference(tiny):
    model, io = tiny
    x = F.interpolate(io["image"], size=(1536, 1536), mode="bilinear", align_corners=False)
    with torch.no_grad():
        canonical_inverse_depth, fov_deg = model(x)
    assert canonical_inverse_depth.shape == (1, 1, 1536, 1536)
    error = (canonical_inverse_depth[..., ::4, ::4] - io["canonical_inverse_depth_s4"]).abs().max()
    assert error <= 2e-4
    assert abs(fov_deg.item() - io["fov_deg"].item()) <= 0.01


def test_infer_matches_reference(tiny):
    model, io = tiny
    out = model.infer(io["image"])
    assert out["depth"].shape == (480, 640)
    relative = ((out["depth"] - io["depth"]).abs() / io["depth"]).max()
    assert relative <= 1e-3
    assert out["focallength_px"].item() == pytest.approx(io["focallength_px"].item(), rel=1e-5)


@pytest.mark.parametrize("kind", ["float", "tensor", "tensor1"])
def test_infer_with_given_focal_scales_depth(tiny, kind):
    model, io = tiny
    f_ref = io["focallength_px"].item()
    f_px = {
        "float": 2 * f_ref,
        "tensor": torch.tensor(2 * f_ref),
        "tensor1": torch.tensor([2 * f_ref]),
    }[kind]
    out = model.infer(io["image"][0], f_px=f_px)
    # Depth is proportional to the focal length: twice the focal, twice the depth.
    torch.testing.assert_close(out["depth"], 2 * io["depth"], rtol=1e-3, atol=0)
    assert out["focallength_px"].item() == pytest.approx(2 * f_ref)


def small_config(**changes) -> dict:
    config = {
        "architecture": "depth_pro",
        "vit": {"embed_dim": 32, "depth": 3, "num_heads": 2, "img_size": 128, "patch_size": 16},
        "hook_block_ids": [0, 2],
        "encoder_feature_dims": [8, 16, 24, 32],
        "decoder_features": 16,
        "last_dims": [8, 1],
    }
    config.update(changes)
    return config


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"use_fov_head": False},
        {"fov_encoder": False},
        {"hook_block_ids": [1, 1]},
        {"decoder_features": 24, "last_dims": [4, 2]},
    ],
)
def test_other_configs_run(changes):
    torch.manual_seed(0)
    model = unflat.build_model(small_config(**changes)).eval()
    assert model.img_size == 512
    with torch.no_grad():
        inverse_depth, fov = model(torch.rand(2, 3, 512, 512) * 2 - 1)
    last = small_config(**changes)["last_dims"][1]
    assert inverse_depth.shape == (2, last, 512, 512)
    assert torch.isfinite(inverse_depth).all()
    if changes.get("use_fov_head", True):
        assert fov.shape == (2, 1, 1, 1)
    else:
        assert fov is None


def test_model_without_fov_head_needs_focal():
    model = unflat.build_model(small_config(use_fov_head=False)).eval()
    image = torch.zeros(3, 100, 150)
    with pytest.raises(ConfigError, match="focal"):
        model.infer(image)
    assert model.infer(image, f_px=120.0)["depth"].shape == (100, 150)


@pytest.mark.parametrize(
    "changes",
    [
        {"hook_block_ids": [0, 7]},
        {"encoder_feature_dims": [8, 16]},
        {"colour": 3},
        {"vit": {"embed_dim": 32, "depth": 2, "num_heads": 2, "img_size": 96}},
    ],
)
def test_bad_configs_are_config_errors(changes):
    with pytest.raises(ConfigError):
        unflat.build_model(small_config(**changes))


def test_unknown_architecture():
    with pytest.raises(ConfigError, match="unknown architecture"):
        unflat.build_model({"architecture": "nope"})
