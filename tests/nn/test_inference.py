"""Every fast CPU path against the fp32 reference on the tiny Depth Pro and SHARP fixtures.

The bounds are the measured errors (printed with ``-s``) rounded up, each below 1%: a path that
drifts further fails here before it reaches a benchmark table.
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
# Largest relative depth error against fp32 over the fixture image, per path (measured).
DEPTH_ERROR = {"int8-fp32": 0.01, "int8": 0.01, "bf16": 0.01}


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
