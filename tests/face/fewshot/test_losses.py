"""The losses, on cases worked by hand."""

from __future__ import annotations

import torch

from unflat.face.fewshot.losses import (
    ContentLoss,
    ImagePyramid,
    discriminator_hinge,
    embedding_match,
    feature_matching,
    generator_adversarial,
)


def test_hinge_terms() -> None:
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-3.0, 0.0])
    # max(0, 1 - r): 0, 0.5 -> 0.25; max(0, 1 + f): 0, 1 -> 0.5
    assert float(discriminator_hinge(real, fake)) == 0.75
    assert float(generator_adversarial(fake)) == 1.5


def test_feature_matching_and_embedding_match() -> None:
    fake = [torch.zeros(1, 2, 2, 2), torch.ones(1, 3)]
    real = [torch.full((1, 2, 2, 2), 0.5), torch.ones(1, 3) * 3]
    # Each block's L1 over its real activations' mean magnitude: 0.5 / 0.5 + 2 / 3.
    assert abs(float(feature_matching(fake, real)) - (1.0 + 2.0 / 3.0)) < 1e-5
    assert float(embedding_match(torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 4.0]]))) == 1.5


def test_pyramid_content_loss() -> None:
    pyramid = ImagePyramid(levels=2)
    image = torch.zeros(1, 1, 4, 4)
    image[..., 2:] = 1.0  # a vertical edge
    maps = pyramid(image)
    assert [tuple(m.shape[-2:]) for m in maps] == [(4, 4), (4, 3), (3, 4), (2, 2), (2, 1), (1, 2)]
    assert float(maps[1].sum()) == 4  # one step of 1 in each of 4 rows
    loss = ContentLoss([(pyramid, 1.0)])
    assert float(loss(image, image)) == 0
    # A constant offset of 0.25: only the two image levels differ (by 0.25), the gradients not.
    assert abs(float(loss(image + 0.25, image)) - 0.5) < 1e-6
