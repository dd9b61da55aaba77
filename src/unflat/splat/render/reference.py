"""Brute-force reference renderer, for tests: every pixel against every Gaussian, in float64.

It shares no code with the fast backends: projection is written out per Gaussian in numpy and
compositing is the sequential 3DGS loop (vectorised over pixels only), with no tiles, no
footprint boxes and no chunking. Use it only for small scenes.
"""

from __future__ import annotations

import numpy as np
import torch

from unflat.splat.render import Render, check_gaussians, check_inputs
from unflat.types import Camera, Gaussians


def render_reference(
    gaussians: Gaussians,
    camera: Camera,
    *,
    background: tuple[float, float, float] | torch.Tensor | None = None,
    near: float = 0.01,
    eps2d: float = 0.3,
) -> Render:
    """Render like :func:`unflat.splat.render` does, slowly and in float64 (on the CPU)."""
    check_gaussians(gaussians)
    background_rgb = check_inputs(gaussians, camera, background, near, eps2d).double().cpu().numpy()
    means = gaussians.means.detach().double().cpu().numpy()
    scales = gaussians.scales.detach().double().cpu().numpy()
    quats = gaussians.quats.detach().double().cpu().numpy()
    colors = gaussians.colors.detach().double().cpu().numpy()
    opacities = gaussians.opacities.detach().double().cpu().numpy()
    world_to_camera = camera.world_to_camera.detach().double().cpu().numpy()
    K = camera.K.detach().double().cpu().numpy()
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    width, height = camera.width, camera.height

    splats = []  # (depth, u, v, conic, opacity, color) of every Gaussian in front of the camera
    for i in range(len(means)):
        x, y, z = world_to_camera[:3, :3] @ means[i] + world_to_camera[:3, 3]
        if z < near:
            continue
        w, qx, qy, qz = quats[i] / np.linalg.norm(quats[i])
        rotation = np.array(
            [
                [1 - 2 * (qy**2 + qz**2), 2 * (qx * qy - w * qz), 2 * (qx * qz + w * qy)],
                [2 * (qx * qy + w * qz), 1 - 2 * (qx**2 + qz**2), 2 * (qy * qz - w * qx)],
                [2 * (qx * qz - w * qy), 2 * (qy * qz + w * qx), 1 - 2 * (qx**2 + qy**2)],
            ]
        )
        covariance = rotation @ np.diag(scales[i] ** 2) @ rotation.T
        covariance_camera = world_to_camera[:3, :3] @ covariance @ world_to_camera[:3, :3].T
        margin_x, margin_y = 0.3 * 0.5 * width / fx, 0.3 * 0.5 * height / fy
        tx = z * np.clip(x / z, -cx / fx - margin_x, (width - cx) / fx + margin_x)
        ty = z * np.clip(y / z, -cy / fy - margin_y, (height - cy) / fy + margin_y)
        jacobian = np.array([[fx / z, 0, -fx * tx / z**2], [0, fy / z, -fy * ty / z**2]])
        covariance_2d = jacobian @ covariance_camera @ jacobian.T + eps2d * np.eye(2)
        if np.linalg.det(covariance_2d) <= 0:
            continue
        conic = np.linalg.inv(covariance_2d)
        splats.append((z, fx * x / z + cx, fy * y / z + cy, conic, opacities[i], colors[i]))
    splats.sort(key=lambda splat: splat[0])

    # Pixel (column j, row i) is sampled at its centre (j + 0.5, i + 0.5), as gsplat does.
    px, py = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    transmittance = np.ones((height, width))
    done = np.zeros((height, width), dtype=bool)
    color = np.zeros((height, width, 3))
    depth = np.zeros((height, width))
    for z, u, v, conic, opacity, rgb in splats:
        dx, dy = u - px, v - py
        power = -0.5 * (conic[0, 0] * dx * dx + conic[1, 1] * dy * dy) - conic[0, 1] * dx * dy
        alpha = np.minimum(0.99, opacity * np.exp(power))
        active = (alpha >= 1.0 / 255.0) & (power <= 0) & ~done
        after = transmittance * (1.0 - alpha)
        stop = active & (after < 1e-4)  # 3DGS ends the pixel without compositing this one
        done |= stop
        active &= ~stop
        weight = np.where(active, alpha * transmittance, 0.0)
        color += weight[..., None] * rgb
        depth += weight * z
        transmittance = np.where(active, after, transmittance)

    alpha_image = 1.0 - transmittance
    color += transmittance[..., None] * background_rgb
    depth = np.where(alpha_image > 0, depth / np.maximum(alpha_image, 1e-300), 0.0)
    return Render(
        color=torch.from_numpy(color),
        alpha=torch.from_numpy(alpha_image),
        depth=torch.from_numpy(depth),
    )
