"""Novel-view quality on rectified stereo pairs (Middlebury 2014 layout).

The scene is built from the left image and a depth map, rendered at the right camera and
compared with the right photo. Pixels are split by what the left view saw:

- ``covisible``: right-view pixels showing a surface the left view also saw;
- ``disoccluded``: pixels the left view could not see because something nearer hid them (the
  holes a moving camera opens), found as gaps in a crack-free forward warp of the ground truth;
- pixels beyond the left view's field of view are in neither set.

The baseline is a plain z-buffered forward warp of the same pixels: each left pixel lands on
its nearest right pixel, the nearest surface wins, and nothing fills the holes (they stay black).
"""

from __future__ import annotations

import math

import numpy as np

from unflat.colour import linear_to_srgb
from unflat.datasets.middlebury import StereoPair
from unflat.image_quality import psnr, ssim
from unflat.types import Camera, Gaussians


def _project_to_right(pair: StereoPair, depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Right-image column (continuous, pixel centres at +0.5) and row of every left pixel."""
    from unflat.splat.rgbd import unproject

    points = unproject(depth, pair.K_left)
    x, y = points[..., 0], points[..., 1]
    K1 = pair.K_right
    column = K1[0, 0] * (x - pair.baseline) / depth + K1[0, 2]
    row = K1[1, 1] * y / depth + K1[1, 2]
    return column, row


def forward_warp(pair: StereoPair, depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The z-buffered nearest-pixel forward warp of the left image: ``(rgb, covered)``."""
    height, width = depth.shape
    column, row = _project_to_right(pair, depth)
    target_x = np.floor(column).astype(np.int64)
    target_y = np.floor(row).astype(np.int64)
    inside = (target_x >= 0) & (target_x < width) & (target_y >= 0) & (target_y < height)
    inside &= np.isfinite(depth)
    flat = (target_y * width + target_x)[inside]
    z = depth[inside]
    colours = pair.left[inside]
    # Far to near, so the nearest surface is written last and wins.
    order = np.argsort(-z, kind="stable")
    image = np.zeros((height * width, 3), dtype=np.uint8)
    covered = np.zeros(height * width, dtype=bool)
    image[flat[order]] = colours[order]
    covered[flat[order]] = True
    return image.reshape(height, width, 3), covered.reshape(height, width)


def visibility_masks(pair: StereoPair, depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(covisible, disoccluded)`` masks of the right image from the left depth.

    Each row of the left image is warped as a piecewise-linear curve: neighbouring left pixels
    whose landing points are at most 2 px apart span a continuous surface and cover every right
    pixel between them (no cracks); wider gaps are disocclusions.
    """
    height, width = depth.shape
    column, _ = _project_to_right(pair, depth)
    covered = np.zeros((height, width), dtype=bool)
    for y in range(height):
        xs = column[y]
        finite = np.isfinite(xs)
        for x0 in range(width - 1):
            if not (finite[x0] and finite[x0 + 1]):
                continue
            a, b = sorted((xs[x0], xs[x0 + 1]))
            if b - a > 2.0 or b < 0 or a >= width:
                continue
            first = max(0, math.floor(a))
            last = min(width - 1, math.floor(b))
            covered[y, first : last + 1] = True
    # Beyond the left view: right of where the left image's last column lands.
    right_edge = np.nanmax(column, axis=1)
    beyond = np.arange(width)[None, :] > right_edge[:, None]
    return covered, ~covered & ~beyond


def rendered_srgb(gaussians: Gaussians, camera: Camera, **render_options: object) -> np.ndarray:
    """Render and convert to sRGB floats in [0, 1]."""
    from unflat.splat.render import render

    result = render(gaussians, camera, **render_options)
    return np.clip(linear_to_srgb(result.color.cpu().numpy()), 0.0, 1.0)


def scores(
    prediction: np.ndarray, target: np.ndarray, covisible: np.ndarray, disoccluded: np.ndarray
) -> dict[str, float]:
    """PSNR and SSIM on the covisible and on the disoccluded pixels."""
    return {
        "psnr_covisible": psnr(prediction, target, covisible),
        "ssim_covisible": ssim(prediction, target, covisible),
        "psnr_disoccluded": psnr(prediction, target, disoccluded),
        "ssim_disoccluded": ssim(prediction, target, disoccluded),
    }


#: The rows of the table, in order: what is rendered at the right camera.
METHODS = ("forward warp", "scene, no background", "scene + background")


def evaluate_pair(
    pair: StereoPair,
    estimated_depth: np.ndarray | None = None,
    backend: str = "auto",
) -> list[dict[str, float | str]]:
    """Scores of every method on one pair; ``estimated_depth`` adds rows for a predicted depth.

    Visibility masks always come from the ground truth, so every row is scored on the same
    pixels.
    """
    from unflat.splat.rgbd import RGBD_EPS2D, fill_depth_holes, from_rgbd

    truth = fill_depth_holes(pair.depth).astype(np.float64)
    covisible, disoccluded = visibility_masks(pair, truth)
    target = pair.right.astype(np.float64) / 255.0
    camera = pair.right_camera()
    rows: list[dict[str, float | str]] = []

    def add(method: str, depth_name: str, image: np.ndarray) -> None:
        rows.append(
            {"scene": pair.name, "method": method, "depth": depth_name}
            | scores(image, target, covisible, disoccluded)
            | {"covisible_fraction": float(covisible.mean()),
               "disoccluded_fraction": float(disoccluded.mean())}
        )  # fmt: skip

    depths = [("ground truth", truth)]
    if estimated_depth is not None:
        depths.append(("estimated", estimated_depth.astype(np.float64)))
    for depth_name, depth in depths:
        warp, _ = forward_warp(pair, depth)
        add(METHODS[0], depth_name, warp.astype(np.float64) / 255.0)
        for method, background in zip(METHODS[1:], (False, True), strict=True):
            gaussians = from_rgbd(pair.left, depth, pair.K_left, background=background)
            image = rendered_srgb(gaussians, camera, backend=backend, eps2d=RGBD_EPS2D)
            add(method, depth_name, image)
    return rows


def summarise(rows: list[dict[str, float | str]]) -> list[dict[str, float | str]]:
    """Mean of each score per (depth, method) over scenes, as rows with scene ``"mean"``."""
    keys = ("psnr_covisible", "ssim_covisible", "psnr_disoccluded", "ssim_disoccluded")
    groups: dict[tuple[str, str], list[dict[str, float | str]]] = {}
    for row in rows:
        groups.setdefault((str(row["depth"]), str(row["method"])), []).append(row)
    means = []
    for (depth, method), members in groups.items():
        mean: dict[str, float | str] = {"scene": "mean", "depth": depth, "method": method}
        for key in keys:
            mean[key] = float(np.nanmean([float(member[key]) for member in members]))
        means.append(mean)
    return means
