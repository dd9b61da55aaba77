"""What lies behind a blurred foreground's edge, which the photo never saw.

A lens whose foreground is out of focus sees *around* it: near the foreground's edge, on its
inside, part of the background shows through the foreground's blur. The photo holds no colour
there. Without one, the layered composite renormalises the foreground's partial coverage to full
and the blurred foreground keeps a hard inner edge (a half blur: the fade only goes outward).

So each blurred pixel near a depth edge whose far side is *less blurred* gets a hidden sample:
the blur and layer of the nearest pixel across the edge, found along the 8 compass directions
within the pixel's own blur radius (the reach of what shows through), and the colours just past
the edges those rays met, averaged with weights 1/distance (a smooth fill, not copied streaks;
past, because the photo's edge pixels mix in the foreground). The sample is scattered in that
farther layer at the foreground pixel's place: hidden wherever the foreground is opaque, seen
through its blurred edge. An edge is a drop of the blur radius by :data:`JUMP_PX` from one pixel
to the next (a slanted surface changes gently) to a farther layer, blurred at least
:data:`GAP_PX` less than the foreground pixel; backgrounds blurred as much as the foreground
need nothing: their own discs spread behind it.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from numba import njit, prange

from unflat.lens.scatter import SHARP_RADIUS, Hidden

#: Candidates have a pixel this many layers farther within reach (a cheap first test).
EDGE_LAYERS = 2
#: An edge: the blur radius drops by this much (px) from one pixel to the next along a ray.
JUMP_PX = 1.0
#: How much less blurred (radius, px) the far side must be than the foreground pixel.
GAP_PX = 1.5
_DIRECTIONS = np.array(
    [(1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1)], dtype=np.int64
)


@njit(cache=True, parallel=True)
def _search(
    radius: np.ndarray,
    layer: np.ndarray,
    colour: np.ndarray,
    candidates: np.ndarray,
    directions: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For each candidate: found (bool), and the hidden sample's radius, layer and colour."""
    height, width = layer.shape
    found = np.zeros(candidates.size, dtype=np.bool_)
    radii = np.zeros(candidates.size, dtype=np.float32)
    layers = np.zeros(candidates.size, dtype=np.int32)
    colours = np.zeros((candidates.size, 3), dtype=np.float32)
    for k in prange(candidates.size):
        y, x = candidates[k] // width, candidates[k] % width
        own = abs(radius[y, x])
        nearest = own + 2.0
        total = 0.0
        for d in range(directions.shape[0]):
            dx, dy = directions[d, 0], directions[d, 1]
            step = math.sqrt(float(dx * dx + dy * dy))
            previous = own
            for t in range(1, int((own + 1.0) / step) + 1):
                xx, yy = x + t * dx, y + t * dy
                if xx < 0 or yy < 0 or xx >= width or yy >= height:
                    break
                here = abs(radius[yy, xx])
                jump = previous - here >= JUMP_PX  # an edge, not a slope's gentle steps
                previous = here
                if not (jump and layer[yy, xx] > layer[y, x] and here + GAP_PX < own):
                    continue
                # colours just past the edges the rays meet, nearer ones weigh more (past:
                # the photo's edge pixels mix in the foreground); layer and blur of the nearest
                cx, cy = xx + dx, yy + dy
                if cx < 0 or cy < 0 or cx >= width or cy >= height:
                    cx, cy = xx, yy
                weight = 1.0 / (t * step)
                total += weight
                for channel in range(3):
                    colours[k, channel] += weight * colour[cy, cx, channel]
                if t * step < nearest:
                    nearest = t * step
                    radii[k] = here
                    layers[k] = layer[yy, xx]
                    found[k] = True
                break
        if found[k]:
            for channel in range(3):
                colours[k, channel] /= total
    return found, radii, layers, colours


def hidden_samples(signed_radius: np.ndarray, layers: np.ndarray, colour: np.ndarray) -> Hidden:
    """The hidden samples of an image with these radii, layers and linear colours."""
    radius = np.ascontiguousarray(signed_radius, dtype=np.float32)
    layer = np.ascontiguousarray(layers, dtype=np.int32)
    reach = math.ceil(float(np.abs(radius).max())) + 1
    # a cheap pre-filter: blurred pixels with a layer beyond an edge within the largest reach
    size = 2 * reach + 1
    farthest = cv2.dilate(layer.astype(np.float32), np.ones((size, size), np.uint8))
    blurred = np.abs(radius) > SHARP_RADIUS + GAP_PX
    candidates = np.flatnonzero((farthest >= layer + EDGE_LAYERS) & blurred)
    image = np.ascontiguousarray(colour, dtype=np.float32)
    found, radii, found_layers, colours = _search(radius, layer, image, candidates, _DIRECTIONS)
    return Hidden(candidates[found], radii[found], found_layers[found], colours[found])
