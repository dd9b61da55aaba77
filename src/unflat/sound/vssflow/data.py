"""Training data for VSSFlow: the item protocol, a folder dataset, and the synthetic tone task.

An item is a dict with
  ``"wave"`` [N] float (mono, ``sample_rate``) **or** ``"latent"`` [T, C] (front-end output),
  ``"video"`` [F, video_dim] float (per-frame features at ``video_fps``),
  ``"phonemes"`` [P] long (vocabulary ids; empty for video-to-sound),
  ``"span"`` (start_s, end_s) of speech or ``None`` (whole clip), optional ``"durations"`` [P].
``collate`` pads or crops every item to the config's clip length, stretches the phonemes to
latent frames (filler outside the span) and stacks a batch. Waves are encoded to latents by the
trainer, on its device.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor
from torch.utils.data import Dataset

from unflat.errors import InputError
from unflat.sound.vssflow.config import VSSFlowConfig
from unflat.sound.vssflow.phonemes import PhonemeVocab, stretch_phonemes


class VSSFlowDataset(Protocol):
    """A map-style dataset of VSSFlow items (see the module docstring)."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> dict[str, Any]: ...


def _fit(x: Tensor, length: int, value: float = 0.0) -> Tensor:
    """Crop or pad dim 0 of ``x`` to ``length``."""
    if x.shape[0] >= length:
        return x[:length]
    pad = x.new_full((length - x.shape[0], *x.shape[1:]), value)
    return torch.cat([x, pad])


def collate(items: list[dict[str, Any]], cfg: VSSFlowConfig) -> dict[str, Tensor]:
    """Stack items into ``{"wave" | "latent", "video", "phonemes"}`` at the clip length."""
    has_wave = ["wave" in it for it in items]
    if any(has_wave) and not all(has_wave):
        raise InputError(
            "a batch mixes waveform and latent items", "store every item one way in a dataset"
        )
    n_frames = cfg.latent_frames
    batch: dict[str, Tensor] = {}
    if all(has_wave):
        batch["wave"] = torch.stack([_fit(it["wave"].float(), cfg.clip_samples) for it in items])
    else:
        for it in items:
            if "latent" not in it:
                raise InputError("a data item has neither 'wave' nor 'latent'", "add one")
        # Pad latents with the front end's value for silence.
        silence = (math.log(1e-5) - cfg.latent_mean) / cfg.latent_std
        batch["latent"] = torch.stack(
            [_fit(it["latent"].float(), n_frames, silence) for it in items]
        )
    batch["video"] = torch.stack([_fit(it["video"].float(), cfg.video_frames) for it in items])
    batch["phonemes"] = torch.stack(
        [
            stretch_phonemes(
                it.get("phonemes", []),
                n_frames,
                cfg.latent_fps,
                span=it.get("span"),
                durations=it.get("durations"),
            )
            for it in items
        ]
    )
    return batch


class FolderDataset(Dataset):
    """Items saved with ``torch.save(dict, DIR/<name>.pt)`` (keys as in the module docstring)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputError(
                f"data directory {self.root} does not exist",
                "pass --data synthetic or a folder of .pt items",
            )
        self.files = sorted(self.root.glob("*.pt"))
        if not self.files:
            raise InputError(
                f"no .pt items in {self.root}",
                "save each clip as a dict with 'wave' or 'latent', 'video', 'phonemes', 'span'",
            )

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = torch.load(self.files[index], map_location="cpu", weights_only=True)
        if not isinstance(item, dict) or "video" not in item:
            raise InputError(f"{self.files[index]} is not a VSSFlow item", "see vssflow/data.py")
        return item


# ---------------------------------------------------------------------------------------------
# Synthetic task: the video sets a tone's pitch, the phonemes set its rhythm.

VOICED = ("AA1", "IY1", "UW1", "EH1")  # any of these: tone on
PAUSE = "sp"  # tone off inside the span; outside the span the filler also means silence


class SyntheticToneDataset(Dataset):
    """Deterministic clips: a sine whose pitch class is shown by the video features and which
    sounds exactly in the latent frames where the stretched phoneme track holds a voiced phoneme.

    Video features [F, video_dim]: one-hot pitch class (first ``len(pitches)`` dims) plus
    N(0, 0.1) noise on every dim. Items also carry ``"pitch_class"`` and ``"voiced"`` [T] (bool)
    for measuring generated audio.
    """

    def __init__(
        self,
        cfg: VSSFlowConfig,
        size: int = 512,
        pitches: tuple[float, ...] = (250.0, 500.0, 1000.0, 2000.0),
        seed: int = 1234,
        amplitude: float = 0.5,
    ):
        if len(pitches) > cfg.video_dim:
            raise InputError("more pitch classes than video dims", "raise video_dim")
        self.cfg, self.size, self.pitches, self.seed = cfg, size, pitches, seed
        self.amplitude = amplitude
        self.vocab = PhonemeVocab(size=cfg.phoneme_vocab_size)
        self.voiced_ids = set(self.vocab.encode(list(VOICED)))

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> dict[str, Any]:
        cfg = self.cfg
        g = torch.Generator().manual_seed(self.seed * 100003 + index)
        n_frames, fps = cfg.latent_frames, cfg.latent_fps
        pitch_class = int(torch.randint(len(self.pitches), (1,), generator=g))
        # Span: starts in the first quarter, ends in the last quarter of the clip.
        start = int(torch.randint(1, max(2, n_frames // 4), (1,), generator=g))
        end = n_frames - int(torch.randint(1, max(2, n_frames // 4), (1,), generator=g))
        k = int(torch.randint(3, 7, (1,), generator=g))
        seq = []
        for j in range(k):
            # Voiced at both ends so the span edges are audible; pauses in between at random.
            voiced = j in (0, k - 1) or bool(torch.rand(1, generator=g) < 0.6)
            idx = int(torch.randint(len(VOICED), (1,), generator=g))
            seq.append(VOICED[idx] if voiced else PAUSE)
        ids = torch.tensor(self.vocab.encode(seq))
        span = (start / fps, end / fps)
        track = stretch_phonemes(ids, n_frames, fps, span=span)
        voiced_frames = torch.tensor([int(i) in self.voiced_ids for i in track])
        wave = self.render(pitch_class, voiced_frames, g)
        video = torch.zeros(cfg.video_frames, cfg.video_dim)
        video[:, pitch_class] = 1.0
        video = video + 0.1 * torch.randn(video.shape, generator=g)
        return {
            "wave": wave,
            "video": video,
            "phonemes": ids,
            "span": span,
            "pitch_class": pitch_class,
            "voiced": voiced_frames,
        }

    def render(self, pitch_class: int, voiced: Tensor, g: torch.Generator) -> Tensor:
        """The waveform: a sine gated by per-latent-frame ``voiced`` (frame i centred at i*hop)."""
        cfg = self.cfg
        n = cfg.clip_samples
        hop = cfg.hop_length * cfg.frames_per_latent
        t = torch.arange(n, dtype=torch.float64) / cfg.sample_rate
        phase = float(torch.rand(1, generator=g)) * 2 * math.pi
        tone = torch.sin(2 * math.pi * self.pitches[pitch_class] * t + phase)
        # Sample s belongs to the latent frame whose centre is nearest.
        frame_of = torch.clamp(torch.round(torch.arange(n) / hop).long(), max=voiced.numel() - 1)
        gate = voiced[frame_of].double()
        # 2 ms raised-cosine edges to avoid clicks spreading energy over all mel bins.
        ramp = max(1, int(0.002 * cfg.sample_rate))
        kernel = torch.hann_window(2 * ramp + 1, periodic=False, dtype=torch.float64)
        kernel = kernel / kernel.sum()
        gate = torch.nn.functional.conv1d(gate[None, None], kernel[None, None], padding=ramp)[0, 0]
        return (self.amplitude * tone * gate).float()

    def reference_bins(self) -> list[int]:
        """The mel bin each pitch class peaks in (for measuring generated latents)."""
        from unflat.sound.vssflow.frontend import mel_filterbank

        cfg = self.cfg
        basis = mel_filterbank(
            cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.f_min, cfg.f_max, cfg.mel_scale
        )
        freqs = torch.linspace(0, cfg.sample_rate / 2, cfg.n_fft // 2 + 1)
        return [int(basis[:, int(torch.argmin((freqs - p).abs()))].argmax()) for p in self.pitches]
