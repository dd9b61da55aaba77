"""``stretch_phonemes``: one phoneme id per latent frame, as the published data loader makes it
(``VideoDataset.match_sequence_length``): a sequence shorter than the target first repeats every
id ``ceil(length / n)`` times, then nearest interpolation (source index ``floor(i * n' / length)``)
picks ``length`` of them; a longer one is only interpolated."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from unflat.errors import InputError


def stretch_phonemes(ids: Sequence[int] | Tensor, length: int) -> Tensor:
    """``ids`` [n] -> [length] int64 (see the module docstring). An empty sequence is refused:
    a clip without speech has the all-zero track (``torch.zeros(length)``) instead."""
    ids = torch.as_tensor(ids, dtype=torch.long).reshape(-1)
    if length < 1:
        raise InputError(f"cannot stretch phonemes to {length} frames", "pass a positive length")
    n = ids.numel()
    if n == 0:
        raise InputError(
            "no phonemes to stretch", "use an all-zero track for a clip without speech"
        )
    if n < length:
        ids = ids.repeat_interleave(math.ceil(length / n))
    # torch's nearest interpolation itself (its float scale decides the rare ties), as published.
    picked = F.interpolate(ids[None, None].double(), size=length, mode="nearest")
    return picked.reshape(-1).long()
