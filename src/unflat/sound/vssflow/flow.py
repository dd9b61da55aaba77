"""The training objective: the published flow-matching loss with per-batch condition dropout.

Published (``VAFlow.training_step``): noise ``x0 ~ N(0, I)`` at ``t = 0``, data at ``t = 1``,
``t ~ U(0, 1)`` per item, the CondOT path over all channels (``model.training_loss``), and with
probability 0.1 the conditions of the **whole batch** replaced by zeros (tokens and channels).
``FlowObjective`` is one module from raw features to the loss, so DDP sees (and synchronises)
every parameter that takes part, the condition projections included.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from unflat.sound.vssflow.model import Conditions, VSSFlow


class FlowObjective(nn.Module):
    """``forward(batch, x0, t, drop)`` -> the loss of ``model`` on one batch."""

    def __init__(self, model: VSSFlow):
        super().__init__()
        self.model = model

    def forward(self, batch: dict[str, Tensor], x0: Tensor, t: Tensor, drop: bool) -> Tensor:
        """``batch``: ``latent`` [B, C, T] (already scaled) and the raw conditions ``video``,
        ``phone_id`` and optionally ``speaker``, ``synch``, ``lip``."""
        model = self.model
        conditions = model.condition(
            batch["video"], batch.get("speaker"), batch.get("synch"), batch.get("lip"),
            batch["phone_id"],
        )  # fmt: skip
        if drop:
            # Multiplied by zero rather than replaced: the projections stay in the graph, so
            # every rank's gradients have the same parameters (DDP needs that).
            conditions = Conditions(conditions.cross_attn * 0, conditions.channels * 0)
        return model.training_loss(batch["latent"], x0, t, conditions)


def draw_noise_and_times(
    x1: Tensor, p_uncond: float, generator: torch.Generator
) -> tuple[Tensor, Tensor, bool]:
    """Noise like ``x1``, one time per item, and whether this batch drops its conditions."""
    x0 = torch.randn(x1.shape, device=x1.device, dtype=x1.dtype, generator=generator)
    t = torch.rand(x1.shape[0], device=x1.device, generator=generator)
    drop = bool(torch.rand((), device=x1.device, generator=generator) < p_uncond)
    return x0, t, drop
