"""The LivePortrait config: the published ``models.yaml`` schema as dataclasses.

Field names are the reference's own (``model_params.appearance_feature_extractor_params`` ...),
so its ``models.yaml`` (read as a dict) and the fixtures' ``config.json`` build as they are. The
defaults are the released full-size model. ``motion_extractor_backbone`` sizes the ConvNeXt-V2
of the motion extractor (the reference hard-codes ConvNeXt-V2-tiny).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from unflat.config import check_range, read_config
from unflat.errors import ConfigError

# Far past any released width: only a damaged config reaches it.
MAX_WIDTH = 65536
# The only backbone family the reference knows; ``motion_extractor_backbone`` gives its sizes.
BACKBONE = "convnextv2_tiny"


@dataclass
class AppearanceParams:
    """F: 2D encoder, then a 3D feature volume of ``reshape_channel`` x ``reshape_depth``."""

    image_channel: int = 3
    block_expansion: int = 64
    num_down_blocks: int = 2
    max_features: int = 512
    reshape_channel: int = 32
    reshape_depth: int = 16
    num_resblocks: int = 6


@dataclass
class MotionParams:
    """M: implicit keypoints, head pose and expression from one image."""

    num_kp: int = 21
    backbone: str = BACKBONE


@dataclass
class DenseMotionParams:
    """The 3D hourglass that turns sparse keypoint motion into a dense flow and occlusion."""

    block_expansion: int = 32
    max_features: int = 1024
    num_blocks: int = 5
    reshape_depth: int = 16
    compress: int = 4


@dataclass
class WarpingParams:
    """W: warps F's volume by the dense motion, then folds depth into channels."""

    num_kp: int = 21
    block_expansion: int = 64
    max_features: int = 512
    num_down_blocks: int = 2
    reshape_channel: int = 32
    estimate_occlusion_map: bool = True
    dense_motion_params: DenseMotionParams = field(default_factory=DenseMotionParams)


@dataclass
class SpadeParams:
    """G: the SPADE decoder; ``upscale`` 2 adds a pixel-shuffle 2x at its end."""

    upscale: int = 2
    block_expansion: int = 64
    max_features: int = 512
    num_down_blocks: int = 2


@dataclass
class MlpParams:
    """One of S's multilayer perceptrons."""

    input_size: int = 126
    hidden_sizes: tuple[int, ...] = (128, 128, 64)
    output_size: int = 65


@dataclass
class StitchingParams:
    """S: stitching (keypoints of source and driving), lip and eye retargeting MLPs."""

    stitching: MlpParams = field(default_factory=MlpParams)
    lip: MlpParams = field(default_factory=lambda: MlpParams(65, (128, 128, 64), 63))
    eye: MlpParams = field(default_factory=lambda: MlpParams(66, (256, 256, 128, 128, 64), 63))


@dataclass
class ModelParams:
    """``model_params`` of the reference's ``models.yaml``."""

    appearance_feature_extractor_params: AppearanceParams = field(default_factory=AppearanceParams)
    motion_extractor_params: MotionParams = field(default_factory=MotionParams)
    warping_module_params: WarpingParams = field(default_factory=WarpingParams)
    spade_generator_params: SpadeParams = field(default_factory=SpadeParams)
    stitching_retargeting_module_params: StitchingParams = field(default_factory=StitchingParams)


@dataclass
class BackboneParams:
    """ConvNeXt-V2 stages: blocks per stage and channels per stage (released: tiny)."""

    depths: tuple[int, int, int, int] = (3, 3, 9, 3)
    dims: tuple[int, int, int, int] = (96, 192, 384, 768)


@dataclass
class LivePortraitConfig:
    """Architecture of the five LivePortrait networks; the defaults are the released ones."""

    model_params: ModelParams = field(default_factory=ModelParams)
    motion_extractor_backbone: BackboneParams = field(default_factory=BackboneParams)

    @classmethod
    def from_dict(cls, values: dict) -> LivePortraitConfig:
        """Read the fixtures' ``config.json`` schema; unknown keys are an error, not ignored."""
        return read_config(cls, values, "liveportrait")

    @property
    def num_kp(self) -> int:
        return self.model_params.motion_extractor_params.num_kp

    def validate(self) -> None:
        """Every size in range, and the five networks' sizes agreeing with each other."""
        params = self.model_params
        _check_appearance(params.appearance_feature_extractor_params)
        _check_backbone(self.motion_extractor_backbone, params.motion_extractor_params)
        _check_warping(params.warping_module_params, params.appearance_feature_extractor_params)
        _check_spade(params.spade_generator_params, params.warping_module_params)
        _check_mlps(params.stitching_retargeting_module_params, self.num_kp)


def _width(label: str, value: int | tuple[int, ...], low: int = 1) -> None:
    check_range(label, value, low, MAX_WIDTH, "use the sizes of the released models.yaml")


def _mismatch(what: str, hint: str) -> ConfigError:
    return ConfigError(f"liveportrait config: {what}", hint)


def _check_appearance(params: AppearanceParams) -> None:
    for name in ("image_channel", "block_expansion", "max_features", "reshape_channel"):
        _width(f"appearance_feature_extractor_params.{name}", getattr(params, name))
    # Depth 1 would divide by zero in the [-1, 1] coordinate grid of the volume.
    _width("appearance_feature_extractor_params.reshape_depth", params.reshape_depth, 2)
    check_range("appearance_feature_extractor_params.num_down_blocks", params.num_down_blocks,
                1, 8, "e.g. 2")  # fmt: skip
    check_range("appearance_feature_extractor_params.num_resblocks", params.num_resblocks,
                0, 64, "e.g. 6")  # fmt: skip
    if params.block_expansion > params.max_features:
        raise _mismatch(
            f"block_expansion {params.block_expansion} of F is above its max_features "
            f"{params.max_features}",
            "F's first block must fit under max_features, e.g. 64 and 512",
        )
    if params.max_features != params.reshape_channel * params.reshape_depth:
        raise _mismatch(
            f"max_features {params.max_features} of F must equal reshape_channel x reshape_depth "
            f"({params.reshape_channel} x {params.reshape_depth}): F folds them into a volume",
            "e.g. 512 = 32 x 16",
        )


def _check_backbone(backbone: BackboneParams, motion: MotionParams) -> None:
    if motion.backbone != BACKBONE:
        raise _mismatch(
            f"unknown motion extractor backbone {motion.backbone!r}",
            f"use {BACKBONE!r} and size it with motion_extractor_backbone",
        )
    _width("motion_extractor_params.num_kp", motion.num_kp)
    check_range("motion_extractor_backbone.depths", backbone.depths, 0, 256, "e.g. [3, 3, 9, 3]")
    _width("motion_extractor_backbone.dims", backbone.dims)


def _check_warping(params: WarpingParams, appearance: AppearanceParams) -> None:
    dense = params.dense_motion_params
    for name in ("num_kp", "block_expansion", "max_features", "reshape_channel"):
        _width(f"warping_module_params.{name}", getattr(params, name))
    check_range("warping_module_params.num_down_blocks", params.num_down_blocks, 0, 8, "e.g. 2")
    for name in ("block_expansion", "max_features", "compress"):
        _width(f"dense_motion_params.{name}", getattr(dense, name))
    _width("dense_motion_params.reshape_depth", dense.reshape_depth, 2)
    check_range("dense_motion_params.num_blocks", dense.num_blocks, 1, 8, "e.g. 5")
    pairs = (
        (
            "warping_module_params.reshape_channel",
            params.reshape_channel,
            appearance.reshape_channel,
        ),
        ("dense_motion_params.reshape_depth", dense.reshape_depth, appearance.reshape_depth),
        ("warping_module_params.max_features", params.max_features, appearance.max_features),
    )
    for label, value, expected in pairs:
        if value != expected:
            raise _mismatch(
                f"{label} is {value}, but F's volume gives {expected}",
                "W reads F's feature volume: give both the same sizes",
            )


def _check_spade(params: SpadeParams, warping: WarpingParams) -> None:
    for name in ("block_expansion", "max_features"):
        _width(f"spade_generator_params.{name}", getattr(params, name))
    check_range("spade_generator_params.num_down_blocks", params.num_down_blocks, 1, 8, "e.g. 2")
    check_range("spade_generator_params.upscale", params.upscale, 1, 2, "1 or 2 (released: 2)")
    warped = warping.block_expansion * 2**warping.num_down_blocks
    if spade_channels(params) != warped:
        raise _mismatch(
            f"G reads {spade_channels(params)} channels but W gives {warped}",
            "G's min(max_features, block_expansion x 2^num_down_blocks) must equal "
            "W's block_expansion x 2^num_down_blocks",
        )


def _check_mlps(params: StitchingParams, num_kp: int) -> None:
    points = 3 * num_kp
    # stitching: [x_s, x_d] -> keypoint deltas + (tx, ty); lip: [x_s, 2 ratios]; eye: [x_s, 3].
    expected = {"stitching": (2 * points, points + 2), "lip": (points + 2, points)}
    expected["eye"] = (points + 3, points)
    for name, (inputs, outputs) in expected.items():
        mlp: MlpParams = getattr(params, name)
        _width(f"{name}.hidden_sizes", mlp.hidden_sizes)
        if not mlp.hidden_sizes:
            raise _mismatch(f"{name}.hidden_sizes is empty", "give at least one hidden layer")
        if (mlp.input_size, mlp.output_size) != (inputs, outputs):
            raise _mismatch(
                f"the {name} MLP maps {mlp.input_size} -> {mlp.output_size}, but {num_kp} "
                f"keypoints need {inputs} -> {outputs}",
                "size S's MLPs from num_kp (released: 21 keypoints)",
            )


def spade_channels(params: SpadeParams) -> int:
    """Channels of the warped feature G reads (the reference's formula)."""
    return min(params.max_features, params.block_expansion * 2**params.num_down_blocks)
