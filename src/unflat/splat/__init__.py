"""3D Gaussian scenes: from photos (SHARP, or photo + depth), rendered from any camera."""

from unflat.splat.predict import predict_gaussians
from unflat.splat.render import Render, render
from unflat.splat.rgbd import from_rgbd

__all__ = ["Render", "from_rgbd", "predict_gaussians", "render"]
