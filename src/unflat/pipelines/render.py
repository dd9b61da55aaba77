"""``unflat render``: a scene file to a camera-motion video (mono or stereo), or to an Apple
spatial photo (``--stereo spatial``: the two eyes of the scene's own camera in one HEIC)."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from unflat.device import pick_device
from unflat.errors import ConfigError, OutputError
from unflat.progress import Progress, note, report
from unflat.splat.outputs import default_camera, load_scene
from unflat.splat.stereo import window_disparity
from unflat.splat.trajectories import depth_range_from_gaussians
from unflat.splat.video import (
    STILL_STEREO_MODES,
    VideoOptions,
    render_stereo_still,
    write_path_video,
)
from unflat.types import Camera, Gaussians

PHOTO_SUFFIXES = (".heic", ".heif")


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
        if self.spatial:
            from unflat.io.spatial_photo import MIN_SIDE

            for name in ("width", "height"):
                side = getattr(options, name)
                if side is not None and side < MIN_SIDE:
                    raise ConfigError(
                        f"--{name} {side} is too small for a spatial photo",
                        hint=f"give at least {MIN_SIDE} pixels per side",
                    )

    @classmethod
    def from_options(cls, options: VideoOptions, **settings: object) -> RenderPipeline:
        """The pipeline for the options of ``unflat render``."""
        return cls(options, **settings)  # type: ignore[arg-type]

    @property
    def spatial(self) -> bool:
        """Whether this writes a spatial photo rather than a video."""
        return self.options.stereo in STILL_STEREO_MODES

    def default_output(self, scene_path: Path) -> Path:
        """``SCENE.PATH.mp4`` beside the scene (``SCENE.spatial.heic`` for a spatial photo)."""
        if self.spatial:
            return scene_path.with_name(f"{scene_path.stem}.spatial.heic")
        return scene_path.with_name(f"{scene_path.stem}.{self.options.path}.mp4")

    def check_target(self, target: Path) -> None:
        """Refuse an output whose kind does not match the request, before any loading."""
        is_photo = target.suffix.lower() in PHOTO_SUFFIXES
        if self.spatial and not is_photo:
            raise ConfigError(
                f"--stereo spatial writes a HEIC photo, not {target.name}",
                hint="name the output NAME.heic, or use --stereo sbs for a side-by-side video",
            )
        if is_photo and not self.spatial:
            raise ConfigError(
                f"{target.name} is a photo, and this would be a video",
                hint="add --stereo spatial for an Apple spatial photo, or write .mp4/.webm/.gif",
            )

    def __call__(
        self,
        scene_path: Path,
        target: Path | None = None,
        *,
        overwrite: bool = False,
        progress: Progress | None = None,
    ) -> tuple[Path, int]:
        """Render ``scene_path`` into ``target``; returns the file written and the scene's size."""
        target = target or self.default_output(scene_path)
        self.check_target(target)
        if target.exists() and not overwrite:
            raise OutputError(f"{target} already exists", hint="pass --overwrite to replace it")
        gaussians, camera = self._load(scene_path)
        with torch.inference_mode():
            if self.spatial:
                written = self._spatial_photo(target, gaussians, camera, overwrite, progress)
            else:
                written = write_path_video(
                    target, gaussians, camera, self.options, overwrite=overwrite, progress=progress
                )
        return written, len(gaussians)

    def _load(self, scene_path: Path) -> tuple[Gaussians, Camera]:
        """The scene on the chosen device and its source camera (or a stand-in, said)."""
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
        camera.K = camera.K.to(device)
        camera.world_to_camera = camera.world_to_camera.to(device)
        return gaussians.to(device), camera

    def _spatial_photo(
        self,
        target: Path,
        gaussians: Gaussians,
        source: Camera,
        overwrite: bool,
        progress: Progress | None,
    ) -> Path:
        """The source camera's two eyes as an Apple spatial photo. The nearest content (the
        scene's 0.1 % depth quantile) is put at the screen plane, so nothing comes out of the
        photo's window: the stereo photographers' rule for a comfortable window."""
        from unflat.io.spatial_photo import SpatialPhoto, write_spatial_photo

        left, right, camera = render_stereo_still(gaussians, source, self.options, progress)
        near = depth_range_from_gaussians(gaussians, source.world_to_camera).near
        K = camera.K.double().cpu()
        focal = (float(K[0, 0]), float(K[1, 1]))
        baseline = self.options.baseline_m
        disparity = min(1.0, window_disparity(focal[0], camera.width, baseline, near))
        photo = SpatialPhoto(
            left, right, focal, (float(K[0, 2]), float(K[1, 2])), baseline, disparity
        )
        report(progress, "write", 0, 1)
        written = write_spatial_photo(target, photo, overwrite=overwrite)
        report(progress, "write", 1, 1)
        return written
