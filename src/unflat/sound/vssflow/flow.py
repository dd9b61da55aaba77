"""Rectified flow for VSSFlow: training loss, condition dropout, and a guided ODE sampler.

Convention (published, "CondOT" path of ``flow_matching``): noise ``x0 ~ N(0, I)`` at ``t = 0``,
data ``x1`` at ``t = 1``, ``x_t = (1 - t) x0 + t x1``, target velocity ``x1 - x0``, ``t ~ U(0, 1)``,
mean-squared error over the latent channels.

Guidance (published): ``v = v_uncond + w (v_cond - v_uncond)`` with the null condition being
zero video features and zero phoneme embeddings together; ``w = 0`` is unconditional, ``w = 1``
plain conditional. The published code drops both conditions for a whole batch with probability
0.1; we drop per example (same expected rate, less gradient noise) and optionally drop video or
phonemes alone (``p_drop_video`` / ``p_drop_phonemes``, off by default).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from unflat.errors import ConfigError
from unflat.sound.vssflow.model import VSSFlow
from unflat.sound.vssflow.train_config import VSSFlowTrainConfig


def condition_dropout(
    cfg: VSSFlowTrainConfig, batch: int, device: torch.device, generator: torch.Generator | None
) -> tuple[Tensor, Tensor]:
    """[B] bool masks (drop_video, drop_phonemes) for classifier-free guidance training.

    The probabilities are ``cfg``'s ``p_uncond``, ``p_drop_video`` and ``p_drop_phonemes``.
    """
    u = torch.rand(3, batch, device=device, generator=generator)
    both = u[0] < cfg.p_uncond
    return both | (u[1] < cfg.p_drop_video), both | (u[2] < cfg.p_drop_phonemes)


def flow_loss(
    model: nn.Module,
    x1: Tensor,
    video: Tensor,
    phonemes: Tensor,
    generator: torch.Generator | None = None,
    cfg: VSSFlowTrainConfig | None = None,
) -> Tensor:
    """Rectified-flow MSE for a batch of clean latents ``x1`` [B, T, C].

    ``model`` may be a ``VSSFlow`` or a wrapper of one (DDP). ``cfg``, the training config, gives
    the condition dropout probabilities (default: the published ones).
    """
    cfg = VSSFlowTrainConfig() if cfg is None else cfg
    b = x1.shape[0]
    x0 = torch.randn(x1.shape, device=x1.device, dtype=x1.dtype, generator=generator)
    t = torch.rand(b, device=x1.device, generator=generator)
    drop_video, drop_phonemes = condition_dropout(cfg, b, x1.device, generator)
    tt = t[:, None, None].to(x1.dtype)
    x_t = (1 - tt) * x0 + tt * x1
    pred = model(x_t, t, video, phonemes, drop_video, drop_phonemes)
    return torch.mean((pred - (x1 - x0)) ** 2)


def guided_velocity(
    model: VSSFlow, x: Tensor, t: Tensor, video: Tensor, phonemes: Tensor, scale: float
) -> Tensor:
    """Classifier-free guided velocity; one batched forward when both branches are needed."""
    b = x.shape[0]
    if scale == 1.0:
        return model(x, t, video, phonemes)
    null = torch.ones(b, dtype=torch.bool, device=x.device)
    if scale == 0.0:
        return model(x, t, video, phonemes, null, null)
    keep = torch.zeros_like(null)
    drop = torch.cat([keep, null])
    v = model(
        torch.cat([x, x]),
        torch.cat([t, t]),
        torch.cat([video, video]),
        torch.cat([phonemes, phonemes]),
        drop,
        drop,
    )
    cond, uncond = v[:b], v[b:]
    return uncond + scale * (cond - uncond)


def time_grid(steps: int, sway_coef: float | None, device: torch.device) -> Tensor:
    """``steps + 1`` times from 0 to 1; sway sampling (F5-TTS) bunches them near ``t = 0``."""
    t = torch.linspace(0.0, 1.0, steps + 1, device=device)
    if sway_coef is not None:
        t = t + sway_coef * (torch.cos(math.pi / 2 * t) - 1 + t)
    return t


@torch.no_grad()
def sample_latents(
    model: VSSFlow,
    video: Tensor,
    phonemes: Tensor,
    *,
    cfg_scale: float | None = None,
    steps: int | None = None,
    method: str | None = None,
    sway_coef: float | None = None,
    noise: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Integrate the guided ODE from noise (t=0) to latents (t=1); returns [B, T, C].

    Defaults come from ``model.cfg`` (``cfg_scale``, ``sample_steps``, ``sampler``,
    ``sway_coef``). ``method`` is ``"euler"`` (one evaluation per step) or ``"midpoint"`` (two).
    """
    cfg = model.cfg
    scale = cfg.cfg_scale if cfg_scale is None else float(cfg_scale)
    steps = cfg.sample_steps if steps is None else int(steps)
    method = cfg.sampler if method is None else method
    sway = cfg.sway_coef if sway_coef is None else sway_coef
    if method not in ("euler", "midpoint"):
        raise ConfigError(f"unknown sampler {method!r}", "use 'euler' or 'midpoint'")
    if steps <= 0:
        raise ConfigError("steps must be positive", "use e.g. 16")
    b, n = phonemes.shape
    device = phonemes.device
    if noise is None:
        shape = (b, n, cfg.latent_channels)
        noise = torch.randn(shape, device=device, generator=generator)
    x = noise
    grid = time_grid(steps, sway, device)

    def vel(x_: Tensor, t_: Tensor) -> Tensor:
        return guided_velocity(model, x_, t_.expand(b), video, phonemes, scale)

    for i in range(steps):
        t0, t1 = grid[i], grid[i + 1]
        dt = t1 - t0
        if method == "euler":
            x = x + dt * vel(x, t0)
        else:
            x_mid = x + 0.5 * dt * vel(x, t0)
            x = x + dt * vel(x_mid, t0 + 0.5 * dt)
    return x
