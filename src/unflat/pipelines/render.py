"""``unflat render``: a scene file to a camera-motion video (mono or stereo)."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from unflat.device import pick_device
from unflat.errors import OutputError
from unflat.progress import Progress, note
from unflat.splat.outputs import default_camera, load_scene
from unflat.splat.video import VideoOptions, write_path_video
from unflat.types import Camera


class RenderPipeline:
    """Renders scene files along one camera path; the options are checked before any loading.

    ``focal_px`` replaces the scene's source focal length (for scenes without a camera
    record); ``eps2d`` the low-pass the scene was made for (0.3 px² for other 3DGS files).
    """

    def __init__(
        self,
        options: VideoOptions,
        *,
        focal_px: float | None = None,
        eps2d: float | None = None,
        device: str = "auto",
    ) -> None:
        options.check()
        options.path_options.total_frames  # noqa: B018 - validates the length before loading
        self.options, self.focal_px, self.eps2d, self.device = options, focal_px, eps2d, device

    @classmethod
    def from_options(cls, options: VideoOptions, **settings: object) -> RenderPipeline:
        """The pipeline for the options of ``unflat render``."""
        return cls(options, **settings)  # type: ignore[arg-type]

    def default_output(self, scene_path: Path) -> Path:
        """``SCENE.PATH.mp4`` beside the scene."""
        return scene_path.with_name(f"{scene_path.stem}.{self.options.path}.mp4")

    def __call__(
        self,
        scene_path: Path,
        target: Path | None = None,
        *,
        overwrite: bool = False,
        progress: Progress | None = None,
    ) -> tuple[Path, int]:
        """Render ``scene_path`` into ``target``; returns the video and the scene's size."""
        target = target or self.default_output(scene_path)
        if target.exists() and not overwrite:
            raise OutputError(f"{target} already exists", hint="pass --overwrite to replace it")
        gaussians, camera, metadata = load_scene(scene_path)
        if metadata.get("note"):  # camera data that was damaged and left out
            note(metadata["note"])
        if self.focal_px is not None:
            base = camera or default_camera()
            camera = Camera.pinhole(base.width, base.height, self.focal_px)
        if camera is None:
            camera = default_camera()
            print(
                "note: no camera record for this scene; viewing it from the origin along +z "
                "with a 60° field of view (give --focal-px to change it)",
                file=sys.stderr,
            )
        eps2d = self.eps2d
        if eps2d is None:
            sharp = metadata.get("layout") == "sharp"
            eps2d = metadata.get("render_eps2d", 0.0 if sharp else 0.3)
        self.options.eps2d = float(eps2d)
        device = pick_device(self.device)
        gaussians = gaussians.to(device)
        camera.K = camera.K.to(device)
        camera.world_to_camera = camera.world_to_camera.to(device)
        with torch.inference_mode():
            written = write_path_video(
                target,
                gaussians,
                camera,
                self.options,
                overwrite=overwrite,
                progress=progress,
            )
        return written, len(gaussians)
