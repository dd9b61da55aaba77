"""The few-shot fine-tuning stage: a meta-learned model made person-specific from K frames.

The generator G' starts as the meta-learned G with its AdaIN parameters ψ' made a free parameter
initialised from ψ̂ = P·ê_new; the discriminator D' starts as D with a single column
``w' = w0 + ê_new`` (the embedding match made ê a stand-in for a video's column). Both are then
trained on the K frames with the meta-learning losses less the embedding match. Without any
fine-tuning step this is the feed-forward model, G(y, P·ê_new).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from unflat.face.fewshot.losses import (
    ContentLoss,
    LossWeights,
    discriminator_hinge,
    feature_matching,
    generator_adversarial,
)
from unflat.face.fewshot.model import FewShotTalkingHead

# The paper's learning rates: 5e-5 for the generator side, 2e-4 for the discriminator (TTUR).
GENERATOR_RATE = 5e-5
DISCRIMINATOR_RATE = 2e-4
# Adam's momentum terms for both networks (a GAN's usual, the paper does not state them).
BETAS = (0.5, 0.999)


class Person(nn.Module):
    """One person's fine-tuned pair: G' with its own ψ', and D' with one column."""

    def __init__(self, model: FewShotTalkingHead, frames: torch.Tensor, landmarks: torch.Tensor):
        """``frames`` and ``landmarks``: the person's K shots ``[K,3,H,W]`` in [0, 1]."""
        super().__init__()
        embedding = model.embed(frames, landmarks)
        self.generator = copy.deepcopy(model.generator)
        self.styles = nn.Parameter(model.generator.project(embedding).detach().clone())
        self.discriminator = copy.deepcopy(model.discriminator)
        with torch.no_grad():
            column = model.discriminator.w0 + embedding[0]
        self.discriminator.columns = nn.Parameter(column[None].clone())
        self.discriminator.w0 = nn.Parameter(torch.zeros_like(column), requires_grad=False)

    def forward(self, landmarks: torch.Tensor) -> torch.Tensor:
        """Frames ``[B,3,H,W]`` of this person under landmark images ``[B,3,H,W]``."""
        return self.generator(landmarks, self.styles)

    def generator_parameters(self) -> list[nn.Parameter]:
        return [self.styles, *self.generator.parameters()]


def finetune(
    person: Person,
    frames: torch.Tensor,
    landmarks: torch.Tensor,
    steps: int,
    *,
    content: ContentLoss | None = None,
    batch_size: int = 8,
    rates: tuple[float, float] = (GENERATOR_RATE, DISCRIMINATOR_RATE),
    seed: int = 0,
    weights: LossWeights | None = None,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
) -> list[dict[str, float]]:
    """Train ``person`` on its K shots for ``steps`` updates of G' and D'; the loss terms
    (``weights``: the paper's by default; the embedding match has no part here)."""
    content, w = content or ContentLoss(), weights or LossWeights()
    person.train()
    optimise_generator = torch.optim.Adam(person.generator_parameters(), rates[0], betas=BETAS)
    trainable = [p for p in person.discriminator.parameters() if p.requires_grad]
    optimise_discriminator = torch.optim.Adam(trainable, rates[1], betas=BETAS)
    draw = torch.Generator().manual_seed(seed)
    zero = torch.zeros(min(batch_size, len(frames)), dtype=torch.long)
    history = []
    for step in range(steps):
        pick = torch.randperm(len(frames), generator=draw)[: len(zero)]
        real, shape = frames[pick], landmarks[pick]
        fake = person(shape)
        fake_scores, fake_features = person.discriminator(fake, shape, zero)
        with torch.no_grad():
            _, real_features = person.discriminator(real, shape, zero)
        loss_content = w.content * content(fake, real)
        matching = w.feature_matching * feature_matching(fake_features, real_features)
        optimise_generator.zero_grad(set_to_none=True)
        (loss_content + w.adversarial * generator_adversarial(fake_scores) + matching).backward()
        optimise_generator.step()
        scores, _ = person.discriminator(torch.cat([real, fake.detach()]), shape.repeat(2, 1, 1, 1),
                                         zero.repeat(2))  # fmt: skip
        hinge = discriminator_hinge(*scores.chunk(2))
        optimise_discriminator.zero_grad(set_to_none=True)
        hinge.backward()
        optimise_discriminator.step()
        found = {"content": loss_content, "feature_matching": matching, "discriminator": hinge}
        terms = {name: float(value.detach()) for name, value in found.items()}
        history.append(terms)
        if on_step is not None:
            on_step(step, terms)
    return history
