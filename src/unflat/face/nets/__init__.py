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

from importlib import resources

import numpy as np
import torch
from torch import nn

from unflat.errors import ConfigError, WeightsError
from unflat.face.nets.blazeface import BlazeFace
from unflat.face.nets.face_mesh import FaceMesh
from unflat.face.nets.iris import IrisLandmark
from unflat.face.nets.selfie_segmentation import SelfieSegmentation

__all__ = ["NETS", "BlazeFace", "FaceMesh", "IrisLandmark", "SelfieSegmentation", "load_net"]

# name -> (module class, asset file under unflat/assets/face/)
NETS: dict[str, tuple[type[nn.Module], str]] = {
    "blazeface_short": (BlazeFace, "blazeface_short.safetensors"),
    "face_mesh": (FaceMesh, "face_mesh.safetensors"),
    "iris": (IrisLandmark, "iris.safetensors"),
    "selfie_segmentation": (SelfieSegmentation, "selfie_segmentation.safetensors"),
}


def asset_path(filename: str):
    """The packaged asset ``unflat/assets/face/<filename>`` (a ``Traversable``)."""
    return resources.files("unflat").joinpath("assets", "face", filename)


def load_net(name: str, device: str | torch.device = "cpu") -> nn.Module:
    """Build net ``name``, load its packaged float32 weights (strictly) and put it in eval mode."""
    from safetensors.torch import load

    if name not in NETS:
        raise ConfigError(f"unknown face net {name!r}", hint=f"use one of: {', '.join(NETS)}")
    cls, filename = NETS[name]
    asset = asset_path(filename)
    if not asset.is_file():
        raise WeightsError(
            f"the {name} weights (unflat/assets/face/{filename}) are missing from this install",
            hint="reinstall unflat; in a source checkout run `python tools/convert_mediapipe.py`",
        )
    state = load(asset.read_bytes())
    model = cls()
    model.load_state_dict(state, strict=True)
    return model.float().eval().to(device)


def image_tensor(
    pixels: np.ndarray, device: str | torch.device, low: float = 0.0, high: float = 1.0
) -> torch.Tensor:
    """A uint8 ``[H,W,3]`` crop as the models' float ``[1,3,H,W]`` input, scaled to [low, high]."""
    x = torch.from_numpy(np.ascontiguousarray(pixels)).to(device).permute(2, 0, 1)[None].float()
    # divide (not multiply by a reciprocal): the exact float32 values MediaPipe's inputs have
    return x / (255.0 / (high - low)) + low
