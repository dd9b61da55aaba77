"""Where a photo's metric depth comes from, for every job that needs one.

One precedence, so ``unflat run``, ``refocus``, ``measure`` and video depth agree:

1. a depth file the user gave (``--depth FILE``), read in its units (``--depth-units``);
2. Depth Pro, when its weights are installed (or ``weights`` names a file);
3. a portrait depth built from the face mesh, the person mask and a background plane
   (:func:`unflat.face.relief.portrait_depth`), when the photo shows a face;
4. otherwise no depth: a ``WeightsError`` saying how to get some.

The focal length follows :meth:`Photo.known_focal` (the user's, else EXIF), else the depth
file's sidecar, else Depth Pro's estimate; a portrait depth without one assumes a 50 mm
equivalent lens (``focal_source="default"``).
"""

from __future__ import annotations

from pathlib import Path

from unflat.depth.predict import DepthEstimator
from unflat.errors import InputError, WeightsError
from unflat.face.relief import NoFaceError, portrait_depth
from unflat.io.depth_files import parse_depth_units, read_depth
from unflat.progress import Progress, note
from unflat.splat.scene import depth_sidecar_focal, fit_depth
from unflat.types import DepthMap, Photo


class DepthSource:
    """Gives photos their metric depth; Depth Pro loads on first use and is kept."""

    def __init__(
        self,
        *,
        weights: str | None = None,
        device: str = "auto",
        precision: str = "auto",
        focal_px: float | None = None,
        depth_units: str | float = "auto",
    ) -> None:
        self.weights, self.device, self.precision = weights, device, precision
        self.focal_px = focal_px
        self.depth_units = parse_depth_units(depth_units)
        self._estimator: DepthEstimator | None = None

    @property
    def has_depth_pro(self) -> bool:
        """Whether Depth Pro can run here (weights given or already downloaded)."""
        from unflat.weights import is_cached

        return self.weights is not None or is_cached("depth-pro")

    @property
    def estimator(self) -> DepthEstimator:
        """The loaded Depth Pro model (loaded on first use)."""
        if self._estimator is None:
            self._estimator = DepthEstimator.from_options(
                self.weights, "depth-pro", self.device, self.precision
            )
        return self._estimator

    @property
    def weights_sha256(self) -> str | None:
        """The sha256 of the Depth Pro weights used, once loaded."""
        return None if self._estimator is None else self._estimator.weights_sha256

    def __call__(
        self, photo: Photo, depth_path: Path | None = None, progress: Progress | None = None
    ) -> DepthMap:
        """The metric depth of ``photo``: from ``depth_path`` when given, else estimated
        (``progress`` hears Depth Pro's forward pass)."""
        if depth_path is not None:
            return self.from_file(photo, depth_path)
        if self.has_depth_pro:
            return self.estimator.predict(photo, f_px=self.focal_px, progress=progress)
        return self.portrait(photo)

    def portrait(self, photo: Photo) -> DepthMap:
        """The portrait depth of ``photo`` (no weights needed); a ``WeightsError`` without a
        face, since then only a depth file or Depth Pro can give one."""
        focal, source = photo.known_focal(self.focal_px)
        try:
            depth = portrait_depth(photo.rgb, focal_px=focal, focal_source=source or "user")
        except NoFaceError:
            raise WeightsError(
                f"no depth for {photo.source or 'the photo'}: Depth Pro weights are not "
                "installed, and it shows no face for a portrait depth",
                hint="give --depth FILE (a metric depth map, e.g. from a phone), or fetch "
                "`unflat models fetch depth-pro`",
            ) from None
        name = Path(photo.source).name if photo.source else "the photo"
        note(
            f"{name}: depth is a portrait estimate from the face mesh; for better depth, "
            "`unflat models fetch depth-pro`"
        )
        return depth

    def from_file(self, photo: Photo, depth_path: Path) -> DepthMap:
        """The depth map in ``depth_path``, at the photo's size, with a focal length."""
        read = read_depth(depth_path, self.depth_units)
        if read.assumed:
            note(f"{depth_path.name}: {read.assumed}; pass --depth-units to say otherwise")
        metres = fit_depth(read.metres, photo.width, photo.height, str(depth_path))
        focal, source = photo.known_focal(self.focal_px)
        if focal is None:
            focal, source = depth_sidecar_focal(depth_path), "depth"
        if focal is None and self.has_depth_pro:
            focal, source = float(self.estimator.predict(photo).focal_px), "depth-pro"
        if focal is None:
            raise InputError(
                f"no focal length for {photo.source or 'the photo'}: no EXIF and no sidecar "
                f"beside {depth_path.name}",
                hint="give --focal-px (e.g. 0.8 x the image width for a phone's main camera)",
            )
        return DepthMap(metres, float(focal), focal_source=source or "user", model=None)
