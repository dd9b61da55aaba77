"""``unflat depth``: photos to metric depth maps, previews and point clouds on disk.

Depth Pro's when its weights are given or installed; without them, a photo with a face gets the
portrait depth of :class:`~unflat.pipelines.depth_source.DepthSource` (recorded as model
``portrait-mesh``), and any other photo Depth Pro's error saying how to fetch it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unflat import __version__
from unflat.depth.predict import DepthEstimator
from unflat.errors import ConfigError, WeightsError
from unflat.io.atomic import write_json
from unflat.io.depth_files import save_depth_npy, save_depth_png16, save_inverse_depth_preview
from unflat.io.images import read_photo
from unflat.io.pointcloud import depth_to_points, save_ply_points
from unflat.pipelines.depth_source import DepthSource
from unflat.progress import Progress, prefixed
from unflat.types import DepthMap, Photo


@dataclass(frozen=True)
class DepthOutputs:
    """The files written for one photo; the JSON sidecar is written last and marks completion."""

    base: Path
    ply: bool = False
    preview: bool = True

    @property
    def npy(self) -> Path:
        return self.base.with_name(self.base.name + ".depth.npy")

    @property
    def png16(self) -> Path:
        return self.base.with_name(self.base.name + ".depth_mm.png")

    @property
    def preview_path(self) -> Path:
        return self.base.with_name(self.base.name + ".preview.jpg")

    @property
    def ply_path(self) -> Path:
        return self.base.with_name(self.base.name + ".points.ply")

    @property
    def sidecar(self) -> Path:
        return self.base.with_name(self.base.name + ".json")

    def all(self) -> list[Path]:
        paths = [self.npy, self.png16]
        if self.preview:
            paths.append(self.preview_path)
        if self.ply:
            paths.append(self.ply_path)
        return [*paths, self.sidecar]

    def done(self) -> bool:
        return all(path.is_file() for path in self.all())


def write_depth_outputs(
    outputs: DepthOutputs, photo: Photo, result: DepthMap, weights_sha256: str | None
) -> None:
    """Write every output of one photo; the sidecar last, so a crash leaves it unfinished."""
    save_depth_npy(outputs.npy, result.depth)
    save_depth_png16(outputs.png16, result.depth)
    if outputs.preview:
        save_inverse_depth_preview(outputs.preview_path, result.depth)
    if outputs.ply:
        depth = result.depth
        points = depth_to_points(depth, result.intrinsics())
        valid = np.isfinite(depth) & (depth > 0)
        save_ply_points(outputs.ply_path, points, photo.rgb[valid])
    sidecar = {
        "source": str(photo.source) if photo.source else None,
        "width": result.width,
        "height": result.height,
        "focal_px": result.focal_px,
        "focal_source": result.focal_source,
        "fov_deg": result.fov_deg,
        "depth_min_m": float(np.nanmin(result.depth)),
        "depth_max_m": float(np.nanmax(result.depth)),
        "model": result.model,
        "weights_sha256": weights_sha256,
        "precision": result.precision,
        "seconds": result.seconds,
        "unflat": __version__,
        "files": {
            "depth_npy": outputs.npy.name,
            "depth_png_mm": outputs.png16.name,
            "preview": outputs.preview_path.name if outputs.preview else None,
            "ply": outputs.ply_path.name if outputs.ply else None,
        },
    }
    write_json(outputs.sidecar, sidecar)


class DepthPipeline:
    """Photo -> metric depth (Depth Pro), and the files ``unflat depth`` writes per photo.

    The model loads on the first photo that needs it, so resuming a finished batch costs
    nothing; it is then reused for every photo.
    """

    def __init__(
        self,
        *,
        weights: str | None = None,
        model: str = "depth-pro",
        device: str = "auto",
        precision: str = "auto",
        focal_px: float | None = None,
        ply: bool = False,
        preview: bool = True,
        overwrite: bool = False,
    ) -> None:
        if focal_px is not None and not focal_px > 0:
            raise ConfigError(
                f"--focal-px must be positive, got {focal_px}", "give pixels, e.g. 1200"
            )
        self.weights, self.model, self.device, self.precision = weights, model, device, precision
        self.focal_px, self.ply, self.preview = focal_px, ply, preview
        self.overwrite = overwrite
        self._estimator: DepthEstimator | None = None
        # The stage inside one photo (loading, then Depth Pro); the batch's caller sets it.
        self.progress: Progress | None = None

    @classmethod
    def from_options(cls, **options: object) -> DepthPipeline:
        """The pipeline for the options of ``unflat depth`` (same names, same defaults)."""
        return cls(**options)  # type: ignore[arg-type]

    @property
    def estimator(self) -> DepthEstimator:
        """The loaded Depth Pro model (loaded on first use)."""
        if self._estimator is None:
            self._estimator = DepthEstimator.from_options(
                self.weights, self.model, self.device, self.precision
            )
        return self._estimator

    @property
    def weights_sha256(self) -> str | None:
        """The sha256 of the Depth Pro weights used, once loaded (None for portrait depth)."""
        return None if self._estimator is None else self._estimator.weights_sha256

    def _without_weights(self) -> bool:
        """True when Depth Pro cannot run: no weights given and none downloaded."""
        from unflat.weights import is_cached

        return self.weights is None and self.model == "depth-pro" and not is_cached(self.model)

    def __call__(self, photo: Photo | str | Path, progress: Progress | None = None) -> DepthMap:
        """Metric depth of one photo (a :class:`Photo` or a file); ``progress`` hears the
        network's forward pass (stage ``"Depth Pro"``)."""
        if not isinstance(photo, Photo):
            photo = read_photo(photo)
        if self._estimator is None and self._without_weights():
            try:
                return DepthSource(focal_px=self.focal_px).portrait(photo)
            except WeightsError:
                pass  # no face: Depth Pro's own error (below) says how to fetch its weights
        return self.estimator.predict(photo, f_px=self.focal_px, progress=progress)

    # --- files, as a batch job --------------------------------------------------------------

    def check_inputs(self, paths: list[Path]) -> None:
        """Any set of photos will do."""

    def outputs(self, base: Path) -> DepthOutputs:
        return DepthOutputs(base, ply=self.ply, preview=self.preview)

    def output_files(self, base: Path) -> list[Path]:
        """Every file written for ``base``, the sidecar (completion marker) last."""
        return self.outputs(base).all()

    def done(self, base: Path) -> bool:
        return self.outputs(base).done()

    def process(self, path: Path, base: Path) -> None:
        """Depth of the photo at ``path``, written beside ``base``."""
        photo = read_photo(path)
        result = self(photo, progress=prefixed(self.progress, f"{path.name}: "))
        write_depth_outputs(self.outputs(base), photo, result, self.weights_sha256)
