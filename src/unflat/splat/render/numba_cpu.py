"""Numba CPU rasteriser: the plain-torch backend's 3DGS math, compiled and run on all CPU cores.

Same conventions and thresholds as :mod:`unflat.splat.render.torch` (which stays the reference
for every device); only the work is organised for a CPU:

1. ``project`` (parallel over Gaussians): 2D mean, conic, depth, pixel box and tile rectangle,
   in float64 so that near-degenerate covariances (``eps2d=0``) are judged like the reference.
2. ``radix_argsort`` (stable, on the float32 depth bits): one global front-to-back order.
3. ``gather`` (parallel): the visible Gaussians packed in depth order, so each tile reads its
   list with increasing addresses.
4. ``bin_tiles``: count, prefix-sum and fill per-tile lists; a stable counting sort keeps the
   depth order inside each tile.
5. ``blend`` (parallel over tiles, round-robin so costly image regions are shared): each
   Gaussian updates only the pixels of its box inside the tile, in float32 like the torch path,
   and a tile stops once all its pixels are done.

Functions are compiled on first use and cached on disk (``cache=True``), so only the first
process on a machine pays the compile time.
"""

from __future__ import annotations

import math
import time

import numba
import numpy as np
import torch
from numba import njit, prange

from unflat.splat.render.torch import ALPHA_MAX, ALPHA_MIN, FOV_CLAMP, TRANSMITTANCE_MIN
from unflat.splat.render.view import Render
from unflat.types import Camera, Gaussians

TILE_SIZE = 16
# float32 constants: a Python float literal would promote the blend loop to float64.
_ALPHA_MIN = np.float32(ALPHA_MIN)
_ALPHA_MAX = np.float32(ALPHA_MAX)
_T_MIN = np.float32(TRANSMITTANCE_MIN)
_HALF = np.float32(0.5)
_ONE = np.float32(1.0)
_ZERO = np.float32(0.0)
# Record layout of a packed (visible, depth-sorted) Gaussian in ``gather``/``blend``.
_U, _V, _A, _B, _C, _OPACITY, _R, _G, _BLUE, _DEPTH, _SKIP = range(11)
_FIELDS = 11
# A pixel whose power is this far below the 1/255 cut cannot pass it after float32 rounding of
# exp, so blend may skip exp there; closer ones take the exact test.
_SKIP_MARGIN = 1e-3


@njit(cache=True, inline="always")
def footprint_column(
    world_to_camera: np.ndarray,
    jacobian: tuple[float, float, float, float],
    r0: float,
    r1: float,
    r2: float,
    scale: float,
) -> tuple[float, float]:
    """One column of J W R S from the column (r0, r1, r2) of R and its scale."""
    w0 = world_to_camera[0, 0] * r0 + world_to_camera[0, 1] * r1 + world_to_camera[0, 2] * r2
    w1 = world_to_camera[1, 0] * r0 + world_to_camera[1, 1] * r1 + world_to_camera[1, 2] * r2
    w2 = world_to_camera[2, 0] * r0 + world_to_camera[2, 1] * r1 + world_to_camera[2, 2] * r2
    s = float(scale)
    return (jacobian[0] * w0 + jacobian[1] * w2) * s, (jacobian[2] * w1 + jacobian[3] * w2) * s


@njit(cache=True, inline="always")
def _to_camera(
    world_to_camera: np.ndarray, mx: float, my: float, mz: float
) -> tuple[float, float, float]:
    """A world point in the camera frame."""
    x = world_to_camera[0, 0] * mx + world_to_camera[0, 1] * my
    x += world_to_camera[0, 2] * mz + world_to_camera[0, 3]
    y = world_to_camera[1, 0] * mx + world_to_camera[1, 1] * my
    y += world_to_camera[1, 2] * mz + world_to_camera[1, 3]
    z = world_to_camera[2, 0] * mx + world_to_camera[2, 1] * my
    z += world_to_camera[2, 2] * mz + world_to_camera[2, 3]
    return x, y, z


@njit(cache=True, inline="always")
def _rotation(
    qw: float, qx: float, qy: float, qz: float
) -> tuple[float, float, float, float, float, float, float, float, float]:
    """The entries r00, r01, ... r22 of R(q) for the normalised quaternion, row by row.

    Scalars, not a matrix: no per-Gaussian heap allocation in the parallel loop.
    """
    norm = max(math.sqrt(qw * qw + qx * qx + qy * qy + qz * qz), 1e-12)
    qw, qx, qy, qz = qw / norm, qx / norm, qy / norm, qz / norm
    return (
        1 - 2 * (qy * qy + qz * qz),
        2 * (qx * qy - qw * qz),
        2 * (qx * qz + qw * qy),
        2 * (qx * qy + qw * qz),
        1 - 2 * (qx * qx + qz * qz),
        2 * (qy * qz - qw * qx),
        2 * (qx * qz - qw * qy),
        2 * (qy * qz + qw * qx),
        1 - 2 * (qx * qx + qy * qy),
    )


@njit(cache=True, inline="always")
def _pixel_box(
    u: float, v: float, a: float, c: float, opacity: float, bound: float, width: int, height: int
) -> tuple[int, int, int, int]:
    """Inclusive pixel box (x0, y0, x1, y1) of the 1/255 footprint, as the torch path's."""
    extent = math.sqrt(2 * math.log(max(opacity / float(ALPHA_MIN), 1.0))) * 1.001
    radius_x = extent * math.sqrt(max(a, 0.0))
    radius_y = extent * math.sqrt(max(c, 0.0))
    x0 = int(min(max(math.ceil(u - radius_x - 0.5), 0.0), bound))
    x1 = int(min(max(math.floor(u + radius_x - 0.5), -1.0), bound))
    y0 = int(min(max(math.ceil(v - radius_y - 0.5), 0.0), bound))
    y1 = int(min(max(math.floor(v + radius_y - 0.5), -1.0), bound))
    return x0, y0, min(x1, width - 1), min(y1, height - 1)


@njit(parallel=True, cache=True)
def project(
    means: np.ndarray,
    scales: np.ndarray,
    quats: np.ndarray,
    opacities: np.ndarray,
    world_to_camera: np.ndarray,
    intrinsics: np.ndarray,
    width: int,
    height: int,
    near: float,
    eps2d: float,
    tile_size: int,
    out_float: np.ndarray,
    out_box: np.ndarray,
    out_tiles: np.ndarray,
) -> None:
    """Per Gaussian: ``out_float [N,6]`` (u, v, conic a, b, c, depth), ``out_box [N,4]``.

    ``out_box`` is the inclusive pixel box (x0, y0, x1, y1) as in the torch path and
    ``out_tiles [N]`` the number of tiles it touches, 0 for a culled Gaussian.
    """
    fx, fy = intrinsics[0, 0], intrinsics[1, 1]
    cx, cy = intrinsics[0, 2], intrinsics[1, 2]
    margin = FOV_CLAMP - 1.0
    limit_x_pos = (width - cx) / fx + margin * (0.5 * width / fx)
    limit_x_neg = cx / fx + margin * (0.5 * width / fx)
    limit_y_pos = (height - cy) / fy + margin * (0.5 * height / fy)
    limit_y_neg = cy / fy + margin * (0.5 * height / fy)
    bound = float(max(width, height) + 1)
    alpha_min = float(ALPHA_MIN)
    for i in prange(means.shape[0]):
        out_tiles[i] = 0
        mx, my, mz = float(means[i, 0]), float(means[i, 1]), float(means[i, 2])
        x, y, z = _to_camera(world_to_camera, mx, my, mz)
        out_float[i, 5] = z
        opacity = float(opacities[i])
        if not (z >= near) or not (opacity >= alpha_min):
            continue
        r00, r01, r02, r10, r11, r12, r20, r21, r22 = _rotation(
            float(quats[i, 0]), float(quats[i, 1]), float(quats[i, 2]), float(quats[i, 3])
        )
        # Σ' = (J W R S)(J W R S)ᵀ, with J evaluated at the mean clamped to 1.3x the half field
        # of view, as in the torch path (see its comment for why).
        tx = z * min(max(x / z, -limit_x_neg), limit_x_pos)
        ty = z * min(max(y / z, -limit_y_neg), limit_y_pos)
        jacobian = (fx / z, -fx * tx / (z * z), fy / z, -fy * ty / (z * z))
        f00, f10 = footprint_column(world_to_camera, jacobian, r00, r10, r20, scales[i, 0])
        f01, f11 = footprint_column(world_to_camera, jacobian, r01, r11, r21, scales[i, 1])
        f02, f12 = footprint_column(world_to_camera, jacobian, r02, r12, r22, scales[i, 2])
        a = f00 * f00 + f01 * f01 + f02 * f02
        b = f00 * f10 + f01 * f11 + f02 * f12
        c = f10 * f10 + f11 * f11 + f12 * f12
        a += eps2d
        c += eps2d
        det = a * c - b * b
        if not (det > 0):
            continue
        u = fx * x / z + cx
        v = fy * y / z + cy
        if not (math.isfinite(u) and math.isfinite(v)):
            continue
        x0, y0, x1, y1 = _pixel_box(u, v, a, c, opacity, bound, width, height)
        if x0 > x1 or y0 > y1:
            continue
        out_float[i, 0] = u
        out_float[i, 1] = v
        out_float[i, 2] = c / det
        out_float[i, 3] = -b / det
        out_float[i, 4] = a / det
        out_box[i, 0] = x0
        out_box[i, 1] = y0
        out_box[i, 2] = x1
        out_box[i, 3] = y1
        span_x = x1 // tile_size - x0 // tile_size + 1
        span_y = y1 // tile_size - y0 // tile_size + 1
        out_tiles[i] = span_x * span_y


@njit(cache=True)
def radix_argsort(keys: np.ndarray) -> np.ndarray:
    """Stable argsort of non-negative float32 ``keys`` (their bits order like uint32)."""
    bits = keys.view(np.uint32)
    count = bits.shape[0]
    order = np.arange(count).astype(np.int32)
    scratch = np.empty(count, np.int32)
    histogram = np.empty(2048, np.int64)
    for shift in (0, 11, 22):
        histogram[:] = 0
        for i in range(count):
            histogram[(bits[i] >> shift) & 2047] += 1
        total = 0
        for bucket in range(2048):
            size = histogram[bucket]
            histogram[bucket] = total
            total += size
        for i in range(count):
            index = order[i]
            bucket = (bits[index] >> shift) & 2047
            scratch[histogram[bucket]] = index
            histogram[bucket] += 1
        order, scratch = scratch, order
    return order


@njit(parallel=True, cache=True)
def gather(
    order: np.ndarray,
    projected: np.ndarray,
    box: np.ndarray,
    opacities: np.ndarray,
    colors: np.ndarray,
    out_records: np.ndarray,
    out_box: np.ndarray,
) -> None:
    """Pack the Gaussians ``order`` names into float32 records, in that order."""
    log_alpha_min = math.log(float(ALPHA_MIN))
    for k in prange(order.shape[0]):
        i = order[k]
        opacity = float(opacities[i])
        out_records[k, _U] = projected[i, 0]
        out_records[k, _V] = projected[i, 1]
        out_records[k, _A] = projected[i, 2]
        out_records[k, _B] = projected[i, 3]
        out_records[k, _C] = projected[i, 4]
        out_records[k, _OPACITY] = opacity
        out_records[k, _R] = colors[i, 0]
        out_records[k, _G] = colors[i, 1]
        out_records[k, _BLUE] = colors[i, 2]
        out_records[k, _DEPTH] = projected[i, 5]
        # Below this power, opacity·exp(power) < 1/255 whatever the rounding: exp is skipped.
        out_records[k, _SKIP] = log_alpha_min - math.log(opacity) - _SKIP_MARGIN
        for j in range(4):
            out_box[k, j] = box[i, j]


@njit(cache=True)
def bin_tiles(
    box: np.ndarray, tile_size: int, tiles_x: int, tile_count: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-tile lists of record indices: ``(starts [tiles+1], entries)``; order is kept."""
    counts = np.zeros(tile_count + 1, np.int64)
    for k in range(box.shape[0]):
        for row in range(box[k, 1] // tile_size, box[k, 3] // tile_size + 1):
            for column in range(box[k, 0] // tile_size, box[k, 2] // tile_size + 1):
                counts[row * tiles_x + column + 1] += 1
    starts = np.cumsum(counts)
    cursor = starts[:-1].copy()
    entries = np.empty(starts[-1], np.int32)
    for k in range(box.shape[0]):
        for row in range(box[k, 1] // tile_size, box[k, 3] // tile_size + 1):
            for column in range(box[k, 0] // tile_size, box[k, 2] // tile_size + 1):
                tile = row * tiles_x + column
                entries[cursor[tile]] = k
                cursor[tile] += 1
    return starts, entries


@njit(parallel=True, cache=True)
def blend(
    starts: np.ndarray,
    entries: np.ndarray,
    records: np.ndarray,
    box: np.ndarray,
    background: np.ndarray,
    width: int,
    height: int,
    tile_size: int,
    tiles_x: int,
    tile_count: int,
    workers: int,
    out_color: np.ndarray,
    out_alpha: np.ndarray,
    out_depth: np.ndarray,
) -> None:
    """Front-to-back compositing of every tile's list; writes the final images."""
    pixels = tile_size * tile_size
    for worker in prange(workers):
        transmittance = np.empty(pixels, np.float32)
        done = np.empty(pixels, np.bool_)
        accumulated = np.empty((pixels, 4), np.float32)
        # Round-robin: neighbouring tiles cost alike, so every worker gets a fair share.
        for tile in range(worker, tile_count, workers):
            transmittance[:] = _ONE
            done[:] = False
            accumulated[:] = _ZERO
            remaining = pixels
            tile_x0 = (tile % tiles_x) * tile_size
            tile_y0 = (tile // tiles_x) * tile_size
            tile_x1 = min(tile_x0 + tile_size, width) - 1
            tile_y1 = min(tile_y0 + tile_size, height) - 1
            # Pixels outside the image count as done from the start.
            for local in range(pixels):
                if tile_x0 + local % tile_size > tile_x1 or tile_y0 + local // tile_size > tile_y1:
                    done[local] = True
                    remaining -= 1
            for slot in range(starts[tile], starts[tile + 1]):
                if remaining == 0:
                    break
                k = entries[slot]
                u, v = records[k, _U], records[k, _V]
                conic_a, conic_b, conic_c = records[k, _A], records[k, _B], records[k, _C]
                opacity, skip = records[k, _OPACITY], records[k, _SKIP]
                red, green, blue, depth = (
                    records[k, _R], records[k, _G], records[k, _BLUE], records[k, _DEPTH]
                )  # fmt: skip
                for py in range(max(box[k, 1], tile_y0), min(box[k, 3], tile_y1) + 1):
                    dy = v - (np.float32(py) + _HALF)
                    row = (py - tile_y0) * tile_size - tile_x0
                    for px in range(max(box[k, 0], tile_x0), min(box[k, 2], tile_x1) + 1):
                        local = row + px
                        if done[local]:
                            continue
                        dx = u - (np.float32(px) + _HALF)
                        power = -_HALF * (conic_a * dx * dx + conic_c * dy * dy)
                        power = power - conic_b * dx * dy
                        if power > _ZERO or power < skip:
                            continue
                        alpha = min(opacity * np.exp(power), _ALPHA_MAX)
                        if alpha < _ALPHA_MIN:
                            continue
                        before = transmittance[local]
                        after = before * (_ONE - alpha)
                        if after < _T_MIN:  # 3DGS ends the pixel without this Gaussian
                            done[local] = True
                            remaining -= 1
                            continue
                        weight = alpha * before
                        accumulated[local, 0] += weight * red
                        accumulated[local, 1] += weight * green
                        accumulated[local, 2] += weight * blue
                        accumulated[local, 3] += weight * depth
                        transmittance[local] = after
            _write_tile(
                transmittance, accumulated, background, (tile_x0, tile_y0, tile_x1, tile_y1),
                tile_size, out_color, out_alpha, out_depth,
            )  # fmt: skip


@njit(cache=True, inline="always")
def _write_tile(
    transmittance: np.ndarray,
    accumulated: np.ndarray,
    background: np.ndarray,
    tile: tuple[int, int, int, int],
    tile_size: int,
    out_color: np.ndarray,
    out_alpha: np.ndarray,
    out_depth: np.ndarray,
) -> None:
    """Write one composited tile (inclusive pixel box ``tile``) into the final images."""
    tile_x0, tile_y0, tile_x1, tile_y1 = tile
    for py in range(tile_y0, tile_y1 + 1):
        for px in range(tile_x0, tile_x1 + 1):
            local = (py - tile_y0) * tile_size + (px - tile_x0)
            left = transmittance[local]
            alpha = _ONE - left
            for channel in range(3):
                shown = accumulated[local, channel] + left * background[channel]
                out_color[py, px, channel] = shown
            out_alpha[py, px] = alpha
            out_depth[py, px] = (
                accumulated[local, 3] / max(alpha, np.float32(1e-12)) if alpha > _ZERO else _ZERO
            )


def as_numpy(tensor: torch.Tensor) -> np.ndarray:
    """A float32 C-contiguous numpy view of ``tensor`` (a copy only when it must convert)."""
    return tensor.detach().to("cpu", torch.float32).contiguous().numpy()


def render_numba(
    gaussians: Gaussians,
    camera: Camera,
    background: torch.Tensor,
    *,
    near: float = 0.01,
    eps2d: float = 0.3,
    timings: dict[str, float] | None = None,
) -> Render:
    """Render on the CPU with the numba kernels; ``timings`` (if given) gets seconds per stage."""
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        if timings is not None:
            timings[stage] = timings.get(stage, 0.0) + now - clock
        clock = now

    width, height = camera.width, camera.height
    tiles_x, tiles_y = -(-width // TILE_SIZE), -(-height // TILE_SIZE)
    tile_count = tiles_x * tiles_y
    means, scales, quats = (
        as_numpy(t) for t in (gaussians.means, gaussians.scales, gaussians.quats)
    )
    colors, opacities = as_numpy(gaussians.colors), as_numpy(gaussians.opacities)
    world_to_camera = camera.world_to_camera.detach().to("cpu", torch.float64).numpy()
    intrinsics = camera.K.detach().to("cpu", torch.float64).numpy()
    background_rgb = as_numpy(background)
    count = means.shape[0]
    lap("convert")

    projected = np.empty((count, 6), np.float64)
    box = np.empty((count, 4), np.int32)
    tiles = np.empty(count, np.int32)
    project(means, scales, quats, opacities, world_to_camera, intrinsics, width, height,
            float(near), float(eps2d), TILE_SIZE, projected, box, tiles)  # fmt: skip
    lap("project")

    visible = np.flatnonzero(tiles).astype(np.int32)
    # Stable on the float32 depth, like the torch path's argsort: equal depths keep index order.
    order = visible[radix_argsort(projected[visible, 5].astype(np.float32))]
    lap("sort")

    records = np.empty((len(order), _FIELDS), np.float32)
    sorted_box = np.empty((len(order), 4), np.int32)
    gather(order, projected, box, opacities, colors, records, sorted_box)
    lap("gather")

    starts, entries = bin_tiles(sorted_box, TILE_SIZE, tiles_x, tile_count)
    lap("bin")

    color = np.empty((height, width, 3), np.float32)
    alpha = np.empty((height, width), np.float32)
    depth = np.empty((height, width), np.float32)
    blend(starts, entries, records, sorted_box, background_rgb, width, height, TILE_SIZE,
          tiles_x, tile_count, numba.get_num_threads(), color, alpha, depth)  # fmt: skip
    lap("blend")
    device = gaussians.means.device
    return Render(
        color=torch.from_numpy(color).to(device),
        alpha=torch.from_numpy(alpha).to(device),
        depth=torch.from_numpy(depth).to(device),
    )
