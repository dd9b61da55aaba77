"""A model's forward reports real progress (``nn.vit.block_progress``): one step per image each
ViT block takes, then one for the rest, ending at the total; the numbers are unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import unflat
from tests.conftest import shared_path
from unflat.depth.predict import DepthEstimator
from unflat.pipelines.depth import DepthPipeline
from unflat.splat.predict import predict_gaussians
from unflat.types import Photo

# 4 ViT windows across the input: 5x5 at full size (25% overlap), 3x3 at half size (50%), and
# the quarter-size image: 35 windows through each patch-ViT block, whatever the window size.
VIT = {"embed_dim": 32, "depth": 2, "num_heads": 2, "img_size": 64, "patch_size": 8}
DEPTH_PRO = {
    "architecture": "depth_pro", "vit": VIT, "hook_block_ids": [0, 1],
    "encoder_feature_dims": [8, 16, 32, 32], "decoder_features": 16, "last_dims": [8, 1],
}  # fmt: skip
SHARP = {  # as tests/splat/test_sharp.py's small variant: 512 px
    "architecture": "sharp", "vit": VIT | {"img_size": 128, "patch_size": 16},
    "monodepth_encoder_dims": [8, 16, 32, 32], "monodepth_hook_ids": [0, 1, 1, 1],
    "params": {
        "monodepth": {"dims_decoder": [16, 16, 16, 16, 16]},
        "gaussian_decoder": {"dims_decoder": [24, 16, 16, 8, 8], "norm_num_groups": 4},
        "depth_alignment": {"base_width": 8},
    },
}  # fmt: skip

Heard = list[tuple[str, int, int | None]]


def _model(config: dict) -> torch.nn.Module:
    torch.manual_seed(0)
    return unflat.build_model(config).eval()


def _photo() -> Photo:
    return Photo(rgb=np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8))


def _steady(heard: Heard, stage: str, total: int) -> None:
    """Every report under ``stage``, from 0 up to ``total`` and never back."""
    assert {step[0] for step in heard} == {stage}
    assert all(step[2] == total for step in heard)
    done = [step[1] for step in heard]
    assert done[0] == 0 and done[-1] == total
    assert done == sorted(done) and len(set(done)) == len(done)


def test_depth_pro_reports_each_block_and_computes_the_same() -> None:
    model = _model(DEPTH_PRO)
    # patch ViT: 2 blocks x 35 windows; image ViT and field-of-view ViT: 2 blocks x 1 image
    assert model.block_passes() == 2 * 35 + 2 + 2
    estimator = DepthEstimator(model, torch.device("cpu"))
    heard: Heard = []
    with_bar = estimator.predict(_photo(), progress=lambda *step: heard.append(step))
    _steady(heard, "Depth Pro", 75)
    assert [done for _, done, _ in heard] == [0, 35, 70, 71, 72, 73, 74, 75]
    without = estimator.predict(_photo())
    np.testing.assert_array_equal(with_bar.depth, without.depth)
    assert with_bar.focal_px == without.focal_px
    assert not any(block._forward_hooks for block in model.modules())  # all removed


def test_sharp_reports_each_block_and_computes_the_same() -> None:
    model = _model(SHARP)
    assert model.block_passes() == 2 * 35 + 2  # the monodepth encoder's two ViTs
    heard: Heard = []
    image = _photo().rgb
    with_bar = predict_gaussians(model, image, 70.0, progress=lambda *step: heard.append(step))
    _steady(heard, "SHARP", 73)
    without = predict_gaussians(model, image, 70.0)
    assert torch.equal(with_bar.means, without.means)
    assert torch.equal(with_bar.colors, without.colors)


def test_the_fixture_model_counts_its_windows() -> None:
    """depth_pro_tiny_a: 384 px windows, 4 blocks: 35 x 4 + 4 + 4 block passes."""
    folder = shared_path("fixtures", "depth_pro_tiny_a")
    model = _model(json.loads((folder / "config.json").read_text()))
    weights = load_file(str(folder / "model.safetensors"))
    model.load_state_dict({key: value.float() for key, value in weights.items()})
    assert model.block_passes() == 148
    heard: Heard = []
    DepthEstimator(model, torch.device("cpu")).predict(
        _photo(), progress=lambda *step: heard.append(step)
    )
    _steady(heard, "Depth Pro", 149)


def test_a_batch_names_the_photo_in_the_forward_stage(tmp_path: Path) -> None:
    photo = tmp_path / "p.png"
    from unflat.io.images import save_rgb

    save_rgb(photo, _photo().rgb)
    pipeline = DepthPipeline(preview=False)
    pipeline._estimator = DepthEstimator(_model(DEPTH_PRO), torch.device("cpu"))
    heard: Heard = []
    pipeline.progress = lambda *step: heard.append(step)
    pipeline.process(photo, tmp_path / "p")
    _steady(heard, "p.png: Depth Pro", 75)
    assert (tmp_path / "p.depth.npy").is_file()


@pytest.mark.parametrize("config", [DEPTH_PRO, SHARP], ids=["depth_pro", "sharp"])
def test_without_a_listener_nothing_is_hooked(config: dict) -> None:
    from unflat.nn.vit import block_progress

    model = _model(config)
    with block_progress(model, None, "x"):
        assert not any(module._forward_hooks for module in model.modules())
