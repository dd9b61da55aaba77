"""Few-shot adversarial talking heads (Zakharov et al. 2019): embedder, generator, discriminator.

- ``embedder`` E(x, y): a frame and its landmark image -> a ``embedding_dim`` vector; a person's
  embedding ê is the mean over their K frames.
- ``generator`` G(y, ψ): a landmark image -> a frame, with every AdaIN scale and bias taken from
  ψ = P·ê (``generator.projection`` is P), so the person enters only through the normalisation.
- ``discriminator`` D(x, y, i): a realism score ``v(x, y) · (W_i + w0) + b`` with one column
  ``W_i`` per training video (the projection discriminator of Miyato and Koyama 2018), and the
  activations of its blocks for the feature-matching loss.

Images are ``[B, 3, H, W]`` in [0, 1], landmark images the same (see
:mod:`unflat.face.fewshot.landmark_image`). The module knows no files.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from unflat.face.fewshot.blocks import (
    AdaptiveInstanceNorm,
    DownBlock,
    ResBlock,
    SelfAttention,
    UpBlock,
    conv,
)
from unflat.face.fewshot.config import ARCHITECTURE, FewShotConfig
from unflat.registry import register_architecture


def _encoder_blocks(config: FewShotConfig, inputs: int) -> nn.ModuleList:
    """The embedder's and discriminator's shared shape: downsampling to 4x4, self-attention at
    ``attention_down``, the last block at ``embedding_dim`` channels."""
    blocks = nn.ModuleList()
    side, count = config.image_size, config.encoder_downsamplings
    for index in range(count):
        outputs = config.embedding_dim if index == count - 1 else config.width(index)
        blocks.append(DownBlock(inputs, outputs, first=index == 0))
        side, inputs = side // 2, outputs
        if side == config.attention_down:
            blocks.append(SelfAttention(outputs))
    return blocks


def _pool(x: torch.Tensor) -> torch.Tensor:
    """Global sum pooling, then ReLU, as the paper vectorises both encoders."""
    return F.relu(x.sum(dim=(2, 3)))


class Embedder(nn.Module):
    """E(x, y): one vector per (frame, landmark image) pair."""

    def __init__(self, config: FewShotConfig) -> None:
        super().__init__()
        self.blocks = _encoder_blocks(config, 6)

    def forward(self, frames: torch.Tensor, landmarks: torch.Tensor) -> torch.Tensor:
        x = torch.cat([frames, landmarks], dim=1)
        for block in self.blocks:
            x = block(x)
        return _pool(x)

    def embed(self, frames: torch.Tensor, landmarks: torch.Tensor) -> torch.Tensor:
        """ê: ``[B, K, 3, H, W]`` frames and landmark images -> ``[B, D]`` averaged over K."""
        batch, shots = frames.shape[:2]
        vectors = self(frames.flatten(0, 1), landmarks.flatten(0, 1))
        return vectors.reshape(batch, shots, -1).mean(dim=1)


class Generator(nn.Module):
    """G(y, ψ): landmark image -> frame; instance-norm encoder, AdaIN bottleneck and decoder."""

    def __init__(self, config: FewShotConfig) -> None:
        super().__init__()
        downs = config.generator_downsamplings
        widths = [config.width(i) for i in range(downs)]
        self.encoder = nn.ModuleList()
        side, inputs = config.image_size, 3
        for index, outputs in enumerate(widths):
            self.encoder.append(DownBlock(inputs, outputs, norm=True, first=index == 0))
            side, inputs = side // 2, outputs
            if side == config.attention_down:
                self.encoder.append(SelfAttention(outputs))
        self.bottleneck = nn.ModuleList(
            [ResBlock(inputs, adaptive=True) for _ in range(config.generator_residual_blocks)]
        )
        self.decoder = nn.ModuleList()
        for outputs in [*widths[-2::-1], widths[0]]:
            self.decoder.append(UpBlock(inputs, outputs))
            side, inputs = side * 2, outputs
            if side == config.attention_up:
                self.decoder.append(SelfAttention(outputs))
        self.final_norm = AdaptiveInstanceNorm(inputs)
        self.to_rgb = conv(inputs, 3)
        sizes = [2 * m.channels for m in self.modules() if isinstance(m, AdaptiveInstanceNorm)]
        self.style_sizes = sizes
        # P: the embedding -> every AdaIN parameter (a plain matrix, as in the paper).
        self.projection = nn.Linear(config.embedding_dim, sum(sizes), bias=False)
        nn.init.normal_(self.projection.weight, std=0.02 / config.embedding_dim**0.5)

    @property
    def style_size(self) -> int:
        """Length of ψ: the scales and biases of every AdaIN layer."""
        return sum(self.style_sizes)

    def project(self, embedding: torch.Tensor) -> torch.Tensor:
        """ψ̂ = P·ê."""
        return self.projection(embedding)

    def forward(self, landmarks: torch.Tensor, styles: torch.Tensor) -> torch.Tensor:
        """A frame ``[B,3,H,W]`` in [0, 1] for landmark images under ψ ``[B or 1, style_size]``."""
        styles = styles.expand(landmarks.shape[0], -1)
        # The modules meet their AdaIN layers in construction order, so the slices follow it.
        pending = list(torch.split(styles, self.style_sizes, dim=1))
        x = landmarks
        for block in self.encoder:
            x = block(x)
        for block in [*self.bottleneck, *self.decoder]:
            if isinstance(block, SelfAttention):
                x = block(x)
            else:
                x = block(x, [pending.pop(0), pending.pop(0)])
        x = F.relu(self.final_norm(x, pending.pop(0)))
        return torch.sigmoid(self.to_rgb(x))


class Discriminator(nn.Module):
    """D(x, y, i): realism of a frame given its landmark image, for training video ``i``."""

    def __init__(self, config: FewShotConfig) -> None:
        super().__init__()
        self.blocks = _encoder_blocks(config, 6)
        self.blocks.append(ResBlock(config.embedding_dim, adaptive=False))
        dim = config.embedding_dim
        self.columns = nn.Parameter(torch.randn(config.videos, dim) * 0.02)  # W, one row a video
        self.w0 = nn.Parameter(torch.zeros(dim))
        self.b = nn.Parameter(torch.zeros(()))

    def features(self, frames: torch.Tensor, landmarks: torch.Tensor) -> list[torch.Tensor]:
        """Every block's activations (the last is the 4x4 map pooled into v)."""
        x = torch.cat([frames, landmarks], dim=1)
        found = []
        for block in self.blocks:
            x = block(x)
            found.append(x)
        return found

    def forward(
        self, frames: torch.Tensor, landmarks: torch.Tensor, videos: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The score ``[B]`` and the block activations."""
        found = self.features(frames, landmarks)
        vector = _pool(found[-1])
        column = self.columns[videos] + self.w0
        return (vector * column).sum(dim=1) + self.b, found


class FewShotTalkingHead(nn.Module):
    """The three networks of the meta-learning stage in one state dict."""

    def __init__(self, config: FewShotConfig | None = None) -> None:
        super().__init__()
        config = config or FewShotConfig()
        config.validate()
        self.config = config
        self.embedder = Embedder(config)
        self.generator = Generator(config)
        self.discriminator = Discriminator(config)
        if not config.spectral_norm_everywhere:
            for module in [*self.embedder.modules(), *self.generator.modules()]:
                if parametrize.is_parametrized(module, "weight"):
                    parametrize.remove_parametrizations(module, "weight")

    @torch.no_grad()
    def embed(self, frames: torch.Tensor, landmarks: torch.Tensor) -> torch.Tensor:
        """ê of one person from ``[K,3,H,W]`` frames and landmark images: ``[1, D]``."""
        return self.embedder.embed(frames[None], landmarks[None])

    def animate(self, embedding: torch.Tensor, landmarks: torch.Tensor) -> torch.Tensor:
        """The feed-forward model: frames of the person ``embedding`` under ``landmarks``."""
        return self.generator(landmarks, self.generator.project(embedding))


def build_fewshot(config: dict | None = None) -> FewShotTalkingHead:
    """Build the model from a config dict (empty = the paper's size)."""
    return FewShotTalkingHead(FewShotConfig.from_dict(config or {}))


register_architecture(ARCHITECTURE, build_fewshot, FewShotConfig)

__all__ = [
    "Discriminator",
    "Embedder",
    "FewShotTalkingHead",
    "Generator",
    "build_fewshot",
]
