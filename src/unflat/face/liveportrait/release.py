"""The five released LivePortrait files as one state dict, and a model loaded from them.

KwaiVGI releases F, M, W and G as one ``.pth`` state dict each and S as one ``.pth`` holding
``retarget_shoulder``, ``retarget_mouth`` and ``retarget_eye`` state dicts (keys may carry DDP's
``module.``). Each file's keys take its module's prefix (``RELEASED_FILES``), which is also how
``unflat models fetch liveportrait`` merges them into one ``model.safetensors``. Files are read
with ``torch.load(weights_only=True)``: a checkpoint cannot run code.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from unflat.errors import WeightsError
from unflat.face.liveportrait.config import LivePortraitConfig
from unflat.face.liveportrait.model import RELEASED_FILES, LivePortrait
from unflat.weights.checkpoints import read_checkpoint
from unflat.weights.loading import load_strict


def released_paths(folder: str | os.PathLike[str]) -> list[Path]:
    """The five files in ``folder`` (flat, or the release's ``base_models`` /
    ``retargeting_models`` layout), in ``RELEASED_FILES`` order."""
    folder = Path(folder).expanduser()
    paths = []
    for name, subfolder, _, _ in RELEASED_FILES:
        candidates = [folder / name, folder / subfolder / name]
        found = next((path for path in candidates if path.is_file()), None)
        if found is None:
            raise WeightsError(
                f"{folder} has no {name}",
                "download the five LivePortrait files (`unflat models info liveportrait` lists "
                "them) into one folder",
            )
        paths.append(found)
    return paths


def assemble_state_dict(folder: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """One state dict, keys prefixed by module, from the five released files in ``folder``."""
    state: dict[str, torch.Tensor] = {}
    for path, (_, _, prefix, _) in zip(released_paths(folder), RELEASED_FILES, strict=True):
        for key, tensor in read_checkpoint(path).items():
            state[prefix + key] = tensor
    return state


def load_released(
    folder: str | os.PathLike[str],
    config: LivePortraitConfig | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> LivePortrait:
    """LivePortrait (eval mode, no gradients) with the five files of ``folder``, loaded strictly."""
    model = LivePortrait(config)
    load_strict(
        model,
        assemble_state_dict(folder),
        f"the LivePortrait files in {folder} do not match the architecture",
        "pass the released files, with the config they were trained with",
    )
    return model.to(device=device, dtype=dtype).eval().requires_grad_(False)
