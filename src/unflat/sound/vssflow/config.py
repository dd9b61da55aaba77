"""``VSSFlowConfig``: the shapes of a VSSFlow network and how it samples by default, in the
published schema (github vasflow1/vssflow): ``dit_config`` (diffusers ``StableAudioDiTModel``
fields), ``vaflow_params`` (the ``VAFlow`` constructor values) and ``fixed_raw_input_dims`` (the
widths of the raw condition features, fixed constants in the published code).

The defaults are the published full-size model (10 blocks, width 1536 = 24 heads x 64, 12 key /
value heads, 128 latent channels at 25 frames/s for 10 s, lip 1024 | phone 32 | synch 768
condition channels): ``build_model({"architecture": "vssflow"})`` builds exactly the published
``state_dict``. ``tiny()`` is the CPU-sized model the synthetic training test trains. Training
settings live in ``train_config.VSSFlowTrainConfig``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unflat.config import FILE_KEYS, check_range, config_dict, read_config, read_config_file
from unflat.errors import ConfigError, InputError

ARCHITECTURE = "vssflow"  # the ``build_model`` name, and the "architecture" key of our configs
PRESETS = ("full", "tiny")
SAMPLERS = ("euler", "midpoint", "dopri5")
DIT_CLASS = "StableAudioDiTModel"
ROPE_THETA = 10000.0  # diffusers' get_1d_rotary_pos_embed default, as published
FF_MULT = 4  # diffusers FeedForward default inner width, as published
# The latent a network models, as the "latent" key of its config.json says: the published
# AudioLDM2 VAE's (what a config without the key means: the published ones do not say), or the
# trainer's log-mel stand-in (``frontend.MelFrontend``), which no published decoder reads. The
# weights' shapes cannot tell them apart.
LATENT_KEY = "latent"
AUDIOLDM2_LATENT = "audioldm2-vae"
MEL_LATENT = "mel"
# Keys a config file may carry beside the model's fields: notes about how it was made (the
# fixtures' config.json). ``derived`` is checked against the shapes worked out here.
NOTE_KEYS = (
    "preset", "source", "sampler", "seeds", "n_params", "n_keys", "versions", "derived", LATENT_KEY,
)  # fmt: skip
_SIZE_HINT = "start from VSSFlowConfig.full() / VSSFlowConfig.tiny()"
_MAX_WIDTH = 65536


@dataclass
class DiTConfig:
    """diffusers ``StableAudioDiTModel`` fields (published names). ``num_layers``,
    ``in_channels`` and ``out_channels`` may be left out: the published code overrides the
    depth with ``vaflow_params.dit_num_layers`` and the channel count is the condition layout's
    sum; when given, the channels must equal that sum. ``sample_size``,
    ``global_states_input_dim`` and ``cross_attention_input_dim`` build nothing in the published
    network (kept so its config files read as they are)."""

    _class_name: str = DIT_CLASS
    sample_size: int = 1024
    in_channels: int | None = None
    out_channels: int | None = None
    num_layers: int | None = None
    attention_head_dim: int = 64
    num_attention_heads: int = 24
    num_key_value_attention_heads: int = 12
    cross_attention_dim: int = 768
    time_proj_dim: int = 256
    global_states_input_dim: int = 1536
    cross_attention_input_dim: int = 768


@dataclass
class VAFlowParams:
    """The published ``VAFlow`` constructor values that shape the network and its sampling."""

    dit_num_layers: int = 10
    phone_ebd_dim: int = 32
    cond_feat_dim: int = 768  # width of the cross-attention tokens (= cross_attention_dim)
    lip_feat_dim: int = 1024
    synch_feat_dim: int = 768
    original_channel: int = 128  # audio latent channels: the VAE's 8 x 16, packed
    audio_duration_sec: float = 10.0
    audio_length_per_sec: int = 25  # latent frames per second
    scale_factor: float = 1.0  # latents are multiplied by this before the flow
    guidance_scale: float = 3.0
    sample_steps: int = 10  # output grid intervals (dopri5) or steps (euler, midpoint)
    sample_method: str = "dopri5"


@dataclass
class RawInputDims:
    """Widths of the raw condition features (fixed in the published code)."""

    clip_video: int = 768  # CLIP ViT-B/16 frame features, 10 fps
    rawnet_speaker: int = 256  # RawNet3 speaker embedding
    synchformer: int = 768  # Synchformer features, 8 tokens per segment
    avhubert_lip: int = 1024  # AV-HuBERT lip features, 25 fps
    phone_vocab: int = 200  # rows of the phoneme embedding table


# (section, field, least, most) of every integer size.
_SIZE_RANGES = (
    ("dit_config", "sample_size", 1, 1 << 20),
    ("dit_config", "attention_head_dim", 2, 4096),
    ("dit_config", "num_attention_heads", 1, 1024),
    ("dit_config", "num_key_value_attention_heads", 1, 1024),
    ("dit_config", "cross_attention_dim", 1, _MAX_WIDTH),
    ("dit_config", "time_proj_dim", 2, _MAX_WIDTH),
    ("dit_config", "global_states_input_dim", 1, _MAX_WIDTH),
    ("dit_config", "cross_attention_input_dim", 1, _MAX_WIDTH),
    ("vaflow_params", "dit_num_layers", 1, 1024),
    ("vaflow_params", "phone_ebd_dim", 1, _MAX_WIDTH),
    ("vaflow_params", "cond_feat_dim", 1, _MAX_WIDTH),
    ("vaflow_params", "lip_feat_dim", 1, _MAX_WIDTH),
    ("vaflow_params", "synch_feat_dim", 1, _MAX_WIDTH),
    ("vaflow_params", "original_channel", 1, _MAX_WIDTH),
    ("vaflow_params", "audio_length_per_sec", 1, 1000),
    ("vaflow_params", "sample_steps", 1, 10000),
    ("fixed_raw_input_dims", "clip_video", 1, _MAX_WIDTH),
    ("fixed_raw_input_dims", "rawnet_speaker", 1, _MAX_WIDTH),
    ("fixed_raw_input_dims", "synchformer", 1, _MAX_WIDTH),
    ("fixed_raw_input_dims", "avhubert_lip", 1, _MAX_WIDTH),
    ("fixed_raw_input_dims", "phone_vocab", 1, 1_000_000),
)
# Fields that may be absent (None), with their range when given.
_OPTIONAL_RANGES = (
    ("dit_config", "num_layers", 1, 1024),
    ("dit_config", "in_channels", 1, 1 << 20),
    ("dit_config", "out_channels", 1, 1 << 20),
)


@dataclass
class VSSFlowConfig:
    """Shapes and sampling defaults of one VSSFlow network (see the module docstring)."""

    dit_config: DiTConfig = field(default_factory=DiTConfig)
    vaflow_params: VAFlowParams = field(default_factory=VAFlowParams)
    fixed_raw_input_dims: RawInputDims = field(default_factory=RawInputDims)

    def __post_init__(self) -> None:
        self.validate()

    # ----- derived shapes -----
    @property
    def num_layers(self) -> int:
        """DiT blocks (the published ``dit_num_layers`` overrides the DiT config's)."""
        return self.vaflow_params.dit_num_layers

    @property
    def inner_dim(self) -> int:
        return self.dit_config.num_attention_heads * self.dit_config.attention_head_dim

    @property
    def rotary_dim(self) -> int:
        """Channels of each head that RoPE rotates (the first half, as published)."""
        return self.dit_config.attention_head_dim // 2

    @property
    def latent_channels(self) -> int:
        return self.vaflow_params.original_channel

    @property
    def cond_channels(self) -> int:
        """Condition channels after the latent: lip | phone | synch."""
        p = self.vaflow_params
        return p.lip_feat_dim + p.phone_ebd_dim + p.synch_feat_dim

    @property
    def in_channels(self) -> int:
        return self.latent_channels + self.cond_channels

    @property
    def latent_length(self) -> int:
        """Latent frames in one window (published ``int(duration * length_per_sec)``)."""
        p = self.vaflow_params
        return int(p.audio_duration_sec * p.audio_length_per_sec)

    @property
    def latent_fps(self) -> float:
        return float(self.vaflow_params.audio_length_per_sec)

    def derived(self) -> dict[str, Any]:
        """The shapes worked out from the fields (the fixtures' ``derived`` block)."""
        return {
            "latent_length": self.latent_length,
            "in_channels": self.in_channels,
            "cond_channels": self.cond_channels,
            "inner_dim": self.inner_dim,
            "rotary_dim": self.rotary_dim,
            "cross_tokens": self.latent_length + 1,
            "channel_layout": ["latent", "lip", "phone", "synch"],
        }

    # ----- construction -----
    def validate(self) -> None:
        """Raise ``ConfigError`` for values no network can be built from."""
        self._validate_sizes()
        dit, params = self.dit_config, self.vaflow_params
        problems: list[str] = []
        if dit._class_name != DIT_CLASS:
            problems.append(f"dit_config._class_name is {dit._class_name!r}, not {DIT_CLASS!r}")
        if dit.num_attention_heads % dit.num_key_value_attention_heads:
            problems.append(
                f"num_attention_heads {dit.num_attention_heads} is not a multiple of "
                f"num_key_value_attention_heads {dit.num_key_value_attention_heads}"
            )
        if dit.attention_head_dim % 4:
            # RoPE rotates half of each head as two halves of its own.
            problems.append(f"attention_head_dim {dit.attention_head_dim} is not a multiple of 4")
        if dit.time_proj_dim % 2:
            problems.append(f"time_proj_dim {dit.time_proj_dim} is odd (cos and sin halves)")
        if dit.cross_attention_dim != params.cond_feat_dim:
            problems.append(
                f"cross_attention_dim {dit.cross_attention_dim} differs from cond_feat_dim "
                f"{params.cond_feat_dim} (the cross-attention tokens' width)"
            )
        for name in ("in_channels", "out_channels"):
            given = getattr(dit, name)
            if given is not None and given != self.in_channels:
                problems.append(
                    f"dit_config.{name} is {given}, but original_channel + lip + phone + synch "
                    f"is {self.in_channels}"
                )
        if params.sample_method not in SAMPLERS:
            problems.append(f"sample_method {params.sample_method!r} is not one of {SAMPLERS}")
        if self.latent_length < 1:
            problems.append("audio_duration_sec x audio_length_per_sec gives no latent frame")
        if problems:
            raise ConfigError("invalid VSSFlow config: " + "; ".join(problems), _SIZE_HINT)

    def _validate_sizes(self) -> None:
        """Every size in a range a network can be built with, first: a zero or negative width
        would only surface inside torch, an astronomical one as an allocation that never ends."""
        for section, name, low, high in _SIZE_RANGES:
            value = getattr(getattr(self, section), name)
            check_range(f"{section}.{name}", value, low, high, _SIZE_HINT)
        for section, name, low, high in _OPTIONAL_RANGES:
            value = getattr(getattr(self, section), name)
            if value is not None:
                check_range(f"{section}.{name}", value, low, high, _SIZE_HINT)
        params = self.vaflow_params
        check_range(
            "vaflow_params.audio_duration_sec", params.audio_duration_sec, 0, 3600.0, "e.g. 10",
            open_low=True,
        )  # fmt: skip
        check_range("vaflow_params.scale_factor", params.scale_factor, 0, 1e6, "e.g. 1.0",
                    open_low=True)  # fmt: skip
        check_range("vaflow_params.guidance_scale", params.guidance_scale, 0, 100.0, "e.g. 3")
        # One window's latent must stay an allocation a machine can make.
        check_range("latent frames (audio_duration_sec x audio_length_per_sec)",
                    params.audio_duration_sec * params.audio_length_per_sec, 1, 1 << 20,
                    "e.g. 10 s x 25 frames/s")  # fmt: skip

    @classmethod
    def full(cls) -> VSSFlowConfig:
        """The published full-size network."""
        return cls()

    @classmethod
    def tiny(cls) -> VSSFlowConfig:
        """A CPU-sized network: 32 latent channels at 40 frames/s for 1 s, width 64, 4 blocks,
        narrow lip / phone / synch channels and raw features of width 8."""
        return cls(
            dit_config=DiTConfig(
                attention_head_dim=16,
                num_attention_heads=4,
                num_key_value_attention_heads=2,
                cross_attention_dim=64,
                time_proj_dim=64,
            ),
            vaflow_params=VAFlowParams(
                dit_num_layers=4,
                phone_ebd_dim=16,
                cond_feat_dim=64,
                lip_feat_dim=4,
                synch_feat_dim=4,
                original_channel=32,
                audio_duration_sec=1.0,
                audio_length_per_sec=40,
                sample_steps=12,
                sample_method="midpoint",
            ),
            fixed_raw_input_dims=RawInputDims(
                clip_video=8, rawnet_speaker=8, synchformer=8, avhubert_lip=8
            ),
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
        """Build from a dict in the published schema; ``"preset"`` picks the base (default
        full) and the sections given override it field by field.

        The fixtures' notes (``source``, ``seeds``, ``versions``...) are ignored; ``derived``,
        when present, must equal the shapes worked out here.
        """
        if not isinstance(data, dict):
            raise ConfigError("a VSSFlow config must be a JSON object", "pass a dict of fields")
        arch = data.get("architecture", ARCHITECTURE)
        if arch != ARCHITECTURE:
            raise ConfigError(f"config is for {arch!r}, not 'vssflow'", "use a VSSFlow config")
        base = cls.preset(data.get("preset", "full"))
        skip = (*FILE_KEYS, *NOTE_KEYS)
        config = read_config(cls, data, ARCHITECTURE, base=base, skip=skip)
        if "derived" in data:
            config.check_derived(data["derived"])
        return config

    def check_derived(self, derived: object) -> None:
        """``ConfigError`` unless every shape in ``derived`` equals the one worked out here."""
        mine = self.derived()
        if not isinstance(derived, dict):
            raise ConfigError("the config's 'derived' must be a JSON object", "or leave it out")
        wrong = {k: v for k, v in derived.items() if k in mine and mine[k] != v}
        if wrong:
            raise ConfigError(
                f"the config's derived shapes {wrong} disagree with its fields ({mine})",
                "fix the fields, or drop the 'derived' block",
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict: ``"architecture"`` and every section (round-trips through
        ``from_dict``; the ``build_model`` schema, so a run's ``config.json`` builds the model)."""
        return config_dict(self, ARCHITECTURE)

    @classmethod
    def load(cls, spec: str) -> VSSFlowConfig:
        """A preset name (``tiny``/``full``) or the path of a JSON config file."""
        if spec in PRESETS:
            return cls.preset(spec)
        return cls.from_dict(read_spec_file(spec))


def latent_kind(config: dict[str, Any] | None) -> str:
    """The latent a network with ``config`` (its ``config.json``) models: its ``"latent"``,
    else the published AudioLDM2 VAE's."""
    return str((config or {}).get(LATENT_KEY, AUDIOLDM2_LATENT))


def read_spec_file(spec: str) -> dict[str, Any]:
    """The JSON object in the file ``spec`` (``--config``'s value when it is not a preset)."""
    if not Path(spec).is_file():
        raise InputError(
            f"config {spec!r} is neither a preset nor a file",
            "pass --config tiny, --config full, or the path of a JSON config",
        )
    return read_config_file(spec)
