"""The plain data types that flow between unflat's stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Photo:
    """An RGB photo as ``uint8 [H,W,3]``, upright (EXIF orientation applied).

    ``focal_px`` is the focal length in pixels of this image when the file's EXIF told us,
    else None; ``source`` is where it came from, for messages and sidecars.
    """

    rgb: np.ndarray
    focal_px: float | None = None
    source: Path | None = None
    metadata: dict = field(default_factory=dict)

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])


@dataclass
class DepthMap:
    """Metric depth in metres ``float32 [H,W]`` with the focal length (pixels) it was scaled with.

    ``focal_source`` says where the focal length came from: ``"exif"``, ``"model"`` or ``"user"``.
    """

    depth: np.ndarray
    focal_px: float
    focal_source: str = "model"
    model: str | None = None
    seconds: float | None = None

    @property
    def height(self) -> int:
        return int(self.depth.shape[0])

    @property
    def width(self) -> int:
        return int(self.depth.shape[1])

    @property
    def fov_deg(self) -> float:
        """Horizontal field of view implied by the focal length."""
        return float(np.degrees(2.0 * np.arctan(0.5 * self.width / self.focal_px)))

    def intrinsics(self) -> np.ndarray:
        """Pinhole intrinsics ``K`` (3x3) with the principal point at the image centre."""
        return np.array(
            [
                [self.focal_px, 0.0, self.width / 2.0],
                [0.0, self.focal_px, self.height / 2.0],
                [0.0, 0.0, 1.0],
            ],
            dtype=np.float64,
        )
