"""Checks of what depth is used for: refocus leakage, blur size, and measured distances.

- :func:`layered_reference`: the per-depth-layer blur the refocus is judged against. Every layer
  of (nearly) one blur radius is blurred alone with the disc of that radius (a 2D convolution,
  :func:`unflat.lens.scatter.disc_kernel`) and composited from back to front with premultiplied
  alpha, then normalised by the accumulated alpha.
- :func:`naive_gather` and :func:`naive_scatter`: depth-blind blurs for contrast. The gather
  averages each pixel's own disc (a blurred background gathers the sharp foreground's colour);
  the scatter spreads every pixel's disc without depth order (the background's blur spreads
  over the sharp foreground).
- :func:`edge_bands`: the pixels near a depth edge, on its near and its far side.
- :func:`disc_diameter` / :func:`edge_diameter`: the blur of a point and of a step edge.
- :func:`occluding_edge_error`: a blurred foreground's edge over a sharp background against
  the thin lens's ramp.
- :func:`surface_pairs`, :func:`pair_errors`: random pixel pairs on surfaces and the relative
  error of :func:`unflat.geometry.measure.distance` against the true points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from unflat.geometry.measure import distance
from unflat.geometry.unproject import unproject
from unflat.lens.hidden import hidden_samples
from unflat.lens.scatter import SHARP_RADIUS, disc_kernel, layer_of, scatter_layers

#: Radius step of the reference's layers (px).
REFERENCE_STEP = 0.25


def _quantised(signed_radius: np.ndarray, step: float) -> np.ndarray:
    """Each signed radius rounded to ``step``; |radius| below 0.5 px is sharp (0)."""
    levels = np.rint(signed_radius / step) * step
    levels[np.abs(levels) < SHARP_RADIUS] = 0.0
    return levels


def _blur(image: np.ndarray, radius: float) -> np.ndarray:
    """``image`` convolved with the disc of ``radius`` (zeros outside the image)."""
    if abs(radius) <= SHARP_RADIUS:
        return image
    kernel = disc_kernel(abs(radius))
    return cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_CONSTANT)


def layered_reference(
    linear: np.ndarray, signed_radius: np.ndarray, step: float = REFERENCE_STEP
) -> np.ndarray:
    """The per-layer reference blur of ``linear`` (``float32 [H,W,3]``); see the module doc."""
    levels = _quantised(signed_radius, step)
    total = np.zeros((*levels.shape, 4), dtype=np.float32)
    for level in np.unique(levels)[::-1]:  # largest signed radius = farthest first
        mask = (levels == level).astype(np.float32)
        layer = _blur(np.dstack([linear * mask[..., None], mask]), float(level))
        alpha = np.clip(layer[..., 3:], 0.0, 1.0)
        total = layer + (1.0 - alpha) * total
    return total[..., :3] / np.maximum(total[..., 3:], 1e-12)


def naive_gather(
    linear: np.ndarray, signed_radius: np.ndarray, step: float = REFERENCE_STEP
) -> np.ndarray:
    """Each pixel the mean of its own disc of the photo, with no regard for depth."""
    levels = _quantised(np.abs(signed_radius), step)
    result = np.empty_like(linear)
    normaliser = np.ones(levels.shape, dtype=np.float32)
    for level in np.unique(levels):
        chosen = levels == level
        blurred = _blur(linear, float(level)) / _blur(normaliser, float(level))[..., None]
        result[chosen] = blurred[chosen]
    return result


def naive_scatter(linear: np.ndarray, signed_radius: np.ndarray) -> np.ndarray:
    """Every pixel's disc spread in one layer: the refocus without depth order."""
    return scatter_layers(linear, signed_radius, layers=np.zeros(signed_radius.shape, np.int32))


def edge_bands(depth: np.ndarray, width: int, ratio: float = 1.1) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the near and far sides of depth edges, ``width`` px wide.

    A pixel is on the near side when some pixel within ``width`` is ``ratio`` times farther,
    on the far side when one is ``ratio`` times nearer; pixels that are both (thin objects)
    are left out of both.
    """
    size = 2 * width + 1
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    farthest = cv2.dilate(depth, disc)
    nearest = cv2.erode(depth, disc)
    near = farthest > depth * ratio
    far = nearest * ratio < depth
    return near & ~far, far & ~near


@dataclass
class Leakage:
    """Mean absolute difference (8-bit sRGB units) from a reference in each band."""

    near: float
    far: float
    whole: float


def leakage(image: np.ndarray, reference: np.ndarray, near: np.ndarray, far: np.ndarray) -> Leakage:
    """How far ``image`` is from ``reference`` (both ``uint8``) near depth edges and overall."""
    error = np.abs(image.astype(np.float64) - reference.astype(np.float64)).mean(axis=2)
    return Leakage(float(error[near].mean()), float(error[far].mean()), float(error.mean()))


def disc_diameter(blurred: np.ndarray, centre: tuple[int, int]) -> float:
    """Diameter (px) of the disc a point became: its centre row's sum over its peak.

    ``blurred`` is one channel in linear light; the disc's row through its centre covers its
    diameter, each pixel by the share of it inside the disc.
    """
    x, y = centre
    row = blurred[y]
    return float(row.sum() / row[x])


def disc_edge_fraction(t: np.ndarray) -> np.ndarray:
    """The share of a uniform disc of radius 1 left of ``t`` (0 at -1, 1/2 at 0, 1 at 1)."""
    t = np.clip(t, -1.0, 1.0)
    return 0.5 + (t * np.sqrt(1 - t * t) + np.arcsin(t)) / math.pi


def edge_diameter(blurred_row: np.ndarray) -> float:
    """Diameter (px) of the disc that blurred a dark-to-bright step: from its 10-90% rise.

    For a uniform disc of radius r, the fraction of its area left of ``t r`` is
    ``1/2 + (t sqrt(1 - t²) + asin t) / pi`` (:func:`disc_edge_fraction`), which is 0.9 at
    ``t = 0.6870``: the rise is ``1.3741 r``. The row is interpolated linearly between pixel
    centres.
    """
    low, high = float(blurred_row.min()), float(blurred_row.max())
    profile = (blurred_row - low) / (high - low)
    positions = np.arange(profile.size, dtype=np.float64)
    rise = np.interp(0.9, profile, positions) - np.interp(0.1, profile, positions)
    return float(2 * rise / _T90)


def _solve_t90() -> float:
    low, high = 0.0, 1.0
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if disc_edge_fraction(middle) < 0.9 else (low, middle)
    return 2 * low  # the 10-90% rise in radii


_T90 = _solve_t90()


def occluding_edge_error(radius: float, fill_hidden: bool = True) -> float:
    """Largest error in the share of a blurred foreground across its edge over a sharp
    background, against the thin lens's ramp.

    A red half-plane blurred by ``radius`` px stands before a sharp green one; a lens shows the
    red across the edge as the share of its disc on the red side (:func:`disc_edge_fraction`
    of the distance over the radius), symmetric about the edge. Without what lies behind the
    foreground (``fill_hidden=False``) the red stays whole up to the edge.
    """
    size = int(8 * radius) + 40
    image = np.zeros((size, size, 3), np.float32)
    image[..., 1] = 1.0
    foreground = np.zeros((size, size), bool)
    foreground[:, : size // 2] = True
    image[foreground] = (1.0, 0.0, 0.0)
    signed = np.where(foreground, -radius, 0.0).astype(np.float32)
    layers = layer_of(signed)
    hidden = hidden_samples(signed, layers, image) if fill_hidden else None
    red = scatter_layers(image, signed, layers, hidden=hidden)[size // 2, :, 0]
    distance = np.arange(size) + 0.5 - size / 2  # pixel centres from the edge
    return float(np.abs(red - disc_edge_fraction(-distance / radius)).max())


def surface_pairs(
    depth: np.ndarray, count: int, seed: int = 0, window: int = 3, flatness: float = 1.02
) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """``count`` random pixel pairs on surfaces: every depth in the ``(2 window + 1)²`` square
    around each is valid and within ``flatness`` of the others (no depth edge nearby)."""
    size = 2 * window + 1
    valid = np.isfinite(depth) & (depth > 0)
    filled = np.where(valid, depth, 0.0).astype(np.float32)
    square = np.ones((size, size), np.uint8)
    highest = cv2.dilate(filled, square)
    lowest = cv2.erode(np.where(valid, filled, np.inf).astype(np.float32), square)
    everywhere_valid = cv2.erode(valid.astype(np.uint8), square).astype(bool)
    on_surface = everywhere_valid & (highest / flatness <= lowest)
    on_surface[:window] = on_surface[-window:] = False
    on_surface[:, :window] = on_surface[:, -window:] = False
    rows, columns = np.nonzero(on_surface)
    rng = np.random.default_rng(seed)
    chosen = rng.choice(rows.size, size=(count, 2), replace=False)
    return [((int(columns[a]), int(rows[a])), (int(columns[b]), int(rows[b]))) for a, b in chosen]


def pair_errors(
    depth: np.ndarray,
    K: np.ndarray,
    true_depth: np.ndarray,
    true_K: np.ndarray,
    pairs: list[tuple[tuple[int, int], tuple[int, int]]],
    window: int = 2,
) -> np.ndarray:
    """Relative errors of measured distances (``depth``, ``K``) against the true ones.

    The truth is the distance between the true points of the exact pixels (``true_depth``
    unprojected with ``true_K``); the measure takes the robust depth of its ``window``.
    """
    points = unproject(true_depth, true_K)
    errors = []
    for (x1, y1), (x2, y2) in pairs:
        truth = float(np.linalg.norm(points[y1, x1] - points[y2, x2]))
        measured = distance(depth, K, (x1, y1), (x2, y2), window=window)
        errors.append(abs(measured - truth) / truth)
    return np.array(errors)
