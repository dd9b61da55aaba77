"""A photo's scene whose foreground follows a 2-D warp of the photo, frame by frame.

An animated portrait is the still photo warped (each output pixel shows some source pixel) and
composited over a background plate. :class:`LivingScene` moves the matching Gaussians the same
way: inside the warped box, pixel ``p``'s Gaussian takes the shape of its source pixel's
Gaussian, scaled to its new depth, and sits on ``p``'s ray at that depth, with the frame's
colour. So the face's colours and its relief move together, the layer behind occluding edges
stays put, and only the box's Gaussians change: the rest of the scene (and its decomposed
covariances) is built once.
"""

from __future__ import annotations

import numpy as np
import torch

from unflat.colour import srgb8_to_linear
from unflat.errors import InputError
from unflat.geometry.fill import nearest_fill
from unflat.splat.rgbd import from_rgbd
from unflat.types import Camera, Gaussians


def nearest_background(depth: np.ndarray, covered: np.ndarray) -> np.ndarray:
    """``depth`` with the ``covered`` pixels given the depth of the nearest uncovered pixel.

    The depth of what a moving head uncovers: the background beside it, not the head.
    """
    return nearest_fill(depth, covered)


class LivingScene:
    """The scene of ``rgb`` with metric ``depth`` seen by ``K``, ready to follow warps.

    ``behind`` (default: the still depth) is the depth of each pixel's background plate, where
    a warp reveals it.
    """

    def __init__(
        self,
        rgb: np.ndarray,
        depth: np.ndarray,
        K: np.ndarray,
        *,
        behind: np.ndarray | None = None,
        background: bool = True,
    ) -> None:
        self.still = from_rgbd(rgb, depth, K, background=background)
        self.height, self.width = depth.shape
        self.depth = np.asarray(depth, dtype=np.float32)
        self.behind = self.depth if behind is None else np.asarray(behind, dtype=np.float32)
        self.K = np.asarray(K, dtype=np.float64)
        self.gaussians = Gaussians(
            means=self.still.means.clone(),
            scales=self.still.scales.clone(),
            quats=self.still.quats.clone(),
            colors=self.still.colors.clone(),
            opacities=self.still.opacities.clone(),
        )

    def follow(
        self,
        frame: np.ndarray,
        region: tuple[int, int, int, int],
        map_x: np.ndarray,
        map_y: np.ndarray,
        alpha: np.ndarray,
    ) -> Gaussians:
        """The scene for ``frame`` (the photo warped inside ``region`` by the source
        coordinates ``map_x``/``map_y``, over the plate with weight ``alpha``).

        Returns the same :class:`Gaussians` each call, updated in place inside the region.
        """
        x0, y0, x1, y1 = region
        if frame.shape[:2] != (self.height, self.width):
            raise InputError(
                f"frame is {frame.shape[1]}x{frame.shape[0]}, the scene {self.width}x{self.height}",
                hint="animate the same photo the scene was built from",
            )
        if x1 <= x0 or y1 <= y0:
            return self.gaussians
        source_x = np.clip(np.rint(map_x).astype(np.int64), 0, self.width - 1)
        source_y = np.clip(np.rint(map_y).astype(np.int64), 0, self.height - 1)
        ys, xs = np.mgrid[y0:y1, x0:x1]
        person = alpha >= 0.5
        # the plate shows the pixel's own background; the person, its source pixel moved here
        source_x = np.where(person, source_x, xs)
        source_y = np.where(person, source_y, ys)
        depth = np.where(person, self.depth[source_y, source_x], self.behind[y0:y1, x0:x1]).astype(
            np.float32
        )
        source = torch.from_numpy((source_y * self.width + source_x).reshape(-1))
        target = torch.from_numpy((ys * self.width + xs).reshape(-1))
        ratio = depth / np.maximum(self.depth[source_y, source_x], 1e-6)
        rays_x = (xs + 0.5 - self.K[0, 2]) / self.K[0, 0]
        rays_y = (ys + 0.5 - self.K[1, 2]) / self.K[1, 1]
        means = np.stack([rays_x * depth, rays_y * depth, depth], axis=-1).reshape(-1, 3)
        linear = srgb8_to_linear(frame[y0:y1, x0:x1])
        scene, still = self.gaussians, self.still
        scene.means[target] = torch.from_numpy(means.astype(np.float32))
        scene.scales[target] = still.scales[source] * torch.from_numpy(
            ratio.reshape(-1, 1).astype(np.float32)
        )
        scene.quats[target] = still.quats[source]
        scene.colors[target] = torch.from_numpy(linear.reshape(-1, 3).astype(np.float32))
        return scene


def covering_zoom(
    depth: np.ndarray, K: np.ndarray, cameras: list[Camera], *, limit: float = 1.3
) -> float:
    """The zoom (focal length factor, at least 1) that keeps the photo's borders out of view.

    A camera that moves away from the photo's viewpoint sees past the photo's edges, where the
    scene has nothing: black borders. Zooming every camera in by this factor (about the image
    centre) keeps the projected borders, at their own depths, outside every frame. At most
    ``limit``: beyond it the edge shows rather than the picture being cropped away.
    """
    height, width = depth.shape
    steps = 16
    xs = np.concatenate(
        [
            np.linspace(0, width - 1, steps),
            np.full(steps, width - 1),
            np.linspace(0, width - 1, steps),
            np.zeros(steps),
        ]
    )
    ys = np.concatenate(
        [
            np.zeros(steps),
            np.linspace(0, height - 1, steps),
            np.full(steps, height - 1),
            np.linspace(0, height - 1, steps),
        ]
    )
    # the outer edge of each border pixel, pushed half a pixel outwards
    edge_x = np.where(xs == 0, 0.0, np.where(xs == width - 1, width, xs + 0.5))
    edge_y = np.where(ys == 0, 0.0, np.where(ys == height - 1, height, ys + 0.5))
    z = depth[ys.astype(int), xs.astype(int)].astype(np.float64)
    z = np.where(np.isfinite(z) & (z > 0), z, np.nanmedian(np.where(depth > 0, depth, np.nan)))
    points = np.stack([(edge_x - K[0, 2]) / K[0, 0] * z, (edge_y - K[1, 2]) / K[1, 1] * z, z], 1)
    zoom = 1.0
    for camera in cameras:
        pose = camera.world_to_camera.detach().double().cpu().numpy()
        seen = points @ pose[:3, :3].T + pose[:3, 3]
        intrinsics = camera.K.detach().double().cpu().numpy()
        u = intrinsics[0, 0] * seen[:, 0] / seen[:, 2] + intrinsics[0, 2] - camera.width / 2
        v = intrinsics[1, 1] * seen[:, 1] / seen[:, 2] + intrinsics[1, 2] - camera.height / 2
        # each border must stay beyond its own side of the frame after zooming about the centre
        for side, offset, half in (
            (xs == 0, -u, camera.width / 2),
            (xs == width - 1, u, camera.width / 2),
            (ys == 0, -v, camera.height / 2),
            (ys == height - 1, v, camera.height / 2),
        ):
            reach = offset[side]
            if len(reach) and reach.min() > 0:
                zoom = max(zoom, half / reach.min())
            elif len(reach):
                zoom = limit
    return float(min(zoom, limit))


def zoomed(cameras: list[Camera], zoom: float) -> list[Camera]:
    """``cameras`` with their focal lengths multiplied by ``zoom`` (about the image centre)."""
    out = []
    for camera in cameras:
        K = camera.K.clone()
        K[0, 0] *= zoom
        K[1, 1] *= zoom
        K[0, 2] = camera.width / 2 + (K[0, 2] - camera.width / 2) * zoom
        K[1, 2] = camera.height / 2 + (K[1, 2] - camera.height / 2) * zoom
        out.append(Camera(K, camera.world_to_camera, camera.width, camera.height))
    return out
