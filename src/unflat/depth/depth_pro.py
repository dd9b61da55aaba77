"""Depth Pro (Bochkovskii et al., 2024): metric depth and focal length from one image.

Checkpoint-compatible with Apple's released ``depth_pro.pt``: module names and shapes equal the
published ``DepthPro`` (encoder / decoder / head / fov), so its state dict loads with
``strict=True`` and the fp32 path computes what the published code computes.

The network sees a 1536x1536 image in [-1, 1] as a 3-level pyramid: 5x5 overlapping 384 px
patches at full size, 3x3 at half size and the whole image at quarter size all go through one
shared patch ViT; a second ViT sees the whole image for global context. The merged feature maps
are decoded by a DPT decoder into canonical inverse depth, and a small head (with its own ViT)
predicts the horizontal field of view that turns it into metres.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from unflat.config import check_range, read_config
from unflat.errors import ConfigError
from unflat.nn.depth_pro_encoder import DepthProEncoder, inverse_depth_head
from unflat.nn.dpt import MultiresConvDecoder
from unflat.nn.vit import VIT_ALIASES, VisionTransformer, ViTConfig
from unflat.registry import (
    ModelEntry,
    WeightFile,
    apple_research_terms,
    register_architecture,
    register_model,
)

# Inverse depth is clamped to this range before inversion, as the published infer() does:
# depths between 0.1 mm and 10 km.
INVERSE_DEPTH_RANGE = (1e-4, 1e4)
# The widest feature map a config may ask for (the ViT's own bound on its width).
MAX_WIDTH = 65536


@dataclass
class DepthProConfig:
    """Architecture of Depth Pro; the defaults are the released full-size model."""

    vit: ViTConfig = field(default_factory=ViTConfig)
    hook_block_ids: tuple[int, int] = (5, 11)
    encoder_feature_dims: tuple[int, int, int, int] = (256, 512, 1024, 1024)
    decoder_features: int = 256
    use_fov_head: bool = True
    # The released model gives the FOV head its own ViT; without one the head reads only the
    # decoder's coarsest features (a variant the published code also supports).
    fov_encoder: bool = True
    last_dims: tuple[int, int] = (32, 1)

    @classmethod
    def from_dict(cls, values: dict) -> DepthProConfig:
        """Read the fixtures' ``config.json`` schema; unknown keys are an error, not ignored."""
        return read_config(cls, values, "depth_pro", aliases=VIT_ALIASES)

    def to_dict(self) -> dict:
        return {"architecture": "depth_pro", **asdict(self)}

    def validate(self) -> None:
        self.vit.validate()
        if len(self.hook_block_ids) != 2 or not all(
            0 <= i < self.vit.depth for i in self.hook_block_ids
        ):
            raise ConfigError(
                f"hook_block_ids {list(self.hook_block_ids)} must be two block indices "
                f"below the ViT depth {self.vit.depth}",
                "pick two blocks of the patch encoder, e.g. [5, 11] for a 24-block ViT",
            )
        if len(self.encoder_feature_dims) != 4:
            raise ConfigError(
                "encoder_feature_dims must have 4 values", "e.g. [256, 512, 1024, 1024]"
            )
        if self.vit.img_size % self.vit.patch_size or self.vit.grid_size % 8:
            raise ConfigError(
                f"the ViT img_size ({self.vit.img_size}) must be a multiple of 8 patches "
                f"of {self.vit.patch_size} px, so that overlapping windows merge evenly",
                "e.g. img_size 384 with patch_size 16",
            )
        if len(self.last_dims) != 2:
            raise ConfigError("last_dims must have 2 values", "e.g. [32, 1]")
        self._validate_widths()

    def _validate_widths(self) -> None:
        """Widths a network can have. The upper bound (as the ViT's) is far past any model
        (the released one: 1024), so only a damaged config meets it."""
        check_range(
            "encoder_feature_dims", self.encoder_feature_dims, 1, MAX_WIDTH,
            "e.g. [256, 512, 1024, 1024]",
        )  # fmt: skip
        # The inverse-depth head halves the decoder width, the field-of-view head divides it by 8.
        fewest = 8 if self.use_fov_head else 2
        check_range("decoder_features", self.decoder_features, fewest, MAX_WIDTH, "e.g. 256")
        check_range("last_dims", self.last_dims, 1, MAX_WIDTH, "e.g. [32, 1]")


class FOVNetwork(nn.Module):
    """Horizontal field of view (degrees) from the decoder's coarsest features (+ its own ViT)."""

    def __init__(self, channels: int, encoder: VisionTransformer | None, lowres_size: int) -> None:
        super().__init__()
        # Three stride-2 convs shrink the coarsest features (48 px for the released model) to
        # the size of the last kernel, which reads them whole (6x6 there).
        last = lowres_size
        for _ in range(3):
            last = (last + 1) // 2
        downsample = [nn.Conv2d(channels, channels // 2, 3, stride=2, padding=1), nn.ReLU(True)]
        head = [
            nn.Conv2d(channels // 2, channels // 4, 3, stride=2, padding=1),
            nn.ReLU(True),
            nn.Conv2d(channels // 4, channels // 8, 3, stride=2, padding=1),
            nn.ReLU(True),
            nn.Conv2d(channels // 8, 1, kernel_size=last),
        ]
        if encoder is not None:
            self.encoder = nn.Sequential(encoder, nn.Linear(encoder.embed_dim, channels // 2))
            self.downsample = nn.Sequential(*downsample)
        else:
            head = downsample + head
        self.head = nn.Sequential(*head)

    def forward(self, x: torch.Tensor, lowres: torch.Tensor) -> torch.Tensor:
        if hasattr(self, "encoder"):
            x = F.interpolate(x, scale_factor=0.25, mode="bilinear", align_corners=False)
            tokens = self.encoder(x)[:, 1:].permute(0, 2, 1)
            lowres = self.downsample(lowres)
            lowres = tokens.reshape_as(lowres) + lowres
        return self.head(lowres)


class DepthPro(nn.Module):
    """The network: ``forward`` on 1536x1536 input, ``infer`` on images of any size."""

    def __init__(self, config: DepthProConfig | None = None) -> None:
        super().__init__()
        config = config or DepthProConfig()
        config.validate()
        self.config = config
        self.encoder = DepthProEncoder(
            config.vit, config.hook_block_ids, config.encoder_feature_dims, config.decoder_features
        )
        self.decoder = MultiresConvDecoder(decoder_input_dims(config), config.decoder_features)
        dim = config.decoder_features
        self.head = inverse_depth_head(dim, config.last_dims)
        if config.use_fov_head:
            fov_vit = VisionTransformer(config.vit) if config.fov_encoder else None
            self.fov = FOVNetwork(dim, fov_vit, lowres_size=2 * config.vit.grid_size)

    @property
    def img_size(self) -> int:
        return self.encoder.img_size

    def block_passes(self) -> int:
        """Images the ViT blocks take in a forward of one image: the encoder's two ViTs, and
        the field-of-view head's own (see ``unflat.nn.vit.block_progress``)."""
        fov = getattr(self, "fov", None)
        fov_blocks = len(fov.encoder[0].blocks) if hasattr(fov, "encoder") else 0
        return self.encoder.block_passes() + fov_blocks

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Canonical inverse depth ``[B,1,S,S]`` and FOV in degrees ``[B,1,1,1]`` (or None)."""
        size = self.img_size
        if x.shape[-2:] != (size, size):
            raise ValueError(f"Depth Pro's forward expects {size}x{size} input, got {x.shape}")
        encodings = self.encoder(x)
        features, lowres = self.decoder(encodings)
        canonical_inverse_depth = self.head(features)
        fov_deg = self.fov(x, lowres.detach()) if hasattr(self, "fov") else None
        return canonical_inverse_depth, fov_deg

    @torch.no_grad()
    def infer(
        self,
        image: torch.Tensor,
        f_px: float | torch.Tensor | None = None,
        interpolation_mode: str = "bilinear",
    ) -> dict[str, torch.Tensor]:
        """Metric depth (metres) and focal length (pixels) for ``image`` in [-1, 1].

        ``image`` is ``[3,H,W]`` or ``[B,3,H,W]`` of any size: it is resized to the network size
        and the result back. ``f_px`` (the focal length in pixels of ``image``) replaces the
        network's own estimate when given.
        """
        if image.dim() == 3:
            image = image.unsqueeze(0)
        height, width = image.shape[-2:]
        size = self.img_size
        resized = (height, width) != (size, size)
        x = image
        if resized:
            x = F.interpolate(x, size=(size, size), mode=interpolation_mode, align_corners=False)
        canonical_inverse_depth, fov_deg = self.forward(x)
        if f_px is None:
            if fov_deg is None:
                raise ConfigError(
                    "this Depth Pro model has no field-of-view head, so it needs a focal length",
                    "pass f_px (or --focal-px)",
                )
            f_px = 0.5 * width / torch.tan(0.5 * torch.deg2rad(fov_deg.float()))
        else:
            f_px = torch.as_tensor(f_px, dtype=torch.float32, device=image.device)
            f_px = f_px.reshape(-1, 1, 1, 1) if f_px.dim() else f_px
        # The network predicts inverse depth for a canonical focal length equal to the width.
        inverse_depth = canonical_inverse_depth * (width / f_px)
        if resized:
            inverse_depth = F.interpolate(
                inverse_depth, size=(height, width), mode=interpolation_mode, align_corners=False
            )
        depth = 1.0 / torch.clamp(inverse_depth, *INVERSE_DEPTH_RANGE)
        return {"depth": depth.squeeze(), "focallength_px": f_px.squeeze()}


def build_depth_pro(config: dict | None = None) -> DepthPro:
    """Build Depth Pro from a config dict (the fixtures' schema; empty = full size)."""
    return DepthPro(DepthProConfig.from_dict(config or {}))


def decoder_input_dims(config: DepthProConfig) -> Sequence[int]:
    """Decoder input widths, finest first: the latent level is already at decoder width."""
    return [config.decoder_features, *config.encoder_feature_dims]


register_architecture("depth_pro", build_depth_pro, DepthProConfig)
register_model(
    ModelEntry(
        name="depth-pro",
        task="depth",
        architecture={"architecture": "depth_pro"},
        description=(
            "Apple Depth Pro: metric depth and focal length from a single photo "
            "(two DINOv2 ViT-L/16 encoders, multi-resolution DPT decoder, 1536x1536)."
        ),
        files=(
            WeightFile(
                filename="depth_pro.pt",
                urls=(
                    "https://ml-site.cdn-apple.com/models/depth-pro/depth_pro.pt",
                    "https://huggingface.co/apple/DepthPro/resolve/main/depth_pro.pt",
                ),
                # 952M parameters, believed stored as float16; exact bytes and hash not yet pinned.
                approx_bytes=1_904_000_000,
            ),
        ),
        **apple_research_terms("https://huggingface.co/apple/DepthPro/blob/main/LICENSE"),
        homepage="https://github.com/apple/ml-depth-pro",
        paper="Depth Pro: Sharp Monocular Metric Depth in Less Than a Second (arXiv:2410.02073)",
    )
)
