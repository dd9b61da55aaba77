"""A small slice of Depth Pro, timed in each precision path: ``auto``'s measured choice.

Whether int8 or bf16 beats fp32 depends on kernels the processor may lack (on an AVX2-only
EPYC, bf16 convolutions ran 7x slower than fp32 and int8 matmuls 2x faster). The probe runs
the same layer kinds in the same proportions as the full model, about three quarters of its
fp32 time in transformer matmuls and a quarter in convolutions (as Depth Pro on a Zen 4: 29 of
128 s), so the path fastest on it is the path fastest on the model. One probe takes a second or
so in fp32; :func:`unflat.device.choose_precision` caches its verdict per machine.
"""

from __future__ import annotations

import time

import torch
from torch import nn

from unflat.nn.inference import apply_precision
from unflat.nn.vit import VisionTransformer, ViTConfig, tokens_to_grid


class ProbeNetwork(nn.Module):
    """One ViT block at Depth Pro's width over a ``grid`` x ``grid`` token map, then its
    decoder's layer kinds: a projection, a 2x transposed convolution and two 3x3 convolutions."""

    def __init__(self, width: int = 1024, grid: int = 12, features: int = 256) -> None:
        super().__init__()
        self.grid = grid
        config = ViTConfig(embed_dim=width, depth=1, num_heads=max(1, width // 64),
                           img_size=grid * 16)  # fmt: skip
        self.encoder = VisionTransformer(config)
        self.project = nn.Conv2d(width, features, 1)
        self.upsample = nn.ConvTranspose2d(features, features, 2, stride=2)
        self.convolutions = nn.Sequential(
            nn.Conv2d(features, features, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(features, features, 3, padding=1),
        )

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        grid = tokens_to_grid(self.encoder(image), self.grid, self.grid)
        return self.convolutions(self.upsample(self.project(grid)))


class PrecisionProbe:
    """``probe(precision) -> seconds`` of one :class:`ProbeNetwork` run in that path.

    Each path runs twice (the first call sets up its kernels) and the second run is timed; a
    path whose first run already took ``hopeless`` times the best time so far is not run again.
    """

    def __init__(
        self, device: torch.device, width: int = 1024, grid: int = 12, hopeless: float = 3.0
    ) -> None:
        self.device, self.width, self.grid, self.hopeless = device, width, grid, hopeless
        self.best = float("inf")

    def __call__(self, precision: str) -> float:
        torch.manual_seed(0)
        network = ProbeNetwork(self.width, self.grid).eval().requires_grad_(False)
        network.to(self.device)
        dtype = apply_precision(network, precision, self.device, (VisionTransformer,))
        size = self.grid * 16
        image = torch.rand(1, 3, size, size, device=self.device).to(dtype)
        seconds = []
        with torch.inference_mode():
            for _ in range(2):
                start = time.perf_counter()
                network(image)
                seconds.append(time.perf_counter() - start)
                if seconds[0] > self.hopeless * self.best:
                    break
        self.best = min(self.best, seconds[-1])
        return seconds[-1]
