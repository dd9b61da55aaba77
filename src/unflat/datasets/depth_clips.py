"""Clips whose depth is known, for measuring video depth: a photo with true depth seen through
a slowly panning window, and scenes of flat textured layers filmed by a moving camera.

Every frame comes with its true depth and, for the frames after the first, where each of its
pixels was in the previous frame (``map_x``, ``map_y``) and which pixels show a static surface
seen in both frames (``static``): what a flicker figure compares. A moving object's pixels are
``moving``. Frames are made one at a time, so a long clip costs the memory of one frame.

:func:`jittered_depth` turns true depth into what a per-frame depth model might say: a scale
and shift of inverse depth drawn anew for every frame, blotchy low-frequency error and pixel
noise, all reproducible from a seed and the frame's index.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class ClipFrame:
    """One frame of a clip with known depth (see the module docstring)."""

    rgb: np.ndarray  # uint8 [H,W,3]
    depth: np.ndarray  # float32 [H,W] metres, NaN where unknown
    map_x: np.ndarray | None  # float32 [H,W]: each pixel's column in the previous frame
    map_y: np.ndarray | None
    static: np.ndarray  # bool [H,W]
    moving: np.ndarray  # bool [H,W]


@dataclass(frozen=True)
class Mover:
    """A textured square moving over a panned photo: ``start`` (x, y) of its top-left corner in
    the window, ``velocity`` in pixels per frame, its depth at the first frame and its change
    per frame (metres; negative comes nearer)."""

    texture: np.ndarray
    start: tuple[float, float]
    velocity: tuple[float, float]
    depth_m: float
    depth_step_m: float = 0.0

    def placed(self, index: int) -> tuple[int, int, float]:
        """Top-left corner (whole pixels) and depth at frame ``index``."""
        x = round(self.start[0] + index * self.velocity[0])
        y = round(self.start[1] + index * self.velocity[1])
        return x, y, self.depth_m + index * self.depth_step_m


def texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A colourful multi-scale noise texture (``uint8 [H,W,3]``) that optical flow can follow."""
    rng = np.random.default_rng(seed)
    image = np.zeros((height, width, 3), np.float32)
    for cells, weight in ((4, 1.0), (16, 0.6), (64, 0.4), (256, 0.3)):
        small = rng.normal(size=(max(2, height * cells // 256), max(2, width * cells // 256), 3))
        image += weight * cv2.resize(small.astype(np.float32), (width, height), cv2.INTER_CUBIC)
    image -= image.mean(axis=(0, 1))
    image /= 3.0 * image.std() + 1e-6
    return np.clip(127.5 + 127.5 * image, 0, 255).astype(np.uint8)


def panned_clip(
    rgb: np.ndarray,
    depth: np.ndarray,
    *,
    size: tuple[int, int],
    frames: int,
    step: tuple[float, float] = (1.0, 0.25),
    mover: Mover | None = None,
) -> Iterator[ClipFrame]:
    """A window of ``size`` (width, height) sliding over ``rgb`` by ``step`` pixels a frame
    (rounded to whole pixels, so the true depth moves exactly with it), with an optional
    :class:`Mover` drawn over it. ``rgb`` and ``depth`` must be large enough for the path."""
    width, height = size
    offsets = [(round(i * step[0]), round(i * step[1])) for i in range(frames)]
    last_x, last_y = offsets[-1]
    if last_x + width > rgb.shape[1] or last_y + height > rgb.shape[0] or min(last_x, last_y) < 0:
        raise ValueError(f"a {width}x{height} window cannot pan {frames} frames over the photo")
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    previous_moving = np.zeros((height, width), bool)
    for index, (left, top) in enumerate(offsets):
        image = rgb[top : top + height, left : left + width].copy()
        truth = depth[top : top + height, left : left + width].astype(np.float32)
        moving = np.zeros((height, width), bool)
        if mover is not None:
            moving = _draw_mover(image, truth, mover, index)
        map_x = map_y = None
        static = ~moving & np.isfinite(truth)
        if index > 0:
            shift_x, shift_y = left - offsets[index - 1][0], top - offsets[index - 1][1]
            map_x, map_y = xs + shift_x, ys + shift_y
            source_moving = _shifted(previous_moving, shift_x, shift_y)
            inside = (map_x <= width - 1) & (map_y <= height - 1) & (map_x >= 0) & (map_y >= 0)
            static &= inside & ~source_moving
        previous_moving = moving
        yield ClipFrame(image, truth, map_x, map_y, static, moving)


def _draw_mover(image: np.ndarray, truth: np.ndarray, mover: Mover, index: int) -> np.ndarray:
    """Draw ``mover`` at frame ``index`` into ``image`` and ``truth``; its pixels."""
    height, width = truth.shape
    x, y, depth_m = mover.placed(index)
    side_y, side_x = mover.texture.shape[:2]
    moving = np.zeros((height, width), bool)
    top, bottom, left, right = max(y, 0), min(y + side_y, height), max(x, 0), min(x + side_x, width)
    if top < bottom and left < right:
        image[top:bottom, left:right] = mover.texture[top - y : bottom - y, left - x : right - x]
        truth[top:bottom, left:right] = depth_m
        moving[top:bottom, left:right] = True
    return moving


def _shifted(mask: np.ndarray, shift_x: int, shift_y: int) -> np.ndarray:
    """``mask`` sampled at each pixel plus (shift_x, shift_y) (False outside)."""
    height, width = mask.shape
    out = np.zeros_like(mask)
    rows = slice(max(0, -shift_y), min(height, height - shift_y))
    columns = slice(max(0, -shift_x), min(width, width - shift_x))
    source_rows = slice(rows.start + shift_y, rows.stop + shift_y)
    source_columns = slice(columns.start + shift_x, columns.stop + shift_x)
    out[rows, columns] = mask[source_rows, source_columns]
    return out


@dataclass(frozen=True)
class Layer:
    """A flat textured rectangle facing the camera: ``rect`` (left, top, right, bottom) in
    metres at depth ``depth_m`` (camera at the origin at the first frame, y down), moving by
    ``velocity`` (x, y, z metres per frame; zeros for scenery)."""

    texture: np.ndarray
    rect: tuple[float, float, float, float]
    depth_m: float
    velocity: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def moves(self) -> bool:
        return any(self.velocity)

    def at(self, index: int) -> tuple[float, float, float, float, float]:
        """``rect`` and depth at frame ``index``."""
        vx, vy, vz = (index * v for v in self.velocity)
        left, top, right, bottom = self.rect
        return left + vx, top + vy, right + vx, bottom + vy, self.depth_m + vz


def layered_clip(
    layers: list[Layer],
    *,
    size: tuple[int, int],
    focal_px: float,
    frames: int,
    camera_step: tuple[float, float, float] = (0.01, 0.0, 0.0),
) -> Iterator[ClipFrame]:
    """``layers`` filmed by a pinhole camera of ``focal_px`` (principal point at the centre)
    moving by ``camera_step`` metres a frame (x right, y down, z forward), without turning."""
    width, height = size
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    rays_x, rays_y = (xs - (width - 1) / 2) / focal_px, (ys - (height - 1) / 2) / focal_px
    previous_labels = None
    for index in range(frames):
        camera = np.multiply(index, camera_step)
        image, truth, labels = _render(layers, index, camera, rays_x, rays_y)
        moving = np.isin(labels, [k for k, layer in enumerate(layers) if layer.moves])
        static = (labels >= 0) & ~moving
        map_x = map_y = None
        if previous_labels is not None:
            previous = np.multiply(index - 1, camera_step)
            map_x, map_y = _layer_sources(layers, labels, index, camera, previous, focal_px, size)
            static &= _same_layer(previous_labels, labels, map_x, map_y)
        previous_labels = labels
        yield ClipFrame(image, truth, map_x, map_y, static, moving)


def _render(
    layers: list[Layer], index: int, camera: np.ndarray, rays_x: np.ndarray, rays_y: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Colour, depth and the layer seen (-1: none) at each pixel, nearest layer in front."""
    height, width = rays_x.shape
    image = np.zeros((height, width, 3), np.uint8)
    truth = np.full((height, width), np.nan, np.float32)
    labels = np.full((height, width), -1, np.int32)
    for k, layer in enumerate(layers):
        left, top, right, bottom, plane = layer.at(index)
        distance = plane - camera[2]
        if distance <= 1e-3:
            continue
        world_x = camera[0] + rays_x * distance
        world_y = camera[1] + rays_y * distance
        inside = (world_x >= left) & (world_x < right) & (world_y >= top) & (world_y < bottom)
        inside &= ~(truth <= distance)  # NaN (nothing yet) compares False: drawn
        tex_h, tex_w = layer.texture.shape[:2]
        u = ((world_x - left) / (right - left) * tex_w - 0.5).astype(np.float32)
        v = ((world_y - top) / (bottom - top) * tex_h - 0.5).astype(np.float32)
        colour = cv2.remap(layer.texture, u, v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        image[inside], truth[inside], labels[inside] = colour[inside], distance, k
    return image, truth, labels


def _layer_sources(
    layers: list[Layer],
    labels: np.ndarray,
    index: int,
    camera: np.ndarray,
    previous_camera: np.ndarray,
    focal_px: float,
    size: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """Where each pixel's surface point was in the previous frame (NaN where no layer)."""
    width, height = size
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    centre_x, centre_y = (width - 1) / 2, (height - 1) / 2
    map_x = np.full((height, width), np.nan, np.float32)
    map_y = np.full((height, width), np.nan, np.float32)
    for k, layer in enumerate(layers):
        here = labels == k
        if not here.any():
            continue
        plane, before = layer.at(index)[4], layer.at(index - 1)[4]
        distance, previous_distance = plane - camera[2], before - previous_camera[2]
        world_x = camera[0] + (xs[here] - centre_x) / focal_px * distance - layer.velocity[0]
        world_y = camera[1] + (ys[here] - centre_y) / focal_px * distance - layer.velocity[1]
        map_x[here] = centre_x + focal_px * (world_x - previous_camera[0]) / previous_distance
        map_y[here] = centre_y + focal_px * (world_y - previous_camera[1]) / previous_distance
    return map_x, map_y


def _same_layer(
    previous_labels: np.ndarray, labels: np.ndarray, map_x: np.ndarray, map_y: np.ndarray
) -> np.ndarray:
    """Pixels whose source in the previous frame lies well inside the same layer (a pixel
    away from any other), so a flicker figure never compares two surfaces."""
    kernel = np.ones((3, 3), np.uint8)
    same = np.zeros(labels.shape, bool)
    for k in np.unique(labels[labels >= 0]):
        interior = cv2.erode((previous_labels == k).astype(np.uint8), kernel, borderValue=0)
        at_source = cv2.remap(
            interior, np.nan_to_num(map_x, nan=-9), np.nan_to_num(map_y, nan=-9),
            cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0,
        )  # fmt: skip
        same |= (labels == k) & (at_source > 0)
    return same


def jittered_depth(
    depth: np.ndarray,
    index: int,
    *,
    seed: int = 0,
    scale: float = 0.08,
    shift: float = 0.04,
    blotches: float = 0.03,
    noise: float = 0.02,
) -> np.ndarray:
    """What a per-frame model might say of ``depth`` at frame ``index``: inverse depth scaled
    by ``exp(N(0, scale))`` and shifted by ``N(0, shift)`` times its median, times ``1 +``
    a smooth field of standard deviation ``blotches`` ``+`` pixel noise of ``noise``. Unknown
    true depth is filled from its nearest known pixel first, as a model leaves no holes."""
    rng = np.random.default_rng([seed, index])
    inverse = _filled_inverse(depth)
    median = float(np.median(inverse))
    gain, offset = float(np.exp(rng.normal(0.0, scale))), float(rng.normal(0.0, shift)) * median
    height, width = inverse.shape
    coarse = rng.normal(size=(max(2, height // 40), max(2, width // 40))).astype(np.float32)
    field = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    field /= field.std() + 1e-6
    grain = rng.normal(size=(height, width)).astype(np.float32)
    perturbed = (gain * inverse + offset) * (1.0 + blotches * field + noise * grain)
    perturbed = np.maximum(perturbed, 0.05 * median)
    return (1.0 / perturbed).astype(np.float32)


def _filled_inverse(depth: np.ndarray) -> np.ndarray:
    """Inverse depth with each unknown pixel given its nearest known pixel's value (what a
    model says there is a guess anyway; this one invents no surface in between)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        known = np.isfinite(depth) & (depth > 0)
        inverse = np.where(known, 1.0 / depth, 0.0).astype(np.float32)
    if known.all():
        return inverse
    # every known pixel is its own label, and each unknown pixel takes its nearest one's
    _, labels = cv2.distanceTransformWithLabels(
        (~known).astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
    )
    by_label = np.zeros(int(labels.max()) + 1, np.float32)
    by_label[labels[known]] = inverse[known]
    return by_label[labels]
