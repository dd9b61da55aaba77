"""Scene files on disk: what ``unflat splat`` writes per photo and what ``unflat render`` reads.

Per photo ``NAME``: the scene (``NAME.ply`` in the standard 3DGS layout by default, or
``.splat`` / ``.spz``), optionally a video per camera path (``NAME.PATH.mp4``), and last the
sidecar ``NAME.scene.json`` (the source camera, how the scene was made), whose presence marks
the photo as done. :func:`load_scene` finds the source camera of any scene file: from that
sidecar, else from a SHARP PLY's camera elements, else it returns none.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from unflat import __version__
from unflat.io.atomic import write_json
from unflat.io.gaussians import SUFFIXES, load_gaussians, load_ply_with_metadata
from unflat.types import Camera, Gaussians

SIDECAR_SUFFIX = ".scene.json"


@dataclass(frozen=True)
class SceneOutputs:
    """The files of one photo's scene."""

    base: Path
    suffix: str = ".ply"
    videos: tuple[str, ...] = ()
    video_suffix: str = ".mp4"

    @property
    def scene(self) -> Path:
        return self.base.with_name(self.base.name + self.suffix)

    def video(self, path_name: str) -> Path:
        return self.base.with_name(f"{self.base.name}.{path_name}{self.video_suffix}")

    @property
    def sidecar(self) -> Path:
        return self.base.with_name(self.base.name + SIDECAR_SUFFIX)

    def all(self) -> list[Path]:
        return [self.scene, *(self.video(name) for name in self.videos), self.sidecar]

    def done(self) -> bool:
        return all(path.is_file() for path in self.all())


def sidecar_for(scene_path: Path) -> Path:
    """Where ``unflat splat`` put the sidecar of ``scene_path``."""
    return scene_path.with_name(scene_path.name[: -len(scene_path.suffix)] + SIDECAR_SUFFIX)


def camera_from_record(record: dict[str, Any]) -> Camera | None:
    """The source camera stored in a sidecar, or None when it is incomplete."""
    try:
        K = torch.tensor(record["intrinsics"], dtype=torch.float32)
        width, height = int(record["width"]), int(record["height"])
    except (KeyError, TypeError, ValueError):
        return None
    if K.shape != (3, 3) or width <= 0 or height <= 0:
        return None
    return Camera(K=K, world_to_camera=torch.eye(4), width=width, height=height)


def write_sidecar(path: Path, record: dict[str, Any]) -> None:
    """Write the sidecar atomically (last, so it marks the photo as done)."""
    write_json(path, record | {"unflat": __version__})


def load_scene(path: str | os.PathLike[str]) -> tuple[Gaussians, Camera | None, dict[str, Any]]:
    """Read a scene file and, when known, the camera of the photo it was made from."""
    source = Path(path).expanduser()
    metadata: dict[str, Any] = {}
    if source.suffix.lower() == ".ply":
        gaussians, metadata = load_ply_with_metadata(source)
    else:
        gaussians = load_gaussians(source)
    camera = None
    sidecar = sidecar_for(source)
    if source.suffix.lower() in SUFFIXES and sidecar.is_file():
        try:
            record = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            record = {}
        if isinstance(record, dict):
            camera = camera_from_record(record)
            if isinstance(record.get("render_eps2d"), int | float):
                metadata["render_eps2d"] = float(record["render_eps2d"])
        metadata["sidecar"] = str(sidecar)
    if camera is None and "intrinsic" in metadata and "image_size" in metadata:
        K = np.asarray(metadata["intrinsic"], dtype=np.float64)
        size = np.asarray(metadata["image_size"]).ravel()
        if K.shape == (3, 3) and size.size == 2 and size.min() > 0:
            camera = Camera(
                K=torch.from_numpy(K).float(),
                world_to_camera=torch.eye(4),
                width=int(size[0]),
                height=int(size[1]),
            )
    return gaussians, camera, metadata


def default_camera(width: int = 1024, height: int = 768) -> Camera:
    """A camera for a scene of unknown origin: at the origin, looking down +z, 60° wide."""
    return Camera.pinhole(width, height, width / (2.0 * np.tan(np.radians(30.0))))
