"""Occlusion-aware disc scatter: every pixel spreads its colour over its circle of confusion.

The image is cut into depth layers (by signed blur radius, so by depth) and composited from
back to front with premultiplied alpha, as a photographer's lens would see it:

1. Each pixel of a layer scatters a uniform disc of its own radius, normalised to sum 1, into
   an RGBA buffer (colour and coverage). A disc is written row by row as spans in a
   difference buffer (four writes per row: the two anti-aliased end pixels and the run between
   them), so a pixel of radius ``r`` costs ``O(r)``, not ``O(r²)``.
2. A prefix sum along each row turns the differences into the layer's premultiplied colour and
   alpha; the layer goes *over* what is behind it (``acc = layer + (1 - alpha) * acc``).
3. At the end the colour is divided by the accumulated alpha: where a foreground object hid
   part of the background, the background's blur is renormalised over what the photo shows
   instead of darkening.

So a sharp foreground (radius 0.5 px: its own pixel only) covers whatever blur lies behind
it, and never spreads onto the blurred background; a blurred foreground spreads over a sharp
background, as a real out-of-focus occluder does. Samples of what lies hidden behind blurred
foregrounds (:class:`Hidden`, made by :mod:`unflat.lens.hidden`) are scattered in their own
layers like pixels.

The disc of radius ``r`` covers, in the row ``dy`` (``|dy| <= r``), the interval
``[-w, w]`` with ``w = sqrt(r² - dy²)``; a pixel's share is the length of its overlap with that
interval. :func:`disc_kernel` is the same footprint as a 2D kernel, for references.

Work is split into bands of output rows (four per thread), so no two threads write one pixel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
from numba import njit, prange

from unflat.progress import Progress, report

#: The smallest radius: a disc of radius 0.5 px is exactly its own pixel (sharp).
SHARP_RADIUS = 0.5
#: Layers are ``round(g(s))`` of ``g(s) = sign(s) * K * ln(1 + |s| / K)`` (``s``: signed radius
#: in px): near focus one layer per pixel of radius, far from it about one per 1/K of the radius,
#: so the layer count grows with the logarithm of the blur.
LAYER_KNEE = 8.0


@dataclass
class Hidden:
    """Samples behind blurred foregrounds: where (flat index, ascending), blur radius, layer
    and linear colour."""

    positions: np.ndarray
    radius: np.ndarray
    layers: np.ndarray
    colour: np.ndarray


def layer_of(signed_radius: np.ndarray) -> np.ndarray:
    """The depth layer (``int32``) of each signed radius; 0 holds the sharp pixels.

    Positive radii (behind the focus plane) give positive layers, farther = larger.
    """
    s = np.asarray(signed_radius, dtype=np.float32)
    g = np.sign(s) * LAYER_KNEE * np.log1p(np.abs(s) / LAYER_KNEE)
    return np.rint(g).astype(np.int32)


@njit(cache=True, parallel=True, fastmath=True)
def _premultiplied(radius: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """``[N, 4]``: each pixel's colour and 1, over the area of its disc (the sum of its row
    spans, 2w each), so that every disc adds up to the pixel's colour with coverage 1."""
    result = np.empty((radius.size, 4), dtype=np.float32)
    for p in prange(radius.size):
        r = max(radius[p], np.float32(SHARP_RADIUS))
        area = np.float32(0.0)
        for dy in range(-int(r), int(r) + 1):
            squared = r * r - np.float32(dy * dy)
            if squared > 0.0:
                area += np.float32(2.0) * np.float32(math.sqrt(squared))
        weight = np.float32(1.0) / area
        for channel in range(3):
            result[p, channel] = colour[p, channel] * weight
        result[p, 3] = weight
    return result


@njit(cache=True)
def _row_extents(
    pixels: np.ndarray, width: int, height: int, reach: int
) -> tuple[np.ndarray, np.ndarray]:
    """For each row, the first and last buffer column the discs of ``pixels`` may touch."""
    low = np.full(height, width + 1, dtype=np.int64)
    high = np.full(height, -1, dtype=np.int64)
    for k in range(pixels.size):
        y = pixels[k] // width
        x = pixels[k] - y * width
        low[y] = min(low[y], x)
        high[y] = max(high[y], x)
    first = np.full(height, width + 1, dtype=np.int64)
    last = np.full(height, -1, dtype=np.int64)
    for y in range(height):
        if high[y] < 0:
            continue
        for yy in range(max(0, y - reach), min(height, y + reach + 1)):
            first[yy] = min(first[yy], max(low[y] - reach - 1, 0))
            last[yy] = max(last[yy], min(high[y] + reach + 2, width))
    return first, last


# long: one pixel's disc written span by span, inlined in the band loop for speed
@njit(cache=True, parallel=True, fastmath=True)
def _scatter(
    positions: np.ndarray, sources: np.ndarray, radius: np.ndarray, premultiplied: np.ndarray,
    buffer: np.ndarray, reach: int, bands: int,
) -> None:  # fmt: skip
    """Add discs to the difference ``buffer``, centred on ``positions`` (flat indices,
    ascending), with the radius and colour of ``sources`` (the same pixels, or the pixels
    hidden samples copy: :mod:`unflat.lens.hidden`).

    ``premultiplied`` is ``[N, 4]``: colour and 1, times ``1 / area`` of the pixel's disc.
    ``buffer`` is ``[H, W+1, 4]``: column ``W`` absorbs span ends past the right edge.
    """
    height = buffer.shape[0]
    width = buffer.shape[1] - 1
    band_rows = (height + bands - 1) // bands
    half = np.float32(0.5)
    for band in prange(bands):
        top = band * band_rows
        bottom = min(height, top + band_rows)
        start = np.searchsorted(positions, max(0, top - reach) * width)
        stop = np.searchsorted(positions, min(height, bottom + reach) * width)
        for k in range(start, stop):
            y = positions[k] // width
            x = positions[k] - y * width
            p = sources[k]
            r = max(radius[p], half)
            c0, c1, c2, c3 = premultiplied[p, 0], premultiplied[p, 1], premultiplied[p, 2], \
                premultiplied[p, 3]  # fmt: skip
            own = int(r)
            for yy in range(max(top, y - own), min(bottom, y + own + 1)):
                squared = r * r - np.float32((yy - y) * (yy - y))
                if squared <= 0.0:
                    continue
                # whole pixels x-m..x+m, the two ends x-m-1 and x+m+1 covered by a fraction f
                w = np.float32(math.sqrt(squared)) - half
                m = int(w) if w >= 0.0 else -1
                f = w - np.float32(m)
                g = np.float32(1.0) - f
                a, b = max(x - m - 1, 0), max(x - m, 0)
                c, d = min(x + m + 1, width), min(x + m + 2, width)
                buffer[yy, a, 0] += c0 * f
                buffer[yy, a, 1] += c1 * f
                buffer[yy, a, 2] += c2 * f
                buffer[yy, a, 3] += c3 * f
                buffer[yy, b, 0] += c0 * g
                buffer[yy, b, 1] += c1 * g
                buffer[yy, b, 2] += c2 * g
                buffer[yy, b, 3] += c3 * g
                buffer[yy, c, 0] -= c0 * g
                buffer[yy, c, 1] -= c1 * g
                buffer[yy, c, 2] -= c2 * g
                buffer[yy, c, 3] -= c3 * g
                buffer[yy, d, 0] -= c0 * f
                buffer[yy, d, 1] -= c1 * f
                buffer[yy, d, 2] -= c2 * f
                buffer[yy, d, 3] -= c3 * f


@njit(cache=True, parallel=True, fastmath=True)
def _composite(
    buffer: np.ndarray, first_column: np.ndarray, last_column: np.ndarray, total: np.ndarray
) -> None:
    """Integrate each touched row of ``buffer`` into a layer and put it over ``total``; clear."""
    height = buffer.shape[0]
    width = buffer.shape[1] - 1
    one = np.float32(1.0)
    for y in prange(height):
        start = first_column[y]
        stop = last_column[y]
        if start > stop:
            continue
        s0 = s1 = s2 = s3 = np.float32(0.0)
        for x in range(start, min(stop, width - 1) + 1):
            s0 += buffer[y, x, 0]
            s1 += buffer[y, x, 1]
            s2 += buffer[y, x, 2]
            s3 += buffer[y, x, 3]
            alpha = s3
            scale = one
            if alpha > one:  # discs of several radii overlap: coverage is full, not more
                scale = one / alpha
                alpha = one
            if alpha > 1e-6:
                keep = one - alpha
                total[y, x, 0] = s0 * scale + keep * total[y, x, 0]
                total[y, x, 1] = s1 * scale + keep * total[y, x, 1]
                total[y, x, 2] = s2 * scale + keep * total[y, x, 2]
                total[y, x, 3] = alpha + keep * total[y, x, 3]
        buffer[y, start : stop + 1, :] = 0.0


def scatter_layers(
    colour: np.ndarray,
    signed_radius: np.ndarray,
    layers: np.ndarray | None = None,
    hidden: Hidden | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """``colour`` (``float32 [H,W,3]``, linear light) blurred by discs of ``|signed_radius|``.

    ``layers`` (``int [H,W]``, larger = farther) orders occlusion; by default
    :func:`layer_of`. One layer for the whole image gives the naive scatter, with no occlusion.
    ``hidden``: samples behind blurred foregrounds (:func:`unflat.lens.hidden.hidden_samples`),
    each scattered in its own layer.
    Reports ``("refocus", done, total)`` per layer.
    """
    height, width = signed_radius.shape
    radius = np.ascontiguousarray(np.abs(signed_radius), dtype=np.float32).reshape(-1)
    flat_colour = np.ascontiguousarray(colour, dtype=np.float32).reshape(-1, 3)
    layer = layer_of(signed_radius) if layers is None else np.asarray(layers, dtype=np.int32)
    lowest = int(layer.min())
    # int16 keys take numpy's radix sort; stable keeps each layer's pixels in raster order,
    # which the bands' searches need
    keys = (layer - lowest).astype(np.int16 if int(layer.max()) - lowest < 2**15 else np.int32)
    order = np.argsort(keys.reshape(-1), kind="stable")
    counts = np.bincount(keys.reshape(-1))
    ends = np.cumsum(counts)
    ids = np.flatnonzero(counts)
    hidden_by_layer = _by_layer(hidden, lowest, counts.size)
    premultiplied = _premultiplied(radius, flat_colour)
    buffer = np.zeros((height, width + 1, 4), dtype=np.float32)
    total = np.zeros((height, width, 4), dtype=np.float32)
    bands = max(1, min(height, 4 * numba.get_num_threads()))
    report(progress, "refocus", 0, len(ids))
    for done, index in enumerate(ids[::-1], start=1):  # back to front
        pixels = order[ends[index] - counts[index] : ends[index]]
        positions, sources, hidden_radius, hidden_premultiplied = hidden_by_layer[index]
        reach = int(max(float(radius[pixels].max()), SHARP_RADIUS))
        _scatter(pixels, pixels, radius, premultiplied, buffer, reach, bands)
        if positions.size:
            _scatter(positions, sources, hidden_radius, hidden_premultiplied, buffer, reach, bands)
            pixels = np.concatenate([pixels, positions])
        first_column, last_column = _row_extents(pixels, width, height, reach)
        _composite(buffer, first_column, last_column, total)
        report(progress, "refocus", done, len(ids))
    colour_out = total[..., :3]
    colour_out /= np.maximum(total[..., 3:], np.float32(1e-12))
    return colour_out


def _by_layer(hidden: Hidden | None, lowest: int, count: int) -> list[tuple]:
    """Hidden samples split by layer key (layer - ``lowest``): positions (ascending), their
    indices, radii and premultiplied colours."""
    empty = np.zeros(0, dtype=np.int64)
    parts: list[tuple] = [(empty, empty, None, None)] * count
    if hidden is None or hidden.positions.size == 0:
        return parts
    keys = hidden.layers.astype(np.int64) - lowest
    radius = np.ascontiguousarray(hidden.radius, dtype=np.float32)
    premultiplied = _premultiplied(radius, np.ascontiguousarray(hidden.colour, np.float32))
    order = np.argsort(keys, kind="stable")  # positions come ascending: they stay so
    edges = np.searchsorted(keys[order], np.arange(count + 1))
    positions = hidden.positions.astype(np.int64)
    for key in range(count):
        chosen = order[edges[key] : edges[key + 1]]
        parts[key] = (positions[chosen], chosen, radius, premultiplied)
    return parts


def disc_kernel(radius: float) -> np.ndarray:
    """The scatter's disc of ``radius`` px as a normalised ``float32`` 2D kernel (odd size)."""
    r = max(float(radius), SHARP_RADIUS)
    reach = int(r) + 1
    offsets = np.arange(-reach, reach + 1, dtype=np.float64)
    half = np.sqrt(np.maximum(r * r - offsets**2, 0.0))[:, None]
    half[np.abs(offsets) > r] = -1.0
    overlap = np.minimum(offsets[None, :] + 0.5, half) - np.maximum(offsets[None, :] - 0.5, -half)
    kernel = np.clip(overlap, 0.0, 1.0)
    return (kernel / kernel.sum()).astype(np.float32)
