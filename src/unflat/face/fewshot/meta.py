"""The meta-learning stage: one adversarial update of (E, G) and one of D per episode batch.

An episode is one video's K conditioning frames with their landmark images and one target frame
with its landmark image. E averages the K embeddings into ê, G draws the target's landmarks
under ψ = P·ê, and D scores the result against the real target with the video's column W_i.

E and G minimise ``content + (-D(x̂) + 10·feature matching) + 80·|W_i - ê|``; D minimises the
hinge loss. The embedding match pulls ê towards W_i in the generator's update and W_i towards ê
in the discriminator's (each side holding the other fixed), so that after meta-learning a new
person's ê is a good start for their column (``w0 + ê``, see :mod:`.finetune`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn

from unflat.face.fewshot.losses import (
    ContentLoss,
    LossWeights,
    discriminator_hinge,
    embedding_match,
    feature_matching,
    generator_adversarial,
)
from unflat.face.fewshot.model import Embedder, Generator


@dataclass
class Episodes:
    """A batch of B episodes: ``frames``/``landmarks`` ``[B,K,3,H,W]``, ``target`` and
    ``target_landmarks`` ``[B,3,H,W]`` (all in [0, 1]), ``videos`` ``[B]`` (the W_i rows)."""

    frames: torch.Tensor
    landmarks: torch.Tensor
    target: torch.Tensor
    target_landmarks: torch.Tensor
    videos: torch.Tensor

    def to(self, device: torch.device | str) -> Episodes:
        return Episodes(*(getattr(self, name).to(device) for name in self.__dataclass_fields__))


class EmbedAndGenerate(nn.Module):
    """E then G as one module, so one DDP wrapper covers the generator side of an episode."""

    def __init__(self, embedder: Embedder, generator: Generator) -> None:
        super().__init__()
        self.embedder = embedder
        self.generator = generator

    def forward(
        self, frames: torch.Tensor, landmarks: torch.Tensor, target_landmarks: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(ê ``[B,D]``, the generated targets ``[B,3,H,W]``)."""
        embedding = self.embedder.embed(frames, landmarks)
        return embedding, self.generator(target_landmarks, self.generator.project(embedding))


def _columns(discriminator: nn.Module) -> torch.Tensor:
    inner = discriminator.module if hasattr(discriminator, "module") else discriminator
    return inner.columns


def _adversarial_terms(
    discriminator: nn.Module, fake: torch.Tensor, e: Episodes, w: LossWeights
) -> dict[str, torch.Tensor]:
    """The generator's hinge and feature-matching terms for its frames ``fake``."""
    # D's parameters get gradients here that its own update discards: no need to all-reduce them.
    quiet = getattr(discriminator, "no_sync", contextlib.nullcontext)
    with quiet():
        fake_scores, fake_features = discriminator(fake, e.target_landmarks, e.videos)
    with torch.no_grad():
        _, real_features = discriminator(e.target, e.target_landmarks, e.videos)
    return {
        "adversarial": w.adversarial * generator_adversarial(fake_scores),
        "feature_matching": w.feature_matching * feature_matching(fake_features, real_features),
    }


def meta_step(
    generator_side: nn.Module,
    discriminator: nn.Module,
    optimisers: tuple[torch.optim.Optimizer, torch.optim.Optimizer],
    episodes: Episodes,
    content: ContentLoss,
    weights: LossWeights | None = None,
) -> dict[str, float]:
    """One update of E and G, then one of D; the loss terms as floats.

    ``generator_side`` is an :class:`EmbedAndGenerate` and ``discriminator`` a
    :class:`Discriminator`, each possibly wrapped in DDP; ``weights`` default to the paper's."""
    w = weights or LossWeights()
    optimise_generator, optimise_discriminator = optimisers
    e = episodes
    embedding, fake = generator_side(e.frames, e.landmarks, e.target_landmarks)
    columns = _columns(discriminator)[e.videos].detach()
    terms = {
        "content": w.content * content(fake, e.target),
        "embedding_match": w.embedding_match * embedding_match(columns, embedding),
    }
    if w.adversarial or w.feature_matching:
        terms.update(_adversarial_terms(discriminator, fake, e, w))
    else:  # a content-only (warm-up) step: D's judgement of the fake is not needed
        terms["adversarial"] = terms["feature_matching"] = fake.new_zeros(())
    optimise_generator.zero_grad(set_to_none=True)
    sum(terms.values()).backward()
    optimise_generator.step()

    both = torch.cat([e.target, fake.detach()])
    scores, _ = discriminator(both, e.target_landmarks.repeat(2, 1, 1, 1), e.videos.repeat(2))
    real_scores, fake_scores = scores.chunk(2)
    hinge = discriminator_hinge(real_scores, fake_scores)
    match = embedding_match(_columns(discriminator)[e.videos], embedding.detach())
    optimise_discriminator.zero_grad(set_to_none=True)
    (hinge + w.column_match * match).backward()
    optimise_discriminator.step()
    found = {name: float(value.detach()) for name, value in terms.items()}
    found["discriminator"] = float(hinge.detach())
    found["l1"] = float((fake.detach() - e.target).abs().mean())
    return found
