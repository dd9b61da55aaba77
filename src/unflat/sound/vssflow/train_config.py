"""``VSSFlowTrainConfig``: how a VSSFlow model is trained, and the model it trains.

The model's own fields (shapes, front end, generation defaults) stay in ``VSSFlowConfig``; this
holds it as ``model`` beside the training settings. A training file (``--config PATH``) may mix
both kinds of key in one flat JSON object, e.g. ``{"preset": "tiny", "depth": 2, "batch_size":
4}``: ``from_dict`` sends each key to its side, and ``"preset"`` picks the base of both.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from unflat.config import read_config
from unflat.errors import ConfigError
from unflat.sound.vssflow.config import (
    PRESETS,
    VSSFlowConfig,
    read_spec_file,
    refuse_unknown_keys,
)


@dataclass
class VSSFlowTrainConfig:
    """The model to train and the training settings (published values are marked so)."""

    model: VSSFlowConfig = field(default_factory=VSSFlowConfig)

    # --- condition dropout for classifier-free guidance ---
    p_uncond: float = 0.1  # published: unconditional_prob 0.1 (video and phonemes dropped together)
    p_drop_video: float = 0.0  # chosen: extra independent drops, off by default
    p_drop_phonemes: float = 0.0

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
        problems: list[str] = []
        for name in ("p_uncond", "p_drop_video", "p_drop_phonemes"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(f"{name} must lie in [0, 1]")
        if self.batch_size <= 0:
            problems.append("batch_size must be positive")
        if problems:
            raise ConfigError(
                "invalid VSSFlow training config: " + "; ".join(problems),
                "fix these values, or start from VSSFlowTrainConfig.full() / .tiny()",
            )

    @classmethod
    def full(cls) -> VSSFlowTrainConfig:
        """The published-size model with the published training settings."""
        return cls()

    @classmethod
    def tiny(cls) -> VSSFlowTrainConfig:
        """The CPU-sized model with settings that train it in a few hundred steps."""
        return cls(
            model=VSSFlowConfig.tiny(),
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
        presets = {"full": cls.full, "tiny": cls.tiny}
        if name not in presets:
            raise ConfigError(f"unknown VSSFlow preset {name!r}", f"use one of {list(PRESETS)}")
        return presets[name]()

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
        """Build from one flat dict of model and training keys; ``"preset"`` picks both bases.

        A key known to neither side is one ``ConfigError`` listing every known key; the values
        are read by :func:`unflat.config.read_config` and validated on construction.
        """
        if not isinstance(data, dict):
            raise ConfigError("a VSSFlow config must be a JSON object", "pass a dict of fields")
        refuse_unknown_keys(data, VSSFlowConfig.field_names() + cls.training_keys())
        preset = data.get("preset", "full")
        model_part, train_part = cls.split(data)
        model = VSSFlowConfig.from_dict({**model_part, "preset": preset})
        base = dataclasses.replace(cls.preset(preset), model=model)
        return read_config(cls, train_part, "vssflow training", base=base)

    def to_dict(self) -> dict[str, Any]:
        """The training fields only (the model's are ``self.model.to_dict()``)."""
        return {name: getattr(self, name) for name in self.training_keys()}

    @classmethod
    def load(cls, spec: str) -> VSSFlowTrainConfig:
        """A preset (``tiny``/``full``) or a JSON file of model and training keys (``--config``)."""
        if spec in PRESETS:
            return cls.preset(spec)
        return cls.from_dict(read_spec_file(spec))


__all__ = ["VSSFlowTrainConfig"]
