"""SHARP's configuration: the ViT shape, the monodepth encoder widths and the predictor params.

``SharpConfig.from_dict`` reads the fixtures' ``config.json`` schema: ``vit``,
``monodepth_encoder_dims``, ``monodepth_hook_ids`` and ``params``, whose nested names and defaults
are the published ``PredictorParams``'s. Missing keys take the released model's values. Fields
that only steer training in the published code (``unfreeze_*``, ``grad_checkpointing``,
``checkpoint_uri``, ``frozen``) and fields it never reads (``use_predicted_mean``,
``low_pass_filter_eps``, the prediction head's ``norm_type`` / ``norm_num_groups``, the
initializer's inpainting switches) are accepted and kept so that configs round-trip, but change
nothing here either.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from unflat.config import check_range, read_config
from unflat.errors import ConfigError
from unflat.nn.dpt import UPSAMPLING_MODES
from unflat.nn.vit import VIT_ALIASES, ViTConfig

# The only ViT preset the published code defines: DINOv2 ViT-L/16 at 384 px. Its shape is
# ``SharpConfig.vit`` (which the fixtures shrink); the name is kept for schema compatibility.
VIT_PRESETS = ("dinov2l16_384",)
ACTIVATIONS = (
    "linear",
    "exp",
    "sigmoid",
    "softplus",
    "relu_with_pushback",
    "hard_sigmoid_with_pushback",
)
NORM_TYPES = ("noop", "batch_norm", "group_norm", "instance_norm")
DEPTH_OPTIONS = ("surface_min", "surface_max", "base_depth", "linear_disparity")
COLOR_OPTIONS = ("none", "first_layer", "all_layers")
COLOR_SPACES = ("sRGB", "linearRGB")
IMAGE_ENCODER_TYPES = ("skip_conv", "skip_conv_kernel2")
# The widest feature map a config may ask for (the ViT's own bound on its width), and the most
# Gaussian layers: far past the released model (1024 wide, 2 layers), so only damage meets them.
MAX_WIDTH = 65536
MAX_LAYERS = 64
# SHARP's ViTs keep timm's ImageNet-22k classification head (unused, but in the checkpoint).
SHARP_NUM_CLASSES = 21841


@dataclass
class InitializerParams:
    """How base Gaussians are laid out from the image and its depth (``MultiLayerInitializer``)."""

    scale_factor: float = 1.0
    disparity_factor: float = 1.0
    stride: int = 2
    num_layers: int = 2
    first_layer_depth_option: str = "surface_min"
    rest_layer_depth_option: str = "surface_min"
    color_option: str = "all_layers"
    base_depth: float = 10.0
    feature_input_stop_grad: bool = False
    normalize_depth: bool = True
    output_inpainted_layer_only: bool = False
    set_uninpainted_opacity_to_zero: bool = False
    concat_inpainting_mask: bool = False


@dataclass
class MonodepthParams:
    """The Depth Pro-style monodepth network."""

    patch_encoder_preset: str = "dinov2l16_384"
    image_encoder_preset: str = "dinov2l16_384"
    checkpoint_uri: str | None = None
    unfreeze_patch_encoder: bool = False
    unfreeze_image_encoder: bool = False
    unfreeze_decoder: bool = False
    unfreeze_head: bool = False
    unfreeze_norm_layers: bool = False
    grad_checkpointing: bool = False
    use_patch_overlap: bool = True
    dims_decoder: tuple[int, ...] = (256, 256, 256, 256, 256)


@dataclass
class MonodepthAdaptorParams:
    """Which monodepth features feed the Gaussian decoder."""

    encoder_features: bool = True
    decoder_features: bool = False


@dataclass
class GaussianDecoderParams:
    """The DPT-style decoder from monodepth features (+ image and disparity) to Gaussian features.

    ``dim_out`` is the width of the texture and geometry features the prediction head reads.
    """

    dim_in: int = 5
    dim_out: int = 32
    norm_type: str = "group_norm"
    norm_num_groups: int = 8
    stride: int = 2
    patch_encoder_preset: str = "dinov2l16_384"
    image_encoder_preset: str = "dinov2l16_384"
    dims_decoder: tuple[int, ...] = (128, 128, 128, 128, 128)
    use_depth_input: bool = True
    grad_checkpointing: bool = False
    upsampling_mode: str = "transposed_conv"
    image_encoder_type: str = "skip_conv_kernel2"


@dataclass
class AlignmentParams:
    """The learned depth-alignment UNet (used only when a reference depth is given)."""

    kernel_size: int = 16
    stride: int = 1
    frozen: bool = False
    steps: int = 4
    activation_type: str = "exp"
    depth_decoder_features: bool = False
    base_width: int = 16


@dataclass
class DeltaFactor:
    """Multipliers on the predicted deltas before activation (per Gaussian attribute)."""

    xy: float = 0.001
    z: float = 0.001
    color: float = 0.1
    opacity: float = 1.0
    scale: float = 1.0
    quaternion: float = 1.0


@dataclass
class PredictorParams:
    """The published predictor's parameter set, with its names and defaults."""

    initializer: InitializerParams = field(default_factory=InitializerParams)
    monodepth: MonodepthParams = field(default_factory=MonodepthParams)
    monodepth_adaptor: MonodepthAdaptorParams = field(default_factory=MonodepthAdaptorParams)
    gaussian_decoder: GaussianDecoderParams = field(default_factory=GaussianDecoderParams)
    depth_alignment: AlignmentParams = field(default_factory=AlignmentParams)
    delta_factor: DeltaFactor = field(default_factory=DeltaFactor)
    max_scale: float = 10.0
    min_scale: float = 0.0
    norm_type: str = "group_norm"
    norm_num_groups: int = 8
    use_predicted_mean: bool = False
    color_activation_type: str = "sigmoid"
    opacity_activation_type: str = "sigmoid"
    color_space: str = "linearRGB"
    low_pass_filter_eps: float = 1e-2
    num_monodepth_layers: int = 2
    sorting_monodepth: bool = False
    base_scale_on_predicted_mean: bool = True


def _sharp_vit() -> ViTConfig:
    return ViTConfig(num_classes=SHARP_NUM_CLASSES)


@dataclass
class SharpConfig:
    """Architecture of SHARP; the defaults are the released full-size model."""

    vit: ViTConfig = field(default_factory=_sharp_vit)
    monodepth_encoder_dims: tuple[int, int, int, int] = (256, 512, 1024, 1024)
    monodepth_hook_ids: tuple[int, int, int, int] = (5, 11, 17, 23)
    params: PredictorParams = field(default_factory=PredictorParams)

    @classmethod
    def from_dict(cls, values: dict) -> SharpConfig:
        """Read the fixtures' ``config.json`` schema; unknown keys are an error, not ignored."""
        return read_config(cls, values, "sharp", aliases=VIT_ALIASES)

    def to_dict(self) -> dict:
        """The config in the same schema, with every value spelled out."""
        return {"architecture": "sharp", **dataclasses.asdict(self)}

    @property
    def encoder_dims(self) -> list[int]:
        """The monodepth encoder's five output widths, finest first (the published layout)."""
        return [self.params.monodepth.dims_decoder[0], *self.monodepth_encoder_dims]

    @property
    def gaussian_decoder_input_dims(self) -> list[int]:
        """Widths of the monodepth features the Gaussian decoder reads, finest first."""
        dims: list[int] = []
        if self.params.monodepth_adaptor.encoder_features:
            dims += self.encoder_dims
        if self.params.monodepth_adaptor.decoder_features:
            dims.append(self.params.monodepth.dims_decoder[0])
        return dims

    @property
    def image_size(self) -> int:
        """The network's input size: four ViT windows across (1536 for the released model)."""
        return 4 * self.vit.img_size

    def validate(self) -> None:
        """Raise ``ConfigError`` for shapes or options the network cannot be built or run with."""
        p = self.params
        vit = self.vit
        vit.validate()
        self._validate_sizes()
        if vit.img_size % vit.patch_size or (vit.img_size // vit.patch_size) % 8:
            raise ConfigError(
                f"the ViT img_size ({vit.img_size}) must be a multiple of 8 patches of "
                f"{vit.patch_size} px, so that overlapping windows merge evenly",
                "e.g. img_size 384 with patch_size 16",
            )
        if len(self.monodepth_encoder_dims) != 4:
            raise ConfigError(
                "monodepth_encoder_dims must be 4 widths", "e.g. [256, 512, 1024, 1024]"
            )
        hooks = self.monodepth_hook_ids
        if len(hooks) != 4 or not all(0 <= i < vit.depth for i in hooks):
            raise ConfigError(
                f"monodepth_hook_ids {list(hooks)} must be four block indices below the ViT "
                f"depth {vit.depth}",
                "e.g. [5, 11, 17, 23] for a 24-block ViT (the first two feed the decoder)",
            )
        for name, preset in (
            ("monodepth.patch_encoder_preset", p.monodepth.patch_encoder_preset),
            ("monodepth.image_encoder_preset", p.monodepth.image_encoder_preset),
            ("gaussian_decoder.patch_encoder_preset", p.gaussian_decoder.patch_encoder_preset),
            ("gaussian_decoder.image_encoder_preset", p.gaussian_decoder.image_encoder_preset),
        ):
            _choice(preset, VIT_PRESETS, f"params.{name}")
        self._validate_monodepth()
        self._validate_gaussian_decoder()
        self._validate_initializer()
        self._validate_alignment()
        _choice(p.color_activation_type, ACTIVATIONS, "params.color_activation_type")
        _choice(p.opacity_activation_type, ACTIVATIONS, "params.opacity_activation_type")
        _choice(p.color_space, COLOR_SPACES, "params.color_space")
        if not p.min_scale < 1.0 < p.max_scale:
            raise ConfigError(
                f"params.min_scale ({p.min_scale}) and max_scale ({p.max_scale}) must bracket 1, "
                "so that a zero delta keeps the base scale",
                "e.g. min_scale 0.0 and max_scale 10.0",
            )

    def _validate_sizes(self) -> None:
        """Every width and count in a range a network can have, before the rules between them:
        a zero, negative or astronomical one would reach torch (or a loop) as it is."""
        p = self.params
        for label, value, low, high, hint in (
            ("monodepth_encoder_dims", self.monodepth_encoder_dims, 1, MAX_WIDTH,
             "e.g. [256, 512, 1024, 1024]"),
            # The inverse-depth head and the feature heads halve the first widths.
            ("params.monodepth.dims_decoder", p.monodepth.dims_decoder, 2, MAX_WIDTH,
             "e.g. [256, 256, 256, 256, 256]"),
            ("params.gaussian_decoder.dims_decoder", p.gaussian_decoder.dims_decoder, 2,
             MAX_WIDTH, "e.g. [128, 128, 128, 128, 128]"),
            ("params.gaussian_decoder.dim_out", p.gaussian_decoder.dim_out, 1, MAX_WIDTH,
             "e.g. 32"),
            # Each layer is a full-resolution sheet of Gaussians (the released model has 2).
            ("params.initializer.num_layers", p.initializer.num_layers, 1, MAX_LAYERS, "e.g. 2"),
            # Each step halves the resolution: 16 steps take a 65536 px image to one pixel.
            ("params.depth_alignment.steps", p.depth_alignment.steps, 1, 16, "e.g. 4"),
            ("params.depth_alignment.base_width", p.depth_alignment.base_width, 1, MAX_WIDTH,
             "e.g. 16"),
        ):  # fmt: skip
            check_range(label, value, low, high, hint)

    def _validate_monodepth(self) -> None:
        p = self.params
        dims = p.monodepth.dims_decoder
        if len(dims) != 5:
            raise ConfigError(
                f"params.monodepth.dims_decoder {list(dims)} must be 5 widths",
                "one per encoder level, e.g. [256, 256, 256, 256, 256]",
            )
        if p.num_monodepth_layers not in (1, 2):
            raise ConfigError(
                f"params.num_monodepth_layers is {p.num_monodepth_layers}",
                "the monodepth network predicts 1 or 2 depth layers",
            )
        if p.num_monodepth_layers == 2 and p.initializer.num_layers != 2:
            raise ConfigError(
                "two monodepth layers need params.initializer.num_layers == 2, "
                f"not {p.initializer.num_layers}",
                "set initializer.num_layers to 2 or num_monodepth_layers to 1",
            )

    def _validate_gaussian_decoder(self) -> None:
        p = self.params
        decoder = p.gaussian_decoder
        levels = self.gaussian_decoder_input_dims
        if not levels:
            raise ConfigError(
                "params.monodepth_adaptor passes no features to the Gaussian decoder",
                "set encoder_features (or decoder_features) to true",
            )
        if len(decoder.dims_decoder) != len(levels):
            raise ConfigError(
                f"params.gaussian_decoder.dims_decoder has {len(decoder.dims_decoder)} widths "
                f"for {len(levels)} monodepth feature levels",
                f"give {len(levels)} widths of at least 2",
            )
        _choice(decoder.norm_type, NORM_TYPES, "params.gaussian_decoder.norm_type")
        _choice(
            decoder.upsampling_mode, UPSAMPLING_MODES, "params.gaussian_decoder.upsampling_mode"
        )
        _choice(
            decoder.image_encoder_type,
            IMAGE_ENCODER_TYPES,
            "params.gaussian_decoder.image_encoder_type",
        )
        if decoder.stride not in (1, 2):
            raise ConfigError(
                f"params.gaussian_decoder.stride is {decoder.stride}",
                "the Gaussian decoder works at stride 1 or 2",
            )
        expected_in = 3 + p.num_monodepth_layers if decoder.use_depth_input else 4
        if decoder.dim_in != expected_in:
            raise ConfigError(
                f"params.gaussian_decoder.dim_in is {decoder.dim_in}, but its input has "
                f"{expected_in if decoder.use_depth_input else 3} channels",
                f"set dim_in to {expected_in} (RGB + one disparity per monodepth layer; "
                "with use_depth_input false, RGB counts as dim_in - 1)",
            )
        if decoder.norm_type == "group_norm":
            width = decoder.dims_decoder[0]
            for channels in (width, width // 2):
                _check_groups(channels, decoder.norm_num_groups, "params.gaussian_decoder")

    def _validate_initializer(self) -> None:
        init = self.params.initializer
        decoder = self.params.gaussian_decoder
        _choice(
            init.first_layer_depth_option,
            DEPTH_OPTIONS,
            "params.initializer.first_layer_depth_option",
        )
        _choice(
            init.rest_layer_depth_option,
            DEPTH_OPTIONS,
            "params.initializer.rest_layer_depth_option",
        )
        _choice(init.color_option, COLOR_OPTIONS, "params.initializer.color_option")
        surface = init.rest_layer_depth_option.startswith("surface")
        if init.num_layers > 2 and surface:
            raise ConfigError(
                f"params.initializer.rest_layer_depth_option {init.rest_layer_depth_option!r} "
                f"gives one more layer, so num_layers cannot be {init.num_layers}",
                "use num_layers 2, or 'base_depth' / 'linear_disparity' for more layers",
            )
        if init.stride < 1 or decoder.stride % init.stride:
            raise ConfigError(
                f"params.initializer.stride ({init.stride}) must divide the Gaussian decoder's "
                f"stride ({decoder.stride})",
                "the decoder may not be finer than the initializer; e.g. both 2",
            )
        if init.base_depth <= 0:
            raise ConfigError("params.initializer.base_depth must be positive", "e.g. 10.0")

    def _validate_alignment(self) -> None:
        alignment = self.params.depth_alignment
        _choice(alignment.activation_type, ACTIVATIONS, "params.depth_alignment.activation_type")
        stride = alignment.stride
        if stride < 1 or stride & (stride - 1):
            raise ConfigError(
                f"params.depth_alignment.stride {stride} is not a power of two", "e.g. 1"
            )
        if alignment.steps - int(math.log2(stride)) < 1:
            raise ConfigError(
                f"params.depth_alignment.steps ({alignment.steps}) must exceed log2(stride)",
                "e.g. steps 4 with stride 1",
            )
        for width in alignment_widths(alignment):
            for channels in (width, width // 2):
                _check_groups(channels, ALIGNMENT_NORM_GROUPS, "params.depth_alignment")
        dims = self.params.monodepth.dims_decoder
        if alignment.depth_decoder_features and dims[0] != dims[-1]:
            raise ConfigError(
                "depth_alignment.depth_decoder_features needs equal first and last "
                "monodepth.dims_decoder widths (the published code sizes it by the last)",
                "use one width for all monodepth decoder levels",
            )


# The alignment UNet always uses 4 groups, whatever the other norm settings say.
ALIGNMENT_NORM_GROUPS = 4


def alignment_widths(params: AlignmentParams) -> list[int]:
    """Channel widths of the alignment UNet's levels: doubling from ``base_width``, capped."""
    return [min(params.base_width << i, 1024) for i in range(params.steps + 1)]


def _check_groups(channels: int, groups: int, where: str) -> None:
    if groups < 1 or channels % groups:
        raise ConfigError(
            f"{where}: group norm with {groups} groups cannot split {channels} channels",
            "pick widths divisible by norm_num_groups (hidden layers use half the width)",
        )


def _choice(value: object, allowed: tuple[str, ...], name: str) -> None:
    if value not in allowed:
        raise ConfigError(f"{name} is {value!r}", f"use one of {list(allowed)}")


__all__ = [
    "AlignmentParams",
    "DeltaFactor",
    "GaussianDecoderParams",
    "InitializerParams",
    "MonodepthAdaptorParams",
    "MonodepthParams",
    "PredictorParams",
    "SharpConfig",
    "alignment_widths",
]
