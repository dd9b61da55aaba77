"""Depth-aware inpainting of what lies behind depth discontinuities.

A photo shows one surface per pixel; a camera that moves reveals what the nearer surfaces hid.
:func:`background_behind_edges` guesses that hidden surface for every pixel near an occluding
edge: it finds the pixels that have something clearly farther within ``radius`` pixels (the band
a moving camera can uncover), then grows the farther surfaces into that band ring by ring
("onion peeling"). A pixel only ever takes values from surfaces behind its own depth, so the
near object's own colours never leak into its background.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numba
import numpy as np

# Neighbour offsets (row, column): 8-connected, so each ring advances one Chebyshev step.
_OFFSETS = np.array(
    [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)], dtype=np.int64
)


@dataclass
class Background:
    """The inpainted layer: ``mask [H,W]`` where it exists, its ``depth [H,W]`` and ``rgb``."""

    mask: np.ndarray
    depth: np.ndarray
    rgb: np.ndarray


def occluder_band(depth: np.ndarray, radius: int, step: float) -> np.ndarray:
    """Pixels with a surface more than ``step`` (relative) farther within ``radius`` pixels."""
    size = 2 * radius + 1
    farthest = cv2.dilate(depth.astype(np.float32), np.ones((size, size), np.uint8))
    return depth * (1.0 + step) < farthest


def background_behind_edges(
    rgb: np.ndarray, depth: np.ndarray, radius: int, step: float = 0.1
) -> Background:
    """Inpaint the surface behind every pixel within ``radius`` pixels of an occluding edge.

    ``rgb`` is ``[H,W,3]`` (any float or uint8 values, filled channel by channel), ``depth``
    ``[H,W]`` finite and positive, ``step`` the relative depth jump that counts as an edge
    (0.1: something 10% farther). Pixels the growth cannot reach within ``radius`` rings (no
    farther surface connects to them) stay outside ``mask``.
    """
    if radius < 1:
        empty = np.zeros(depth.shape, dtype=bool)
        return Background(empty, np.zeros_like(depth), np.zeros_like(rgb, dtype=np.float32))
    band = occluder_band(depth, radius, step)
    colours = np.ascontiguousarray(rgb, dtype=np.float32)
    depths = np.ascontiguousarray(depth, dtype=np.float32)
    filled, background_depth, background_rgb = _grow_background(
        colours, depths, band, radius, np.float32(step), _OFFSETS
    )
    background_rgb[~filled] = 0.0
    return Background(filled, background_depth, background_rgb)


@numba.njit(cache=True)
def _grow_background(rgb, depth, band, rings, step, offsets):  # pragma: no cover - compiled
    height, width = depth.shape
    channels = rgb.shape[2]
    known = ~band  # outside the band a pixel's background is its own surface
    background_depth = np.where(known, depth, np.float32(0.0)).astype(np.float32)
    background_rgb = np.zeros((height, width, channels), dtype=np.float32)
    for row in range(height):
        for column in range(width):
            if known[row, column]:
                for channel in range(channels):
                    background_rgb[row, column, channel] = rgb[row, column, channel]
    filled = np.zeros((height, width), dtype=np.bool_)
    pending = np.argwhere(band)
    for _ in range(rings):
        # Values found in this ring are written after the scan so that a ring only reads the
        # previous ones: growth advances one pixel per ring in every direction alike.
        new_index = np.empty(len(pending), dtype=np.int64)
        new_depth = np.empty(len(pending), dtype=np.float32)
        new_rgb = np.empty((len(pending), channels), dtype=np.float32)
        count = 0
        for index in range(len(pending)):
            row, column = pending[index, 0], pending[index, 1]
            threshold = depth[row, column] * (1.0 + step)
            # Candidates: a neighbour's own surface, or the background found behind it, when
            # clearly behind this pixel. The nearest such surface is what a moving camera
            # uncovers first, so candidates near the nearest one are averaged.
            nearest = np.inf
            for k in range(8):
                r, c = row + offsets[k, 0], column + offsets[k, 1]
                if r < 0 or r >= height or c < 0 or c >= width:
                    continue
                if depth[r, c] > threshold and depth[r, c] < nearest:
                    nearest = depth[r, c]
                behind = background_depth[r, c]
                if (known[r, c] or filled[r, c]) and threshold < behind < nearest:
                    nearest = behind
            if nearest == np.inf:
                continue
            limit = nearest * 1.05
            weight = 0.0
            depth_sum = 0.0
            rgb_sum = np.zeros(channels, dtype=np.float64)
            for k in range(8):
                r, c = row + offsets[k, 0], column + offsets[k, 1]
                if r < 0 or r >= height or c < 0 or c >= width:
                    continue
                if depth[r, c] > threshold and depth[r, c] <= limit:
                    weight += 1.0
                    depth_sum += depth[r, c]
                    for channel in range(channels):
                        rgb_sum[channel] += rgb[r, c, channel]
                if (known[r, c] or filled[r, c]) and threshold < background_depth[r, c] <= limit:
                    weight += 1.0
                    depth_sum += background_depth[r, c]
                    for channel in range(channels):
                        rgb_sum[channel] += background_rgb[r, c, channel]
            new_index[count] = index
            new_depth[count] = depth_sum / weight
            for channel in range(channels):
                new_rgb[count, channel] = rgb_sum[channel] / weight
            count += 1
        if count == 0:
            break
        still = np.ones(len(pending), dtype=np.bool_)
        for n in range(count):
            index = new_index[n]
            row, column = pending[index, 0], pending[index, 1]
            filled[row, column] = True
            background_depth[row, column] = new_depth[n]
            for channel in range(channels):
                background_rgb[row, column, channel] = new_rgb[n, channel]
            still[index] = False
        pending = pending[still]
    background_depth = np.where(filled, background_depth, np.float32(0.0)).astype(np.float32)
    return filled, background_depth, background_rgb
