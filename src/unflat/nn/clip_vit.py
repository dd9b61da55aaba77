"""CLIP's vision transformer with the parameter names of transformers' ``CLIPModel`` checkpoints.

Pre-norm ViT: patches by a bias-free conv, a learned class token and absolute positions, a
LayerNorm before the blocks (``pre_layrnorm``, spelled as released), blocks of LayerNorm ->
multi-head attention (separate q/k/v projections) and LayerNorm -> MLP with QuickGELU
(``x * sigmoid(1.702 x)``), and ``post_layernorm`` on the class token. The state dict of
``ClipVisionModel`` holds exactly the ``vision_model.*`` tensors of a released ``CLIPModel``
file (``openai/clip-vit-base-patch16``), so ``vision_state`` + ``load_state_dict(strict=True)``
load it. OpenAI's own archives hold the same numbers under other names (one fused in-proj).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unflat.config import read_config
from unflat.registry import ModelEntry, WeightFile, register_architecture, register_model

VISION_PREFIX = "vision_model."


@dataclass
class ClipVisionConfig:
    """Defaults: ViT-B/16 at 224 px (``openai/clip-vit-base-patch16``)."""

    hidden_size: int = 768
    intermediate_size: int = 3072
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    image_size: int = 224
    patch_size: int = 16
    num_channels: int = 3
    layer_norm_eps: float = 1e-5


class ClipAttention(nn.Module):
    def __init__(self, config: ClipVisionConfig):
        super().__init__()
        width = config.hidden_size
        self.heads = config.num_attention_heads
        self.q_proj = nn.Linear(width, width)
        self.k_proj = nn.Linear(width, width)
        self.v_proj = nn.Linear(width, width)
        self.out_proj = nn.Linear(width, width)

    def forward(self, x: Tensor) -> Tensor:
        b, n, d = x.shape

        def split(t: Tensor) -> Tensor:
            return t.reshape(b, n, self.heads, d // self.heads).transpose(1, 2)

        q, k, v = split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x))
        out = F.scaled_dot_product_attention(q, k, v)
        return self.out_proj(out.transpose(1, 2).reshape(b, n, d))


class ClipMlp(nn.Module):
    def __init__(self, config: ClipVisionConfig):
        super().__init__()
        self.fc1 = nn.Linear(config.hidden_size, config.intermediate_size)
        self.fc2 = nn.Linear(config.intermediate_size, config.hidden_size)

    def forward(self, x: Tensor) -> Tensor:
        x = self.fc1(x)
        return self.fc2(x * torch.sigmoid(1.702 * x))


class ClipLayer(nn.Module):
    def __init__(self, config: ClipVisionConfig):
        super().__init__()
        self.layer_norm1 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.self_attn = ClipAttention(config)
        self.layer_norm2 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.mlp = ClipMlp(config)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.self_attn(self.layer_norm1(x))
        return x + self.mlp(self.layer_norm2(x))


class ClipEncoder(nn.Module):
    def __init__(self, config: ClipVisionConfig):
        super().__init__()
        self.layers = nn.ModuleList(ClipLayer(config) for _ in range(config.num_hidden_layers))


class ClipEmbeddings(nn.Module):
    def __init__(self, config: ClipVisionConfig):
        super().__init__()
        width, patch = config.hidden_size, config.patch_size
        self.class_embedding = nn.Parameter(torch.zeros(width))
        self.patch_embedding = nn.Conv2d(
            config.num_channels, width, patch, stride=patch, bias=False
        )
        positions = (config.image_size // patch) ** 2 + 1
        self.position_embedding = nn.Embedding(positions, width)

    def forward(self, pixels: Tensor) -> Tensor:
        patches = self.patch_embedding(pixels).flatten(2).transpose(1, 2)
        cls = self.class_embedding.to(patches.dtype).expand(patches.shape[0], 1, -1)
        return torch.cat([cls, patches], dim=1) + self.position_embedding.weight.to(patches.dtype)


class ClipVisionTransformer(nn.Module):
    def __init__(self, config: ClipVisionConfig):
        super().__init__()
        self.embeddings = ClipEmbeddings(config)
        self.pre_layrnorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.encoder = ClipEncoder(config)
        self.post_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, pixels: Tensor) -> Tensor:
        """Every token of the last block [B, 1 + patches, D], before ``post_layernorm``."""
        x = self.pre_layrnorm(self.embeddings(pixels))
        for layer in self.encoder.layers:
            x = layer(x)
        return x


class ClipVisionModel(nn.Module):
    """``forward(pixels [B, 3, S, S]) -> tokens [B, 1 + (S/P)^2, D]`` (last block's output)."""

    def __init__(self, config: ClipVisionConfig | None = None):
        super().__init__()
        self.config = config or ClipVisionConfig()
        self.vision_model = ClipVisionTransformer(self.config)

    def forward(self, pixels: Tensor) -> Tensor:
        size = self.config.image_size
        if pixels.ndim != 4 or pixels.shape[1:] != (self.config.num_channels, size, size):
            raise ValueError(f"CLIP takes images [B, 3, {size}, {size}], got {tuple(pixels.shape)}")
        return self.vision_model(pixels)

    def pooled(self, pixels: Tensor) -> Tensor:
        """The class token after ``post_layernorm`` (transformers' ``pooler_output``)."""
        return self.vision_model.post_layernorm(self(pixels)[:, 0])


def vision_state(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """The vision tower's tensors of a full ``CLIPModel`` state dict (text tower and projections
    dropped, and the ``position_ids`` buffer older files stored)."""
    return {
        key: value
        for key, value in state.items()
        if key.startswith(VISION_PREFIX) and not key.endswith("position_ids")
    }


# OpenAI's own archives (``ViT-B-16.pt``, which the published VSSFlow loads): name pieces.
_OPENAI_NAMES = (
    ("visual.transformer.resblocks.", "vision_model.encoder.layers."),
    (".attn.out_proj.", ".self_attn.out_proj."),
    (".ln_1.", ".layer_norm1."),
    (".ln_2.", ".layer_norm2."),
    (".mlp.c_fc.", ".mlp.fc1."),
    (".mlp.c_proj.", ".mlp.fc2."),
    ("visual.conv1.", "vision_model.embeddings.patch_embedding."),
    ("visual.ln_pre.", "vision_model.pre_layrnorm."),
    ("visual.ln_post.", "vision_model.post_layernorm."),
)


def from_openai_state(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """The vision tower of an OpenAI CLIP state dict (``visual.*``) under transformers' names:
    the fused attention in-projection split into q, k, v (its row order); the projection and
    the text tower dropped."""
    out: dict[str, Tensor] = {}
    for key, value in state.items():
        if not key.startswith("visual.") or key == "visual.proj":
            continue
        if key == "visual.class_embedding":
            out["vision_model.embeddings.class_embedding"] = value
            continue
        if key == "visual.positional_embedding":
            out["vision_model.embeddings.position_embedding.weight"] = value
            continue
        name = key
        for old, new in _OPENAI_NAMES:
            name = name.replace(old, new)
        if ".attn.in_proj_" in name:
            kind = name.rsplit("_", 1)[-1]  # weight or bias
            for part, chunk in zip(("q", "k", "v"), value.chunk(3), strict=True):
                out[name.split(".attn.")[0] + f".self_attn.{part}_proj.{kind}"] = chunk
            continue
        out[name] = value
    return out


def build_clip_vision(config: dict) -> ClipVisionModel:
    """``build_model({"architecture": "clip_vision", ...})``: CLIP's image tower."""
    return ClipVisionModel(read_config(ClipVisionConfig, config, "clip_vision"))


register_architecture("clip_vision", build_clip_vision, ClipVisionConfig)
register_model(
    ModelEntry(
        name="clip-vit-b-16",
        task="video",
        architecture={"architecture": "clip_vision"},
        description=(
            "OpenAI CLIP ViT-B/16 (openai/clip-vit-base-patch16; its vision_model.* tensors): "
            "VSSFlow's frame features, the class token of the last block at 10 frames/s."
        ),
        files=(
            WeightFile(
                filename="pytorch_model.bin",
                urls=(
                    "https://huggingface.co/openai/clip-vit-base-patch16/resolve/main/"
                    "pytorch_model.bin",
                ),
                # 150 M float32 parameters (both towers); exact bytes and hash not yet pinned.
                approx_bytes=599_000_000,
            ),
        ),
        licence="MIT",
        licence_url="https://github.com/openai/CLIP/blob/main/LICENSE",
        licence_summary=(
            "MIT licence (the openai/CLIP repository that released the weights): use, copy, "
            "modify and distribute with the copyright notice. OpenAI's model card calls "
            "deployed use of the model out of scope for now. A summary, not legal advice."
        ),
        commercial_use=True,
        homepage="https://github.com/openai/CLIP",
        paper="Learning Transferable Visual Models From Natural Language Supervision "
        "(arXiv:2103.00020)",
    )
)


__all__ = [
    "VISION_PREFIX",
    "ClipVisionConfig",
    "ClipVisionModel",
    "ClipVisionTransformer",
    "build_clip_vision",
    "from_openai_state",
    "vision_state",
]
