"""3D Gaussian scenes: rendering them from any camera (and, later, predicting them from photos)."""

from unflat.splat.render import Render, render

__all__ = ["Render", "render"]
