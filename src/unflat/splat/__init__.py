"""3D Gaussian scenes: predicting them from photos (SHARP) and rendering them from any camera."""

from unflat.splat.predict import predict_gaussians
from unflat.splat.render import Render, render

__all__ = ["Render", "predict_gaussians", "render"]
