"""Generate audio from video features and phonemes with a trained VSSFlow checkpoint.

    python -m unflat.sound.vssflow.sample --checkpoint runs/a --video feats.pt \\
        --phonemes "HH AH0 L OW1" --span 0.2 0.9 --cfg-scale 3 --steps 16 --out clip.wav

``--video``: a ``.pt`` or ``.npy`` array [F, video_dim] at the config's video_fps (features from
the same extractor as training). Omit ``--phonemes`` for video-to-sound.
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
from unflat.sound.vssflow.config import VSSFlowConfig
from unflat.sound.vssflow.data import _fit
from unflat.sound.vssflow.flow import sample_latents
from unflat.sound.vssflow.frontend import LatentFrontend, MelFrontend
from unflat.sound.vssflow.model import VSSFlow
from unflat.sound.vssflow.phonemes import PhonemeVocab, stretch_phonemes
from unflat.types import Audio


@torch.no_grad()
def generate_audio(
    model: VSSFlow,
    video: Tensor,
    phonemes: Tensor,
    *,
    cfg_scale: float | None = None,
    steps: int | None = None,
    method: str | None = None,
    seed: int = 0,
    frontend: LatentFrontend | None = None,
    return_latent: bool = False,
) -> Tensor:
    """Waveforms [B, N] (or latents [B, T, C]) for ``video`` [B, F, Dv] and per-latent-frame
    phoneme ids ``phonemes`` [B, T] (see ``phonemes.stretch_phonemes``)."""
    model.eval()
    device = next(model.parameters()).device
    gen = torch.Generator(device=device).manual_seed(seed)
    latent = sample_latents(
        model,
        video.to(device),
        phonemes.to(device),
        cfg_scale=cfg_scale,
        steps=steps,
        method=method,
        generator=gen,
    )
    if return_latent:
        return latent
    frontend = frontend or MelFrontend(model.cfg).to(device)
    return frontend.decode(latent)


def write_normalised_wav(path: str | Path, wave: Tensor, sample_rate: int) -> None:
    """16-bit mono PCM WAV, written atomically (peak-normalised only if it would clip)."""
    x = wave.detach().cpu().double().flatten()
    peak = float(x.abs().max()) if x.numel() else 0.0
    if peak > 1.0:
        x = x / peak
    write_wav(path, Audio(x.float().numpy(), int(sample_rate)))


def _load_video(path: str, cfg: VSSFlowConfig) -> Tensor:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"video features {p} not found", "pass a .pt or .npy [F, video_dim]")
    arr = np.load(p) if p.suffix == ".npy" else torch.load(p, map_location="cpu", weights_only=True)
    video = torch.as_tensor(np.asarray(arr), dtype=torch.float32)
    if video.ndim != 2 or video.shape[1] != cfg.video_dim:
        raise InputError(
            f"video features must be [F, {cfg.video_dim}], got {tuple(video.shape)}",
            "extract features with the extractor the model was trained on",
        )
    return _fit(video, cfg.video_frames)


def main(argv: list[str] | None = None) -> int:
    from unflat.sound.vssflow.train import model_from_checkpoint

    p = argparse.ArgumentParser(prog="python -m unflat.sound.vssflow.sample", description=__doc__)
    p.add_argument("--checkpoint", required=True, help="run folder or checkpoint.pt")
    p.add_argument("--video", required=True, help=".pt/.npy video features [F, video_dim]")
    p.add_argument("--phonemes", default="", help="space-separated ARPAbet; empty = no speech")
    p.add_argument("--span", type=float, nargs=2, default=None, help="speech start end (s)")
    p.add_argument("--cfg-scale", type=float, default=None)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--method", choices=["euler", "midpoint"], default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--raw", action="store_true", help="use raw weights instead of EMA")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", required=True, help="output .wav")
    args = p.parse_args(argv)
    try:
        model, cfg = model_from_checkpoint(
            args.checkpoint, use_ema=not args.raw, device=args.device
        )
        video = _load_video(args.video, cfg)[None]
        vocab = PhonemeVocab(size=cfg.phoneme_vocab_size)
        ids = vocab.encode(args.phonemes)
        span = tuple(args.span) if args.span else None
        track = stretch_phonemes(ids, cfg.latent_frames, cfg.latent_fps, span=span)[None]
        wave = generate_audio(
            model,
            video,
            track,
            cfg_scale=args.cfg_scale,
            steps=args.steps,
            method=args.method,
            seed=args.seed,
        )
        write_normalised_wav(args.out, wave[0], cfg.sample_rate)
    except UnflatError as exc:
        print(format_error(exc), file=sys.stderr)  # one line, as every unflat command says it
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
