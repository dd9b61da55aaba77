"""LivePortrait's shapes: the released manifest, another config, and hand-checkable formulas."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import unflat
from tests.conftest import shared_path
from unflat.errors import ConfigError
from unflat.face.liveportrait import LivePortrait, LivePortraitConfig
from unflat.face.liveportrait.motion import bins_to_degrees, rotation_matrix
from unflat.geometry.rotations import euler_to_rotation


def test_full_size_matches_the_released_manifest() -> None:
    manifest = json.loads(shared_path("fixtures", "manifests", "liveportrait.json").read_text())
    with torch.device("meta"):
        model = unflat.build_model({"architecture": "liveportrait"})
    state = model.state_dict()
    assert len(state) == len(manifest) == 626
    assert {k: list(v.shape) for k, v in state.items()} == {k: s for k, (s, _) in manifest.items()}
    assert {k: str(v.dtype).removeprefix("torch.") for k, v in state.items()} == {
        k: dtype for k, (_, dtype) in manifest.items()
    }
    assert sum(v.numel() for v in state.values()) == 130_158_840


def test_full_size_defaults_are_the_released_models_yaml() -> None:
    config = LivePortraitConfig.from_dict({"architecture": "liveportrait"})
    assert config.motion_extractor_backbone.depths == (3, 3, 9, 3)
    assert config.motion_extractor_backbone.dims == (96, 192, 384, 768)
    params = config.model_params
    assert params.warping_module_params.dense_motion_params.max_features == 1024
    assert params.stitching_retargeting_module_params.eye.hidden_sizes == (256, 256, 128, 128, 64)


def _other_config() -> dict:
    """Other sizes than the fixture: 10 keypoints, one halving in F, no occlusion, upscale 1."""
    mlp = {"hidden_sizes": [16]}
    return {
        "architecture": "liveportrait",
        "model_params": {
            "appearance_feature_extractor_params": {
                "block_expansion": 4, "num_down_blocks": 1, "max_features": 24,
                "reshape_channel": 3, "reshape_depth": 8, "num_resblocks": 1,
            },
            "motion_extractor_params": {"num_kp": 10},
            "warping_module_params": {
                "num_kp": 10, "block_expansion": 4, "max_features": 24, "num_down_blocks": 3,
                "reshape_channel": 3, "estimate_occlusion_map": False,
                "dense_motion_params": {
                    "block_expansion": 4, "max_features": 16, "num_blocks": 2,
                    "reshape_depth": 8, "compress": 2,
                },
            },
            "spade_generator_params": {
                "upscale": 1, "block_expansion": 4, "max_features": 32, "num_down_blocks": 3,
            },
            "stitching_retargeting_module_params": {
                "stitching": {"input_size": 60, "output_size": 32, **mlp},
                "lip": {"input_size": 32, "output_size": 30, **mlp},
                "eye": {"input_size": 33, "output_size": 30, **mlp},
            },
        },
        "motion_extractor_backbone": {"depths": [1, 0, 1, 2], "dims": [8, 8, 16, 16]},
    }  # fmt: skip


@torch.no_grad()
def test_another_config_runs_every_method() -> None:
    torch.manual_seed(0)
    model = unflat.build_model(_other_config()).eval()
    source, driving = torch.rand(1, 3, 32, 32), torch.rand(2, 3, 32, 32)
    motion = model.motion(driving)
    assert motion["kp"].shape == motion["exp"].shape == (2, 10, 3)
    assert motion["pitch"].shape == motion["scale"].shape == (2, 1)
    feature = model.extract_features(source)
    assert feature.shape == (1, 3, 8, 16, 16)
    x_s = model.keypoints(model.motion(source))
    x_d = model.stitch(x_s, model.relative(model.motion(source), motion, motion))
    assert model.retarget_eye(x_s, torch.rand(2, 3)).shape == (2, 10, 3)
    assert model.retarget_lip(x_s, torch.rand(2, 2)).shape == (2, 10, 3)
    warp = model.warp(feature, x_s, x_d)
    assert warp.occlusion_map is None and warp.deformation.shape == (2, 8, 16, 16, 3)
    assert warp.warped_feature.shape == (2, 32, 16, 16)
    image = model.decode(feature, x_s, x_d)
    assert image.shape == (2, 3, 64, 64) and 0 <= image.min() <= image.max() <= 1


@torch.no_grad()
def test_driving_like_its_first_frame_keeps_the_source_keypoints() -> None:
    """R_d R_d0ᵀ = I, exp_d - exp_d0 = 0, s_d / s_d0 = 1, t_d - t_d0 = 0: x_d is x_s."""
    torch.manual_seed(1)
    model = unflat.build_model(_other_config()).eval()
    source, driving = model.motion(torch.rand(1, 3, 32, 32)), model.motion(torch.rand(1, 3, 32, 32))
    x_d = model.relative(source, driving, driving)
    assert torch.allclose(x_d, model.keypoints(source), atol=1e-5)


def test_pose_bins_to_degrees() -> None:
    # Equal logits: the mean bin 32.5 -> 32.5 * 3 - 97.5 = 0 degrees; all mass on bin 65: 97.5.
    assert bins_to_degrees(torch.zeros(1, 66)).item() == pytest.approx(0.0, abs=1e-5)
    one_hot = torch.full((1, 66), -1e4)
    one_hot[0, 65] = 0
    assert bins_to_degrees(one_hot).item() == pytest.approx(97.5)


def test_rotation_convention() -> None:
    """R = (Rz(roll) Ry(yaw) Rx(pitch))ᵀ for row vectors: at 90 degrees, yaw takes x to -z,
    pitch y to +z and roll x to +y."""
    zero, right = torch.zeros(1, 1), torch.full((1, 1), 90.0)
    yaw = rotation_matrix(zero, right, zero)[0]
    assert torch.allclose(torch.tensor([1.0, 0, 0]) @ yaw, torch.tensor([0, 0, -1.0]), atol=1e-6)
    pitch = rotation_matrix(right, zero, zero)[0]
    assert torch.allclose(torch.tensor([0, 1.0, 0]) @ pitch, torch.tensor([0, 0, 1.0]), atol=1e-6)
    roll = rotation_matrix(zero, zero, right)[0]
    assert torch.allclose(torch.tensor([1.0, 0, 0]) @ roll, torch.tensor([0, 1.0, 0]), atol=1e-6)
    angles = torch.tensor([[10.0], [-20.0], [30.0]])
    rotation = rotation_matrix(*angles.split(1))[0]
    assert torch.allclose(rotation @ rotation.T, torch.eye(3), atol=1e-6)
    assert torch.linalg.det(rotation).item() == pytest.approx(1.0, abs=1e-6)
    expected = math.cos(math.radians(10)) * math.cos(math.radians(-20))
    assert rotation[2, 2].item() == pytest.approx(expected, abs=1e-6)
    # the head poses' one convention, transposed for row vectors
    assert np.allclose(rotation.T.numpy(), euler_to_rotation(10.0, -20.0, 30.0), atol=1e-6)


@pytest.mark.parametrize(
    ("section", "values", "words"),
    [
        ("stitching", {"input_size": 120}, "keypoints need 126 -> 65"),
        ("appearance", {"reshape_depth": 8}, "reshape_channel x reshape_depth"),
        ("appearance", {"num_down_blocks": 0}, "num_down_blocks is 0"),
        ("spade", {"block_expansion": 32}, "G reads 128 channels but W gives 256"),
    ],
)
def test_inconsistent_configs_are_refused(section: str, values: dict, words: str) -> None:
    params = {
        "stitching": ("stitching_retargeting_module_params", "stitching"),
        "appearance": ("appearance_feature_extractor_params", None),
        "spade": ("spade_generator_params", None),
    }[section]
    inner: dict = dict(values) if params[1] is None else {params[1]: values}
    with pytest.raises(ConfigError, match=words.replace("^", r"\^")):
        LivePortraitConfig.from_dict({"model_params": {params[0]: inner}})


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown"):
        unflat.build_model({"architecture": "liveportrait", "model_params": {"typo": 1}})


def test_default_model_is_the_released_one() -> None:
    with torch.device("meta"):
        model = LivePortrait()
    assert model.num_kp == 21
