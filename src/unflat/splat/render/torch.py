"""Plain-torch 3DGS rasteriser: runs on CPU, MPS and CUDA with bounded memory.

The math is the 3DGS paper's EWA splatting as gsplat implements it (``proj_ewa`` and
``rasterize_to_pixels``): project each Gaussian to a 2D Gaussian, bin it into the 16x16 tiles
its footprint touches, then composite each tile's depth-sorted list front to back. Work is done
for batches of tiles and chunks of each tile's list, so peak memory is set by
``chunk_elements``, not by the scene size.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from unflat.geometry.rotations import quaternion_to_rotation
from unflat.splat.render.view import Render
from unflat.types import Camera, Gaussians

ALPHA_MIN = 1.0 / 255.0  # weights below this are skipped, as in 3DGS
ALPHA_MAX = 0.99  # 3DGS clamps so no single Gaussian makes a pixel fully opaque
TRANSMITTANCE_MIN = 1e-4  # a pixel stops once the next Gaussian would drop T below this
FOV_CLAMP = 1.3  # J is evaluated no further out than 1.3x the half field of view


def project(
    gaussians: Gaussians, camera: Camera, near: float, eps2d: float
) -> dict[str, torch.Tensor]:
    """Project every Gaussian to the image; returns per-Gaussian 2D means, conics and extents.

    Keys: ``visible [N]`` bool, ``means2d [N,2]`` pixels, ``conics [N,3]`` (a, b, c) of the
    inverse 2D covariance, ``depths [N]`` camera z, and the inclusive pixel box ``box [N,4]``
    (x0, y0, x1, y1) outside which the Gaussian's weight is below 1/255.
    """
    dtype = torch.float32
    device = gaussians.means.device
    rotation_w2c = camera.world_to_camera[:3, :3].to(device, dtype)
    translation = camera.world_to_camera[:3, 3].to(device, dtype)
    fx, fy, cx, cy = (
        float(v) for v in (camera.K[0, 0], camera.K[1, 1], camera.K[0, 2], camera.K[1, 2])
    )
    width, height = camera.width, camera.height

    means_cam = gaussians.means.to(dtype) @ rotation_w2c.T + translation
    x, y, z = means_cam.unbind(-1)
    in_front = z >= near
    z_safe = torch.where(in_front, z, torch.ones_like(z))  # behind-camera values are masked later

    # Σ = R S² Rᵀ in the world frame, then rotated into the camera frame.
    rotation = quaternion_to_rotation(gaussians.quats.to(dtype))
    scaled = rotation * gaussians.scales.to(dtype)[:, None, :]  # R S
    to_camera = rotation_w2c @ scaled  # W R S, so that Σ_cam = (W R S)(W R S)ᵀ
    # The perspective Jacobian is a linearisation at the mean; for means far outside the view it
    # explodes (x/z unbounded) and smears huge splats across the image. Like 3DGS and gsplat,
    # evaluate it at the mean clamped to 1.3x the half field of view (measured from the
    # principal point on each side); the 2D mean itself is not clamped.
    limit_x_pos = (width - cx) / fx + 0.3 * (0.5 * width / fx)
    limit_x_neg = cx / fx + 0.3 * (0.5 * width / fx)
    limit_y_pos = (height - cy) / fy + 0.3 * (0.5 * height / fy)
    limit_y_neg = cy / fy + 0.3 * (0.5 * height / fy)
    tx = z_safe * (x / z_safe).clamp(-limit_x_neg, limit_x_pos)
    ty = z_safe * (y / z_safe).clamp(-limit_y_neg, limit_y_pos)
    jacobian = torch.zeros(len(z), 2, 3, device=device, dtype=dtype)
    jacobian[:, 0, 0] = fx / z_safe
    jacobian[:, 0, 2] = -fx * tx / z_safe**2
    jacobian[:, 1, 1] = fy / z_safe
    jacobian[:, 1, 2] = -fy * ty / z_safe**2
    factor = jacobian @ to_camera  # [N,2,3]: Σ' = (J W R S)(J W R S)ᵀ stays symmetric PSD
    cov2d = factor @ factor.transpose(1, 2)
    a = cov2d[:, 0, 0] + eps2d
    b = cov2d[:, 0, 1]
    c = cov2d[:, 1, 1] + eps2d
    det = a * c - b * b
    det_safe = torch.where(det > 0, det, torch.ones_like(det))
    conics = torch.stack([c / det_safe, -b / det_safe, a / det_safe], dim=-1)

    means2d = torch.stack([fx * x / z_safe + cx, fy * y / z_safe + cy], dim=-1)
    opacities = gaussians.opacities.to(dtype)
    # Exact footprint: opacity·exp(-q/2) >= 1/255  <=>  q <= 2 ln(255·opacity). Its axis-aligned
    # box has half-widths extent·sqrt(Σ'_xx), extent·sqrt(Σ'_yy) (<= 3.33 sigma, as in gsplat),
    # so binning by it drops only weights that compositing would skip anyway.
    extent = torch.sqrt(2 * torch.log((opacities / ALPHA_MIN).clamp(min=1.0))) * 1.001
    radius_x = extent * torch.sqrt(a.clamp(min=0))
    radius_y = extent * torch.sqrt(c.clamp(min=0))
    # Pixel j samples at j + 0.5 (gsplat's convention): j covers centres inside [u - r, u + r].
    bound = float(max(width, height) + 1)  # keeps far-away boxes finite before the int cast
    x0 = torch.ceil(means2d[:, 0] - radius_x - 0.5).clamp(-1, bound).long().clamp(min=0)
    x1 = torch.floor(means2d[:, 0] + radius_x - 0.5).clamp(-1, bound).long().clamp(max=width - 1)
    y0 = torch.ceil(means2d[:, 1] - radius_y - 0.5).clamp(-1, bound).long().clamp(min=0)
    y1 = torch.floor(means2d[:, 1] + radius_y - 0.5).clamp(-1, bound).long().clamp(max=height - 1)
    visible = (
        in_front & (det > 0) & (opacities >= ALPHA_MIN) & (x0 <= x1) & (y0 <= y1)
        & torch.isfinite(means2d).all(-1)
    )  # fmt: skip
    return {
        "visible": visible,
        "means2d": means2d,
        "conics": conics,
        "depths": z,
        "box": torch.stack([x0, y0, x1, y1], dim=-1),
    }


class _TileLists(NamedTuple):
    """Each tile's Gaussians, front to back: ``gaussians[starts[t] : starts[t] + counts[t]]``."""

    gaussians: torch.Tensor
    counts: torch.Tensor
    starts: torch.Tensor


def render_torch(
    gaussians: Gaussians,
    camera: Camera,
    background: torch.Tensor,
    *,
    near: float = 0.01,
    eps2d: float = 0.3,
    tile_size: int = 16,
    chunk_elements: int = 1 << 21,
) -> Render:
    """Render with tiles and chunks; ``chunk_elements`` bounds each pixel x Gaussian block."""
    device = gaussians.means.device
    width, height = camera.width, camera.height
    tiles_x, tiles_y = math.ceil(width / tile_size), math.ceil(height / tile_size)

    projected = project(gaussians, camera, near, eps2d)
    lists = _tile_lists(projected, tile_size, tiles_x, tiles_y)
    # Colour and depth are composited together as four channels.
    features = torch.cat([gaussians.colors.float(), projected["depths"][:, None]], dim=-1)
    tiled_features, tiled_transmittance = _composite_tiles(
        projected, gaussians.opacities.float(), features, lists, tiles_x, tile_size, chunk_elements
    )

    def to_image(tiled: torch.Tensor) -> torch.Tensor:
        channels = tiled.shape[2:]
        image = tiled.reshape(tiles_y, tiles_x, tile_size, tile_size, *channels)
        image = image.transpose(1, 2).reshape(tiles_y * tile_size, tiles_x * tile_size, *channels)
        return image[:height, :width]

    features_image = to_image(tiled_features)
    transmittance_image = to_image(tiled_transmittance)
    alpha_image = 1.0 - transmittance_image
    color = features_image[..., :3] + transmittance_image[..., None] * background.to(device)
    # Normalised expected depth; see the package docstring for why.
    depth = torch.where(alpha_image > 0, features_image[..., 3] / alpha_image.clamp(min=1e-12), 0.0)
    return Render(color=color, alpha=alpha_image, depth=depth)


def _tile_lists(
    projected: dict[str, torch.Tensor], tile_size: int, tiles_x: int, tiles_y: int
) -> _TileLists:
    """Bin the visible Gaussians into the tiles their boxes touch, each list in depth order."""
    ids = torch.nonzero(projected["visible"]).squeeze(1)
    # Depth order first; the stable tile sort below keeps it within each tile.
    ids = ids[torch.argsort(projected["depths"][ids], stable=True)]
    box = projected["box"][ids]
    tile_x0, tile_y0 = box[:, 0] // tile_size, box[:, 1] // tile_size
    span_x = box[:, 2] // tile_size - tile_x0 + 1
    span_y = box[:, 3] // tile_size - tile_y0 + 1
    tile_ids, owners = tile_intersections(tile_x0, tile_y0, span_x, span_y, tiles_x)
    order = torch.argsort(tile_ids, stable=True)
    counts = torch.bincount(tile_ids, minlength=tiles_x * tiles_y)
    return _TileLists(ids[owners[order]], counts, torch.cumsum(counts, 0) - counts)


def _composite_tiles(
    projected: dict[str, torch.Tensor],
    opacities: torch.Tensor,
    features: torch.Tensor,
    lists: _TileLists,
    tiles_x: int,
    tile_size: int,
    chunk_elements: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Composite every tile's list: ``[tiles, pixels, 4]`` features and ``[tiles, pixels]`` T."""
    device = features.device
    means2d, conics = projected["means2d"], projected["conics"]
    sorted_gaussians, counts, starts = lists
    pixels_per_tile = tile_size * tile_size
    out_features = torch.zeros(len(counts), pixels_per_tile, 4, device=device)
    out_transmittance = torch.ones(len(counts), pixels_per_tile, device=device)
    local = torch.arange(pixels_per_tile, device=device)
    offsets = torch.stack([local % tile_size, local // tile_size], dim=-1).float() + 0.5

    # Tiles with similar list lengths are batched together, so padding wastes little work.
    busy = torch.nonzero(counts).squeeze(1)
    busy = busy[torch.argsort(counts[busy], descending=True)]
    busy_counts = counts[busy].tolist()
    index = 0
    while index < len(busy_counts):
        longest = busy_counts[index]
        chunk = max(1, min(longest, chunk_elements // pixels_per_tile))
        batch_size = max(1, chunk_elements // (pixels_per_tile * chunk))
        batch = busy[index : index + batch_size]
        index += batch_size
        corner = torch.stack([batch % tiles_x, batch // tiles_x], dim=-1).float() * tile_size
        pixels = corner[:, None, :] + offsets[None]  # [B,P,2] sample positions
        transmittance = torch.ones(len(batch), pixels_per_tile, device=device)
        done = torch.zeros(len(batch), pixels_per_tile, dtype=torch.bool, device=device)
        accumulated = torch.zeros(len(batch), pixels_per_tile, 4, device=device)
        for first in range(0, longest, chunk):
            position = first + torch.arange(chunk, device=device)
            valid = position[None, :] < counts[batch][:, None]  # [B,C]
            slot = (starts[batch][:, None] + position[None, :]).clamp(max=len(sorted_gaussians) - 1)
            gaussian = sorted_gaussians[slot]  # [B,C]
            delta = means2d[gaussian][:, None, :, :] - pixels[:, :, None, :]  # [B,P,C,2]
            conic = conics[gaussian][:, None]  # [B,1,C,3]
            dx, dy = delta[..., 0], delta[..., 1]
            power = -0.5 * (conic[..., 0] * dx * dx + conic[..., 2] * dy * dy)
            power = power - conic[..., 1] * dx * dy
            alpha = (opacities[gaussian][:, None] * torch.exp(power)).clamp(max=ALPHA_MAX)
            alpha = torch.where(
                (alpha >= ALPHA_MIN) & (power <= 0) & valid[:, None], alpha, torch.zeros_like(alpha)
            )
            transmittance, done, weights = composite_chunk(alpha, transmittance, done)
            accumulated += weights @ features[gaussian]  # [B,P,C] @ [B,C,4]
            if bool(done.all()):
                break
        out_features[batch] = accumulated
        out_transmittance[batch] = transmittance
    return out_features, out_transmittance


def tile_intersections(
    tile_x0: torch.Tensor,
    tile_y0: torch.Tensor,
    span_x: torch.Tensor,
    span_y: torch.Tensor,
    tiles_x: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every (tile id, owner index) pair for boxes of ``span_x`` x ``span_y`` tiles."""
    device = tile_x0.device
    per_owner = span_x * span_y
    owners = torch.repeat_interleave(torch.arange(len(per_owner), device=device), per_owner)
    first = torch.cumsum(per_owner, 0) - per_owner
    rank = torch.arange(len(owners), device=device) - first[owners]
    column = tile_x0[owners] + rank % span_x[owners]
    row = tile_y0[owners] + rank // span_x[owners]
    return row * tiles_x + column, owners


def composite_chunk(
    alpha: torch.Tensor, transmittance: torch.Tensor, done: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Front-to-back compositing of one depth-sorted chunk ``alpha [B,P,C]``.

    Matches the sequential 3DGS loop: a Gaussian whose weight would drop T below 1e-4 is not
    composited and ends the pixel (``done``); later Gaussians are ignored. Returns the new
    transmittance, ``done`` and the weights ``alpha_i T_i``.
    """
    after = transmittance[..., None] * torch.cumprod(1.0 - alpha, dim=-1)
    # T only falls along the list, so the kept Gaussians are a prefix of the chunk.
    keep = (after >= TRANSMITTANCE_MIN) & ~done[..., None]
    alpha = alpha * keep
    survived = torch.cumprod(1.0 - alpha, dim=-1)
    before = transmittance[..., None] * torch.cat(
        [torch.ones_like(survived[..., :1]), survived[..., :-1]], dim=-1
    )
    weights = alpha * before
    done = done | ~keep[..., -1]
    return transmittance * survived[..., -1], done, weights
