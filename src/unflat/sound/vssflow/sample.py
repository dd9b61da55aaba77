"""Sampling: ``sample`` integrates the guided flow as the published code does, and a CLI that
generates audio with a checkpoint of ``python -m unflat.sound.vssflow.train``:

    python -m unflat.sound.vssflow.sample --checkpoint runs/a --video feats.pt \\
        --phonemes "sp HH AH0 L OW1 sp" --guidance 3 --method dopri5 --out clip.wav

``--video``: a ``.pt`` or ``.npy`` array [F, clip_video] at the training video rate. Omit
``--phonemes`` for video-to-sound (the all-zero track).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from unflat.errors import InputError, UnflatError, format_error
from unflat.io.audio import write_wav
from unflat.sound.vssflow.model import Conditions, VSSFlow
from unflat.sound.vssflow.ode import solve
from unflat.sound.vssflow.stretch import stretch_phonemes
from unflat.types import Audio


@torch.no_grad()
def sample_with_nfe(
    model: VSSFlow,
    x: Tensor,
    cross_attn: Tensor,
    *,
    guidance: float | None = None,
    method: str | None = None,
    steps: int | None = None,
    atol: float = 1e-5,
    rtol: float = 1e-5,
) -> tuple[Tensor, int]:
    """``sample`` and the number of guided-velocity evaluations it made."""
    params = model.cfg.vaflow_params
    w = params.guidance_scale if guidance is None else float(guidance)
    method = params.sample_method if method is None else method
    steps = params.sample_steps if steps is None else int(steps)
    if steps < 1:
        raise InputError(f"steps is {steps}", "use a positive number of steps, e.g. 10")
    # The published grid: float32 linspace (dopri5 reads its times in float64).
    grid = torch.linspace(0, 1, steps + 1, device=x.device)

    # the tokens and RoPE tables every evaluation shares, made once for this call
    guidance = model.guidance(cross_attn, w, x.shape[-1])

    def velocity(t: Tensor, state: Tensor) -> Tensor:
        return guidance.velocity(state, t).to(state.dtype)

    return solve(velocity, x, grid, method, atol=atol, rtol=rtol)


def sample(
    model: VSSFlow,
    x: Tensor,
    cross_attn: Tensor,
    *,
    guidance: float | None = None,
    method: str | None = None,
    steps: int | None = None,
    atol: float = 1e-5,
    rtol: float = 1e-5,
) -> Tensor:
    """The flow state [B, C, T] at t = 1 from ``x`` [B, C, T] (noise on the latent channels,
    ``condition(...).channels`` after them) under the guided velocity with tokens ``cross_attn``.

    Defaults come from the model's ``vaflow_params`` (published: guidance 3, dopri5 on a
    10-interval grid, atol = rtol = 1e-5); ``method`` is ``"euler"``, ``"midpoint"`` (``steps``
    fixed steps) or ``"dopri5"`` (adaptive; ``steps`` output intervals).
    """
    out, _ = sample_with_nfe(
        model, x, cross_attn, guidance=guidance, method=method, steps=steps, atol=atol, rtol=rtol
    )
    return out


@torch.no_grad()
def generate_latents(
    model: VSSFlow,
    conditions: Conditions,
    *,
    generator: torch.Generator | None = None,
    **options: object,
) -> Tensor:
    """Audio latents [B, C_latent, T] for ``conditions`` from fresh noise (published: divided
    by ``scale_factor`` after sampling). ``options`` go to ``sample``. The noise is drawn on
    ``generator``'s device (one seed gives the same noise whatever device the model is on)."""
    cfg = model.cfg
    channels = conditions.channels
    shape = (channels.shape[0], cfg.latent_channels, cfg.latent_length)
    where = channels.device if generator is None else generator.device
    noise = torch.randn(shape, generator=generator, device=where, dtype=channels.dtype)
    noise = noise.to(channels.device)
    x = torch.cat([noise, channels], dim=1)
    out = sample(model, x, conditions.cross_attn, **options)  # type: ignore[arg-type]
    return out[:, : cfg.latent_channels] / cfg.vaflow_params.scale_factor


def write_normalised_wav(path: str | Path, wave: Tensor, sample_rate: int) -> None:
    """16-bit mono PCM WAV, written atomically (peak-normalised only if it would clip)."""
    x = wave.detach().cpu().double().flatten()
    peak = float(x.abs().max()) if x.numel() else 0.0
    if peak > 1.0:
        x = x / peak
    write_wav(path, Audio(x.float().numpy(), int(sample_rate)))


def _load_video(path: str, width: int) -> Tensor:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"video features {p} not found", f"pass a .pt or .npy [F, {width}]")
    arr = np.load(p) if p.suffix == ".npy" else torch.load(p, map_location="cpu", weights_only=True)
    video = torch.as_tensor(np.asarray(arr), dtype=torch.float32)
    if video.ndim != 2 or video.shape[1] != width:
        raise InputError(
            f"video features must be [F, {width}], got {tuple(video.shape)}",
            "extract features with the extractor the model was trained on",
        )
    return video


def _phoneme_track(text: str, length: int, vocab_size: int) -> Tensor:
    """Space-separated phonemes -> ids per latent frame (published stretch); none: zeros."""
    from unflat.sound.vssflow.phonemes import PhonemeVocab

    ids = PhonemeVocab(size=vocab_size).encode(text) if text.strip() else []
    return stretch_phonemes(ids, length) if len(ids) else torch.zeros(length, dtype=torch.long)


def main(argv: list[str] | None = None) -> int:
    from unflat.sound.vssflow.frontend import MelFrontend
    from unflat.sound.vssflow.train import model_from_checkpoint

    p = argparse.ArgumentParser(prog="python -m unflat.sound.vssflow.sample", description=__doc__)
    p.add_argument("--checkpoint", required=True, help="run folder or checkpoint.pt")
    p.add_argument("--video", required=True, help=".pt/.npy video features [F, clip_video]")
    p.add_argument("--phonemes", default="", help="space-separated ARPAbet; empty = no speech")
    p.add_argument("--guidance", type=float, default=None)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--method", choices=["euler", "midpoint", "dopri5"], default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--raw", action="store_true", help="use raw weights instead of EMA")
    p.add_argument("--out", required=True, help="output .wav")
    args = p.parse_args(argv)
    try:
        model, config = model_from_checkpoint(args.checkpoint, use_ema=not args.raw)
        cfg = model.cfg
        video = _load_video(args.video, cfg.fixed_raw_input_dims.clip_video)[None]
        phones = _phoneme_track(
            args.phonemes, cfg.latent_length, cfg.fixed_raw_input_dims.phone_vocab
        )
        with torch.no_grad():
            conditions = model.condition(video, phone_id=phones[None])
        latent = generate_latents(
            model,
            conditions,
            generator=torch.Generator().manual_seed(args.seed),
            guidance=args.guidance,
            steps=args.steps,
            method=args.method,
        )
        wave = MelFrontend(config.frontend).decode(latent.transpose(1, 2))
        write_normalised_wav(args.out, wave[0], config.frontend.sample_rate)
    except UnflatError as exc:
        print(format_error(exc), file=sys.stderr)  # one line, as every unflat command says it
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
