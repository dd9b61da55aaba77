"""VSSFlow's video condition: CLIP ViT-B/16 frame features at 10 frames/s.

As the published feature extractor computes them: frame ``i`` of a window is the source frame
``round(i * fps / 10)`` (Python's rounding, halves to even; indices past the end are dropped
and the window is filled with black frames), resized to 224x224 with PIL's bicubic filter
(aspect not kept, no crop), scaled to [0, 1] and normalised with CLIP's mean and deviation. The
feature is the class token of the last transformer block *before* ``post_layernorm`` and
without the projection: [frames, 768].
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from unflat.errors import InputError, WeightsError
from unflat.nn.clip_vit import ClipVisionConfig, ClipVisionModel, from_openai_state, vision_state
from unflat.weights import fetch, resolve_weights
from unflat.weights.checkpoints import read_state

FEATURE_FPS = 10
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
MODEL_NAME = "clip-vit-b-16"


def frame_indices(frame_count: int, fps: float, seconds: float = 10.0) -> list[int]:
    """The source frames of a ``seconds`` window at 10 frames/s (those past the end left out)."""
    wanted = int(seconds * FEATURE_FPS)
    indices = [round(i * fps / FEATURE_FPS) for i in range(wanted)]
    return [i for i in indices if 0 <= i <= frame_count - 1]


def clip_pixels(frames: np.ndarray, size: int = 224) -> Tensor:
    """RGB uint8 frames [N, H, W, 3] -> CLIP input [N, 3, size, size] (float32)."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise InputError(
            f"CLIP takes RGB uint8 frames [N, H, W, 3], got {frames.dtype} {frames.shape}",
            "decode the video to RGB first",
        )
    resized = np.stack(
        [
            np.asarray(Image.fromarray(f).resize((size, size), Image.Resampling.BICUBIC))
            for f in frames
        ]
    )
    pixels = torch.from_numpy(resized).permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    return (pixels - mean) / std


def window_pixels(frames: np.ndarray, fps: float, seconds: float = 10.0) -> Tensor:
    """The published 10 frames/s window of a clip's frames, black-padded: [10 s, 3, 224, 224]."""
    chosen = frames[frame_indices(len(frames), fps, seconds)]
    wanted = int(seconds * FEATURE_FPS)
    if len(chosen) < wanted:
        height, width = frames.shape[1:3]
        black = np.zeros((wanted - len(chosen), height, width, 3), np.uint8)
        chosen = np.concatenate([chosen, black]) if len(chosen) else black
    return clip_pixels(chosen)


@torch.no_grad()
def frame_features(model: ClipVisionModel, pixels: Tensor, batch: int = 25) -> Tensor:
    """Class token of the last block (no ``post_layernorm``, no projection): [N, width]."""
    parameter = next(model.parameters())
    chunks = [
        model(pixels[i : i + batch].to(parameter.device, parameter.dtype))[:, 0].float().cpu()
        for i in range(0, len(pixels), batch)
    ]
    return torch.cat(chunks)


def is_torchscript(path: Path) -> bool:
    """Whether ``path`` is a TorchScript archive (OpenAI's released CLIP files are)."""
    if not path.is_file() or not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.split("/", 1)[-1].startswith("code/") for name in archive.namelist())


def _openai_archive(path: Path) -> dict[str, Tensor]:
    """The tensors of OpenAI's TorchScript CLIP file (``ViT-B-16.pt``)."""
    # TorchScript archives hold compiled code, not pickled Python; only the tensors are kept.
    return {
        k: v.float() for k, v in torch.jit.load(str(path), map_location="cpu").state_dict().items()
    }


def load_clip_vision(
    weights: str | os.PathLike[str] | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> ClipVisionModel:
    """CLIP ViT-B/16's image tower, from ``weights`` (a transformers ``CLIPModel`` file, or
    OpenAI's ``ViT-B-16.pt`` as the published VSSFlow loads it) or the registry."""
    file = fetch(MODEL_NAME) if weights is None else Path(weights).expanduser()
    state = _openai_archive(file) if is_torchscript(file) else None
    if state is None:
        state = read_state(resolve_weights(None, file))
    state = from_openai_state(state) if "visual.conv1.weight" in state else vision_state(state)
    model = ClipVisionModel(ClipVisionConfig())
    expected = model.state_dict()
    wrong = sorted(set(expected) ^ set(state)) + [
        k for k in state if k in expected and state[k].shape != expected[k].shape
    ]
    if wrong:
        raise WeightsError(
            f"{file} is not a CLIP ViT-B/16 checkpoint ({len(wrong)} tensors differ, e.g. "
            f"{wrong[0]})",
            "pass openai/clip-vit-base-patch16's model file, or omit it to download that",
        )
    model.load_state_dict(state, strict=True)
    return model.to(device=device, dtype=dtype).eval().requires_grad_(False)


__all__ = [
    "CLIP_MEAN",
    "CLIP_STD",
    "FEATURE_FPS",
    "clip_pixels",
    "frame_features",
    "frame_indices",
    "is_torchscript",
    "load_clip_vision",
    "window_pixels",
]
