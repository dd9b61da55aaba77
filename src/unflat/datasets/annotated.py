"""NYU Depth v2 and KITTI test frames, as published with a ``test_annotations.json``.

The layout: ``rgb/`` and ``depth/`` (16-bit PNG) folders and an annotation file listing every
frame's files, intrinsics ``cam_in`` (fx, fy, cx, cy) and ``depth_scale`` (PNG units per metre).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from unflat.datasets.folder import (
    Sample,
    load_dataset,
    read_json,
    read_png16,
    staged_output,
)
from unflat.errors import InputError
from unflat.io.atomic import write_json


def _annotated_file(src_dir: Path, listed: str, folder: str) -> Path:
    # The annotation paths carry the original repository's prefix (data/nyu_demo/rgb/...):
    # take them as given when they exist, else find the file by name in the local folder.
    direct = src_dir / listed
    return direct if direct.is_file() else src_dir / folder / Path(listed).name


def _convert_annotated(
    src_dir: Path,
    out_dir: Path,
    name: str,
    min_depth: float,
    max_depth: float,
    overwrite: bool,
) -> list[Sample]:
    """Convert the ``rgb/``, ``depth/``, ``test_annotations.json`` layout (NYU, KITTI)."""
    annotations_path = src_dir / "test_annotations.json"
    if not annotations_path.is_file():
        raise InputError(
            f"{annotations_path} is missing",
            hint="give the folder that holds rgb/, depth/ and test_annotations.json",
        )
    annotations = read_json(annotations_path)
    files = annotations.get("files") if isinstance(annotations, dict) else None
    if not isinstance(files, list) or not files:
        raise InputError(
            f"{annotations_path} lists no files",
            hint='expected {"files": [{"rgb", "depth", "cam_in": [fx, fy, cx, cy], '
            '"depth_scale"}, ...]}',
        )
    entries = []
    for entry in files:
        try:
            rgb = _annotated_file(src_dir, entry["rgb"], "rgb")
            depth = _annotated_file(src_dir, entry["depth"], "depth")
            fx, fy, cx, cy = (float(v) for v in entry["cam_in"])
            scale = float(entry["depth_scale"])
        except (KeyError, TypeError, ValueError) as error:
            raise InputError(
                f"{annotations_path}: malformed entry {entry!r} ({error})",
                hint="each entry needs rgb, depth, cam_in [fx, fy, cx, cy] and depth_scale",
            ) from error
        for path in (rgb, depth):
            if not path.is_file():
                raise InputError(f"{path} is missing", hint="the annotations list this file")
        entries.append((rgb, depth, {"fx": fx, "fy": fy, "cx": cx, "cy": cy}, scale))
    scales = {scale for *_, scale in entries}
    with staged_output(out_dir, overwrite) as staging:
        (staging / "rgb").mkdir()
        (staging / "depth").mkdir()
        intrinsics = {}
        for rgb, depth, camera, scale in entries:
            sample = rgb.stem
            shutil.copyfile(rgb, staging / "rgb" / f"{sample}{rgb.suffix.lower()}")
            if len(scales) == 1:
                # One scale for all: keep the 16-bit PNGs as they are, lossless and small.
                read_png16(depth)
                shutil.copyfile(depth, staging / "depth" / f"{sample}.png")
            else:
                metres = read_png16(depth).astype(np.float32) / np.float32(scale)
                np.save(staging / "depth" / f"{sample}.npy", metres)
            intrinsics[sample] = camera
        write_json(staging / "intrinsics.json", intrinsics)
        manifest: dict[str, object] = {
            "name": name,
            "min_depth": min_depth,
            "max_depth": max_depth,
        }
        if len(scales) == 1:
            manifest["depth_scale"] = scales.pop()
        write_json(staging / "dataset.json", manifest)
    return load_dataset(out_dir)


def convert_nyu(
    src_dir: str | os.PathLike, out_dir: str | os.PathLike, overwrite: bool = False
) -> list[Sample]:
    """Convert NYU Depth v2 frames (depth PNG / 1000 = metres), evaluated up to 10 m."""
    return _convert_annotated(Path(src_dir), Path(out_dir), "nyu", 1e-3, 10.0, overwrite)


def convert_kitti(
    src_dir: str | os.PathLike, out_dir: str | os.PathLike, overwrite: bool = False
) -> list[Sample]:
    """Convert KITTI frames (depth PNG / 256 = metres, sparse lidar), evaluated up to 80 m."""
    return _convert_annotated(Path(src_dir), Path(out_dir), "kitti", 1e-3, 80.0, overwrite)
