"""Every fast CPU path against the fp32 reference on the tiny Depth Pro and SHARP fixtures.

The bounds are the measured errors (printed with ``-s``) rounded up: a path that drifts further
fails here before it reaches a benchmark table. ``int8-fp32`` stays far below the 1% target; the
bf16 paths (``bf16``, and ``int8`` whose convolutions are bf16 where the CPU has bf16 kernels;
elsewhere ``int8`` is ``int8-fp32``) reach 1.3% at the worst pixel of the fixture: bf16 keeps 8
bits of mantissa through the decoder's convolutions.
"""

from __future__ import annotations

import copy
import json

import pytest
import torch
from safetensors.torch import load_file

import unflat
from tests.conftest import shared_path
from unflat.nn.inference import apply_precision
from unflat.nn.vit import VisionTransformer

CPU = torch.device("cpu")
# Largest relative depth error against fp32 over the fixture image, per path (measured on an
# AVX2 CPU: int8-fp32 2e-5, int8 0.0125 before it fell back to int8-fp32 there, bf16 0.0127).
DEPTH_ERROR = {"int8-fp32": 1e-3, "int8": 0.013, "bf16": 0.013}


def _load(name: str) -> tuple[torch.nn.Module, dict]:
    folder = shared_path("fixtures", name)
    config = json.loads((folder / "config.json").read_text())
    model = unflat.build_model(config).eval().requires_grad_(False)
    weights = load_file(str(folder / "model.safetensors"))
    model.load_state_dict({k: v.float() for k, v in weights.items()}, strict=True)
    return model, load_file(str(folder / "io.safetensors"))


@pytest.fixture(scope="module")
def depth_pro() -> tuple[torch.nn.Module, dict, torch.Tensor]:
    model, io = _load("depth_pro_tiny_a")
    apply_precision(model, "fp32", CPU, (VisionTransformer,))
    with torch.inference_mode():
        reference = model.infer(io["image"])["depth"]
    return model, io, reference


@pytest.mark.parametrize("path", sorted(DEPTH_ERROR))
def test_depth_pro_path_error_against_fp32(depth_pro, path: str) -> None:
    model, io, reference = depth_pro
    fast = copy.deepcopy(model)
    dtype = apply_precision(fast, path, CPU, (VisionTransformer,))
    with torch.inference_mode():
        depth = fast.infer(io["image"].to(dtype))["depth"].float()
    error = ((depth - reference).abs() / reference).max().item()
    print(f"depth pro {path}: max relative depth error {error:.5f}")
    assert error < DEPTH_ERROR[path]


# Largest relative error of the Gaussians' depths (z of their means) against fp32 (measured on
# an AVX2 CPU: int8-fp32 1e-5).
SHARP_DEPTH_ERROR = {"int8-fp32": 1e-3}


@pytest.fixture(scope="module")
def sharp() -> tuple[torch.nn.Module, dict, torch.Tensor]:
    from safetensors.numpy import load_file as load_numpy

    from unflat.splat import predict_gaussians

    model, _ = _load("sharp_tiny_a")
    folder = shared_path("fixtures", "sharp_tiny_a")
    config = json.loads((folder / "config.json").read_text())
    image = load_numpy(str(folder / "io.safetensors"))[config["input"]["image"]]
    f_px = float(config["input"]["f_px"])
    apply_precision(model, "fp32", CPU, (VisionTransformer,))
    reference = predict_gaussians(model, image, f_px).means[:, 2]
    return model, (image, f_px), reference


@pytest.mark.parametrize("path", sorted(SHARP_DEPTH_ERROR))
def test_sharp_path_error_against_fp32(sharp, path: str) -> None:
    from unflat.splat import predict_gaussians

    model, (image, f_px), reference = sharp
    fast = copy.deepcopy(model)
    apply_precision(fast, path, CPU, (VisionTransformer,))
    depth = predict_gaussians(fast, image, f_px).means[:, 2]
    error = ((depth - reference).abs() / reference.abs()).max().item()
    print(f"sharp {path}: max relative depth error {error:.5f}")
    assert error < SHARP_DEPTH_ERROR[path]
