"""Metric depth from one photo: the Depth Pro model, prediction, metrics and evaluation."""
