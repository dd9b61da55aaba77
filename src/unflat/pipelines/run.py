"""``unflat run``: one photo to a talking, moving 3D video with sound (the living photo).

Stages, each recorded in ``OUT/run.json`` (:mod:`unflat.pipelines.run_record`) and kept in
``OUT/`` so a rerun resumes from the finished ones:

1. ``depth``: the photo's metric depth (``--depth FILE``, Depth Pro, or the portrait estimate
   from the bundled face mesh) -> ``NAME.depth.npy`` and ``NAME.depth_mm.png``;
2. ``scene``: the photo's Gaussian scene -> ``NAME.ply`` (with its camera sidecar);
3. ``sound``: speech synthesised from ``--text`` (with its phones), a recording (``--audio``)
   or the driver's sound -> ``NAME.speech.wav``;
4. ``video``: the face animated (by the phones' visemes, the recording's loudness, a driving
   video or presets), its warp carried into the scene, rendered from a moving camera ->
   ``NAME.face.mp4`` (the animated photo) and ``NAME.mp4`` (the living photo, with sound);
5. ``sync``: the mouth in ``NAME.face.mp4`` tracked and measured against the sound.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2

from unflat.download import file_sha256
from unflat.errors import InputError
from unflat.io.images import read_photo
from unflat.pipelines.animate import bundled_portrait, probe_driver
from unflat.pipelines.depth_source import DepthSource
from unflat.pipelines.run_context import RunContext, RunFiles, RunSettings
from unflat.pipelines.run_record import RunRecord, check_free
from unflat.pipelines.run_scene import depth_stage, scene_stage
from unflat.pipelines.run_sound import sound_stage, sync_stage
from unflat.pipelines.run_video import video_stage
from unflat.progress import Progress
from unflat.types import Photo

__all__ = ["RunPipeline", "RunResult", "RunSettings"]


@dataclass
class RunResult:
    """What ``unflat run`` wrote: the video, the record and every stage's facts."""

    video: Path
    record: Path
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)


class RunPipeline:
    """Runs the stages for one photo into one output folder (see the module docstring)."""

    def __init__(self, settings: RunSettings) -> None:
        settings.check()
        self.settings = settings
        self.depth_source = DepthSource(
            weights=settings.weights, device=settings.device, precision=settings.precision,
            depth_units=settings.depth_units,
        )  # fmt: skip

    # --- inputs ----------------------------------------------------------------------------

    def _photo(self) -> tuple[Photo, Path]:
        """The photo at working size (its focal length scaled with it) and its file."""
        path = self.settings.photo or bundled_portrait()
        photo = read_photo(path)
        height, width = photo.rgb.shape[:2]
        scale = min(1.0, self.settings.max_size / max(height, width))
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            rgb = cv2.resize(photo.rgb, size, interpolation=cv2.INTER_AREA)
            focal = None if photo.focal_px is None else photo.focal_px * size[0] / width
            photo = Photo(rgb, focal_px=focal, source=photo.source, metadata=photo.metadata)
            self.scale = size[0] / width
        else:
            self.scale = 1.0
        return photo, path

    def _inputs(self, path: Path) -> dict[str, Any]:
        s = self.settings
        files = {"photo": path, "depth": s.depth, "audio": s.audio, "driver": s.driver}
        return {
            name: {"path": str(value), "sha256": file_sha256(value)}
            for name, value in files.items()
            if value is not None and Path(value).is_file()
        }

    # --- the run ---------------------------------------------------------------------------

    def __call__(self, progress: Progress | None = None) -> RunResult:
        s = self.settings
        for source in (s.audio, s.driver, s.depth):
            if source is not None and not source.exists():
                raise InputError(f"{source} does not exist", hint="check the path")
        if s.driver is not None:
            probe_driver(s.driver)
        photo, path = self._photo()
        name = path.stem
        out = s.out.expanduser()
        out.mkdir(parents=True, exist_ok=True)
        inputs = self._inputs(path)
        record = RunRecord(out, inputs)
        files = RunFiles(out, name)
        check_free(files.all(), record, s.overwrite)
        context = RunContext(s, self.depth_source, self.scale, record, files, photo, inputs,
                             progress)  # fmt: skip
        depth_stage(context)
        scene_stage(context)
        sound_stage(context)
        video_stage(context)
        if s.check_sync and not s.no_face and context.audio is not None:
            sync_stage(context)
        return RunResult(files.video, record.path, record.data["stages"])
