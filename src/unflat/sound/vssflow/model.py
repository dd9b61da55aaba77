"""The VSSFlow DiT: a velocity field over audio latents conditioned on video and phonemes.

Layout (follows the published VSSFlow code, which builds on the Stable Audio DiT):

* the phoneme ids, already stretched to one id per latent frame, are embedded
  (``phoneme_embed``: ``nn.Embedding(200, 32)``) and **concatenated along channels** with the
  noisy latent ``x_t`` ([B, T, C] + [B, T, 32]);
* ``pre_conv`` (1x1 conv, residual) and ``proj_in`` (linear, no bias) lift that to ``dim``;
* the flow time ``t`` in [0, 1] passes through fixed Gaussian Fourier features
  (``time_proj.weight``, cos then sin) and an MLP (``time_mlp``) and is **prepended as one token**
  (Stable Audio's "global" token; the published model has no adaLN modulation);
* per-frame video features at 10 fps are resampled (nearest) to the latent rate and projected by
  ``video_proj`` (Linear -> SiLU -> Linear, no biases) to ``cross_dim``: they are the keys and
  values of every block's **cross-attention**;
* ``blocks``: ``depth`` pre-LayerNorm blocks, each self-attention -> cross-attention -> SwiGLU
  feed-forward, all residual; attention has no biases and uses grouped key/value heads;
  rotary position embedding covers the first half of every head, on queries and keys in
  self-attention and on queries only in cross-attention (as published);
* ``proj_out`` (linear, no bias; zero-initialised - our choice, so training starts from a zero
  velocity) and ``post_conv`` (1x1, residual) give the velocity of the latent channels only
  (the published model also predicts the condition channels and discards them).

Classifier-free guidance needs a null condition: a dropped video is an all-zero projected feature
sequence and a dropped phoneme track is an all-zero embedding, as in the published code.
Not modelled (published but outside the seed system): lip/sync features concatenated with the
latent and a reference-speaker token prepended to the cross-attention sequence.

Parameter names (stable): ``time_proj.weight`` (buffer), ``time_mlp.{0,2}``,
``video_proj.{0,2}``, ``phoneme_embed``, ``pre_conv``, ``proj_in``,
``blocks.N.{norm1,attn1,norm2,attn2,norm3,ff}`` with ``attnX.{to_q,to_k,to_v,to_out}`` and
``ff.{proj_in,proj_out}``, ``proj_out``, ``post_conv``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unflat.errors import InputError
from unflat.registry import register_architecture
from unflat.sound.vssflow.config import VSSFlowConfig


def rotary_tables(length: int, dim: int, theta: float, device: torch.device) -> tuple[Tensor, ...]:
    """cos/sin tables [length, dim] for rotate-half RoPE over ``dim`` channels."""
    inv = 1.0 / theta ** (torch.arange(0, dim, 2, device=device, dtype=torch.float32) / dim)
    angles = torch.arange(length, device=device, dtype=torch.float32)[:, None] * inv[None, :]
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos(), angles.sin()


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate the first ``cos.shape[-1]`` channels of ``x`` [B, H, L, D]; the rest pass through."""
    rot = cos.shape[-1]
    head, tail = x[..., :rot], x[..., rot:]
    a, b = head.chunk(2, dim=-1)
    rotated = head * cos + torch.cat([-b, a], dim=-1) * sin
    return torch.cat([rotated, tail], dim=-1)


class GroupedQueryAttention(nn.Module):
    """Multi-head attention with grouped key/value heads and optional partial RoPE."""

    def __init__(self, dim: int, heads: int, kv_heads: int, context_dim: int | None = None):
        super().__init__()
        self.heads, self.kv_heads = heads, kv_heads
        self.head_dim = dim // heads
        context_dim = dim if context_dim is None else context_dim
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(context_dim, kv_heads * self.head_dim, bias=False)
        self.to_v = nn.Linear(context_dim, kv_heads * self.head_dim, bias=False)
        self.to_out = nn.Linear(dim, dim, bias=False)

    def forward(
        self,
        x: Tensor,
        context: Tensor | None,
        rope: tuple[Tensor, Tensor] | None,
    ) -> Tensor:
        b, n, _ = x.shape
        src = x if context is None else context
        q = self.to_q(x).view(b, n, self.heads, self.head_dim).transpose(1, 2)
        k = self.to_k(src).view(b, src.shape[1], self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.to_v(src).view(b, src.shape[1], self.kv_heads, self.head_dim).transpose(1, 2)
        if self.kv_heads != self.heads:
            k = k.repeat_interleave(self.heads // self.kv_heads, dim=1)
            v = v.repeat_interleave(self.heads // self.kv_heads, dim=1)
        if rope is not None:
            cos, sin = rope
            q = apply_rotary(q, cos, sin)
            # Cross-attention keys carry no position (published): video is a semantic condition.
            if context is None:
                k = apply_rotary(k, cos, sin)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.to_out(out.transpose(1, 2).reshape(b, n, -1))


class SwiGLU(nn.Module):
    """Feed-forward ``proj_out(a * silu(g))`` with ``a, g = proj_in(x).chunk(2)``."""

    def __init__(self, dim: int, inner: int):
        super().__init__()
        self.proj_in = nn.Linear(dim, 2 * inner)
        self.proj_out = nn.Linear(inner, dim)

    def forward(self, x: Tensor) -> Tensor:
        a, g = self.proj_in(x).chunk(2, dim=-1)
        return self.proj_out(a * F.silu(g))


class DiTBlock(nn.Module):
    """Pre-LN block: self-attention, cross-attention to video, SwiGLU feed-forward."""

    def __init__(self, cfg: VSSFlowConfig):
        super().__init__()
        self.norm1 = nn.LayerNorm(cfg.dim)
        self.attn1 = GroupedQueryAttention(cfg.dim, cfg.heads, cfg.heads)
        self.norm2 = nn.LayerNorm(cfg.dim)
        self.attn2 = GroupedQueryAttention(
            cfg.dim, cfg.heads, cfg.kv_heads, context_dim=cfg.cross_dim
        )
        self.norm3 = nn.LayerNorm(cfg.dim)
        self.ff = SwiGLU(cfg.dim, cfg.dim * cfg.ff_mult)

    def forward(self, x: Tensor, video: Tensor, rope: tuple[Tensor, Tensor]) -> Tensor:
        x = x + self.attn1(self.norm1(x), None, rope)
        x = x + self.attn2(self.norm2(x), video, rope)
        return x + self.ff(self.norm3(x))


class VSSFlow(nn.Module):
    """Velocity field ``v(x_t, t | video, phonemes)`` over latents [B, T, C]."""

    def __init__(self, cfg: VSSFlowConfig):
        super().__init__()
        self.cfg = cfg
        c_in = cfg.latent_channels + cfg.phoneme_dim
        # Fixed random Fourier frequencies (std 1), a buffer so checkpoints carry them.
        self.time_proj = nn.Module()
        self.time_proj.register_buffer("weight", torch.randn(cfg.time_freq_dim // 2))
        self.time_mlp = nn.Sequential(
            nn.Linear(cfg.time_freq_dim, cfg.dim), nn.SiLU(), nn.Linear(cfg.dim, cfg.dim)
        )
        self.video_proj = nn.Sequential(
            nn.Linear(cfg.video_dim, 2 * cfg.cross_dim, bias=False),
            nn.SiLU(),
            nn.Linear(2 * cfg.cross_dim, cfg.cross_dim, bias=False),
        )
        self.phoneme_embed = nn.Embedding(cfg.phoneme_vocab_size, cfg.phoneme_dim)
        self.pre_conv = nn.Conv1d(c_in, c_in, 1, bias=False)
        self.proj_in = nn.Linear(c_in, cfg.dim, bias=False)
        self.blocks = nn.ModuleList(DiTBlock(cfg) for _ in range(cfg.depth))
        self.proj_out = nn.Linear(cfg.dim, cfg.latent_channels, bias=False)
        self.post_conv = nn.Conv1d(cfg.latent_channels, cfg.latent_channels, 1, bias=False)
        nn.init.zeros_(self.proj_out.weight)

    def time_embedding(self, t: Tensor) -> Tensor:
        """[B] flow times -> [B, dim]."""
        proj = 2 * math.pi * t[:, None].float() * self.time_proj.weight[None, :]
        return self.time_mlp(torch.cat([proj.cos(), proj.sin()], dim=-1))

    def condition(
        self,
        video: Tensor,
        phonemes: Tensor,
        num_frames: int,
        drop_video: Tensor | None = None,
        drop_phonemes: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Projected video [B, T, cross_dim] and phoneme embeddings [B, T, phoneme_dim].

        ``drop_*`` are [B] bool masks; dropped rows become the all-zero null condition.
        """
        cfg = self.cfg
        if video.ndim != 3 or video.shape[-1] != cfg.video_dim:
            raise InputError(
                f"video features must be [B, F, {cfg.video_dim}], got {tuple(video.shape)}",
                "extract per-frame features with the configured video_dim (10 fps)",
            )
        if phonemes.shape[-1] != num_frames:
            raise InputError(
                f"phoneme track has {phonemes.shape[-1]} frames, latent has {num_frames}",
                "stretch phonemes to latent frames with phonemes.stretch_phonemes",
            )
        # Nearest resampling to the latent rate, as published (the keys carry no position).
        vid = F.interpolate(video.transpose(1, 2).float(), size=num_frames, mode="nearest")
        vid = self.video_proj(vid.transpose(1, 2))
        ph = self.phoneme_embed(phonemes.long())
        if drop_video is not None:
            vid = vid * (~drop_video).to(vid.dtype)[:, None, None]
        if drop_phonemes is not None:
            ph = ph * (~drop_phonemes).to(ph.dtype)[:, None, None]
        return vid, ph

    def forward(
        self,
        x_t: Tensor,
        t: Tensor,
        video: Tensor,
        phonemes: Tensor,
        drop_video: Tensor | None = None,
        drop_phonemes: Tensor | None = None,
    ) -> Tensor:
        """Velocity [B, T, C] for noisy latents ``x_t`` [B, T, C] at times ``t`` [B].

        ``video``: [B, F, video_dim] at ``video_fps``; ``phonemes``: [B, T] ids per latent frame.
        """
        n, c = x_t.shape[1:]
        if c != self.cfg.latent_channels:
            raise InputError(
                f"latent has {c} channels, model expects {self.cfg.latent_channels}",
                "encode audio with the front end built from the same config",
            )
        vid, ph = self.condition(video, phonemes, n, drop_video, drop_phonemes)
        h = torch.cat([x_t, ph.to(x_t.dtype)], dim=-1).transpose(1, 2)
        h = (self.pre_conv(h) + h).transpose(1, 2)
        h = self.proj_in(h)
        h = torch.cat([self.time_embedding(t).to(h.dtype)[:, None, :], h], dim=1)
        head_dim = self.cfg.dim // self.cfg.heads
        rope = rotary_tables(n + 1, head_dim // 2, self.cfg.rope_theta, h.device)
        for block in self.blocks:
            h = block(h, vid, rope)
        out = self.proj_out(h[:, 1:]).transpose(1, 2)
        return (self.post_conv(out) + out).transpose(1, 2)


def build_vssflow(config: dict) -> VSSFlow:
    """``build_model`` entry: a dict of ``VSSFlowConfig`` fields (``preset`` allowed)."""
    return VSSFlow(VSSFlowConfig.from_dict(config))


# No published weights exist yet: train your own (``python -m unflat.sound.vssflow.train``).
register_architecture("vssflow", build_vssflow, VSSFlowConfig)
