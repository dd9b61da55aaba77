"""``VSSFlowConfig``: every shape and constant of a VSSFlow model and its front end, and how it
samples by default. Training settings live in ``train_config.VSSFlowTrainConfig``.

Published values (Apple/RUC VSSFlow, arXiv 2509.24773, and its public training configs) are marked
"published"; the rest are our choices and say why. ``full()`` is the published-size seed system
(10 DiT blocks, width 1536, 24 heads, 12 key/value heads, 768-d CLIP video features at 10 fps,
32-d phoneme embedding, 16 kHz audio); ``tiny()`` is the CPU-sized model the tests train.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from unflat.config import FILE_KEYS, check_range, config_dict, read_config, read_config_file
from unflat.errors import ConfigError, InputError

ARCHITECTURE = "vssflow"  # the ``build_model`` name, and the "architecture" key of our configs
PRESETS = ("full", "tiny")
_SAMPLERS = ("euler", "midpoint")
_MEL_SCALES = ("slaney", "htk")
# (field, least, most) of every integer size and rate.
_SIZE_RANGES = (
    ("sample_rate", 1000, 384000),
    ("n_fft", 4, 65536),
    ("win_length", 1, 65536),
    ("hop_length", 1, 65536),
    ("n_mels", 1, 4096),
    ("frames_per_latent", 1, 64),
    ("video_dim", 1, 65536),
    ("phoneme_vocab_size", 1, 1_000_000),
    ("phoneme_dim", 1, 65536),
    ("dim", 1, 65536),
    ("depth", 1, 1024),
    ("heads", 1, 1024),
    ("kv_heads", 1, 1024),
    ("cross_dim", 1, 65536),
    ("ff_mult", 1, 64),
    ("time_freq_dim", 2, 65536),
    ("sample_steps", 1, 10000),
    ("griffin_lim_iters", 1, 10000),
)
_SIZE_HINT = "start from VSSFlowConfig.full() / VSSFlowConfig.tiny()"


@dataclass
class VSSFlowConfig:
    """Shapes and constants of one VSSFlow model (see the module docstring for provenance)."""

    # --- audio front end (default latent: normalised log-mel, optionally frame-stacked) ---
    sample_rate: int = 16000  # published: 16 kHz
    n_fft: int = 1024  # published mel: filter_length 1024
    win_length: int = 1024  # published
    hop_length: int = 160  # published: 100 mel frames per second
    n_mels: int = 64  # published
    f_min: float = 0.0  # published
    f_max: float = 8000.0  # published
    mel_scale: str = "slaney"  # librosa's default, which the published HiFi-GAN mels use
    # Stacking 4 mel frames per latent frame gives the published latent rate of 25 per second
    # (their VAE compresses time 4x); a learned VAE replaces this and sets latent_channels itself.
    frames_per_latent: int = 4
    # log-mel is about -11.5 (silence, log 1e-5) .. +3; this maps it near zero mean, unit scale,
    # which the flow's N(0, 1) source assumes. Chosen, not published.
    latent_mean: float = -5.0
    latent_std: float = 4.0
    clip_seconds: float = 10.0  # published: 10 s clips

    # --- conditions ---
    video_dim: int = 768  # published: CLIP ViT-B/16 frame features
    video_fps: float = 10.0  # published: 10 video frames per second
    phoneme_vocab_size: int = 200  # published: nn.Embedding(200, 32)
    phoneme_dim: int = 32  # published

    # --- DiT (Stable Audio DiT layout, published depth 10) ---
    dim: int = 1536  # published: 24 heads x 64
    depth: int = 10  # published: dit_num_layers 10
    heads: int = 24  # published
    kv_heads: int = 12  # published (grouped-query attention)
    cross_dim: int = 768  # published: cond_feat_dim / cross_attention_dim
    ff_mult: int = 4  # published (diffusers FeedForward default, SwiGLU)
    time_freq_dim: int = 256  # published: time_proj_dim
    rope_theta: float = 10000.0  # published (diffusers default)

    # --- generation defaults (how the model samples; ``sample_latents`` may override them) ---
    cfg_scale: float = 3.0  # published: guidance_scale 3
    sample_steps: int = 16  # published uses adaptive dopri5 on a 10-step grid; we use fixed steps
    sampler: str = "midpoint"
    sway_coef: float | None = None  # F5-TTS sway sampling (e.g. -1.0); None = uniform grid

    # --- offline vocoder ---
    griffin_lim_iters: int = 64
    griffin_lim_momentum: float = 0.99

    def __post_init__(self) -> None:
        self.validate()

    # ----- derived shapes -----
    @property
    def latent_channels(self) -> int:
        """Channels of one latent frame: stacked mel bins."""
        return self.n_mels * self.frames_per_latent

    @property
    def latent_fps(self) -> float:
        """Latent frames per second."""
        return self.sample_rate / self.hop_length / self.frames_per_latent

    @property
    def latent_frames(self) -> int:
        """Latent frames in one training clip."""
        return round(self.clip_seconds * self.latent_fps)

    @property
    def clip_samples(self) -> int:
        """Audio samples in one clip (a whole number of latent frames)."""
        return self.latent_frames * self.frames_per_latent * self.hop_length

    @property
    def video_frames(self) -> int:
        """Video feature frames in one clip."""
        return round(self.clip_seconds * self.video_fps)

    # ----- construction -----
    def validate(self) -> None:
        """Raise ``ConfigError`` for values no model can be built from."""
        problems: list[str] = []
        self._validate_sizes()
        if self.dim % self.heads:
            problems.append(f"dim {self.dim} is not divisible by heads {self.heads}")
        if self.kv_heads <= 0 or self.heads % self.kv_heads:
            problems.append(f"heads {self.heads} is not a multiple of kv_heads {self.kv_heads}")
        if self.dim // max(self.heads, 1) % 4:
            problems.append("head size (dim / heads) must be a multiple of 4 for rotary embedding")
        if self.sampler not in _SAMPLERS:
            problems.append(f"sampler {self.sampler!r} is not one of {_SAMPLERS}")
        if self.mel_scale not in _MEL_SCALES:
            problems.append(f"mel_scale {self.mel_scale!r} is not one of {_MEL_SCALES}")
        if self.win_length > self.n_fft:
            problems.append("win_length must not exceed n_fft")
        if self.latent_std <= 0:
            problems.append("latent_std must be positive")
        if problems:
            raise ConfigError(
                "invalid VSSFlow config: " + "; ".join(problems),
                "fix these values, or start from VSSFlowConfig.full() / VSSFlowConfig.tiny()",
            )

    def _validate_sizes(self) -> None:
        """Every size and rate in a range a model can be built and run with, first: a zero
        would only surface as a division by zero below, a negative or astronomical one in torch.
        The upper bounds are far past the published model, so only a damaged config meets them."""
        for name, low, high in _SIZE_RANGES:
            check_range(name, getattr(self, name), low, high, _SIZE_HINT)
        # The time embedding is the cosine and sine of time_freq_dim / 2 frequencies.
        if self.time_freq_dim % 2:
            raise ConfigError(f"time_freq_dim is {self.time_freq_dim}; it must be even", "e.g. 256")
        for name, high in (("clip_seconds", 3600.0), ("video_fps", 1000.0)):
            check_range(name, getattr(self, name), 0, high, _SIZE_HINT, open_low=True)
        check_range("rope_theta", self.rope_theta, 0, 1e12, "e.g. 10000", open_low=True)
        nyquist = self.sample_rate / 2
        check_range("f_max", self.f_max, 0, nyquist, "at most half the sample rate", open_low=True)
        check_range("f_min", self.f_min, 0, self.f_max, "e.g. 0 with f_max 8000")
        check_range("griffin_lim_momentum", self.griffin_lim_momentum, 0, 1, "e.g. 0.99")

    @classmethod
    def full(cls) -> VSSFlowConfig:
        """The published-size seed system."""
        return cls()

    @classmethod
    def tiny(cls) -> VSSFlowConfig:
        """A CPU-sized model: 8 kHz, 1 s clips at 40 latent frames/s, width 64, 4 blocks."""
        return cls(
            sample_rate=8000,
            n_fft=512,
            win_length=256,
            hop_length=200,
            n_mels=32,
            f_max=4000.0,
            frames_per_latent=1,
            clip_seconds=1.0,
            video_dim=8,
            phoneme_dim=16,
            dim=64,
            depth=4,
            heads=4,
            kv_heads=2,
            cross_dim=64,
            ff_mult=2,
            time_freq_dim=64,
            sample_steps=12,
            griffin_lim_iters=32,
        )

    @classmethod
    def preset(cls, name: str) -> VSSFlowConfig:
        """``"full"`` or ``"tiny"``."""
        if name not in PRESETS:
            raise ConfigError(f"unknown VSSFlow preset {name!r}", f"use one of {list(PRESETS)}")
        return cls.full() if name == "full" else cls.tiny()

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VSSFlowConfig:
        """Build from a dict; ``"preset"`` picks the base (default full), other keys override it.

        An ``"architecture": "vssflow"`` key (the ``build_model`` schema) is accepted; the fields
        are read by :func:`unflat.config.read_config` (types checked) and validated.
        """
        if not isinstance(data, dict):
            raise ConfigError("a VSSFlow config must be a JSON object", "pass a dict of fields")
        data = dict(data)
        arch = data.pop("architecture", ARCHITECTURE)
        if arch != ARCHITECTURE:
            raise ConfigError(f"config is for {arch!r}, not 'vssflow'", "use a VSSFlow config")
        base = cls.preset(data.pop("preset", "full"))
        return read_config(cls, data, ARCHITECTURE, base=base)  # validated by __post_init__

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict: ``"architecture"`` and every field (round-trips through ``from_dict``).

        The same schema as ``build_model`` configs, so a run's ``config.json`` builds the model.
        """
        return config_dict(self, ARCHITECTURE)

    @classmethod
    def load(cls, spec: str) -> VSSFlowConfig:
        """A preset name (``tiny``/``full``) or the path of a JSON config file."""
        if spec in PRESETS:
            return cls.preset(spec)
        return cls.from_dict(read_spec_file(spec))


def refuse_unknown_keys(data: Iterable[str], known: Iterable[str]) -> None:
    """One ``ConfigError`` naming every key of ``data`` that is not ``known`` (nor a file key)."""
    names = sorted({*known, "architecture", "preset"})
    unknown = sorted(set(data) - set(names) - set(FILE_KEYS))
    if unknown:
        raise ConfigError(f"unknown VSSFlow config keys {unknown}", f"known keys: {names}")


def read_spec_file(spec: str) -> dict[str, Any]:
    """The JSON object in the file ``spec`` (``--config``'s value when it is not a preset)."""
    if not Path(spec).is_file():
        raise InputError(
            f"config {spec!r} is neither a preset nor a file",
            "pass --config tiny, --config full, or the path of a JSON config",
        )
    return read_config_file(spec)
