"""Precomputed condition features for VSSFlow: one ``.npz`` or ``.safetensors`` file per video.

Two of the published conditions come from networks unflat does not run (Synchformer and
AV-HuBERT; see docs/sound.md "Front ends"); compute them with the published extractors and hand
them over in one file holding any of these arrays (float16/32, names exact):

==========  ===================  ===========================================================
name        shape                what (the published extractor's output, unchanged)
==========  ===================  ===========================================================
video       [F, 768]             CLIP ViT-B/16 class token of the last block, 10 frames/s
synch       [S, 8, 768]          Synchformer segment tokens (16 frames at 25 fps, stride 8:
            or [N, 768]          24 tokens/s); flattened in time order if 2-D
lip         [L, 1024]            AV-HuBERT large (self_large_vox_433h) mouth features, 25 fps
speaker     [256]                RawNet3 embedding of the reference voice (mean of 10 crops)
==========  ===================  ===========================================================

A missing array means "no such condition" (the model sees zeros), except ``video``, which
unflat computes from the video when absent (CLIP ViT-B/16), and ``speaker``, which it computes
from a reference recording when one is given (RawNet3).
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from unflat.errors import InputError
from unflat.registry import ModelEntry, WeightFile, register_model

# Frames per second of each time-indexed array (Synchformer: 8 tokens per 8-frame stride at 25).
RATES = {"video": 10.0, "synch": 24.0, "lip": 25.0}
WIDTHS = {"video": 768, "synch": 768, "lip": 1024, "speaker": 256}


@dataclass(frozen=True)
class ConditionFeatures:
    """The per-video conditions, float32, time first; None where the file has none."""

    video: Tensor | None = None
    synch: Tensor | None = None
    lip: Tensor | None = None
    speaker: Tensor | None = None

    def window(self, start: float, seconds: float) -> ConditionFeatures:
        """The frames of ``[start, start + seconds)`` of each time-indexed array."""
        cut = {}
        for name, rate in RATES.items():
            array = getattr(self, name)
            if array is not None:
                first = round(start * rate)
                cut[name] = array[first : first + round(seconds * rate)]
        return ConditionFeatures(speaker=self.speaker, **cut)


def _load_arrays(path: Path) -> dict[str, np.ndarray]:
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                return {name: data[name] for name in data.files}
        if path.suffix == ".safetensors":
            from safetensors.numpy import load_file

            return load_file(str(path))
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise InputError(f"cannot read features file {path}: {error}", "write it again") from None
    raise InputError(
        f"features file {path} is neither .npz nor .safetensors", "save the arrays as either"
    )


def _check(name: str, array: np.ndarray, path: Path) -> Tensor:
    width = WIDTHS[name]
    shapes = {
        "speaker": array.shape == (width,),
        "synch": array.ndim in (2, 3) and array.shape[-1] == width,
        "video": array.ndim == 2 and array.shape[1] == width,
        "lip": array.ndim == 2 and array.shape[1] == width,
    }
    if not np.issubdtype(array.dtype, np.floating) or not shapes[name]:
        raise InputError(
            f"'{name}' in {path} is {array.dtype} {list(array.shape)}; it must be float with "
            f"the shape docs/sound.md gives ([..., {width}])",
            "write the published extractor's output unchanged",
        )
    if not np.isfinite(array).all():
        raise InputError(f"'{name}' in {path} holds NaN or infinite values", "extract it again")
    tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    return tensor.reshape(-1, width) if name == "synch" else tensor


def read_features(path: str | os.PathLike[str]) -> ConditionFeatures:
    """Read and validate a features file (layout in this module's docstring)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"features file {path} does not exist", "pass an existing .npz file")
    arrays = _load_arrays(path)
    unknown = sorted(set(arrays) - set(WIDTHS))
    if unknown:
        raise InputError(
            f"features file {path} has unknown arrays {unknown}",
            f"name them {sorted(WIDTHS)} (see docs/sound.md)",
        )
    if not arrays:
        raise InputError(f"features file {path} holds no arrays", f"add any of {sorted(WIDTHS)}")
    return ConditionFeatures(**{name: _check(name, a, path) for name, a in arrays.items()})


def _external(name: str, task: str, description: str, file: WeightFile, **terms: object) -> None:
    """A model whose features unflat reads from a file: listed, fetchable, not buildable."""
    architecture = {"architecture": name.replace("-", "_")}
    register_model(
        ModelEntry(name, task, architecture, description, (file,), available=False, **terms)  # type: ignore[arg-type]
    )


_external(
    "synchformer",
    "video",
    "Synchformer (MotionFormer, 16-frame segments at 25 fps): VSSFlow's audio-visual sync "
    "condition. Not run by unflat: pass its features with --features (docs/sound.md).",
    WeightFile(
        "synchformer_state_dict.pth",
        (
            "https://github.com/hkchengrex/MMAudio/releases/download/v0.1/synchformer_state_dict.pth",
        ),
        approx_bytes=950_000_000,
    ),
    licence="MIT",
    licence_url="https://github.com/v-iashin/Synchformer/blob/main/LICENSE",
    licence_summary="MIT licence (Synchformer's code and released weights). A summary only.",
    commercial_use=True,
    homepage="https://github.com/v-iashin/Synchformer",
    paper="Synchformer: Efficient Synchronization from Sparse Cues (arXiv:2401.16423)",
)
_external(
    "av-hubert-large-vsr",
    "video",
    "AV-HuBERT large fine-tuned for lip reading (self_large_vox_433h): VSSFlow's lip condition "
    "(1024-d, 25 fps, mouth crops). A fairseq checkpoint, not a plain PyTorch state dict: "
    "pass its features with --features (docs/sound.md).",
    WeightFile(
        "self_large_vox_433h.pt",
        ("https://dl.fbaipublicfiles.com/avhubert/model/lrs3_vox/vsr/self_large_vox_433h.pt",),
        approx_bytes=1_900_000_000,
    ),
    licence="AV-HuBERT Licence (non-commercial research)",
    licence_url="https://github.com/facebookresearch/av_hubert/blob/main/LICENSE",
    licence_summary=(
        "Meta's AV-HuBERT licence: non-commercial research use of the software and models; no "
        "redistribution for commercial purposes. A summary, not legal advice."
    ),
    commercial_use=False,
    homepage="https://github.com/facebookresearch/av_hubert",
    paper="Learning Audio-Visual Speech Representation by Masked Multimodal Cluster "
    "Prediction (arXiv:2201.02184)",
)
__all__ = ["RATES", "WIDTHS", "ConditionFeatures", "read_features"]
