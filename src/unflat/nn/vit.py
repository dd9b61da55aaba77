"""A DINOv2-style Vision Transformer whose parameter names match timm's ``VisionTransformer``.

Depth Pro and SHARP both use timm's ``vit_large_patch14_dinov2`` re-cut to 16-pixel patches at
384x384: a cls token, a learned absolute position embedding (cls + 24x24 grid), pre-norm blocks
with LayerScale and a final LayerNorm. Names (``patch_embed.proj``, ``blocks.N.attn.qkv``,
``blocks.N.ls1.gamma``, ``norm``, optional ``head``) equal the released checkpoints', so their
state dicts load with ``strict=True``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from unflat.config import check_range, read_config
from unflat.progress import Progress, report

# timm builds these ViTs with LayerNorm(eps=1e-6); the released weights were trained with it.
LAYER_NORM_EPS = 1e-6
# timm spells layerscale_init as init_values; configs written for timm read unchanged.
VIT_ALIASES = {"init_values": "layerscale_init"}


@dataclass
class ViTConfig:
    """Shape of a ViT. The defaults are the ViT-L/16 at 384x384 that Depth Pro and SHARP use."""

    embed_dim: int = 1024
    depth: int = 24
    num_heads: int = 16
    mlp_ratio: float = 4.0
    patch_size: int = 16
    img_size: int = 384
    in_chans: int = 3
    layerscale_init: float | None = 1e-5
    # SHARP's checkpoint keeps the unused 21841-way ImageNet-22k head; Depth Pro's does not.
    num_classes: int = 0

    @classmethod
    def from_dict(cls, values: dict) -> ViTConfig:
        """Build from a config dict; ``init_values`` is accepted as timm's name for layerscale."""
        return read_config(cls, values, "vit", aliases=VIT_ALIASES)

    def validate(self) -> None:
        """Refuse shapes no ViT can have, before they reach torch as a division by zero or a
        negative dimension. The bounds are far beyond any published ViT (ViT-G: width 1664,
        48 blocks), so only damaged configs meet them."""
        from unflat.errors import ConfigError

        bounds = {"embed_dim": 65536, "depth": 1024, "num_heads": 1024, "patch_size": 1024}
        bounds |= {"img_size": 65536, "in_chans": 1024}
        for name, most in bounds.items():
            check_range(f"vit.{name}", getattr(self, name), 1, most, "e.g. 16")
        # 0 (no head) or a class count: ImageNet-22k's 21841 is the largest in use.
        check_range("vit.num_classes", self.num_classes, 0, 1_000_000, "e.g. 0 (no head)")
        check_range("vit.mlp_ratio", self.mlp_ratio, 0, 64, "e.g. 4", open_low=True)
        if self.embed_dim % self.num_heads:
            raise ConfigError(
                f"vit.embed_dim {self.embed_dim} is not divisible by num_heads {self.num_heads}",
                "e.g. embed_dim 1024 with 16 heads",
            )

    @property
    def grid_size(self) -> int:
        return self.img_size // self.patch_size


class PatchEmbed(nn.Module):
    """Non-overlapping patches projected by one strided convolution."""

    def __init__(self, patch_size: int, in_chans: int, embed_dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    """Multi-head self-attention with a fused qkv projection."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        if dim % num_heads:
            from unflat.errors import ConfigError

            raise ConfigError(
                f"embed_dim {dim} is not divisible by num_heads {num_heads}",
                "choose num_heads that divides embed_dim",
            )
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, dim = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, dim // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        x = F.scaled_dot_product_attention(q, k, v)
        return self.proj(x.transpose(1, 2).reshape(batch, tokens, dim))


class Mlp(nn.Module):
    """Two linear layers with an exact GELU between them."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class LayerScale(nn.Module):
    """Per-channel residual scale (CaiT/DINOv2)."""

    def __init__(self, dim: int, init: float) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), float(init)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class Block(nn.Module):
    """Pre-norm transformer block: x + ls1(attn(norm1 x)), then x + ls2(mlp(norm2 x))."""

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        dim = config.embed_dim
        self.norm1 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.attn = Attention(dim, config.num_heads)
        self.ls1 = (
            LayerScale(dim, config.layerscale_init) if config.layerscale_init else nn.Identity()
        )
        self.norm2 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.mlp = Mlp(dim, int(dim * config.mlp_ratio))
        self.ls2 = (
            LayerScale(dim, config.layerscale_init) if config.layerscale_init else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class VisionTransformer(nn.Module):
    """ViT returning the final normalised tokens (cls first), optionally with tapped blocks."""

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.config = config
        self.embed_dim = config.embed_dim
        self.patch_size = config.patch_size
        self.img_size = config.img_size
        self.patch_embed = PatchEmbed(config.patch_size, config.in_chans, config.embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, config.embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, config.grid_size**2 + 1, config.embed_dim))
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.depth))
        self.norm = nn.LayerNorm(config.embed_dim, eps=LAYER_NORM_EPS)
        if config.num_classes:
            self.head = nn.Linear(config.embed_dim, config.num_classes)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)

    def _position_embedding(self, grid_h: int, grid_w: int) -> torch.Tensor:
        """The learned embedding, resampled (bicubic, as timm does) when the grid differs."""
        grid = self.config.grid_size
        if (grid_h, grid_w) == (grid, grid):
            return self.pos_embed
        cls_pos, patch_pos = self.pos_embed[:, :1], self.pos_embed[:, 1:]
        patch_pos = patch_pos.reshape(1, grid, grid, -1).permute(0, 3, 1, 2)
        patch_pos = F.interpolate(
            patch_pos.float(), size=(grid_h, grid_w), mode="bicubic", antialias=True
        ).to(self.pos_embed.dtype)
        patch_pos = patch_pos.permute(0, 2, 3, 1).reshape(1, grid_h * grid_w, -1)
        return torch.cat([cls_pos, patch_pos], dim=1)

    def forward(
        self, x: torch.Tensor, taps: Sequence[int] = ()
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Tokens ``[B, 1 + h*w, D]`` after the final norm.

        With ``taps`` (block indices), also return those blocks' raw outputs (before the final
        norm), which is what Depth Pro's encoder reads from the patch ViT.
        """
        grid_h, grid_w = x.shape[-2] // self.patch_size, x.shape[-1] // self.patch_size
        tokens = self.patch_embed(x)
        cls = self.cls_token.expand(tokens.shape[0], -1, -1)
        tokens = torch.cat([cls, tokens], dim=1) + self._position_embedding(grid_h, grid_w)
        tapped: dict[int, torch.Tensor] = {}
        for index, block in enumerate(self.blocks):
            tokens = block(tokens)
            if index in taps:
                tapped[index] = tokens
        tokens = self.norm(tokens)
        if taps:
            return tokens, [tapped[index] for index in taps]
        return tokens


def tokens_to_grid(tokens: torch.Tensor, height: int, width: int, prefix: int = 1) -> torch.Tensor:
    """Drop the ``prefix`` (cls) tokens and fold ``[B, N, C]`` into a ``[B, C, H, W]`` map."""
    batch, _, channels = tokens.shape
    return tokens[:, prefix:].reshape(batch, height, width, channels).permute(0, 3, 1, 2)


@contextlib.contextmanager
def block_progress(model: nn.Module, progress: Progress | None, stage: str) -> Iterator[None]:
    """Report ``model``'s forward passes inside the block under ``stage``, as its ViT blocks
    finish: one step per image (window) a block has taken, ``model.block_passes()`` of them in
    a forward of one image, and one more when the forward returns (the rest of the network).

    Forward hooks that only count, so the numbers computed are untouched. A model without
    ``block_passes`` shows one step for its whole forward.
    """
    if progress is None:
        yield
        return
    passes = getattr(model, "block_passes", None)
    total = (passes() if callable(passes) else 0) + 1
    done = 0
    report(progress, stage, done, total)

    def finished(block: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal done
        done = min(done + int(inputs[0].shape[0]), total - 1)
        report(progress, stage, done, total)

    blocks = [module for module in model.modules() if isinstance(module, Block)]
    hooks = [block.register_forward_hook(finished) for block in blocks]
    try:
        yield
    finally:
        for hook in hooks:
            hook.remove()
    report(progress, stage, total, total)
