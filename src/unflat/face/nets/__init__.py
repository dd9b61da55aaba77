"""PyTorch re-implementations of four MediaPipe (Apache-2.0) TFLite models.

The weights ship with the package under ``unflat/assets/face/`` (converted unchanged from the
``.tflite`` files by ``tools/convert_mediapipe.py``; see the ``NOTICE`` there). Each net returns
the model's raw outputs; pre/post-processing lives beside the callers.

* ``blazeface_short``: ``BlazeFace``, ``[B, 3, 128, 128]`` in ``[-1, 1]``
* ``face_mesh``: ``FaceMesh``, ``[B, 3, 192, 192]`` in ``[0, 1]``
* ``iris``: ``IrisLandmark``, ``[B, 3, 64, 64]`` in ``[0, 1]``
* ``selfie_segmentation``: ``SelfieSegmentation``, ``[B, 3, 256, 256]`` in ``[0, 1]``

Inputs are NCHW float32 RGB.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from unflat import registry
from unflat.errors import ConfigError, WeightsError
from unflat.face.nets.blazeface import BlazeFace
from unflat.face.nets.face_mesh import FaceMesh
from unflat.face.nets.iris import IrisLandmark
from unflat.face.nets.selfie_segmentation import SelfieSegmentation

__all__ = [
    "BlazeFace",
    "FaceMesh",
    "IrisLandmark",
    "SelfieSegmentation",
    "face_nets",
    "image_tensor",
    "load_net",
]

_FOLDER = "assets/face"  # inside the package; tools/convert_mediapipe.py writes them there
_MEDIAPIPE_SUMMARY = (
    "Apache License 2.0: use, modification and redistribution are permitted, commercially too, "
    "keeping the licence and NOTICE (both ship in unflat/assets/face/). This is a summary, not "
    "legal advice: the licence text governs."
)


def _register(
    name: str, cls: Callable[[], nn.Module], task: str, description: str, model_card: str
) -> None:
    """One bundled MediaPipe net: a fixed-shape architecture and its packaged weights."""
    registry.register_architecture(name, lambda config: cls(), None)
    registry.register_model(
        registry.ModelEntry(
            name=name.replace("_", "-"),
            task=task,
            architecture={"architecture": name},
            description=description,
            files=(registry.WeightFile(f"{name}.safetensors", ()),),
            licence="Apache-2.0 (MediaPipe)",
            licence_url="https://github.com/google-ai-edge/mediapipe/blob/master/LICENSE",
            licence_summary=_MEDIAPIPE_SUMMARY,
            commercial_use=True,
            homepage="https://github.com/google-ai-edge/mediapipe",
            paper=model_card,
            bundled=_FOLDER,
        )
    )


_register(
    "blazeface_short",
    BlazeFace,
    "face-detection",
    "MediaPipe BlazeFace (short range): faces and six keypoints in a 128x128 image.",
    "BlazeFace: Sub-millisecond Neural Face Detection on Mobile GPUs (arXiv:1907.05047)",
)
_register(
    "face_mesh",
    FaceMesh,
    "face-landmarks",
    "MediaPipe Face Mesh: 468 3D landmarks of a 192x192 face crop.",
    "Real-time Facial Surface Geometry from Monocular Video on Mobile GPUs (arXiv:1907.06724)",
)
_register(
    "iris",
    IrisLandmark,
    "iris-landmarks",
    "MediaPipe Iris: the iris and eye contour of a 64x64 eye crop.",
    "Real-time Pupil Tracking from Monocular Video for Digital Puppetry (arXiv:2006.11341)",
)
_register(
    "selfie_segmentation",
    SelfieSegmentation,
    "segmentation",
    "MediaPipe Selfie Segmentation: a person mask of a 256x256 image.",
    "MediaPipe Selfie Segmentation model card (general model, 256x256)",
)


def face_nets() -> list[str]:
    """The names of the bundled face nets (``load_net`` takes any of them)."""
    return [entry.name for entry in registry.list_entries() if entry.bundled == _FOLDER]


def load_net(name: str, device: str | torch.device = "cpu") -> nn.Module:
    """Build net ``name``, load its packaged float32 weights (strictly) and put it in eval mode."""
    from safetensors.torch import load

    entry = registry.find_entry(name)
    if entry is None or entry.bundled != _FOLDER:
        raise ConfigError(
            f"unknown face net {name!r}", hint=f"use one of: {', '.join(face_nets())}"
        )
    (asset,) = registry.bundled_files(entry)
    if not asset.is_file():
        raise WeightsError(
            f"the {entry.name} weights (unflat/{entry.bundled}/{asset.name}) are missing "
            "from this install",
            hint="reinstall unflat; in a source checkout run `python tools/convert_mediapipe.py`",
        )
    model = registry.build_model(entry.architecture)
    model.load_state_dict(load(asset.read_bytes()), strict=True)
    return model.float().eval().to(device)


def image_tensor(
    pixels: np.ndarray, device: str | torch.device, low: float = 0.0, high: float = 1.0
) -> torch.Tensor:
    """A uint8 ``[H,W,3]`` crop as the models' float ``[1,3,H,W]`` input, scaled to [low, high]."""
    x = torch.from_numpy(np.ascontiguousarray(pixels)).to(device).permute(2, 0, 1)[None].float()
    # divide (not multiply by a reciprocal): the exact float32 values MediaPipe's inputs have
    return x / (255.0 / (high - low)) + low
