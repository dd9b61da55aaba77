"""Stereo views of a scene: a pair of cameras, and the two images side by side or as an anaglyph.

:func:`stereo_pair` shifts a camera by ``∓baseline/2`` along its own x axis (parallel axes, no
toe-in, so there is no vertical disparity). :func:`comfortable_baseline` follows the
photographers' 1/30 rule (baseline = nearest depth / 30) capped at the human eye distance.
With parallel axes everything lies in front of the screen plane; :func:`window_disparity` is
the shift (a fraction of the width) that puts a chosen depth at the screen plane instead, the
"disparity adjustment" of Apple's spatial photos.
:func:`anaglyph` makes red-cyan images, by default with Dubois' least-squares matrices (less
ghosting and truer colours than the simple "red from the left, green and blue from the right"
method, which ``method="color"`` gives), applied in linear light as Dubois derived them.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from unflat.colour import linear_to_srgb, srgb_to_linear
from unflat.splat.trajectories import DepthRange
from unflat.types import Camera

#: Average human interpupillary distance (metres).
EYE_DISTANCE_M = 0.063

# Dubois' red-cyan matrices (E. Dubois, "A projection method to generate anaglyph stereo
# images", ICASSP 2001; the values of his web page for red-cyan glasses): output linear RGB =
# LEFT @ left + RIGHT @ right.
_DUBOIS_LEFT = np.array([[0.456, 0.500, 0.176], [-0.040, -0.038, -0.016], [-0.015, -0.021, -0.005]])
_DUBOIS_RIGHT = np.array(
    [[-0.043, -0.088, -0.002], [0.378, 0.734, -0.018], [-0.072, -0.113, 1.226]]
)


def stereo_pair(camera: Camera, baseline_m: float = EYE_DISTANCE_M) -> tuple[Camera, Camera]:
    """Left and right cameras ``baseline_m`` apart, centred on ``camera``, same orientation."""
    cameras = []
    for offset in (-baseline_m / 2.0, baseline_m / 2.0):
        # a camera moved by +offset along its own x sees every point at x - offset
        shift = torch.eye(4, dtype=camera.world_to_camera.dtype)
        shift[0, 3] = -offset
        cameras.append(
            Camera(
                K=camera.K.clone(),
                world_to_camera=shift @ camera.world_to_camera,
                width=camera.width,
                height=camera.height,
            )
        )
    return cameras[0], cameras[1]


def comfortable_baseline(depth: DepthRange) -> float:
    """A baseline (metres) that keeps the nearest content comfortable: ``near / 30``, at most
    the eye distance."""
    return float(min(EYE_DISTANCE_M, depth.near / 30.0))


def window_disparity(focal_px: float, width: int, baseline_m: float, depth_m: float) -> float:
    """The disparity of a point ``depth_m`` away between two parallel cameras ``baseline_m``
    apart, as a fraction of the image width: ``focal * baseline / (depth * width)``. Shifting
    the views by it puts that depth at the screen plane and everything farther behind it."""
    if not (depth_m > 0 and width > 0):
        raise ValueError(f"depth {depth_m} m and width {width} px must be positive")
    return focal_px * baseline_m / (depth_m * width)


def _check_pair(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    left, right = np.asarray(left), np.asarray(right)
    for image in (left, right):
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(
                f"stereo images must be uint8 [H,W,3], got {image.dtype} {image.shape}"
            )
    if left.shape != right.shape:
        raise ValueError(f"left {left.shape} and right {right.shape} images differ in size")
    return left, right


def side_by_side(left: np.ndarray, right: np.ndarray, cross_eyed: bool = False) -> np.ndarray:
    """One ``[H,2W,3]`` image: left view on the left (parallel viewing, VR players), or swapped
    for cross-eyed viewing."""
    left, right = _check_pair(left, right)
    return np.concatenate([right, left] if cross_eyed else [left, right], axis=1)


def anaglyph(
    left: np.ndarray, right: np.ndarray, method: Literal["dubois", "color"] = "dubois"
) -> np.ndarray:
    """A red-cyan anaglyph (red filter over the left eye) of two ``uint8 [H,W,3]`` images."""
    left, right = _check_pair(left, right)
    if method == "color":
        return np.concatenate([left[..., :1], right[..., 1:]], axis=2)
    if method != "dubois":
        raise ValueError(f"unknown anaglyph method {method!r}: use 'dubois' or 'color'")
    left_linear = srgb_to_linear(left / 255.0)
    right_linear = srgb_to_linear(right / 255.0)
    mixed = left_linear @ _DUBOIS_LEFT.T + right_linear @ _DUBOIS_RIGHT.T
    encoded = linear_to_srgb(np.clip(mixed, 0.0, 1.0))
    return np.rint(encoded * 255.0).astype(np.uint8)
