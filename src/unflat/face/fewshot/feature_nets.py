"""Feature networks for the content loss, read from files.

A feature network is saved with ``torch.export.save`` (a ``.pt2`` file): a module that takes
images ``[B,3,H,W]`` in [0, 1] at the model's size (any normalisation it needs, e.g. ImageNet's
mean and deviation for VGG19, inside it) and returns a list or tuple of feature maps. The paper
uses VGG19 (ImageNet, weight 1e-2) and VGGFace (weight 2e-3); ``docs/fewshot.md`` says how to
export them. ``torch.jit`` is deprecated in this torch, so TorchScript files are not read.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from unflat.errors import InputError, WeightsError
from unflat.face.fewshot.losses import ContentLoss, FeatureNet, ImagePyramid

EXPORT_HINT = "save the network with torch.export.save (see docs/fewshot.md)"


def load_feature_net(path: str | Path) -> FeatureNet:
    """The exported feature network in ``path``, frozen."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no feature network at {path}", EXPORT_HINT)
    try:
        module = torch.export.load(path).module()
    except Exception as error:  # a foreign or damaged file: say which
        raise WeightsError(f"cannot read feature network {path}: {error}", EXPORT_HINT) from None
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    return module  # type: ignore[return-value]


def content_loss(specs: Sequence[str] = ()) -> ContentLoss:
    """The content loss over ``PATH=WEIGHT`` feature networks; the image pyramid without any."""
    if not specs:
        return ContentLoss([(ImagePyramid(), 1.0)])
    nets = []
    for spec in specs:
        path, _, weight = spec.rpartition("=")
        try:
            value = float(weight)
        except ValueError:
            raise InputError(f"--content-net {spec!r} is not PATH=WEIGHT",
                             "e.g. vgg19.pt2=0.01") from None  # fmt: skip
        nets.append((load_feature_net(path), value))
    return ContentLoss(nets)
