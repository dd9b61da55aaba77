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
from unflat.errors import OutputError
from unflat.io.atomic import write_json
from unflat.io.gaussians import SUFFIXES, load_gaussians, load_ply_with_metadata, save_gaussians
from unflat.io.guard import error_phrase
from unflat.io.limits import current_limits
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


def _whole(value: Any) -> int | None:
    """``value`` as a positive whole number (JSON may give 640 or 640.0), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not np.isfinite(value) or value != int(value) or value <= 0:
        return None
    return int(value)


def camera_from_record(record: dict[str, Any]) -> Camera | None:
    """The source camera stored in a sidecar, or None when it is incomplete or implausible.

    The intrinsics must be a finite 3x3 matrix with positive focal lengths, and the image no
    larger than ``max_pixels`` (a damaged size would otherwise ask the renderer for a huge frame).
    """
    try:
        K = np.asarray(record["intrinsics"], dtype=np.float64)
        width, height = _whole(record["width"]), _whole(record["height"])
    except (KeyError, TypeError, ValueError):
        return None
    if K.shape != (3, 3) or not np.isfinite(K).all() or K[0, 0] <= 0 or K[1, 1] <= 0:
        return None
    if width is None or height is None or width * height > current_limits().max_pixels:
        return None
    K32 = torch.from_numpy(K).float()
    return Camera(K=K32, world_to_camera=torch.eye(4), width=width, height=height)


def write_sidecar(path: Path, record: dict[str, Any]) -> None:
    """Write the sidecar atomically (last, so it marks the photo as done)."""
    write_json(path, record | {"unflat": __version__})


def read_sidecar(scene_path: Path) -> tuple[dict[str, Any], list[str]]:
    """The sidecar record of ``scene_path`` ({} when there is none) and notes on its damage."""
    sidecar = sidecar_for(scene_path)
    if scene_path.suffix.lower() not in SUFFIXES or not sidecar.is_file():
        return {}, []
    try:
        record = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        why = error_phrase(error)
        return {}, [f"{sidecar.name} cannot be read ({why}); its camera is not used"]
    if not isinstance(record, dict):
        return {}, [f"{sidecar.name} is not a JSON object; its camera is not used"]
    return record, []


def load_scene(
    path: str | os.PathLike[str], axes: str | None = None
) -> tuple[Gaussians, Camera | None, dict[str, Any]]:
    """Read a scene file and, when known, the camera of the photo it was made from.

    The camera comes from the sidecar ``NAME.scene.json``, else from a SHARP PLY's camera
    elements. A ``.splat`` has no room for its axes: the sidecar's ``axes`` applies when the
    sidecar names this file; ``axes`` overrides both. ``metadata["note"]`` says what was ignored.
    """
    source = Path(path).expanduser()
    record, notes = read_sidecar(source)
    named = record.get("scene") == source.name and record.get("axes") in ("opencv", "opengl")
    if axes is None and source.suffix.lower() == ".splat" and named:
        axes = record["axes"]
    metadata: dict[str, Any] = {}
    if source.suffix.lower() == ".ply":
        gaussians, metadata = load_ply_with_metadata(source, axes=axes)  # type: ignore[arg-type]
    else:
        gaussians = load_gaussians(source, **({} if axes is None else {"axes": axes}))
    camera = None
    if record:
        metadata["sidecar"] = str(sidecar_for(source))
        camera = camera_from_record(record)
        if camera is None and "intrinsics" in record:
            notes.append(f"{sidecar_for(source).name} has no usable camera; it is not used")
        eps2d = record.get("render_eps2d")
        if isinstance(eps2d, int | float) and not isinstance(eps2d, bool) and eps2d >= 0:
            metadata["render_eps2d"] = float(eps2d)
    if camera is None and "intrinsic" in metadata and "image_size" in metadata:
        width, height = (int(value) for value in metadata["image_size"])
        K = torch.from_numpy(np.asarray(metadata["intrinsic"], dtype=np.float64)).float()
        camera = Camera(K=K, world_to_camera=torch.eye(4), width=width, height=height)
    if notes:
        metadata["note"] = "; ".join([*filter(None, [metadata.get("note")]), *notes])
    return gaussians, camera, metadata


@dataclass(frozen=True)
class Conversion:
    """What :func:`convert_scene` wrote: the Gaussians, the camera record (if any), notes."""

    count: int
    sidecar: Path | None
    camera: Camera | None
    notes: tuple[str, ...]


def _converted_record(
    source: Path, target: Path, record: dict[str, Any], camera: Camera | None, eps2d: Any
) -> dict[str, Any]:
    """The sidecar of a converted scene: the source's record, now naming ``target``."""
    if camera is None and eps2d is None:
        return {}
    converted = dict(record) | {"scene": target.name, "converted_from": str(source)}
    # .ply and .splat record the axes they were written in; .spz has its own
    converted.pop("axes", None)
    converted["videos"] = []  # the source's videos are not beside the target
    if camera is not None:
        converted |= {"intrinsics": camera.K.tolist(), "width": camera.width}
        converted["height"] = camera.height
    if eps2d is not None:
        converted["render_eps2d"] = float(eps2d)
    return converted


def convert_scene(
    source: Path,
    target: Path,
    *,
    axes: str = "opencv",
    input_axes: str | None = None,
    overwrite: bool = False,
) -> Conversion:
    """Write the scene ``source`` as ``target`` (format by suffix), keeping its camera.

    The camera (from the source's sidecar or SHARP elements) and the renderer's ``eps2d`` go
    into ``TARGET_NAME.scene.json`` beside the target, so ``unflat render`` shows the converted
    scene as the original; a SHARP PLY written as ``.ply`` also keeps SHARP's own camera
    elements. When source and target share one sidecar (same folder and name) it is kept.
    """
    if target.exists() and not overwrite:
        raise OutputError(f"{target} already exists", hint="pass --overwrite to replace it")
    gaussians, camera, metadata = load_scene(source, axes=input_axes)
    notes = [metadata["note"]] if metadata.get("note") else []
    record, _ = read_sidecar(source)
    sharp = metadata.get("layout") == "sharp"
    eps2d = metadata.get("render_eps2d", 0.0 if sharp else None)
    converted = _converted_record(source, target, record, camera, eps2d)
    sidecar = sidecar_for(target)
    shared = sidecar.resolve() == sidecar_for(source).resolve()
    if converted and not shared and sidecar.exists() and not overwrite:
        raise OutputError(
            f"{sidecar} already exists (the camera record of another scene named like "
            f"{target.name})",
            hint="choose another name for the target, or pass --overwrite to replace both",
        )
    options: dict[str, Any] = {"axes": axes}
    if target.suffix.lower() == ".ply" and sharp:
        options["layout"] = "sharp"
        if camera is not None:
            options |= {"intrinsics": camera.K.numpy(), "image_size": (camera.width, camera.height)}
    save_gaussians(target, gaussians, overwrite=overwrite, **options)
    if not converted:
        notes.append(f"{source.name} has no camera record, so {target.name} has none either")
    elif shared:
        sidecar = sidecar_for(source)
        if target.suffix.lower() == ".splat" and axes != "opencv":
            notes.append(f"{sidecar.name} describes {source.name}; read {target.name} as {axes}")
    else:
        if target.suffix.lower() != ".spz":
            converted["axes"] = axes
        write_sidecar(sidecar, converted | {"gaussians": len(gaussians)})
    return Conversion(len(gaussians), sidecar if converted else None, camera, tuple(notes))


def default_camera(width: int = 1024, height: int = 768) -> Camera:
    """A camera for a scene of unknown origin: at the origin, looking down +z, 60° wide."""
    return Camera.pinhole(width, height, width / (2.0 * np.tan(np.radians(30.0))))
