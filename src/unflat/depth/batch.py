"""Depth for many photos: output naming, resuming, and going on past bad files."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unflat import __version__, batch
from unflat.batch import BatchReport
from unflat.io.atomic import atomic_write
from unflat.io.depth_files import save_depth_npy, save_depth_png16, save_inverse_depth_preview
from unflat.io.images import read_photo
from unflat.io.pointcloud import depth_to_points, save_ply_points
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


def write_outputs(
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
        "seconds": result.seconds,
        "unflat": __version__,
        "files": {
            "depth_npy": outputs.npy.name,
            "depth_png_mm": outputs.png16.name,
            "preview": outputs.preview_path.name if outputs.preview else None,
            "ply": outputs.ply_path.name if outputs.ply else None,
        },
    }
    with atomic_write(outputs.sidecar) as temporary:
        temporary.write_text(json.dumps(sidecar, indent=2) + "\n")


def run_batch(
    inputs: list[Path],
    out_dir: Path,
    predict: Callable[[Photo], DepthMap],
    weights_sha256: Callable[[], str | None],
    ply: bool = False,
    preview: bool = True,
    overwrite: bool = False,
    progress: Callable[[Iterable], Iterable] | None = None,
) -> BatchReport:
    """Estimate depth for each input; a bad file is recorded and the batch goes on.

    ``predict`` is called only for photos whose outputs are not already complete, so a rerun
    resumes where an interrupted one stopped (``overwrite`` redoes everything).
    """

    def process(path: Path, base: Path) -> None:
        photo = read_photo(path)
        result = predict(photo)
        write_outputs(DepthOutputs(base, ply=ply, preview=preview), photo, result, weights_sha256())

    return batch.run_batch(
        inputs,
        out_dir,
        process,
        lambda base: DepthOutputs(base, ply=ply, preview=preview).done(),
        overwrite=overwrite,
        progress=progress,
    )
