"""The losses of both stages: content (over pluggable feature networks), adversarial hinge with
feature matching, and the embedding match.

The paper's content loss compares VGG19 (ImageNet) and VGGFace activations of the generated and
real frames. Those weights cannot be downloaded here, and a feature net with random or
self-trained weights would not be the paper's loss either, only a costlier pixel loss. So the
default :class:`ImagePyramid` says what it is: L1 over an image pyramid and its gradients, a pixel
reconstruction loss that also weighs edges at every scale. A real feature network (VGG19 or
VGGFace exported to TorchScript) plugs in through :class:`FeatureNet` with the paper's weights
(1e-2 and 2e-3); see ``docs/fewshot.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import nn

# The paper's weights: feature matching and the embedding match.
FEATURE_MATCHING_WEIGHT = 10.0
EMBEDDING_MATCH_WEIGHT = 80.0
# The paper's content weights when real VGG19 / VGGFace feature networks are plugged in.
VGG19_WEIGHT = 1e-2
VGGFACE_WEIGHT = 2e-3


@dataclass(frozen=True)
class LossWeights:
    """How much each term counts in the generator's loss; the defaults are the paper's.
    ``adversarial`` scales the hinge term (1 in the paper); 0 there and in ``feature_matching``
    trains E and G as a plain reconstruction model. ``column_match`` is the embedding match in
    D's own update (pulling W_i towards ê), which a content-only warm-up keeps while it sets
    ``embedding_match`` (pulling ê towards W_i) to 0."""

    content: float = 1.0
    adversarial: float = 1.0
    feature_matching: float = FEATURE_MATCHING_WEIGHT
    embedding_match: float = EMBEDDING_MATCH_WEIGHT
    column_match: float = EMBEDDING_MATCH_WEIGHT

    def content_only(self) -> LossWeights:
        """The warm-up's weights: the content loss alone for E and G, D's update unchanged."""
        return replace(self, adversarial=0.0, feature_matching=0.0, embedding_match=0.0)


@runtime_checkable
class FeatureNet(Protocol):
    """Images ``[B,3,H,W]`` in [0, 1] -> the feature maps the content loss compares."""

    def __call__(self, images: torch.Tensor) -> Sequence[torch.Tensor]: ...


class ImagePyramid(nn.Module):
    """The image and its horizontal and vertical differences at ``levels`` scales (halving)."""

    def __init__(self, levels: int = 4) -> None:
        super().__init__()
        self.levels = levels

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        found = []
        for level in range(self.levels):
            if level:
                images = F.avg_pool2d(images, 2)
            found += [images, images.diff(dim=3), images.diff(dim=2)]
        return found


class ContentLoss(nn.Module):
    """Σ over feature networks of ``weight · Σ_layers mean |f(fake) - f(real)|``."""

    def __init__(self, nets: Sequence[tuple[FeatureNet, float]] | None = None) -> None:
        super().__init__()
        nets = list(nets) if nets is not None else [(ImagePyramid(), 1.0)]
        self.nets = nn.ModuleList([net for net, _ in nets if isinstance(net, nn.Module)])
        self.pairs = nets

    def forward(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        total = fake.new_zeros(())
        for net, weight in self.pairs:
            for made, wanted in zip(net(fake), net(real), strict=True):
                total = total + weight * F.l1_loss(made, wanted.detach())
        return total


def feature_matching(fake: Sequence[torch.Tensor], real: Sequence[torch.Tensor]) -> torch.Tensor:
    """Σ over discriminator blocks of the mean L1 between fake and (fixed) real activations, each
    block's divided by the mean magnitude of its real activations.

    The paper sums raw L1s; but D has no normalisation, so its activations (and a raw sum) grow
    as it trains and the term drowns the content loss at a fixed weight (measured: 3.6 -> 16 in
    300 steps of the tiny model). Divided by the real activations' scale each block counts as a
    relative error, so the weight keeps its meaning through training."""
    total = fake[0].new_zeros(())
    for made, wanted in zip(fake, real, strict=True):
        wanted = wanted.detach()
        total = total + F.l1_loss(made, wanted) / (wanted.abs().mean() + 1e-6)
    return total


def generator_adversarial(fake_scores: torch.Tensor) -> torch.Tensor:
    """The generator's hinge term: raise the realism score of its frames."""
    return -fake_scores.mean()


def discriminator_hinge(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """``max(0, 1 - D(real)) + max(0, 1 + D(fake))``, averaged."""
    return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()


def embedding_match(columns: torch.Tensor, embeddings: torch.Tensor) -> torch.Tensor:
    """Mean L1 between the discriminator's video columns ``W_i`` and the embeddings ``ê_i``."""
    return F.l1_loss(columns, embeddings)
