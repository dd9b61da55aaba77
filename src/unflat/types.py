"""The plain data types that flow between unflat's stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported lazily: `import unflat` and `unflat --help` stay quick
    import torch


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


@dataclass
class Gaussians:
    """A 3D Gaussian scene: ``N`` anisotropic Gaussians as torch tensors on one device.

    ``means [N,3]`` in metres (OpenCV camera frame of the source photo: x right, y down,
    z forward), ``scales [N,3]`` standard deviations along the Gaussian's axes, ``quats [N,4]``
    rotations as (w, x, y, z), ``colors [N,3]`` linear RGB, ``opacities [N]`` in [0, 1].
    """

    means: torch.Tensor
    scales: torch.Tensor
    quats: torch.Tensor
    colors: torch.Tensor
    opacities: torch.Tensor

    def __len__(self) -> int:
        return int(self.means.shape[0])

    def to(self, device: torch.device | str) -> Gaussians:
        """The same scene with every tensor on ``device``."""
        return Gaussians(
            means=self.means.to(device),
            scales=self.scales.to(device),
            quats=self.quats.to(device),
            colors=self.colors.to(device),
            opacities=self.opacities.to(device),
        )


@dataclass
class Camera:
    """A pinhole camera with OpenCV axes (x right, y down, z forward).

    ``K`` is the 3x3 intrinsics in pixels, ``world_to_camera`` the 4x4 extrinsics, and the
    image is ``width`` x ``height`` pixels.
    """

    K: torch.Tensor
    world_to_camera: torch.Tensor
    width: int
    height: int
