"""Depth Pro's image encoder and inverse-depth head, shared by Depth Pro and SHARP.

The encoder sees a square image in [-1, 1] as a 3-level pyramid: overlapping windows at full and
half size and the whole image at quarter size all go through one shared patch ViT; a second ViT
sees the whole image for global context (Bochkovskii et al., 2024). Module names equal the
published ``DepthProEncoder``'s, so both Apple's ``depth_pro.pt`` and SHARP's checkpoint load
with ``strict=True``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from unflat.nn.vit import VisionTransformer, ViTConfig, tokens_to_grid


def project_upsample(dim_in: int, dim_out: int, upsamplings: int, dim_mid: int | None = None):
    """1x1 projection followed by ``upsamplings`` 2x transposed convolutions (all bias-free)."""
    dim_mid = dim_out if dim_mid is None else dim_mid
    layers: list[nn.Module] = [nn.Conv2d(dim_in, dim_mid, kernel_size=1, bias=False)]
    layers += [
        nn.ConvTranspose2d(dim_mid if i == 0 else dim_out, dim_out, 2, stride=2, bias=False)
        for i in range(upsamplings)
    ]
    return nn.Sequential(*layers)


def window_steps(side: int, window: int, overlap: float) -> int:
    """How many windows ``sliding_windows`` takes along each side of a ``side`` px image."""
    return math.ceil((side - window) / int(window * (1 - overlap))) + 1


def sliding_windows(x: torch.Tensor, window: int, overlap: float) -> torch.Tensor:
    """Square windows over a square image, row-major, stacked on the batch axis (window-major)."""
    stride = int(window * (1 - overlap))
    steps = window_steps(x.shape[-1], window, overlap)
    return torch.cat(
        [
            x[..., row * stride : row * stride + window, col * stride : col * stride + window]
            for row in range(steps)
            for col in range(steps)
        ],
        dim=0,
    )


def merge_windows(x: torch.Tensor, batch: int, trim: int) -> torch.Tensor:
    """Stitch ``sliding_windows`` feature maps back, trimming ``trim`` px where windows meet."""
    steps = math.isqrt(x.shape[0] // batch)
    rows = []
    for row in range(steps):
        tiles = []
        for col in range(steps):
            index = row * steps + col
            tile = x[batch * index : batch * (index + 1)]
            top = trim if row else 0
            bottom = tile.shape[-2] - (trim if row != steps - 1 else 0)
            left = trim if col else 0
            right = tile.shape[-1] - (trim if col != steps - 1 else 0)
            tiles.append(tile[..., top:bottom, left:right])
        rows.append(torch.cat(tiles, dim=-1))
    return torch.cat(rows, dim=-2)


class DepthProEncoder(nn.Module):
    """Multi-resolution encodings from overlapping patches and a global view.

    ``patch_overlap=False`` tiles the pyramid without overlap (4x4 and 2x2 windows, nothing
    trimmed), a variant SHARP's monodepth encoder can be configured with.
    """

    def __init__(
        self,
        vit: ViTConfig,
        hook_block_ids: Sequence[int],
        feature_dims: Sequence[int],
        decoder_features: int,
        patch_overlap: bool = True,
    ) -> None:
        """``vit`` configures both backbones; ``hook_block_ids`` are the two patch-ViT blocks
        whose tokens become the two finest maps; ``feature_dims`` the widths of the four maps
        after the latent one, which is ``decoder_features`` wide."""
        super().__init__()
        self.patch_overlap = patch_overlap
        self.hook_block_ids = list(hook_block_ids)
        dims = list(feature_dims)
        self.dims_encoder = dims
        self.patch_encoder = VisionTransformer(vit)
        self.image_encoder = VisionTransformer(vit)
        self.window = vit.img_size
        self.grid = vit.grid_size
        embed = vit.embed_dim
        self.upsample_latent0 = project_upsample(embed, decoder_features, 3, dims[0])
        self.upsample_latent1 = project_upsample(embed, dims[0], 2)
        self.upsample0 = project_upsample(embed, dims[1], 1)
        self.upsample1 = project_upsample(embed, dims[2], 1)
        self.upsample2 = project_upsample(embed, dims[3], 1)
        self.upsample_lowres = nn.ConvTranspose2d(embed, dims[3], 2, stride=2, bias=True)
        self.fuse_lowres = nn.Conv2d(2 * dims[3], dims[3], kernel_size=1, bias=True)

    @property
    def img_size(self) -> int:
        """The network's input size: four backbone windows across."""
        return 4 * self.window

    @property
    def overlaps(self) -> tuple[float, float]:
        """How much neighbouring windows overlap at full and at half size."""
        return (0.25, 0.5) if self.patch_overlap else (0.0, 0.0)

    def block_passes(self) -> int:
        """Images all ViT blocks take together in a forward of one image (for progress): each
        patch-ViT block takes every window of the pyramid, each image-ViT block one image."""
        full_overlap, half_overlap = self.overlaps
        windows = window_steps(self.img_size, self.window, full_overlap) ** 2
        windows += window_steps(self.img_size // 2, self.window, half_overlap) ** 2 + 1
        return len(self.patch_encoder.blocks) * windows + len(self.image_encoder.blocks)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Five feature maps, finest first (for 1536 input: 768, 384, 192, 96 and 48 px)."""
        batch = x.shape[0]
        half = F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False)
        quarter = F.interpolate(x, scale_factor=0.25, mode="bilinear", align_corners=False)

        # 5x5 windows at full size (25% overlap), 3x3 at half (50%), the quarter image whole:
        # one batch of 35 (per image) through the shared patch ViT.
        full_overlap, half_overlap = self.overlaps
        full_windows = sliding_windows(x, self.window, overlap=full_overlap)
        half_windows = sliding_windows(half, self.window, overlap=half_overlap)
        windows = torch.cat([full_windows, half_windows, quarter], dim=0)
        tokens, taps = self.patch_encoder(windows, taps=self.hook_block_ids)

        def grid(t: torch.Tensor) -> torch.Tensor:
            return tokens_to_grid(t, self.grid, self.grid)

        # Windows overlap by a quarter (full size) and a half (half size) of the grid; each side
        # of a seam gives up half the overlap, so the merged maps are 4 and 2 grids across
        # (3 and 6 tokens for the released 24x24 grid).
        trim_full, trim_half = (self.grid // 8, self.grid // 4) if self.patch_overlap else (0, 0)
        n_full = full_windows.shape[0]
        latent0 = merge_windows(grid(taps[0][:n_full]), batch, trim=trim_full)
        latent1 = merge_windows(grid(taps[1][:n_full]), batch, trim=trim_full)
        features = grid(tokens)
        full_features, half_features, quarter_features = torch.split(
            features, [n_full, half_windows.shape[0], batch], dim=0
        )
        full_features = merge_windows(full_features, batch, trim=trim_full)
        half_features = merge_windows(half_features, batch, trim=trim_half)

        global_features = grid(self.image_encoder(quarter))
        quarter_features = self.upsample2(quarter_features)
        global_features = self.fuse_lowres(
            torch.cat([quarter_features, self.upsample_lowres(global_features)], dim=1)
        )
        return [
            self.upsample_latent0(latent0),
            self.upsample_latent1(latent1),
            self.upsample0(full_features),
            self.upsample1(half_features),
            global_features,
        ]


def inverse_depth_head(dim: int, last_dims: Sequence[int]) -> nn.Sequential:
    """Decoder features to non-negative inverse depth at twice their resolution.

    ``last_dims`` are the hidden width and the number of output maps (1 for Depth Pro, one per
    depth layer for SHARP).
    """
    head = nn.Sequential(
        nn.Conv2d(dim, dim // 2, 3, padding=1),
        nn.ConvTranspose2d(dim // 2, dim // 2, 2, stride=2, bias=True),
        nn.Conv2d(dim // 2, last_dims[0], 3, padding=1),
        nn.ReLU(True),
        nn.Conv2d(last_dims[0], last_dims[1], 1),
        nn.ReLU(),
    )
    nn.init.zeros_(head[4].bias)
    return head
