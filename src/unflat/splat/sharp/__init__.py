"""SHARP (Apple, 2025): 3D Gaussians from a single photo, checkpoint-compatible with the release.

``Sharp`` is the network, ``SharpConfig`` its architecture (the published ``PredictorParams``
plus the ViT shape), ``build_sharp`` builds it from a config dict.
"""

from unflat.splat.sharp.config import SharpConfig
from unflat.splat.sharp.model import Sharp, build_sharp

__all__ = ["Sharp", "SharpConfig", "build_sharp"]
