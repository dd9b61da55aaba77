"""Depth Pro outputs with NaN or infinity (damaged weights) are refused, never written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file
from torch import nn

from tests.conftest import shared_path
from unflat import registry
from unflat.cli import main
from unflat.depth.predict import DepthEstimator
from unflat.errors import WeightsError
from unflat.types import Photo


class _Broken(nn.Module):
    """Answers ``infer`` with the given depth and focal length, as damaged weights would."""

    def __init__(self, depth: float, focal: float) -> None:
        super().__init__()
        self.depth, self.focal = depth, focal

    def infer(self, image: torch.Tensor, f_px: float | None = None) -> dict[str, torch.Tensor]:
        height, width = image.shape[-2:]
        depth = torch.full((height, width), 2.0)
        depth[0, :3] = self.depth
        return {"depth": depth, "focallength_px": torch.tensor(self.focal)}


def _photo() -> Photo:
    return Photo(np.zeros((24, 32, 3), np.uint8))


def test_nan_depth_is_refused_naming_the_weights() -> None:
    estimator = DepthEstimator(_Broken(float("nan"), 30.0), torch.device("cpu"), name="depth-pro")
    with pytest.raises(WeightsError) as caught:
        estimator.predict(_photo())
    assert caught.value.message == (
        "the model with weights depth-pro produced NaN or infinite depth (3 of 768 values)"
    )
    assert "`unflat models fetch depth-pro --force`" in caught.value.hint


def test_an_infinite_focal_length_is_refused() -> None:
    estimator = DepthEstimator(_Broken(2.0, float("inf")), torch.device("cpu"), name="/w/x.pt")
    with pytest.raises(
        WeightsError,
        match=r"weights /w/x\.pt produced NaN or infinite focal length \(1 of 1 values\)",
    ) as caught:
        estimator.predict(_photo())
    assert "pass other --weights" in caught.value.hint


def test_half_precision_suggests_fp32_first() -> None:
    estimator = DepthEstimator(
        _Broken(float("inf"), 30.0), torch.device("cpu"), torch.bfloat16, name="depth-pro"
    )
    with pytest.raises(WeightsError) as caught:
        estimator.predict(_photo())
    assert caught.value.hint.startswith("try --precision fp32")


def test_unflat_depth_with_nan_weights_exits_2_and_writes_nothing(tmp_path: Path, capsys) -> None:
    fixture = shared_path("fixtures", "depth_pro_tiny_a")
    config = json.loads((fixture / "config.json").read_text())
    model = registry.build_model(config)
    nan_state = {
        k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
        for k, v in model.state_dict().items()
    }
    weights = tmp_path / "nan_weights"
    weights.mkdir()
    (weights / "config.json").write_text(json.dumps(config))
    save_file(nan_state, str(weights / "model.safetensors"))
    photo = tmp_path / "photo.png"
    Image.fromarray(np.full((48, 64, 3), 120, np.uint8)).save(photo)
    out = tmp_path / "out"

    code = main(["depth", str(photo), "-o", str(out), "--weights", str(weights)])
    err = capsys.readouterr().err
    assert code == 2
    # refused as loaded (before the forward pass), whichever precision path auto picks
    file = weights / "model.safetensors"
    assert f"the model with weights {file} has NaN or infinite weights" in err
    assert "Traceback" not in err
    assert not [p for p in out.rglob("*") if p.is_file()], "no depth map, no sidecar"
