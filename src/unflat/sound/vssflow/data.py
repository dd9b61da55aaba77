"""Training data for VSSFlow: the item protocol, a folder dataset, and the synthetic tone task.

An item is a dict with
  ``"wave"`` [N] float (mono, the latent's ``sample_rate``) **or** ``"latent"`` [T, C]
  (front-end output), ``"video"`` [F, clip_video] (frame features at ``video_fps``),
  ``"phonemes"`` [P] long (token ids; empty for a clip without speech), and optionally the
  published conditions ``"lip"`` [L, avhubert_lip] (25 fps), ``"synch"`` [S, 8, synchformer]
  and ``"speaker"`` [rawnet_speaker] (zeros where absent).
``collate`` cuts or pads every item to one window, stretches the phonemes over the item's own
latent frames (published ``stretch_phonemes``) and pads them with id 0, and stacks a batch.
Waves are encoded to latents by the trainer, on its device.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor
from torch.utils.data import Dataset

from unflat.errors import InputError
from unflat.sound.vssflow.phonemes import PhonemeVocab
from unflat.sound.vssflow.stretch import stretch_phonemes
from unflat.sound.vssflow.train_config import VSSFlowTrainConfig


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


def phone_track(ids: Any, frames: int, length: int) -> Tensor:
    """Ids stretched over ``frames`` latent frames, then padded with id 0 to ``length``."""
    ids = torch.as_tensor(ids, dtype=torch.long).reshape(-1)
    track = torch.zeros(length, dtype=torch.long)
    frames = min(frames, length)
    if ids.numel() and frames > 0:
        track[:frames] = stretch_phonemes(ids, frames)
    return track


def collate(items: list[dict[str, Any]], config: VSSFlowTrainConfig) -> dict[str, Tensor]:
    """Stack items into ``{"wave" | "latent", "video", "phone_id", ["lip", "synch",
    "speaker"]}`` at the window length."""
    has_wave = ["wave" in it for it in items]
    if any(has_wave) and not all(has_wave):
        raise InputError(
            "a batch mixes waveform and latent items", "store every item one way in a dataset"
        )
    length, latent = config.model.latent_length, config.frontend
    batch: dict[str, Tensor] = {}
    if all(has_wave):
        frames = [min(len(it["wave"]) // latent.samples_per_latent, length) for it in items]
        batch["wave"] = torch.stack([_fit(it["wave"].float(), config.clip_samples) for it in items])
    else:
        for it in items:
            if "latent" not in it:
                raise InputError("a data item has neither 'wave' nor 'latent'", "add one")
        frames = [min(len(it["latent"]), length) for it in items]
        # Pad latents with the front end's value for silence.
        silence = (math.log(1e-5) - latent.latent_mean) / latent.latent_std
        batch["latent"] = torch.stack([_fit(it["latent"].float(), length, silence) for it in items])
    batch["video"] = torch.stack([_fit(it["video"].float(), config.video_frames) for it in items])
    tracks = [
        phone_track(it.get("phonemes", []), n, length) for it, n in zip(items, frames, strict=True)
    ]
    batch["phone_id"] = torch.stack(tracks)
    batch.update(_optional_conditions(items, config))
    return batch


def _optional_conditions(items: list[dict[str, Any]], config: VSSFlowTrainConfig) -> dict:
    """Lip, synch and speaker features of the items that have them (zeros for the others)."""
    raw, length = config.model.fixed_raw_input_dims, config.model.latent_length
    out: dict[str, Tensor] = {}
    if any("lip" in it for it in items):
        zero = torch.zeros(length, raw.avhubert_lip)
        out["lip"] = torch.stack([_fit(it.get("lip", zero).float(), length) for it in items])
    if any("speaker" in it for it in items):
        zero = torch.zeros(raw.rawnet_speaker)
        out["speaker"] = torch.stack([it.get("speaker", zero).float() for it in items])
    if any("synch" in it for it in items):
        shapes = {tuple(it["synch"].shape) for it in items if "synch" in it}
        if len(shapes) != 1 or not all("synch" in it for it in items):
            raise InputError("synch features are missing or differ in shape", "give all, alike")
        out["synch"] = torch.stack([it["synch"].float() for it in items])
    return out


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
PAUSE = "sp"  # tone off


class SyntheticToneDataset(Dataset):
    """Deterministic clips: a sine whose pitch class is shown by the video features and which
    sounds exactly in the latent frames where the stretched phoneme track holds a voiced phoneme.

    The phoneme sequence is a pause, 3 to 6 tokens (voiced at both ends, pauses between at
    random) and a pause, stretched over the whole window as the published data loader does.
    Video features [F, clip_video]: one-hot pitch class (first ``len(pitches)`` dims) plus
    N(0, 0.1) noise on every dim. Items also carry ``"pitch_class"`` and ``"voiced"`` [T] (bool)
    for measuring generated audio.
    """

    def __init__(
        self,
        config: VSSFlowTrainConfig,
        size: int = 512,
        pitches: tuple[float, ...] = (250.0, 500.0, 1000.0, 2000.0),
        seed: int = 1234,
        amplitude: float = 0.5,
    ):
        raw = config.model.fixed_raw_input_dims
        if len(pitches) > raw.clip_video:
            raise InputError("more pitch classes than video dims", "raise clip_video")
        self.config, self.size, self.pitches, self.seed = config, size, pitches, seed
        self.amplitude = amplitude
        self.vocab = PhonemeVocab(size=raw.phone_vocab)
        self.voiced_ids = set(self.vocab.encode(list(VOICED)))

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> dict[str, Any]:
        config = self.config
        g = torch.Generator().manual_seed(self.seed * 100003 + index)
        pitch_class = int(torch.randint(len(self.pitches), (1,), generator=g))
        k = int(torch.randint(3, 7, (1,), generator=g))
        seq = [PAUSE]
        for j in range(k):
            # Voiced at both ends so the edges are audible; pauses in between at random.
            voiced = j in (0, k - 1) or bool(torch.rand(1, generator=g) < 0.6)
            idx = int(torch.randint(len(VOICED), (1,), generator=g))
            seq.append(VOICED[idx] if voiced else PAUSE)
        ids = torch.tensor(self.vocab.encode([*seq, PAUSE]))
        track = stretch_phonemes(ids, config.model.latent_length)
        voiced_frames = torch.tensor([int(i) in self.voiced_ids for i in track])
        wave = self.render(pitch_class, voiced_frames, g)
        video = torch.zeros(config.video_frames, config.model.fixed_raw_input_dims.clip_video)
        video[:, pitch_class] = 1.0
        video = video + 0.1 * torch.randn(video.shape, generator=g)
        return {
            "wave": wave,
            "video": video,
            "phonemes": ids,
            "pitch_class": pitch_class,
            "voiced": voiced_frames,
        }

    def render(self, pitch_class: int, voiced: Tensor, g: torch.Generator) -> Tensor:
        """The waveform: a sine gated by per-latent-frame ``voiced`` (frame i centred at i*hop)."""
        latent = self.config.frontend
        n = self.config.clip_samples
        hop = latent.samples_per_latent
        t = torch.arange(n, dtype=torch.float64) / latent.sample_rate
        phase = float(torch.rand(1, generator=g)) * 2 * math.pi
        tone = torch.sin(2 * math.pi * self.pitches[pitch_class] * t + phase)
        # Sample s belongs to the latent frame whose centre is nearest.
        frame_of = torch.clamp(torch.round(torch.arange(n) / hop).long(), max=voiced.numel() - 1)
        gate = voiced[frame_of].double()
        # 2 ms raised-cosine edges to avoid clicks spreading energy over all mel bins.
        ramp = max(1, int(0.002 * latent.sample_rate))
        kernel = torch.hann_window(2 * ramp + 1, periodic=False, dtype=torch.float64)
        kernel = kernel / kernel.sum()
        gate = torch.nn.functional.conv1d(gate[None, None], kernel[None, None], padding=ramp)[0, 0]
        return (self.amplitude * tone * gate).float()

    def reference_bins(self) -> list[int]:
        """The mel bin each pitch class peaks in (for measuring generated latents)."""
        from unflat.sound.vssflow.frontend import mel_filterbank

        m = self.config.frontend
        basis = mel_filterbank(m.sample_rate, m.n_fft, m.n_mels, m.f_min, m.f_max, m.mel_scale)
        freqs = torch.linspace(0, m.sample_rate / 2, m.n_fft // 2 + 1)
        return [int(basis[:, int(torch.argmin((freqs - p).abs()))].argmax()) for p in self.pitches]
