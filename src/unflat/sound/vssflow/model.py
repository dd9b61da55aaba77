"""The VSSFlow network as published (github vasflow1/vssflow ``VAFlow`` around a Stable Audio DiT),
with the published parameter names, so released weights load with ``strict=True``.

* ``vaflow``: the DiT. ``x`` [B, C, T] (channel-first, C = latent | lip | phone | synch) ->
  ``x + preprocess_conv(x)`` -> ``proj_in`` -> a time token ``timestep_proj(time_proj(t))``
  prepended (sequence position 0) -> ``transformer_blocks`` (pre-LN: self-attention with RoPE on
  queries and keys, cross-attention with RoPE on queries only and grouped key/value heads
  repeated to the query heads, SwiGLU feed-forward ``ff.net.{0.proj,2}``) -> ``proj_out``,
  position 0 dropped, ``+ postprocess_conv``. The velocity covers every channel.
* ``time_proj.weight``: fixed Gaussian Fourier frequencies (a parameter, as published; no
  gradient), features ``[cos(2 pi t W), sin(2 pi t W)]``.
* conditions (``condition``): CLIP frame features resampled (nearest) to the latent length and
  projected by ``cond_proj``; the RawNet3 speaker embedding projected by ``ref_proj`` is token 0
  of the cross-attention sequence (T + 1 tokens). AV-HuBERT lip features (zero-padded to T,
  ``lip_proj``), phoneme ids (padded with id 0, ``phone_embedding``) and Synchformer features
  (flattened, resampled nearest-exact to T, ``synch_proj``) are concatenated along channels
  after the latent.
* guidance (``guided_velocity``): the unconditional branch zeroes the condition channels and
  the cross-attention tokens; ``u + w (c - u)`` with the condition channels' velocity set to
  zero; ``u`` alone when ``w < 1``.
* training (``training_loss``): CondOT path over all channels (the condition channels stay put),
  mean squared error on the latent channels only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unflat.errors import InputError
from unflat.registry import register_architecture
from unflat.sound.vssflow.config import FF_MULT, ROPE_THETA, VSSFlowConfig


def rotary_tables(length: int, dim: int, device: torch.device | None = None) -> tuple[Tensor, ...]:
    """cos/sin tables [length, dim] for rotate-half RoPE over ``dim`` channels (positions
    0..length-1, inverse frequencies ``theta^(-2j/dim)``, halves duplicated)."""
    inv = 1.0 / ROPE_THETA ** (torch.arange(0, dim, 2, device=device, dtype=torch.float32) / dim)
    angles = torch.outer(torch.arange(length, device=device, dtype=torch.float32), inv)
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos(), angles.sin()


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate the first ``cos.shape[-1]`` channels of ``x`` [B, H, L, D] in fp32 (as published);
    the rest pass through."""
    rot = cos.shape[-1]
    head, tail = x[..., :rot].float(), x[..., rot:]
    a, b = head.chunk(2, dim=-1)
    rotated = head * cos + torch.cat([-b, a], dim=-1) * sin
    return torch.cat([rotated.to(x.dtype), tail], dim=-1)


class Attention(nn.Module):
    """Attention without biases; grouped key/value heads; ``to_out.0`` as in diffusers."""

    def __init__(self, dim: int, heads: int, head_dim: int, kv_heads: int, context_dim: int):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, head_dim
        self.to_q = nn.Linear(dim, heads * head_dim, bias=False)
        self.to_k = nn.Linear(context_dim, kv_heads * head_dim, bias=False)
        self.to_v = nn.Linear(context_dim, kv_heads * head_dim, bias=False)
        self.to_out = nn.ModuleList([nn.Linear(heads * head_dim, dim, bias=False)])

    def forward(self, x: Tensor, context: Tensor | None, rope: tuple[Tensor, Tensor]) -> Tensor:
        b, n, _ = x.shape
        src = x if context is None else context
        q = self.to_q(x).view(b, n, self.heads, self.head_dim).transpose(1, 2)
        k = self.to_k(src).view(b, src.shape[1], self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.to_v(src).view(b, src.shape[1], self.kv_heads, self.head_dim).transpose(1, 2)
        if self.kv_heads != self.heads:
            k = k.repeat_interleave(self.heads // self.kv_heads, dim=1)
            v = v.repeat_interleave(self.heads // self.kv_heads, dim=1)
        q = apply_rotary(q, *rope)
        if context is None:  # cross-attention keys carry no position (published)
            k = apply_rotary(k, *rope)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.to_out[0](out.transpose(1, 2).reshape(b, n, -1))


class GatedProjection(nn.Module):
    """``proj`` of diffusers' SwiGLU: ``a * silu(g)`` with ``[a, g] = proj(x).chunk(2)``."""

    def __init__(self, dim: int, inner: int):
        super().__init__()
        self.proj = nn.Linear(dim, 2 * inner)

    def forward(self, x: Tensor) -> Tensor:
        a, g = self.proj(x).chunk(2, dim=-1)
        return a * F.silu(g)


class FeedForward(nn.Module):
    """``net = [GatedProjection, Dropout, Linear]`` (published names ``ff.net.0.proj``,
    ``ff.net.2``)."""

    def __init__(self, dim: int, inner: int):
        super().__init__()
        self.net = nn.ModuleList(
            [GatedProjection(dim, inner), nn.Identity(), nn.Linear(inner, dim)]
        )

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.net:
            x = layer(x)
        return x


class DiTBlock(nn.Module):
    """Pre-LN block: self-attention, cross-attention to the condition tokens, feed-forward."""

    def __init__(self, cfg: VSSFlowConfig):
        super().__init__()
        dit, dim = cfg.dit_config, cfg.inner_dim
        heads, head_dim = dit.num_attention_heads, dit.attention_head_dim
        self.norm1 = nn.LayerNorm(dim, eps=1e-5)
        self.attn1 = Attention(dim, heads, head_dim, heads, dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-5)
        self.attn2 = Attention(
            dim, heads, head_dim, dit.num_key_value_attention_heads, dit.cross_attention_dim
        )
        self.norm3 = nn.LayerNorm(dim, eps=1e-5)
        self.ff = FeedForward(dim, FF_MULT * dim)

    def forward(self, x: Tensor, context: Tensor, rope: tuple[Tensor, Tensor]) -> Tensor:
        x = x + self.attn1(self.norm1(x), None, rope)
        x = x + self.attn2(self.norm2(x), context, rope)
        return x + self.ff(self.norm3(x))


class FourierTime(nn.Module):
    """Fixed Gaussian Fourier features of the flow time: ``[cos(2 pi t W), sin(2 pi t W)]``."""

    def __init__(self, size: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(size), requires_grad=False)

    def forward(self, t: Tensor) -> Tensor:
        angles = 2 * math.pi * t[:, None] @ self.weight[None, :]
        return torch.cat([angles.cos(), angles.sin()], dim=-1)


class StableAudioDiT(nn.Module):
    """The published DiT (``vaflow.*``): velocity [B, C, T] of ``x`` [B, C, T]."""

    def __init__(self, cfg: VSSFlowConfig):
        super().__init__()
        dim, channels = cfg.inner_dim, cfg.in_channels
        self.rotary_dim = cfg.rotary_dim
        self.time_proj = FourierTime(cfg.dit_config.time_proj_dim // 2)
        self.timestep_proj = nn.Sequential(
            nn.Linear(cfg.dit_config.time_proj_dim, dim), nn.SiLU(), nn.Linear(dim, dim)
        )
        self.preprocess_conv = nn.Conv1d(channels, channels, 1, bias=False)
        self.proj_in = nn.Linear(channels, dim, bias=False)
        self.transformer_blocks = nn.ModuleList(DiTBlock(cfg) for _ in range(cfg.num_layers))
        self.proj_out = nn.Linear(dim, channels, bias=False)
        self.postprocess_conv = nn.Conv1d(channels, channels, 1, bias=False)

    def time_token(self, t: Tensor) -> Tensor:
        """[B] flow times -> [B, dim] (sequence position 0)."""
        weight = self.time_proj.weight
        return self.timestep_proj(self.time_proj(t.to(weight.dtype)))

    def forward(
        self, x: Tensor, t: Tensor, context: Tensor, rope: tuple[Tensor, ...] | None = None
    ) -> Tensor:
        """``rope``: :func:`rotary_tables` for ``T + 1`` positions, when the caller made them
        once for many calls (a sampler); else made here."""
        n = x.shape[-1]
        h = (self.preprocess_conv(x) + x).transpose(1, 2)
        h = torch.cat([self.time_token(t)[:, None], self.proj_in(h)], dim=1)
        if rope is None:
            rope = rotary_tables(n + 1, self.rotary_dim, x.device)
        for block in self.transformer_blocks:
            h = block(h, context, rope)
        out = self.proj_out(h).transpose(1, 2)[:, :, 1:]
        return self.postprocess_conv(out) + out


@dataclass
class Guidance:
    """Classifier-free guidance at scale ``w`` for one sampling call, with what each of its
    evaluations shares made once: ``tokens`` (zero tokens for the unconditional branch, then
    the condition's when guided) and the RoPE tables ``rope`` of the state's length."""

    model: VSSFlow
    w: float
    tokens: Tensor
    rope: tuple[Tensor, ...]

    def velocity(self, x: Tensor, t: Tensor | float) -> Tensor:
        """:meth:`VSSFlow.guided_velocity` of ``x`` [B, C, T] at flow time ``t``."""
        model, c = self.model, self.model.latent_channels
        x_uncond = torch.cat([x[:, :c], torch.zeros_like(x[:, c:])], dim=1)
        if self.w < 1.0:
            return model(x_uncond, t, self.tokens, self.rope)
        b = x.shape[0]
        t = torch.as_tensor(t, device=x.device).reshape(-1).expand(b)
        both = model(torch.cat([x_uncond, x]), torch.cat([t, t]), self.tokens, self.rope)
        uncond, cond = both[:b], both[b:]
        guided = uncond + self.w * (cond - uncond)
        return torch.cat([guided[:, :c], torch.zeros_like(guided[:, c:])], dim=1)


def _projection(raw: int, width: int) -> nn.Sequential:
    """Linear(raw, 2w) - SiLU - Linear(2w, w), no biases (the published condition projections)."""
    return nn.Sequential(
        nn.Linear(raw, 2 * width, bias=False), nn.SiLU(), nn.Linear(2 * width, width, bias=False)
    )


@dataclass
class Conditions:
    """What the DiT is conditioned on: ``cross_attn`` [B, T+1, D] tokens (speaker, then video)
    and ``channels`` [B, C_cond, T] (lip | phone | synch), concatenated after the latent."""

    cross_attn: Tensor
    channels: Tensor


class VSSFlow(nn.Module):
    """The published ``VAFlow`` network: DiT (``vaflow``) and the condition projections."""

    def __init__(self, cfg: VSSFlowConfig):
        super().__init__()
        self.cfg = cfg
        params, raw = cfg.vaflow_params, cfg.fixed_raw_input_dims
        self.vaflow = StableAudioDiT(cfg)
        self.lip_proj = _projection(raw.avhubert_lip, params.lip_feat_dim)
        self.synch_proj = _projection(raw.synchformer, params.synch_feat_dim)
        self.ref_proj = _projection(raw.rawnet_speaker, params.cond_feat_dim)
        self.cond_proj = _projection(raw.clip_video, params.cond_feat_dim)
        self.phone_embedding = nn.Embedding(raw.phone_vocab, params.phone_ebd_dim)

    @property
    def latent_channels(self) -> int:
        return self.cfg.latent_channels

    def forward(
        self,
        x: Tensor,
        t: Tensor | float,
        cross_attn: Tensor,
        rope: tuple[Tensor, ...] | None = None,
    ) -> Tensor:
        """Velocity [B, C, T] (every channel) of ``x`` [B, C, T] at flow time ``t`` ([B] or a
        scalar; 0 = noise, 1 = data), conditioned on ``cross_attn`` [B, T', D]; ``rope``: the
        RoPE tables for ``T + 1`` positions, if already made."""
        self._check_state(x, cross_attn)
        dtype = self.vaflow.proj_in.weight.dtype
        t = torch.as_tensor(t, device=x.device).reshape(-1).expand(x.shape[0])
        return self.vaflow(x.to(dtype), t, cross_attn.to(dtype), rope)

    def _check_state(self, x: Tensor, cross_attn: Tensor) -> None:
        cfg = self.cfg
        if x.ndim != 3 or x.shape[1] != cfg.in_channels:
            raise InputError(
                f"the flow state must be [B, {cfg.in_channels}, T] (latent "
                f"{cfg.latent_channels} + conditions {cfg.cond_channels}), got {tuple(x.shape)}",
                "concatenate the noise and condition.channels along dim 1",
            )
        width = cfg.vaflow_params.cond_feat_dim
        if cross_attn.ndim != 3 or cross_attn.shape[-1] != width or len(cross_attn) != len(x):
            raise InputError(
                f"cross_attn must be [{len(x)}, T+1, {width}], got {tuple(cross_attn.shape)}",
                "pass condition(...).cross_attn",
            )

    def guided_velocity(self, x: Tensor, t: Tensor | float, cross_attn: Tensor, w: float) -> Tensor:
        """Classifier-free guided velocity, as the published ``WrappedModel``: the unconditional
        branch sees zero condition channels and zero tokens; ``u + w (c - u)`` with zero
        velocity on the condition channels; ``u`` unchanged when ``w < 1``. A sampler evaluating
        it many times makes :meth:`guidance` once instead."""
        return self.guidance(cross_attn, w, x.shape[-1]).velocity(x, t)

    def guidance(self, cross_attn: Tensor, w: float, length: int) -> Guidance:
        """The :class:`Guidance` of states [B, C, ``length``] under tokens ``cross_attn``."""
        zeros = torch.zeros_like(cross_attn)
        tokens = zeros if w < 1.0 else torch.cat([zeros, cross_attn])
        rope = rotary_tables(length + 1, self.cfg.rotary_dim, cross_attn.device)
        return Guidance(self, w, tokens, rope)

    def condition(
        self,
        video_feat: Tensor | None,
        ref_audio_ebd: Tensor | None = None,
        synch_feat: Tensor | None = None,
        lip_feat: Tensor | None = None,
        phone_id: Tensor | None = None,
    ) -> Conditions:
        """Project raw features to the DiT's conditions with the published resampling:

        ``video_feat`` [B, F, 768] (CLIP, 10 fps) nearest to T; ``ref_audio_ebd`` [B, 256];
        ``synch_feat`` [B, S, 8, 768] flattened and nearest-exact to T; ``lip_feat`` [B, L, 1024]
        (25 fps) zero-padded (or cut) to T; ``phone_id`` [B, P] padded with id 0 (or cut) to T.
        A condition given as None is all zeros (id 0 for phonemes: no speech).
        """
        cfg, raw = self.cfg, self.cfg.fixed_raw_input_dims
        length = cfg.latent_length
        batch = _batch_size(video_feat, ref_audio_ebd, synch_feat, lip_feat, phone_id)
        device, dtype = self.cond_proj[0].weight.device, self.cond_proj[0].weight.dtype

        def given(x: Tensor | None, shape: tuple[int, ...], name: str) -> Tensor:
            if x is None:  # zeros; one frame where any length goes (resampled or padded to T)
                return torch.zeros(batch, *(max(1, s) for s in shape), device=device, dtype=dtype)
            return _checked(x, shape, name).to(device, dtype)

        video = given(video_feat, (-1, raw.clip_video), "video_feat")
        video = F.interpolate(video.transpose(1, 2), size=length, mode="nearest").transpose(1, 2)
        ref = given(ref_audio_ebd, (raw.rawnet_speaker,), "ref_audio_ebd")
        synch = given(synch_feat, (-1, -1, raw.synchformer), "synch_feat").flatten(1, 2)
        synch = F.interpolate(synch.transpose(1, 2), size=length, mode="nearest-exact")
        lip = _fit_time(given(lip_feat, (-1, raw.avhubert_lip), "lip_feat"), length)
        if phone_id is None:
            phone_id = torch.zeros(batch, length, dtype=torch.long, device=device)
        phones = _fit_time(_checked(phone_id, (-1,), "phone_id").long().to(device), length)
        if phones.numel() and (phones.min() < 0 or phones.max() >= raw.phone_vocab):
            raise InputError(
                f"phoneme ids must lie in 0..{raw.phone_vocab - 1}",
                "encode phonemes with the model's token list",
            )
        tokens = torch.cat([self.ref_proj(ref[:, None]), self.cond_proj(video)], dim=1)
        channels = torch.cat(
            [
                self.lip_proj(lip).transpose(1, 2),
                self.phone_embedding(phones).transpose(1, 2),
                self.synch_proj(synch.transpose(1, 2)).transpose(1, 2),
            ],
            dim=1,
        )
        return Conditions(tokens, channels)

    def training_loss(self, x1: Tensor, x0: Tensor, t: Tensor, conditions: Conditions) -> Tensor:
        """Flow-matching loss, as published: the CondOT path ``t [x1, c] + (1 - t) [x0, c]``
        over all channels, target ``[x1 - x0, 0]``, mean squared error on the latent channels.

        ``x1`` clean latents and ``x0`` noise [B, C_latent, T]; ``t`` [B] in [0, 1].
        """
        x_t, target = condot_path(x1, x0, t, conditions.channels)
        pred = self(x_t, t, conditions.cross_attn)
        n = self.latent_channels
        return F.mse_loss(pred[:, :n].float(), target[:, :n].float())


def condot_path(x1: Tensor, x0: Tensor, t: Tensor, channels: Tensor) -> tuple[Tensor, Tensor]:
    """The published CondOT sample over all channels: ``x_t = t [x1, c] + (1 - t) [x0, c]`` and
    its velocity ``[x1 - x0, 0]`` (``flow_matching`` ``AffineProbPath(CondOTScheduler())``)."""
    c = channels.to(x1.dtype)
    data, noise = torch.cat([x1, c], dim=1), torch.cat([x0, c], dim=1)
    tt = t.to(x1.dtype)[:, None, None]
    return tt * data + (1 - tt) * noise, data - noise


def _batch_size(*tensors: Tensor | None) -> int:
    sizes = {len(x) for x in tensors if x is not None}
    if len(sizes) != 1:
        raise InputError(
            f"the conditions have batch sizes {sorted(sizes) or 'none'}",
            "give at least one condition, every one with the same batch size",
        )
    return sizes.pop()


def _checked(x: Tensor, shape: tuple[int, ...], name: str) -> Tensor:
    """``x`` unless its shape after the batch differs from ``shape`` (-1: any size)."""
    ok = x.ndim == len(shape) + 1
    ok = ok and all(s in (-1, d) for s, d in zip(shape, x.shape[1:], strict=True))
    if not ok:
        wanted = ", ".join("N" if s == -1 else str(s) for s in shape)
        raise InputError(
            f"{name} must be [B, {wanted}], got {tuple(x.shape)}",
            "extract the feature with the front end the model was configured for",
        )
    return x


def _fit_time(x: Tensor, length: int) -> Tensor:
    """Cut or zero-pad dim 1 of ``x`` to ``length`` (published ``F.pad`` to the latent length)."""
    if x.shape[1] >= length:
        return x[:, :length]
    pad = x.new_zeros(x.shape[0], length - x.shape[1], *x.shape[2:])
    return torch.cat([x, pad], dim=1)


def build_vssflow(config: dict) -> VSSFlow:
    """``build_model`` entry: a config in the published schema (``preset`` allowed)."""
    return VSSFlow(VSSFlowConfig.from_dict(config))


register_architecture("vssflow", build_vssflow, VSSFlowConfig)
