"""Where unflat's capabilities meet: one pipeline per job a user runs.

Each is a class built once from options (``from_options(...)``, models loaded on first use and
kept) and called on one input; the CLI, the web app and batches run these same objects::

    from unflat.pipelines import DepthPipeline
    depth = DepthPipeline(precision="auto")("photo.jpg")     # -> unflat.DepthMap

Long work reports progress through :mod:`unflat.progress`.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "AnimatePipeline": "unflat.pipelines.animate",
    "BatchReport": "unflat.pipelines.batch",
    "DepthPipeline": "unflat.pipelines.depth",
    "DubPipeline": "unflat.pipelines.dub",
    "FoleyPipeline": "unflat.pipelines.foley",
    "MeasurePipeline": "unflat.pipelines.measure",
    "RefocusPipeline": "unflat.pipelines.refocus",
    "RenderPipeline": "unflat.pipelines.render",
    "RunPipeline": "unflat.pipelines.run",
    "RunSettings": "unflat.pipelines.run",
    "SceneJob": "unflat.pipelines.scene",
    "ScenePipeline": "unflat.pipelines.scene",
    "VideoDepthPipeline": "unflat.pipelines.video_depth",
    "run_batch": "unflat.pipelines.batch",
}


def __getattr__(name: str) -> object:
    # Each pipeline imports torch and its models' code: load only the one asked for.
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'unflat.pipelines' has no attribute {name!r}")


__all__ = sorted(_LAZY)
