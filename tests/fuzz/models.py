"""Model configs and weights.

Configs: ``read_config_file`` then the architecture's config dataclass (``read_config`` and the
config's ``validate``) on damaged ``config.json`` files of tiny Depth Pro, SHARP and VSSFlow
models; and ``build_model`` on the same files, on PyTorch's ``meta`` device: every shape is
worked out and checked, nothing is allocated, so a damaged size costs nothing.

Weights: ``load_model`` (with a builder for a tiny module) on damaged ``.safetensors`` files
(their JSON header damaged as JSON too) and ``.pt``/``.pth`` checkpoints (their pickle damaged
inside the zip), and ``read_checkpoint`` on the checkpoints.
"""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import torch
from safetensors.torch import save as safetensors_bytes
from torch import nn

from tests.conftest import SHARED
from tests.fuzz.engine import Seed, json_file, safetensors_header, whole, zip_member
from unflat.config import read_config_file
from unflat.registry import architectures, build_model
from unflat.sound.vssflow.config import VSSFlowConfig
from unflat.weights import load_model, read_checkpoint

# Depth Pro at the size of the fixtures' depth_pro_tiny_a.
TINY_DEPTH_PRO = {
    "architecture": "depth_pro",
    "vit": {"embed_dim": 64, "depth": 4, "num_heads": 2, "mlp_ratio": 4.0, "patch_size": 16,
            "img_size": 384, "layerscale_init": 1e-05},
    "hook_block_ids": [1, 2],
    "encoder_feature_dims": [16, 32, 64, 64],
    "decoder_features": 32,
    "use_fov_head": True,
    "last_dims": [32, 1],
}  # fmt: skip


def config_seeds(folder: Path) -> list[Seed]:
    """Tiny configs written here, and the fixtures' own where ``../shared`` is present."""
    configs = {
        "depth_pro.json": TINY_DEPTH_PRO,
        "vssflow.json": VSSFlowConfig.tiny().to_dict(),
    }
    found = [
        Seed(name, json.dumps(config, indent=1).encode(), (json_file(),))
        for name, config in configs.items()
    ]
    for fixture in ("depth_pro_tiny_a", "sharp_tiny_a", "vssflow_tiny_a"):
        path = SHARED / "fixtures" / fixture / "config.json"
        if path.is_file():  # read by path, never copied into the repository
            found.append(Seed(f"{fixture}.json", path.read_bytes(), (json_file(),)))
    return found


def read_config(path: Path) -> None:
    """The file's dict read into its architecture's config dataclass (types and the config's
    own rules checked), or a ``ConfigError``."""
    data = read_config_file(path)
    architecture = architectures().get(str(data.get("architecture")))
    if architecture is None or architecture.config is None:
        build(path)  # the registry's own answer to a missing or unknown architecture
        return
    config = architecture.config.from_dict(data)
    assert dataclasses.is_dataclass(config) and isinstance(config, architecture.config)


def build(path: Path) -> None:
    """The file's dict builds the model it names, or a ``ConfigError``. On the meta device:
    every shape is worked out and checked, nothing is allocated."""
    config = read_config_file(path)
    with torch.device("meta"):
        model = build_model(config)
    assert isinstance(model, nn.Module)


class Tiny(nn.Module):
    """A module with a float and an integer tensor of each rank the readers meet."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(4, 3)
        self.norm = nn.LayerNorm(3)
        self.register_buffer("steps", torch.arange(2, dtype=torch.int64))


def _tiny(config: dict) -> nn.Module:
    return Tiny()


def _saved(value: object, **options: object) -> bytes:
    out = io.BytesIO()
    torch.save(value, out, **options)
    return out.getvalue()


def safetensors_length(data: bytes) -> int:
    return 8 + int.from_bytes(data[:8], "little")


def weights_seeds(folder: Path) -> list[Seed]:
    """Weights of :class:`Tiny` as safetensors (float32, float16) and torch checkpoints."""
    state = {key: value.clone() for key, value in Tiny().state_dict().items()}
    half = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    header = (whole(safetensors_length), safetensors_header())
    pickled = (whole(), zip_member("data.pkl"))
    wrapped = {"state_dict": {f"module.{key}": value for key, value in state.items()}}
    return [
        Seed("model.safetensors", safetensors_bytes(state), header),
        Seed("half.safetensors", safetensors_bytes(half), header),
        Seed("model.pt", _saved(state), pickled),
        Seed("wrapped.pth", _saved(wrapped), pickled),
        Seed("legacy.pt", _saved(state, _use_new_zipfile_serialization=False), (whole(),)),
    ]


def read_weights(path: Path) -> None:
    """A checkpoint's tensors, then the model loaded from the file, or a ``WeightsError``."""
    if path.suffix != ".safetensors":
        state = read_checkpoint(path)
        assert state and all(isinstance(value, torch.Tensor) for value in state.values())
    model = load_model(path, builder=_tiny, progress=False)
    assert isinstance(model, Tiny) and not model.training
