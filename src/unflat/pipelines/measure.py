"""``unflat measure``: the distance in metres between two pixels' points, from any depth.

The depth comes from :class:`~unflat.pipelines.depth_source.DepthSource` (a depth file, else
Depth Pro); the points from :func:`unflat.geometry.measure.point_at` with the depth map's focal
length and the principal point at the image centre, or where ``principal_point`` says (a
calibrated camera's ``cx, cy`` in the pixels' own convention: pixel ``(0, 0)``'s centre is
``0, 0``, as OpenCV and Middlebury write them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unflat.errors import ConfigError
from unflat.geometry.measure import DEPTH_WINDOW, check_pixel, point_at
from unflat.io.images import read_photo
from unflat.pipelines.depth_source import DepthSource


@dataclass(frozen=True)
class Measurement:
    """Two pixels, their 3D points (metres, camera frame) and the distance between them."""

    pixels: tuple[tuple[float, float], tuple[float, float]]
    points: tuple[np.ndarray, np.ndarray]
    focal_px: float
    focal_source: str

    @property
    def metres(self) -> float:
        return float(np.linalg.norm(self.points[0] - self.points[1]))


class MeasurePipeline:
    """Measures between pixels of photos; ``window`` is the robust depth's half side."""

    def __init__(
        self,
        *,
        depth_source: DepthSource | None = None,
        window: int = DEPTH_WINDOW,
        principal_point: tuple[float, float] | None = None,
    ) -> None:
        if principal_point is not None and not all(map(math.isfinite, principal_point)):
            raise ConfigError(
                f"principal point {principal_point} is not a pixel", hint="e.g. 322.0,243.4"
            )
        self.depth_source = depth_source or DepthSource()
        self.window, self.principal_point = window, principal_point

    @classmethod
    def from_options(
        cls, principal_point: tuple[float, float] | None = None, **depth_options: object
    ) -> MeasurePipeline:
        """The pipeline for ``unflat measure``'s options (``depth_options``: DepthSource's)."""
        source = DepthSource(**depth_options)  # type: ignore[arg-type]
        return cls(depth_source=source, principal_point=principal_point)

    def __call__(
        self,
        photo_path: Path,
        first: tuple[float, float],
        second: tuple[float, float],
        *,
        depth_path: Path | None = None,
    ) -> Measurement:
        """Measure from ``first`` to ``second`` (pixels ``(x, y)``) in ``photo_path``."""
        photo = read_photo(photo_path)
        for pixel in (first, second):  # before minutes of depth estimation
            check_pixel(*pixel, photo.width, photo.height)
        depth_map = self.depth_source(photo, depth_path)
        K = depth_map.intrinsics()
        if self.principal_point is not None:  # K's pixel frame has pixel centres at +0.5
            K[0, 2], K[1, 2] = (value + 0.5 for value in self.principal_point)
        points = tuple(
            point_at(depth_map.depth, K, *p, window=self.window) for p in (first, second)
        )
        return Measurement((first, second), points, depth_map.focal_px, depth_map.focal_source)
