"""unflat: metric depth, 3D Gaussian scenes, animated portraits and sound from flat media."""

from __future__ import annotations

__version__ = "0.1.0"

from unflat.errors import UnflatError
from unflat.types import Camera, DepthMap, Gaussians, Photo


def build_model(config: dict):
    """Build any supported architecture from a config dict; ``config["architecture"]`` selects."""
    from unflat.architectures import build_model as _build

    return _build(config)


def load_model(name_or_path: str, **kwargs):
    """A ready model (eval mode, weights loaded) from a registry name or a local file/directory."""
    from unflat.weights import load_model as _load

    return _load(name_or_path, **kwargs)


_LAZY = {
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
