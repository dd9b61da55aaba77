"""``unflat splat``: photos to Gaussian scenes (SHARP when installed, else photo + depth).

:class:`ScenePipeline` decides, per photo, where the geometry and the focal length come from:

- geometry: a depth file given (a metric depth map from ``unflat depth``, a phone or any tool)
  -> :func:`~unflat.splat.rgbd.from_rgbd`; else SHARP when asked for or already downloaded;
  else Depth Pro's depth (when downloaded) -> ``from_rgbd``; else, for a photo with a face,
  the portrait depth of :class:`~unflat.pipelines.depth_source.DepthSource` -> ``from_rgbd``;
  else a clear error saying how to get depth;
- focal length: :meth:`Photo.known_focal` (the user's, else EXIF), else the depth file's
  sidecar (``NAME.json`` written by ``unflat depth``), else Depth Pro's estimate, else the
  portrait depth's default lens; else an error asking for ``--focal-px``.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from unflat.depth.predict import DepthEstimator
from unflat.errors import ConfigError, InputError
from unflat.io.depth_files import parse_depth_units, read_depth
from unflat.io.gaussians import save_gaussians
from unflat.io.images import read_photo
from unflat.pipelines.depth_source import DepthSource
from unflat.progress import Progress, note, prefixed, report
from unflat.splat.outputs import SceneOutputs, write_sidecar
from unflat.splat.rgbd import from_rgbd
from unflat.splat.scene import Scene, depth_sidecar_focal, downscale, fit_depth
from unflat.splat.trajectories import TRAJECTORIES, TrajectoryOptions
from unflat.splat.video import VideoOptions, write_path_video
from unflat.types import Camera, Photo

METHODS = ("auto", "sharp", "rgbd")
#: The precision paths ``auto`` may run SHARP in: those whose error against fp32 is recorded
#: (tests/nn/test_inference.py: int8-fp32 1e-5 relative depth). An explicit --precision is obeyed.
SHARP_FAITHFUL = ("fp32", "int8-fp32")
PATH_NAMES = "swipe, shake, rotate, rotate_forward, dolly_zoom, orbit or ken_burns."
_DEPTH_NAMES = (".depth.npy", ".depth_mm.png", ".npy", ".png", ".pfm", ".tif", ".exr")


def depth_file_for(photo: Path, depth: Path | None) -> Path | None:
    """The depth file of ``photo``: ``depth`` itself, or its match by name in a folder.

    In a folder, ``NAME.jpg.depth.npy`` (how a batch names the outputs of ``NAME.jpg`` when
    ``NAME.png`` is beside it) comes before ``NAME.depth.npy``.
    """
    if depth is None or depth.is_file():
        return depth
    if not depth.is_dir():
        raise InputError(f"--depth {depth} does not exist", hint="give a depth file or folder")
    for name in (photo.name, photo.stem):
        for suffix in _DEPTH_NAMES:
            if (depth / f"{name}{suffix}").is_file():
                return depth / f"{name}{suffix}"
    raise InputError(
        f"no depth map for {photo.name} in {depth}",
        hint=f"name it {photo.stem}.depth.npy (as `unflat depth` does) or {photo.stem}.png (mm)",
    )


class ScenePipeline:
    """Photos to scenes; models load on first use and are reused across photos."""

    def __init__(
        self,
        *,
        method: str = "auto",
        weights: str | None = None,
        depth_weights: str | None = None,
        device: str = "auto",
        precision: str = "auto",
        focal_px: float | None = None,
        depth_units: str | float = "auto",
        background: bool = True,
        max_size: int | None = 1024,
    ) -> None:
        if method not in METHODS:
            raise ConfigError(f"unknown method {method!r}", hint=f"use one of {', '.join(METHODS)}")
        if focal_px is not None and not focal_px > 0:
            raise ConfigError(f"--focal-px must be positive, got {focal_px}", "e.g. 1200")
        if max_size and max_size < 16:  # 0 (or None): full size
            raise ConfigError(f"--max-size {max_size} is too small", "use at least 16, or 0")
        self.method = method
        self.weights = weights
        self.depth_weights = depth_weights
        self.device = device
        self.precision = precision
        self.focal_px = focal_px
        self.depth_units = parse_depth_units(depth_units)
        self.background = background
        self.max_size = max_size or None
        self._sharp: torch.nn.Module | None = None
        self._depth_estimator: DepthEstimator | None = None
        self.weights_sha256: str | None = None

    @classmethod
    def from_options(cls, **options: object) -> ScenePipeline:
        """The pipeline for the options of ``unflat splat`` (same names, same defaults)."""
        return cls(**options)  # type: ignore[arg-type]

    # --- which geometry -------------------------------------------------------------------

    def _use_sharp(self, has_depth: bool) -> bool:
        from unflat.weights import is_cached

        if self.method == "rgbd" or has_depth:
            return False
        if self.method == "sharp":
            return True
        return self.weights is not None or is_cached("sharp")

    def _can_estimate_depth(self) -> bool:
        from unflat.weights import is_cached

        return self.depth_weights is not None or is_cached("depth-pro")

    def _estimator(self) -> DepthEstimator:
        if self._depth_estimator is None:
            self._depth_estimator = DepthEstimator.from_options(
                self.depth_weights, "depth-pro", self.device, self.precision
            )
        return self._depth_estimator

    def _sharp_model(self) -> torch.nn.Module:
        if self._sharp is None:
            from unflat.device import check_precision, pick_device, resolve_precision
            from unflat.nn.inference import apply_precision
            from unflat.nn.vit import VisionTransformer
            from unflat.weights import load_model, resolve_weights, weights_id

            device = pick_device(self.device)
            if self.precision != "auto":  # before gigabytes of weights are loaded
                check_precision(self.precision, device)
            file = resolve_weights("sharp", self.weights)
            network = load_model("sharp", device=device, weights=file)
            precision = resolve_precision(
                self.precision, device, model="SHARP", faithful=SHARP_FAITHFUL
            )
            apply_precision(network, precision, device, (VisionTransformer,))
            self._sharp = network
            self.weights_sha256 = weights_id(file)
        return self._sharp

    # --- the scene -----------------------------------------------------------------------

    def __call__(
        self, photo: Photo, depth_path: Path | None = None, progress: Progress | None = None
    ) -> Scene:
        """The scene of ``photo``, from the depth file ``depth_path`` when given; ``progress``
        hears the network's forward pass (stage ``"SHARP"`` or ``"Depth Pro"``)."""
        start = time.perf_counter()
        depth = None
        sidecar_focal = None
        if depth_path is not None:
            read = read_depth(depth_path, self.depth_units)
            if read.assumed:
                note(f"{depth_path.name}: {read.assumed}; pass --depth-units to say otherwise")
            depth = fit_depth(read.metres, photo.width, photo.height, str(depth_path))
            sidecar_focal = depth_sidecar_focal(depth_path)
        if self._use_sharp(depth is not None):
            return self._sharp_scene(photo, start, progress)
        depth_source = str(depth_path) if depth_path is not None else None
        fallback_source = "depth"
        if depth is None:
            if self._can_estimate_depth():
                known = photo.known_focal(self.focal_px)[0]
                estimate = self._estimator().predict(photo, f_px=known, progress=progress)
                depth_source = "depth-pro"
            else:  # no weights at all: a portrait depth, or DepthSource's WeightsError
                estimate = DepthSource(focal_px=self.focal_px).portrait(photo)
                depth_source, fallback_source = estimate.model, estimate.focal_source
            depth = estimate.depth
            if photo.known_focal(self.focal_px)[0] is None:
                sidecar_focal = estimate.focal_px
        focal, focal_source = self._focal(photo, sidecar_focal, fallback_source, progress)
        rgb, depth, scale = downscale(photo.rgb, depth, self.max_size)
        height, width = rgb.shape[:2]
        camera = Camera.pinhole(width, height, focal * scale)
        gaussians = from_rgbd(rgb, depth, camera.K.numpy(), background=self.background)
        return Scene(
            gaussians,
            camera,
            "rgbd",
            focal * scale,
            focal_source,
            depth_source=depth_source,
            seconds=time.perf_counter() - start,
        )

    def _sharp_scene(self, photo: Photo, start: float, progress: Progress | None) -> Scene:
        from unflat.splat.predict import predict_gaussians

        focal, focal_source = self._focal(photo, None, progress=progress)
        gaussians = predict_gaussians(self._sharp_model(), photo.rgb, focal, progress)
        camera = Camera.pinhole(photo.width, photo.height, focal)
        seconds = time.perf_counter() - start
        return Scene(gaussians.to("cpu"), camera, "sharp", focal, focal_source, seconds=seconds)

    def _focal(
        self,
        photo: Photo,
        fallback: float | None,
        fallback_source: str = "depth",
        progress: Progress | None = None,
    ) -> tuple[float, str]:
        """The focal length in pixels of ``photo`` and where it came from."""
        focal, source = photo.known_focal(self.focal_px)
        if focal is not None and source is not None:
            return focal, source
        if fallback is not None:
            return float(fallback), fallback_source
        if self._can_estimate_depth():
            estimate = self._estimator().predict(photo, progress=progress)
            return float(estimate.focal_px), "depth-pro"
        raise InputError(
            f"no focal length for {photo.source or 'the photo'}: no EXIF, and Depth Pro weights "
            "are not installed to estimate it",
            hint="give --focal-px (e.g. 0.8 x the image width for a phone's main camera), or "
            "fetch Depth Pro: `unflat models fetch depth-pro`",
        )


class SceneJob:
    """``unflat splat``'s work per photo: the scene file, its camera-path videos, the sidecar.

    The sidecar (``NAME.scene.json``) is written last and marks the photo as done.
    """

    def __init__(
        self,
        pipeline: ScenePipeline,
        *,
        depth: Path | None = None,
        scene_format: str = "ply",
        axes: str = "opencv",
        videos: tuple[str, ...] = (),
        video_format: str = "mp4",
        path_options: TrajectoryOptions | None = None,
        overwrite: bool = False,
    ) -> None:
        for name in videos:
            if name not in TRAJECTORIES:
                raise ConfigError(f"unknown camera path {name!r}", hint=f"use one of: {PATH_NAMES}")
        self.path_options = path_options or TrajectoryOptions()
        self.path_options.total_frames  # noqa: B018 - validates fps/seconds before any work
        self.pipeline, self.depth, self.axes, self.videos = pipeline, depth, axes, tuple(videos)
        self.scene_format, self.video_format, self.overwrite = scene_format, video_format, overwrite
        # Stages inside one photo (the scene, each video); the batch runner's caller sets it.
        self.progress: Progress | None = None

    def check_inputs(self, paths: list[Path]) -> None:
        """One depth file cannot serve several photos."""
        if self.depth is not None and self.depth.is_file() and len(paths) > 1:
            raise ConfigError(
                f"one --depth file for {len(paths)} photos",
                hint="give a folder of depth maps named like the photos",
            )

    def outputs(self, base: Path) -> SceneOutputs:
        return SceneOutputs(base, f".{self.scene_format}", self.videos, f".{self.video_format}")

    def output_files(self, base: Path) -> list[Path]:
        """Every file written for ``base``, the sidecar (completion marker) last."""
        return self.outputs(base).all()

    def done(self, base: Path) -> bool:
        return self.outputs(base).done()

    def process(self, path: Path, base: Path) -> None:
        """The scene of the photo at ``path`` and its files beside ``base``."""
        photo = read_photo(path)
        stage = f"{path.name}: 3D scene"
        report(self.progress, stage, 0, 1)
        # the network's own bar beside this one: photo.png: SHARP (or: Depth Pro)
        network = prefixed(self.progress, f"{path.name}: ")
        scene = self.pipeline(photo, depth_file_for(path, self.depth), network)
        self.write(path, base, scene)

    def write(self, path: Path, base: Path, scene: Scene) -> None:
        """The files of ``scene`` (made from the photo at ``path``) beside ``base``, the
        sidecar last; a batch on a cluster calls it apart from the model's work."""
        stage = f"{path.name}: 3D scene"
        files = self.outputs(base)
        save_gaussians(files.scene, scene.gaussians, axes=self.axes)
        report(self.progress, stage, 1, 1)
        for name in self.videos:
            options = VideoOptions(path=name, path_options=self.path_options, eps2d=scene.eps2d)
            video = files.video(name)
            bar = _renamed(self.progress, f"{path.name}: {video.name}")
            write_path_video(video, scene.gaussians, scene.camera, options, progress=bar)
        sharp = scene.method == "sharp"
        record = scene.metadata() | {
            "source": str(path),
            "scene": files.scene.name,
            "axes": self.axes,
            "videos": [files.video(name).name for name in self.videos],
            "weights_sha256": self.pipeline.weights_sha256 if sharp else None,
        }
        write_sidecar(files.sidecar, record)


def _renamed(progress: Progress | None, stage: str) -> Progress | None:
    """``progress`` with every report under ``stage`` (one bar per video, named by its file)."""
    if progress is None:
        return None
    return lambda _stage, done, total: progress(stage, done, total)
