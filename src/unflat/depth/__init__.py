"""Metric depth from one photo: the Depth Pro model, prediction, metrics and evaluation."""

from unflat.depth.predict import DepthEstimator

__all__ = ["DepthEstimator"]
