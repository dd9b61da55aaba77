"""A photo's Gaussian scene and the pieces that build one from a photo and a depth map.

Choosing between SHARP and photo + depth, and loading the models, is the job of
:class:`unflat.pipelines.scene.ScenePipeline`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from unflat.errors import InputError
from unflat.types import Camera, Gaussians

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
