"""unflat: metric depth, 3D Gaussian scenes, animated portraits and sound from flat media."""

from __future__ import annotations

__version__ = "0.1.0"

from unflat.errors import UnflatError
from unflat.types import Camera, DepthMap, Gaussians, Photo

_LAZY = {
    "build_model": "unflat.registry",
    "load_model": "unflat.weights",
    "AnimatePipeline": "unflat.pipelines.animate",
    "DepthEstimator": "unflat.depth.predict",
    "DepthPipeline": "unflat.pipelines.depth",
    "DubPipeline": "unflat.pipelines.dub",
    "FoleyPipeline": "unflat.pipelines.foley",
    "MeasurePipeline": "unflat.pipelines.measure",
    "RefocusPipeline": "unflat.pipelines.refocus",
    "RenderPipeline": "unflat.pipelines.render",
    "RunPipeline": "unflat.pipelines.run",
    "RunSettings": "unflat.pipelines.run",
    "ScenePipeline": "unflat.pipelines.scene",
    "read_photo": "unflat.io.images",
}


#: Subpackages reachable as attributes (``unflat.splat.render(...)``) after a plain
#: ``import unflat``.
_SUBPACKAGES = frozenset({"depth", "face", "io", "lens", "pipelines", "sound", "splat"})


def __getattr__(name: str) -> object:
    # Heavy modules (torch) load on first use, so `unflat --help` stays quick.
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBPACKAGES:
        return importlib.import_module(f"unflat.{name}")
    raise AttributeError(f"module 'unflat' has no attribute {name!r}")


__all__ = [
    "AnimatePipeline",
    "Camera",
    "DepthEstimator",
    "DepthMap",
    "DepthPipeline",
    "DubPipeline",
    "FoleyPipeline",
    "Gaussians",
    "MeasurePipeline",
    "Photo",
    "RefocusPipeline",
    "RenderPipeline",
    "RunPipeline",
    "RunSettings",
    "ScenePipeline",
    "UnflatError",
    "__version__",
    "build_model",
    "depth",
    "face",
    "io",
    "lens",
    "load_model",
    "pipelines",
    "read_photo",
    "sound",
    "splat",
]
