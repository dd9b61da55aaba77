"""What every render backend returns: one rendered view (see :mod:`unflat.splat.render`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


@dataclass
class Render:
    """A rendered view: ``color [H,W,3]`` linear RGB, ``alpha [H,W]``, ``depth [H,W]`` metres."""

    color: torch.Tensor
    alpha: torch.Tensor
    depth: torch.Tensor
