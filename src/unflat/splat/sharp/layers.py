"""Small building blocks of SHARP: norm layers, norm-activation residual blocks, activations."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from unflat.nn.dpt import ResidualBlock


def norm_layer(channels: int, norm_type: str, num_groups: int = 8) -> nn.Module:
    """The 2D normalisation named ``norm_type`` (``noop`` is the identity)."""
    if norm_type == "noop":
        return nn.Identity()
    if norm_type == "batch_norm":
        return nn.BatchNorm2d(channels)
    if norm_type == "group_norm":
        return nn.GroupNorm(num_groups=num_groups, num_channels=channels)
    if norm_type == "instance_norm":
        return nn.InstanceNorm2d(channels)
    raise ValueError(f"unknown norm type {norm_type!r}")


def norm_residual_block(
    dim_in: int,
    dim_out: int,
    dim_hidden: int | None = None,
    norm_type: str = "noop",
    norm_num_groups: int = 8,
) -> ResidualBlock:
    """Pre-activation residual block: (norm, ReLU, 3x3 conv) twice, 1x1 shortcut if widths differ.

    Indices 2 and 5 of ``residual`` are the convolutions, 0 and 3 the norms, as in the checkpoint.
    """
    dim_hidden = dim_out // 2 if dim_hidden is None else dim_hidden
    layers: list[nn.Module] = []
    for width_in, width_out in ((dim_in, dim_hidden), (dim_hidden, dim_out)):
        layers += [
            norm_layer(width_in, norm_type, norm_num_groups),
            nn.ReLU(),
            nn.Conv2d(width_in, width_out, kernel_size=3, padding=1),
        ]
    shortcut = nn.Conv2d(dim_in, dim_out, kernel_size=1) if dim_in != dim_out else None
    return ResidualBlock(nn.Sequential(*layers), shortcut)


class Activation(NamedTuple):
    """An activation and its inverse, so that a base value can be offset in pre-activation space."""

    forward: Callable[[torch.Tensor], torch.Tensor]
    inverse: Callable[[torch.Tensor], torch.Tensor]


def inverse_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """``logit``, written as the published code does (no clamping)."""
    return torch.log(x / (1.0 - x))


def inverse_softplus(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """``log(exp(x) - 1)``, computed stably through a sigmoid for large ``x``."""
    x = x.clamp_min(eps)
    sigmoid = torch.sigmoid(-x)
    return x + torch.log(1.0 - sigmoid / (1.0 - sigmoid))


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def _relu(x: torch.Tensor) -> torch.Tensor:
    # The published "with pushback" variants only change gradients; forward is a clamp.
    return x.clamp(min=0.0)


def _hard_sigmoid(x: torch.Tensor) -> torch.Tensor:
    return (x / 6.0 + 0.5).clamp(0.0, 1.0)


def _hard_sigmoid_inverse(x: torch.Tensor) -> torch.Tensor:
    return 6.0 * x - 3.0


def activation(name: str) -> Activation:
    """The activation pair named as in the published ``ActivationType``."""
    pairs = {
        "linear": Activation(_identity, _identity),
        "exp": Activation(torch.exp, torch.log),
        "sigmoid": Activation(torch.sigmoid, inverse_sigmoid),
        "softplus": Activation(F.softplus, inverse_softplus),
        "relu_with_pushback": Activation(_relu, _identity),
        "hard_sigmoid_with_pushback": Activation(_hard_sigmoid, _hard_sigmoid_inverse),
    }
    if name not in pairs:
        raise ValueError(f"unknown activation {name!r}; use one of {sorted(pairs)}")
    return pairs[name]
