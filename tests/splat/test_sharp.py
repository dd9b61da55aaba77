"""SHARP: the released architecture's names and shapes, and equivalence with the reference.

The fixture ``sharp_tiny_a`` holds a scaled-down SHARP's weights, a photo and the Gaussians the
published code predicted for it (a subset plus per-field statistics over all of them).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file as load_numpy
from safetensors.torch import load_file

import unflat
from tests.conftest import shared_path
from unflat.errors import ConfigError
from unflat.splat import predict_gaussians
from unflat.splat.predict import covariance_matrices
from unflat.splat.sharp import Sharp, SharpConfig
from unflat.types import Gaussians


def _fixture() -> tuple[dict, dict[str, np.ndarray]]:
    folder = shared_path("fixtures", "sharp_tiny_a")
    config = json.loads((folder / "config.json").read_text())
    return config, load_numpy(str(folder / "io.safetensors"))


@dataclass
class Prediction:
    config: dict
    io: dict[str, np.ndarray]
    gaussians: Gaussians


@pytest.fixture(scope="module")
def prediction() -> Prediction:
    config, io = _fixture()
    model = unflat.build_model(config)
    folder = shared_path("fixtures", "sharp_tiny_a")
    state = {k: v.float() for k, v in load_file(str(folder / "model.safetensors")).items()}
    model.load_state_dict(state, strict=True)
    model.eval()
    f_px = float(config["input"]["f_px"])
    gaussians = predict_gaussians(model, io[config["input"]["image"]], f_px=f_px)
    return Prediction(config, io, gaussians)


def _subset(prediction: Prediction, values: torch.Tensor) -> torch.Tensor:
    return values[torch.from_numpy(prediction.io["subset_index"])].double()


def _reference(prediction: Prediction, name: str) -> torch.Tensor:
    return torch.from_numpy(prediction.io[name][0]).double()


def test_fixture_gives_the_reference_number_of_gaussians(prediction: Prediction) -> None:
    count = int(prediction.io["num_gaussians"][0])
    gaussians = prediction.gaussians
    assert len(gaussians) == count == 1179648
    assert gaussians.scales.shape == (count, 3) and gaussians.quats.shape == (count, 4)
    assert gaussians.colors.shape == (count, 3) and gaussians.opacities.shape == (count,)
    assert all(
        t.dtype == torch.float32
        for t in (gaussians.means, gaussians.scales, gaussians.quats, gaussians.colors)
    )


def test_fixture_means_match_in_metres(prediction: Prediction) -> None:
    means = _subset(prediction, prediction.gaussians.means)
    error = (means - _reference(prediction, "mean_vectors")).abs().max().item()
    assert error <= 1e-3


def test_fixture_covariances_match(prediction: Prediction) -> None:
    # Quaternions are defined up to sign (and SVD axes are ambiguous for equal scales), so
    # orientation and scale are compared through the covariance R diag(s^2) R^T.
    gaussians = prediction.gaussians
    ours = covariance_matrices(
        _subset(prediction, gaussians.quats), _subset(prediction, gaussians.scales)
    )
    reference = covariance_matrices(
        _reference(prediction, "quaternions"), _reference(prediction, "singular_values")
    )
    relative = torch.linalg.matrix_norm(ours - reference) / torch.linalg.matrix_norm(reference)
    assert relative.max().item() <= 1e-2


def test_fixture_colors_and_opacities_match(prediction: Prediction) -> None:
    colors = _subset(prediction, prediction.gaussians.colors)
    opacities = _subset(prediction, prediction.gaussians.opacities)
    assert (colors - _reference(prediction, "colors")).abs().max().item() <= 1e-3
    assert (opacities - _reference(prediction, "opacities")).abs().max().item() <= 1e-4


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("mean_vectors", "means"),
        ("singular_values", "scales"),
        ("quaternions", "quats"),
        ("colors", "colors"),
        ("opacities", "opacities"),
    ],
)
def test_fixture_statistics_over_all_gaussians_match(
    prediction: Prediction, name: str, field: str
) -> None:
    values = getattr(prediction.gaussians, field).double()
    ours = torch.stack([values.mean(), values.std(), values.min(), values.max()])
    reference = torch.from_numpy(prediction.io[f"{name}_stats"]).double()
    assert torch.allclose(ours, reference, rtol=1e-3, atol=0.0), (name, ours, reference)


def test_load_model_reads_the_fixture_folder() -> None:
    from unflat import weights

    folder = shared_path("fixtures", "sharp_tiny_a")
    model = weights.load_model(folder)
    assert isinstance(model, Sharp)
    reference = load_file(str(folder / "model.safetensors"))
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k], v.float()) for k, v in reference.items())


def test_full_size_model_has_the_released_checkpoint_names_and_shapes() -> None:
    manifest = json.loads(shared_path("fixtures", "manifests", "sharp.json").read_text())
    with torch.device("meta"):
        model = unflat.build_model({"architecture": "sharp"})
    shapes = {name: list(tensor.shape) for name, tensor in model.state_dict().items()}
    assert len(shapes) == len(manifest) == 1038
    assert shapes == {name: shape for name, (shape, _) in manifest.items()}


def test_full_size_defaults() -> None:
    config = SharpConfig.from_dict({"architecture": "sharp"})
    assert (config.vit.embed_dim, config.vit.depth, config.vit.num_heads) == (1024, 24, 16)
    assert config.monodepth_hook_ids == (5, 11, 17, 23)
    assert config.monodepth_encoder_dims == (256, 512, 1024, 1024)
    assert config.params.gaussian_decoder.dims_decoder == (128,) * 5
    assert config.image_size == 1536


def _small_variant(**params: dict) -> dict:
    """A small, fast SHARP (512 px input) with ``params`` merged into its params."""
    config: dict = {
        "architecture": "sharp",
        "vit": {"embed_dim": 32, "depth": 2, "num_heads": 2, "img_size": 128, "patch_size": 16},
        "monodepth_encoder_dims": [8, 16, 32, 32],
        "monodepth_hook_ids": [0, 1, 1, 1],
        "params": {
            "monodepth": {"dims_decoder": [16, 16, 16, 16, 16]},
            "gaussian_decoder": {"dims_decoder": [24, 16, 16, 8, 8], "norm_num_groups": 4},
            "depth_alignment": {"base_width": 8},
        },
    }
    for section, values in params.items():
        config["params"].setdefault(section, {})
        if isinstance(values, dict):
            config["params"][section].update(values)
        else:
            config["params"][section] = values
    return config


VARIANTS = {
    "three_layers_one_depth_map": _small_variant(
        num_monodepth_layers=1,
        initializer={"num_layers": 3, "rest_layer_depth_option": "linear_disparity"},
        gaussian_decoder={
            "dim_in": 4,
            "dim_out": 8,
            "upsampling_mode": "bilinear",
            "image_encoder_type": "skip_conv",
        },
    ),
    "stride_one_without_overlap": _small_variant(
        monodepth={"use_patch_overlap": False},
        initializer={"stride": 1, "color_option": "first_layer"},
        gaussian_decoder={"stride": 1, "norm_type": "batch_norm"},
        sorting_monodepth=True,
        color_space="sRGB",
    ),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_other_configs_build_and_predict(name: str) -> None:
    config = VARIANTS[name]
    torch.manual_seed(0)
    model = unflat.build_model(config).eval()
    layers = model.config.params.initializer.num_layers
    side = 512 // model.config.params.initializer.stride
    image = np.random.default_rng(0).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    gaussians = predict_gaussians(model, image, f_px=100.0)
    assert len(gaussians) == model.num_gaussians == layers * side * side
    for tensor in (gaussians.means, gaussians.scales, gaussians.quats, gaussians.colors):
        assert torch.isfinite(tensor).all()
    assert (gaussians.means[:, 2] > 0).all()
    # The untrained prediction head outputs zero deltas: every opacity is the base value.
    assert torch.allclose(gaussians.opacities, torch.full_like(gaussians.opacities, 1 / layers))
    # Same configuration, same names: a state dict round-trips strictly.
    unflat.build_model(copy.deepcopy(config)).load_state_dict(model.state_dict(), strict=True)


INVALID = {
    "unknown top-level key": {"architecture": "sharp", "decoder": 3},
    "unknown params key": {"params": {"initializer": {"layers": 2}}},
    "three hook ids": {"monodepth_hook_ids": [5, 11, 17]},
    "hook beyond the depth": {"monodepth_hook_ids": [5, 11, 17, 24]},
    "four decoder widths": {"params": {"monodepth": {"dims_decoder": [256, 256, 256, 256]}}},
    "three monodepth layers": {"params": {"num_monodepth_layers": 3}},
    "dim_in without the second disparity": {"params": {"gaussian_decoder": {"dim_in": 4}}},
    "scale range not around 1": {"params": {"max_scale": 0.5}},
    "groups do not divide": {"params": {"gaussian_decoder": {"norm_num_groups": 7}}},
    "unknown preset": {"params": {"monodepth": {"patch_encoder_preset": "vitb16_224"}}},
    "unknown activation": {"params": {"color_activation_type": "tanh"}},
    "decoder finer than initializer": {
        "params": {"initializer": {"stride": 2}, "gaussian_decoder": {"stride": 1}}
    },
    "string where a number goes": {"params": {"delta_factor": {"xy": "small"}}},
    "odd ViT grid": {"vit": {"img_size": 200}},
    "alignment stride": {"params": {"depth_alignment": {"stride": 3}}},
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_configs_raise_config_error_with_a_hint(name: str) -> None:
    with pytest.raises(ConfigError) as caught, torch.device("meta"):
        unflat.build_model({"architecture": "sharp", **INVALID[name]})
    assert caught.value.hint


def test_predict_rejects_a_non_rgb_image() -> None:
    from unflat.errors import InputError

    with torch.device("meta"):
        model = unflat.build_model(_small_variant())
    with pytest.raises(InputError):
        predict_gaussians(model, np.zeros((8, 8), dtype=np.uint8), f_px=10.0)
