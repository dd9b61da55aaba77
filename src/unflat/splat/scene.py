"""One photo to a Gaussian scene: SHARP when its weights are present, else photo + depth.

:class:`SceneBuilder` decides, per photo, where the geometry and the focal length come from:

- geometry: ``depth`` given (a metric depth map from ``unflat depth``, a phone or any tool)
  -> :func:`~unflat.splat.rgbd.from_rgbd`; else SHARP when asked for or already downloaded;
  else Depth Pro's depth (when downloaded) -> ``from_rgbd``; else a clear error saying how to
  get either;
- focal length: the user's ``focal_px``, else the photo's EXIF, else the depth file's sidecar
  (``NAME.json`` written by ``unflat depth``), else Depth Pro's estimate; else an error asking
  for ``--focal-px``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from unflat.errors import ConfigError, InputError, WeightsError
from unflat.io.depth_files import load_depth
from unflat.splat.rgbd import from_rgbd
from unflat.types import Camera, Gaussians, Photo

METHODS = ("auto", "sharp", "rgbd")


@dataclass
class Scene:
    """A scene with the camera of the photo it came from (identity pose, OpenCV axes)."""

    gaussians: Gaussians
    camera: Camera
    method: str
    focal_px: float
    focal_source: str
    depth_source: str | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def eps2d(self) -> float:
        """The renderer's low-pass this scene is meant for (SHARP renders with 0)."""
        from unflat.splat.rgbd import RGBD_EPS2D

        return 0.0 if self.method == "sharp" else RGBD_EPS2D

    def metadata(self) -> dict:
        """What a sidecar records about how the scene was made."""
        from unflat.splat.trajectories import depth_range_from_gaussians

        depth = depth_range_from_gaussians(self.gaussians)
        return {
            "method": self.method,
            "gaussians": len(self.gaussians),
            "width": self.camera.width,
            "height": self.camera.height,
            "focal_px": self.focal_px,
            "focal_source": self.focal_source,
            "depth_source": self.depth_source,
            "intrinsics": self.camera.K.tolist(),
            # SHARP's near, focus and far depths (0.1 %, 10 %, 99.9 % of z): what paths use.
            "depth_range_m": [depth.near, depth.focus, depth.far],
            "render_eps2d": self.eps2d,
            "seconds": round(self.seconds, 3),
        }


def photo_camera(width: int, height: int, focal_px: float) -> Camera:
    """The photo's own camera: principal point at the image centre, identity pose."""
    K = torch.tensor([[focal_px, 0.0, width / 2.0], [0.0, focal_px, height / 2.0], [0.0, 0.0, 1.0]])
    return Camera(K=K, world_to_camera=torch.eye(4), width=width, height=height)


def depth_sidecar_focal(depth_path: Path) -> float | None:
    """The focal length that ``unflat depth`` recorded beside a depth file, if any."""
    name = depth_path.name
    for suffix in (".depth.npy", ".depth_mm.png"):
        if name.endswith(suffix):
            sidecar = depth_path.with_name(name[: -len(suffix)] + ".json")
            try:
                focal = json.loads(sidecar.read_text(encoding="utf-8")).get("focal_px")
            except (OSError, ValueError, AttributeError):
                return None
            return float(focal) if isinstance(focal, int | float) and focal > 0 else None
    return None


def fit_depth(depth: np.ndarray, width: int, height: int, source: str) -> np.ndarray:
    """``depth`` at the photo's size: resized when only the resolution differs.

    Nearest-neighbour resizing keeps depth edges sharp (interpolating across an edge would
    invent surfaces floating between the object and its background).
    """
    depth_height, depth_width = depth.shape
    if (depth_width, depth_height) == (width, height):
        return depth
    if abs(depth_width / depth_height - width / height) > 0.01:
        raise InputError(
            f"{source} is {depth_width}x{depth_height} but the photo is {width}x{height}",
            hint="give the depth map of this photo (same framing; the resolution may differ)",
        )
    return cv2.resize(depth, (width, height), interpolation=cv2.INTER_NEAREST)


def downscale(
    photo_rgb: np.ndarray, depth: np.ndarray | None, max_size: int | None
) -> tuple[np.ndarray, np.ndarray | None, float]:
    """Shrink the photo (area filter) and depth (nearest) so the longer side is ``max_size``."""
    height, width = photo_rgb.shape[:2]
    if not max_size or max(height, width) <= max_size:
        return photo_rgb, depth, 1.0
    scale = max_size / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    rgb = cv2.resize(photo_rgb, size, interpolation=cv2.INTER_AREA)
    if depth is not None:
        depth = cv2.resize(depth, size, interpolation=cv2.INTER_NEAREST)
    return rgb, depth, size[0] / width


class SceneBuilder:
    """Builds scenes from photos; models load on first use and are reused across photos."""

    def __init__(
        self,
        *,
        method: str = "auto",
        weights: str | None = None,
        depth_weights: str | None = None,
        device: str = "auto",
        precision: str = "fp32",
        focal_px: float | None = None,
        background: bool = True,
        max_size: int | None = 1024,
    ) -> None:
        if method not in METHODS:
            raise ConfigError(f"unknown method {method!r}", hint=f"use one of {', '.join(METHODS)}")
        if focal_px is not None and not focal_px > 0:
            raise ConfigError(f"--focal-px must be positive, got {focal_px}", "e.g. 1200")
        if max_size is not None and max_size < 16:
            raise ConfigError(f"--max-size {max_size} is too small", "use at least 16, or 0")
        self.method = method
        self.weights = weights
        self.depth_weights = depth_weights
        self.device = device
        self.precision = precision
        self.focal_px = focal_px
        self.background = background
        self.max_size = max_size or None
        self._sharp: torch.nn.Module | None = None
        self._depth_estimator = None
        self.weights_sha256: str | None = None

    # --- which geometry -------------------------------------------------------------------

    def _use_sharp(self, has_depth: bool) -> bool:
        from unflat.weights import is_cached

        if self.method == "rgbd" or has_depth:
            return False
        if self.method == "sharp":
            return True
        return self.weights is not None or is_cached("sharp")

    def _can_estimate_depth(self) -> bool:
        from unflat.weights import is_cached

        return self.depth_weights is not None or is_cached("depth-pro")

    def _estimator(self):
        if self._depth_estimator is None:
            from unflat.depth.predict import DepthEstimator

            self._depth_estimator = DepthEstimator.from_options(
                self.depth_weights, "depth-pro", self.device, self.precision
            )
        return self._depth_estimator

    def _sharp_model(self) -> torch.nn.Module:
        if self._sharp is None:
            from unflat.device import pick_device
            from unflat.weights import load_model, resolve_weights, weights_id

            file = resolve_weights("sharp", self.weights)
            self._sharp = load_model("sharp", device=pick_device(self.device), weights=file)
            self.weights_sha256 = weights_id(file)
        return self._sharp

    # --- the scene -----------------------------------------------------------------------

    def build(self, photo: Photo, depth_path: Path | None = None) -> Scene:
        """The scene of ``photo``, from ``depth_path`` when given."""
        start = time.perf_counter()
        depth = None
        sidecar_focal = None
        if depth_path is not None:
            depth = fit_depth(load_depth(depth_path), photo.width, photo.height, str(depth_path))
            sidecar_focal = depth_sidecar_focal(depth_path)

        if self._use_sharp(depth is not None):
            focal, focal_source = self._focal(photo, None)
            from unflat.splat.predict import predict_gaussians

            gaussians = predict_gaussians(self._sharp_model(), photo.rgb, focal)
            camera = photo_camera(photo.width, photo.height, focal)
            return Scene(
                gaussians.to("cpu"),
                camera,
                "sharp",
                focal,
                focal_source,
                seconds=time.perf_counter() - start,
            )

        depth_source = str(depth_path) if depth_path is not None else None
        if depth is None:
            if not self._can_estimate_depth():
                raise WeightsError(
                    f"no depth for {photo.source or 'the photo'}: neither SHARP nor Depth Pro "
                    "weights are installed",
                    hint="give --depth FILE (a metric depth map, e.g. from a phone), or fetch "
                    "weights: `unflat models fetch sharp` or `unflat models fetch depth-pro`",
                )
            focal_hint = self.focal_px if self.focal_px is not None else photo.focal_px
            estimate = self._estimator().predict(photo, f_px=focal_hint)
            depth = estimate.depth
            depth_source = "depth-pro"
            if self.focal_px is None and photo.focal_px is None:
                sidecar_focal = estimate.focal_px
        focal, focal_source = self._focal(photo, sidecar_focal)
        rgb, depth, scale = downscale(photo.rgb, depth, self.max_size)
        height, width = rgb.shape[:2]
        camera = photo_camera(width, height, focal * scale)
        gaussians = from_rgbd(rgb, depth, camera.K.numpy(), background=self.background)
        return Scene(
            gaussians,
            camera,
            "rgbd",
            focal * scale,
            focal_source,
            depth_source=depth_source,
            seconds=time.perf_counter() - start,
        )

    def _focal(self, photo: Photo, fallback: float | None) -> tuple[float, str]:
        """The focal length in pixels of ``photo`` and where it came from."""
        if self.focal_px is not None:
            return float(self.focal_px), "user"
        if photo.focal_px is not None:
            return float(photo.focal_px), "exif"
        if fallback is not None:
            return float(fallback), "depth"
        if self._can_estimate_depth():
            return float(self._estimator().predict(photo).focal_px), "depth-pro"
        raise InputError(
            f"no focal length for {photo.source or 'the photo'}: no EXIF, and Depth Pro weights "
            "are not installed to estimate it",
            hint="give --focal-px (e.g. 0.8 x the image width for a phone's main camera), or "
            "fetch Depth Pro: `unflat models fetch depth-pro`",
        )
