"""unflat: metric depth, 3D Gaussian scenes, animated portraits and sound from flat media."""

from __future__ import annotations

__version__ = "0.1.0"

from unflat.errors import UnflatError
from unflat.types import Camera, DepthMap, Gaussians, Photo

_LAZY = {
    "build_model": "unflat.architectures",
    "load_model": "unflat.weights",
    "DepthEstimator": "unflat.depth.predict",
    "read_photo": "unflat.io.images",
}


def __getattr__(name: str):
    # Heavy modules (torch) load on first use, so `unflat --help` stays quick.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'unflat' has no attribute {name!r}")


__all__ = [
    "Camera",
    "DepthEstimator",
    "DepthMap",
    "Gaussians",
    "Photo",
    "UnflatError",
    "__version__",
    "build_model",
    "load_model",
    "read_photo",
]
