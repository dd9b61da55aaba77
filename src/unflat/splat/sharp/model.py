"""The SHARP network: monodepth, base Gaussians, a DPT-style Gaussian decoder and a delta head.

Module names equal the published ``RGBGaussianPredictor``'s, so the released checkpoint loads
with ``strict=True``:

- ``monodepth_model.monodepth_predictor``: Depth Pro's encoder, a DPT decoder and an inverse-depth
  head predicting two depth layers (front surface and what lies behind it);
- ``init_model``: base Gaussians from the image and the (normalised) depth;
- ``feature_model``: decodes the monodepth encoder features, fused with the image and disparity;
- ``prediction_head``: 1x1 convolutions to 14 deltas per Gaussian;
- ``gaussian_composer``: deltas + base values -> Gaussians in metres;
- ``depth_alignment.scale_map_estimator``: aligns the depth to a given one (unused on photos).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from unflat.nn.depth_pro_encoder import DepthProEncoder, inverse_depth_head
from unflat.nn.dpt import FeatureFusionBlock2d, MultiresConvDecoder
from unflat.registry import (
    ModelEntry,
    WeightFile,
    apple_research_terms,
    register_architecture,
    register_model,
)
from unflat.splat.sharp.alignment import LearnedAlignment
from unflat.splat.sharp.config import GaussianDecoderParams, SharpConfig
from unflat.splat.sharp.gaussians import FlatGaussians, GaussianComposer, MultiLayerInitializer
from unflat.splat.sharp.layers import norm_residual_block

# Inverse depth is clamped to this range before inversion (0.1 mm to 10 km at unit factor).
DISPARITY_RANGE = (1e-4, 1e4)
# Hidden width of the monodepth head's last block, fixed in the published code.
MONODEPTH_HEAD_WIDTH = 32
# Per Gaussian: 3 mean, 3 scale, 4 quaternion, 3 colour and 1 opacity deltas; the first 3
# (geometry) and the other 11 (texture) come from separate feature maps.
GEOMETRY_DELTAS = 3
TEXTURE_DELTAS = 11


class MonodepthOutput(NamedTuple):
    """Disparity ``[B, layers, S, S]``, the encoder's five maps and the decoder's features."""

    disparity: torch.Tensor
    encoder_features: list[torch.Tensor]
    decoder_features: torch.Tensor


class MonodepthPredictor(nn.Module):
    """Depth Pro's encoder and decoder with an inverse-depth head per depth layer (no FOV head)."""

    def __init__(self, config: SharpConfig) -> None:
        super().__init__()
        params = config.params.monodepth
        self.encoder = DepthProEncoder(
            config.vit,
            config.monodepth_hook_ids[:2],
            config.monodepth_encoder_dims,
            params.dims_decoder[0],
            patch_overlap=params.use_patch_overlap,
        )
        self.decoder = MultiresConvDecoder(config.encoder_dims, params.dims_decoder)
        self.head = inverse_depth_head(
            params.dims_decoder[0], (MONODEPTH_HEAD_WIDTH, config.params.num_monodepth_layers)
        )

    def forward(self, image: torch.Tensor) -> MonodepthOutput:
        """``image [B,3,S,S]`` in [0, 1]."""
        encodings = self.encoder(2.0 * image - 1.0)
        features, _ = self.decoder(encodings)
        return MonodepthOutput(self.head(features), encodings, features)


class MonodepthAdaptor(nn.Module):
    """Wraps the monodepth network and picks the features passed on to the Gaussian decoder."""

    def __init__(self, config: SharpConfig) -> None:
        super().__init__()
        self.monodepth_predictor = MonodepthPredictor(config)
        adaptor = config.params.monodepth_adaptor
        self.return_encoder_features = adaptor.encoder_features
        self.return_decoder_features = adaptor.decoder_features
        self.sort_layers = (
            config.params.sorting_monodepth and config.params.num_monodepth_layers == 2
        )

    def forward(self, image: torch.Tensor) -> tuple[MonodepthOutput, list[torch.Tensor]]:
        output = self.monodepth_predictor(image)
        if self.sort_layers:
            # Front layer = the larger disparity (nearer), back layer = the smaller.
            disparity = output.disparity
            output = output._replace(
                disparity=torch.cat(
                    [
                        disparity.max(dim=1, keepdim=True).values,
                        disparity.min(dim=1, keepdim=True).values,
                    ],
                    dim=1,
                )
            )
        features: list[torch.Tensor] = []
        if self.return_encoder_features:
            features += output.encoder_features
        if self.return_decoder_features:
            features.append(output.decoder_features)
        return output, features


class SkipConv(nn.Module):
    """One strided convolution that brings the image + disparity input to the decoder's grid."""

    def __init__(self, dim_in: int, dim_out: int, kernel_size: int, stride: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            dim_in, dim_out, kernel_size, stride=stride, padding=(kernel_size - 1) // 2
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class GaussianFeatures(NamedTuple):
    """Per-pixel features for the texture (colour, opacity, ...) and geometry (mean) deltas."""

    texture: torch.Tensor
    geometry: torch.Tensor


class GaussianDecoder(nn.Module):
    """DPT decoder over the monodepth features, fused with the image, then two feature heads."""

    def __init__(self, params: GaussianDecoderParams, dims_in: list[int]) -> None:
        super().__init__()
        self.use_depth_input = params.use_depth_input
        self.stride = params.stride
        self.decoder = MultiresConvDecoder(
            dims_in,
            params.dims_decoder,
            upsampling=params.upsampling_mode,  # type: ignore[arg-type]
        )
        width = params.dims_decoder[0]
        channels_in = params.dim_in if params.use_depth_input else params.dim_in - 1
        if params.image_encoder_type == "skip_conv":
            kernel_size = 3 if params.stride != 1 else 1
        else:
            kernel_size = params.stride
        self.image_encoder = SkipConv(channels_in, width, kernel_size, params.stride)
        self.fusion = FeatureFusionBlock2d(width)
        # The decoder ends at half the image size; stride 1 needs one more 2x upsampling.
        self.upsample: nn.Module = (
            nn.Sequential(
                nn.Conv2d(width, width, kernel_size=1, bias=False),
                nn.ConvTranspose2d(width, width, kernel_size=2, stride=2, bias=False),
            )
            if params.stride == 1
            else nn.Identity()
        )
        self.texture_head = self._head(params, width)
        self.geometry_head = self._head(params, width)

    @staticmethod
    def _head(params: GaussianDecoderParams, width: int) -> nn.Sequential:
        blocks = [
            norm_residual_block(
                width,
                width,
                dim_hidden=width // 2,
                norm_type=params.norm_type,
                norm_num_groups=params.norm_num_groups,
            )
            for _ in range(2)
        ]
        return nn.Sequential(
            *blocks, nn.ReLU(), nn.Conv2d(width, params.dim_out, kernel_size=1), nn.ReLU()
        )

    def forward(
        self, feature_input: torch.Tensor, encodings: list[torch.Tensor]
    ) -> GaussianFeatures:
        features, _ = self.decoder(encodings)
        features = self.upsample(features.contiguous())
        image_input = feature_input if self.use_depth_input else feature_input[:, :3].contiguous()
        features = self.fusion(features, self.image_encoder(image_input))
        return GaussianFeatures(self.texture_head(features), self.geometry_head(features))


class DirectPredictionHead(nn.Module):
    """1x1 convolutions from the feature maps to the deltas ``[B, 14, layers, h, w]``."""

    def __init__(self, feature_dim: int, num_layers: int) -> None:
        super().__init__()
        self.num_layers = num_layers
        self.geometry_prediction_head = nn.Conv2d(feature_dim, GEOMETRY_DELTAS * num_layers, 1)
        self.texture_prediction_head = nn.Conv2d(feature_dim, TEXTURE_DELTAS * num_layers, 1)
        # Zero deltas at initialisation: the untrained network outputs the base Gaussians.
        for conv in (self.geometry_prediction_head, self.texture_prediction_head):
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)

    def forward(self, features: GaussianFeatures) -> torch.Tensor:
        geometry = self.geometry_prediction_head(features.geometry)
        texture = self.texture_prediction_head(features.texture)
        # Channels are attribute-major: channel c * layers + l is attribute c of layer l.
        geometry = geometry.unflatten(1, (GEOMETRY_DELTAS, self.num_layers))
        texture = texture.unflatten(1, (TEXTURE_DELTAS, self.num_layers))
        return torch.cat([geometry, texture], dim=1)


class DepthAlignment(nn.Module):
    """Holds the alignment UNet under the checkpoint's name and applies it when depth is given."""

    def __init__(self, scale_map_estimator: LearnedAlignment) -> None:
        super().__init__()
        self.scale_map_estimator = scale_map_estimator

    def forward(
        self,
        monodepth: torch.Tensor,
        depth: torch.Tensor | None,
        decoder_features: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if depth is None:
            return monodepth
        scale = self.scale_map_estimator(monodepth[:, 0:1], depth, decoder_features)
        return scale * monodepth


class Sharp(nn.Module):
    """SHARP: one photo to 3D Gaussians (Mescheder et al., Apple, 2025).

    ``forward`` takes the image at the network size (``image_size``, 1536 for the released model)
    in [0, 1] and ``disparity_factor`` = focal length in pixels / width of the photo, and returns
    Gaussians in metres in the normalised image frame: x and y are NDC times depth. Use
    ``unflat.splat.predict_gaussians`` for photos of any size in the camera frame.
    """

    def __init__(self, config: SharpConfig | None = None) -> None:
        super().__init__()
        config = config or SharpConfig()
        config.validate()
        self.config = config
        params = config.params
        self.init_model = MultiLayerInitializer(params.initializer)
        self.feature_model = GaussianDecoder(
            params.gaussian_decoder, config.gaussian_decoder_input_dims
        )
        self.monodepth_model = MonodepthAdaptor(config)
        self.prediction_head = DirectPredictionHead(
            params.gaussian_decoder.dim_out, params.initializer.num_layers
        )
        self.gaussian_composer = GaussianComposer(
            delta_factor=params.delta_factor,
            min_scale=params.min_scale,
            max_scale=params.max_scale,
            color_activation=params.color_activation_type,
            opacity_activation=params.opacity_activation_type,
            color_space=params.color_space,
            base_scale_on_predicted_mean=params.base_scale_on_predicted_mean,
            upsampling=params.gaussian_decoder.stride // params.initializer.stride,
        )
        # Sized by the last decoder width, as published (validation makes it equal the first).
        self.depth_alignment = DepthAlignment(
            LearnedAlignment(params.depth_alignment, params.monodepth.dims_decoder[-1])
        )

    @property
    def image_size(self) -> int:
        """The square input size the network runs at."""
        return self.config.image_size

    def block_passes(self) -> int:
        """Images the ViT blocks take in a forward of one image: the monodepth encoder's two
        ViTs (see ``unflat.nn.vit.block_progress``)."""
        return self.monodepth_model.monodepth_predictor.encoder.block_passes()

    @property
    def num_gaussians(self) -> int:
        """How many Gaussians one image gives: layers x (image_size / stride)^2."""
        side = self.image_size // self.config.params.initializer.stride
        return self.config.params.initializer.num_layers * side * side

    def forward(
        self,
        image: torch.Tensor,
        disparity_factor: torch.Tensor,
        depth: torch.Tensor | None = None,
    ) -> FlatGaussians:
        """Gaussians ``[B, N, C]`` for ``image [B,3,S,S]`` and ``disparity_factor [B]``.

        ``depth [B,1,S,S]`` (metres), when given, is what the predicted depth is aligned to.
        """
        size = self.image_size
        if image.shape[-2:] != (size, size):
            raise ValueError(f"SHARP's forward expects {size}x{size} input, got {image.shape}")
        monodepth_output, encodings = self.monodepth_model(image)
        disparity = monodepth_output.disparity.clamp(*DISPARITY_RANGE)
        monodepth = disparity_factor[:, None, None, None] / disparity
        monodepth = self.depth_alignment(monodepth, depth, monodepth_output.decoder_features)
        init_output = self.init_model(image, monodepth)
        features = self.feature_model(init_output.feature_input, encodings)
        delta = self.prediction_head(features)
        return self.gaussian_composer(delta, init_output.base, init_output.global_scale)


def build_sharp(config: dict | None = None) -> Sharp:
    """Build SHARP from a config dict (the fixtures' schema; empty = the released full size)."""
    return Sharp(SharpConfig.from_dict(config or {}))


register_architecture("sharp", build_sharp, SharpConfig)
register_model(
    ModelEntry(
        name="sharp",
        task="3d-scene",
        architecture={"architecture": "sharp"},
        description=(
            "Apple SHARP: a metric 3D Gaussian scene from a single photo (Depth Pro-style "
            "monodepth with two DINOv2 ViT-L/16 encoders, DPT Gaussian decoder; 1536x1536 input, "
            "2 x 768 x 768 Gaussians), rendered from nearby viewpoints."
        ),
        files=(
            WeightFile(
                filename="sharp_2572gikvuh.pt",
                urls=("https://ml-site.cdn-apple.com/models/sharp/sharp_2572gikvuh.pt",),
                # 702M parameters (1038 tensors, incl. the ViTs' unused 21841-way heads), believed
                # stored as float32; exact bytes and hash not yet pinned.
                approx_bytes=2_809_000_000,
            ),
        ),
        **apple_research_terms("https://github.com/apple/ml-sharp/blob/main/LICENSE_MODEL"),
        homepage="https://github.com/apple/ml-sharp",
        paper="Sharp Monocular View Synthesis in Less Than a Second (arXiv:2512.10685)",
    )
)
