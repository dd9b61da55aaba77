"""``VSSFlowTrainConfig``: how a VSSFlow network is trained, the network it trains and the audio
latent it trains on.

A training file (``--config PATH``) is one JSON object: the model's sections in the published
schema (``dit_config``, ``vaflow_params``, ``fixed_raw_input_dims``) beside the training keys
(``batch_size``, ``frontend``...), e.g. ``{"preset": "tiny", "vaflow_params": {"dit_num_layers":
2}, "batch_size": 4}``; ``"preset"`` picks the base of both sides.

``MelLatentConfig`` is the stand-in latent (normalised, frame-stacked log-mel, Griffin-Lim back)
that training uses without the published AudioLDM2 VAE; its channels and frame rate must equal
the model's ``original_channel`` and ``audio_length_per_sec``.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any

from unflat.config import check_range, read_config
from unflat.errors import ConfigError
from unflat.sound.vssflow.config import NOTE_KEYS, PRESETS, VSSFlowConfig, read_spec_file

_HINT = "start from VSSFlowTrainConfig.full() / .tiny()"


@dataclass
class MelLatentConfig:
    """The log-mel stand-in latent: what ``frontend.MelFrontend`` reads (field names as there)."""

    sample_rate: int = 16000  # published: 16 kHz
    n_fft: int = 1024  # published mel: filter_length 1024
    win_length: int = 1024
    hop_length: int = 160  # published: 100 mel frames per second
    n_mels: int = 32
    f_min: float = 0.0
    f_max: float = 8000.0
    mel_scale: str = "slaney"
    frames_per_latent: int = 4  # 4 x 32 mels = 128 channels at 25 frames/s, the published shape
    latent_mean: float = -5.0  # maps log-mel (-11.5 silence .. +3) near zero mean, unit scale
    latent_std: float = 4.0
    griffin_lim_iters: int = 64
    griffin_lim_momentum: float = 0.99

    @property
    def latent_channels(self) -> int:
        return self.n_mels * self.frames_per_latent

    @property
    def latent_fps(self) -> float:
        return self.sample_rate / self.hop_length / self.frames_per_latent

    @property
    def samples_per_latent(self) -> int:
        return self.hop_length * self.frames_per_latent

    def validate(self) -> None:
        for name, low, high in (
            ("sample_rate", 1000, 384000),
            ("n_fft", 4, 65536),
            ("win_length", 1, 65536),
            ("hop_length", 1, 65536),
            ("n_mels", 1, 4096),
            ("frames_per_latent", 1, 64),
            ("griffin_lim_iters", 1, 10000),
        ):
            check_range(f"frontend.{name}", getattr(self, name), low, high, _HINT)
        nyquist = self.sample_rate / 2
        check_range("frontend.f_max", self.f_max, 0, nyquist, "at most half the sample rate",
                    open_low=True)  # fmt: skip
        check_range("frontend.f_min", self.f_min, 0, self.f_max, "e.g. 0 with f_max 8000")
        check_range("frontend.latent_std", self.latent_std, 0, 1e6, "e.g. 4", open_low=True)
        check_range("frontend.griffin_lim_momentum", self.griffin_lim_momentum, 0, 1, "e.g. 0.99")
        if self.mel_scale not in ("slaney", "htk"):
            raise ConfigError(f"frontend.mel_scale {self.mel_scale!r} is unknown", "slaney or htk")
        if self.win_length > self.n_fft:
            raise ConfigError("frontend.win_length exceeds n_fft", "use win_length <= n_fft")


@dataclass
class VSSFlowTrainConfig:
    """The model to train, its latent and the training settings (published values say so)."""

    model: VSSFlowConfig = field(default_factory=VSSFlowConfig)
    frontend: MelLatentConfig = field(default_factory=MelLatentConfig)
    video_fps: float = 10.0  # published: CLIP frame features at 10 fps

    # Conditions dropped for the whole batch (published unconditional_prob 0.1, random.random()).
    p_uncond: float = 0.1

    # --- optimisation ---
    batch_size: int = 36  # published: 36 per GPU
    lr: float = 1e-4  # chosen (published base 4e-7 is scaled by Lightning with batch and GPUs)
    warmup_steps: int = 2000  # published: lr_warmup_steps 2000
    weight_decay: float = 0.01  # AdamW default, as published
    grad_clip: float = 1.0  # chosen
    ema_decay: float = 0.9999  # chosen
    seed: int = 0
    ckpt_every: int = 1000
    log_every: int = 50

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``ConfigError`` for training settings no run can use."""
        self.frontend.validate()
        check_range("p_uncond", self.p_uncond, 0, 1, "the published value is 0.1")
        check_range("batch_size", self.batch_size, 1, 1 << 20, "e.g. 36")
        check_range("video_fps", self.video_fps, 0, 1000, "published: 10", open_low=True)
        for name in ("ckpt_every", "log_every"):
            check_range(name, getattr(self, name), 1, 1 << 40, "e.g. 1000")
        model, latent = self.model, self.frontend
        if (latent.latent_channels, latent.latent_fps) != (model.latent_channels, model.latent_fps):
            raise ConfigError(
                f"the latent has {latent.latent_channels} channels at {latent.latent_fps} "
                f"frames/s, the model expects {model.latent_channels} at {model.latent_fps}",
                "match frontend n_mels x frames_per_latent and its rate to original_channel and "
                "audio_length_per_sec",
            )

    @property
    def video_frames(self) -> int:
        """Video feature frames in one window."""
        return round(self.model.vaflow_params.audio_duration_sec * self.video_fps)

    @property
    def clip_samples(self) -> int:
        """Audio samples in one window (a whole number of latent frames)."""
        return self.model.latent_length * self.frontend.samples_per_latent

    @classmethod
    def full(cls) -> VSSFlowTrainConfig:
        """The published-size model with the published training settings."""
        return cls()

    @classmethod
    def tiny(cls) -> VSSFlowTrainConfig:
        """The CPU-sized model (8 kHz, 32 mels at 40 frames/s) with settings that train it in a
        few hundred steps."""
        frontend = MelLatentConfig(
            sample_rate=8000,
            n_fft=512,
            win_length=256,
            hop_length=200,
            n_mels=32,
            f_max=4000.0,
            frames_per_latent=1,
            griffin_lim_iters=32,
        )
        return cls(
            model=VSSFlowConfig.tiny(),
            frontend=frontend,
            batch_size=16,
            lr=1e-3,
            warmup_steps=50,
            ema_decay=0.99,
            ckpt_every=200,
            log_every=50,
        )

    @classmethod
    def preset(cls, name: str) -> VSSFlowTrainConfig:
        """``"full"`` or ``"tiny"``: the model preset of that name and its training settings."""
        if name not in PRESETS:
            raise ConfigError(f"unknown VSSFlow preset {name!r}", f"use one of {list(PRESETS)}")
        return cls.full() if name == "full" else cls.tiny()

    @classmethod
    def training_keys(cls) -> list[str]:
        """Names of the training fields (every field but ``model``)."""
        return [f.name for f in dataclasses.fields(cls) if f.name != "model"]

    @classmethod
    def split(cls, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """``data``'s model keys and its training keys, as two dicts (``"preset"`` in neither)."""
        train_keys = set(cls.training_keys())
        model = {k: v for k, v in data.items() if k not in train_keys and k != "preset"}
        return model, {k: v for k, v in data.items() if k in train_keys}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VSSFlowTrainConfig:
        """Build from one dict of model sections and training keys; ``"preset"`` picks both
        bases. A key known to neither side is one ``ConfigError`` listing the known keys."""
        if not isinstance(data, dict):
            raise ConfigError("a VSSFlow config must be a JSON object", "pass a dict of fields")
        known = {*VSSFlowConfig.field_names(), *cls.training_keys(), *NOTE_KEYS, "architecture"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"unknown VSSFlow config keys {unknown}", f"known keys: {sorted(known)}"
            )
        preset = data.get("preset", "full")
        model_part, train_part = cls.split(data)
        model = VSSFlowConfig.from_dict({**model_part, "preset": preset})
        # A copy holding the new model, unvalidated: the latent may only agree with it once the
        # training side is read too, and the result is validated then.
        base = copy.copy(cls.preset(preset))
        base.model = model
        return read_config(cls, train_part, "vssflow training", base=base)

    def to_dict(self) -> dict[str, Any]:
        """The training fields only (the model's are ``self.model.to_dict()``)."""
        data = dataclasses.asdict(self)
        return {name: data[name] for name in self.training_keys()}

    @classmethod
    def load(cls, spec: str) -> VSSFlowTrainConfig:
        """A preset (``tiny``/``full``) or a JSON file of model and training keys (``--config``)."""
        if spec in PRESETS:
            return cls.preset(spec)
        return cls.from_dict(read_spec_file(spec))


__all__ = ["MelLatentConfig", "VSSFlowTrainConfig"]
