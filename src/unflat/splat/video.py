"""Camera-motion videos of a Gaussian scene: a path, rendered frame by frame, encoded.

:func:`render_frames` yields sRGB ``uint8`` frames (mono, side-by-side stereo or anaglyph) for
a camera path around the scene's source camera; :func:`write_path_video` encodes them with
:mod:`unflat.io.video` (``.mp4`` H.264, ``.webm`` VP9 or ``.gif``), atomically.
:func:`render_stereo_still` renders the two views of a spatial photo (the source camera itself).

Output size: the source camera's size by default, capped at :data:`DEFAULT_MAX_SIDE` on the
longer side; ``width``/``height`` set it (one of them keeps the aspect ratio). Requests above
:data:`MAX_SIDE` pixels per side (8K and up) are refused: each 8K frame would take minutes on a
CPU and the players people use stop at 4K. When the output aspect ratio differs from the photo's,
the view is cropped around the centre (the focal length scales to cover the frame), never
stretched.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from unflat.colour import linear_to_srgb
from unflat.errors import ConfigError
from unflat.progress import Progress, counted
from unflat.splat.render import check_gaussians, render
from unflat.splat.stereo import EYE_DISTANCE_M, anaglyph, side_by_side, stereo_pair
from unflat.splat.trajectories import (
    TRAJECTORIES,
    DepthRange,
    TrajectoryOptions,
    depth_range_from_gaussians,
    make_trajectory,
)
from unflat.types import Camera, Gaussians

DEFAULT_MAX_SIDE = 1920
MAX_SIDE = 4096
STEREO_MODES = ("sbs", "anaglyph", "spatial")
#: Stereo modes that make one still photo, not a video.
STILL_STEREO_MODES = ("spatial",)


@dataclass
class VideoOptions:
    """What to render: the path, its length, the frame size, stereo and renderer settings.

    ``path`` is one of :data:`~unflat.splat.trajectories.TRAJECTORIES`; ``path_options`` its
    timing and amplitudes (SHARP's defaults: 60 frames, amplitudes from the depth range).
    ``stereo`` is ``None``, ``"sbs"`` (left | right, each at full size), ``"anaglyph"``
    (red-cyan glasses) or ``"spatial"`` (a still pair from the source camera, for an Apple
    spatial photo: :func:`render_stereo_still`), with eyes ``baseline_m`` apart. ``eps2d`` is
    the renderer's low-pass (0.3 px for 3DGS-style scenes; SHARP's own scenes are rendered with
    0).
    """

    path: str = "rotate_forward"
    path_options: TrajectoryOptions = field(default_factory=TrajectoryOptions)
    width: int | None = None
    height: int | None = None
    stereo: str | None = None
    baseline_m: float = EYE_DISTANCE_M
    background: tuple[float, float, float] = (0.0, 0.0, 0.0)
    eps2d: float = 0.3
    backend: str = "auto"

    def check(self) -> None:
        """Raise a ``ConfigError`` for options that cannot work."""
        if self.path not in TRAJECTORIES:
            raise ConfigError(
                f"unknown camera path {self.path!r}", hint="use one of " + ", ".join(TRAJECTORIES)
            )
        if self.stereo is not None and self.stereo not in STEREO_MODES:
            raise ConfigError(
                f"unknown stereo mode {self.stereo!r}",
                hint="use sbs (side by side), anaglyph or spatial (an Apple spatial photo)",
            )
        if not (math.isfinite(self.baseline_m) and self.baseline_m > 0):
            raise ConfigError(f"baseline {self.baseline_m} m must be positive", hint="e.g. 0.063")
        for name in ("width", "height"):
            value = getattr(self, name)
            if value is not None and not 16 <= value <= MAX_SIDE:
                raise ConfigError(
                    f"--{name} {value} is outside 16..{MAX_SIDE} pixels",
                    hint=f"unflat renders up to {MAX_SIDE} px per side (4K); 8K frames would "
                    "take minutes each on a CPU",
                )


def output_camera(source: Camera, width: int | None, height: int | None) -> Camera:
    """``source`` resized to the output size: same pose, focal scaled to cover the frame."""
    if width is None and height is None:
        longest = max(source.width, source.height)
        scale = min(1.0, DEFAULT_MAX_SIDE / longest)
        width, height = round(source.width * scale), round(source.height * scale)
    elif width is None:
        width = round(source.width * height / source.height)
    elif height is None:
        height = round(source.height * width / source.width)
    assert width is not None and height is not None
    if max(width, height) > MAX_SIDE:
        raise ConfigError(
            f"the output would be {width}x{height}, above {MAX_SIDE} px per side",
            hint="give a smaller --width/--height",
        )
    scale = max(width / source.width, height / source.height)
    K = source.K.clone().double()
    K[0, 0] *= scale
    K[1, 1] *= scale
    # Keep the principal point's offset from the centre, scaled; the crop is centred.
    K[0, 2] = width / 2 + (K[0, 2] - source.width / 2) * scale
    K[1, 2] = height / 2 + (K[1, 2] - source.height / 2) * scale
    return Camera(K=K.float(), world_to_camera=source.world_to_camera, width=width, height=height)


def path_cameras(
    gaussians: Gaussians,
    source: Camera,
    options: VideoOptions,
    depth: DepthRange | None = None,
) -> list[Camera]:
    """The cameras of the video, at the output size."""
    options.check()
    camera = output_camera(source, options.width, options.height)
    depth = depth or depth_range_from_gaussians(gaussians, source.world_to_camera)
    return make_trajectory(options.path, camera, depth, options.path_options)


def _frame(gaussians: Gaussians, camera: Camera, options: VideoOptions) -> np.ndarray:
    result = render(
        gaussians, camera, background=options.background, eps2d=options.eps2d,
        backend=options.backend, check_scene=False,
    )  # fmt: skip
    srgb = linear_to_srgb(result.color.float().cpu().numpy())
    return np.clip(np.rint(srgb * 255.0), 0, 255).astype(np.uint8)


def render_frames(
    gaussians: Gaussians, cameras: list[Camera], options: VideoOptions
) -> Iterator[np.ndarray]:
    """Yield one ``uint8 [H,W,3]`` frame per camera (``[H,2W,3]`` side by side)."""
    if options.stereo in STILL_STEREO_MODES:
        raise ConfigError(
            f"--stereo {options.stereo} makes a still photo, not a video",
            hint="write it to NAME.heic (unflat render SCENE --stereo spatial -o NAME.heic)",
        )
    check_gaussians(gaussians)  # once: the scene is the same in every frame
    for camera in cameras:
        if options.stereo is None:
            yield _frame(gaussians, camera, options)
            continue
        left_camera, right_camera = stereo_pair(camera, options.baseline_m)
        left = _frame(gaussians, left_camera, options)
        right = _frame(gaussians, right_camera, options)
        yield side_by_side(left, right) if options.stereo == "sbs" else anaglyph(left, right)


def write_path_video(
    path: str | os.PathLike[str],
    gaussians: Gaussians,
    source: Camera,
    options: VideoOptions,
    *,
    overwrite: bool = True,
    progress: Progress | None = None,
) -> Path:
    """Render the camera path and encode it at ``options.path_options.fps``.

    ``progress`` hears ``("render", frames done, frames)``.
    """
    from unflat.io.video import VideoWriter

    cameras = path_cameras(gaussians, source, options)
    frames = counted(render_frames(gaussians, cameras, options), progress, "render", len(cameras))
    fps = options.path_options.fps
    with torch.inference_mode(), VideoWriter(path, fps, overwrite=overwrite) as writer:
        for frame in frames:
            writer.write(frame)
    return writer.path


def render_stereo_still(
    gaussians: Gaussians,
    source: Camera,
    options: VideoOptions,
    progress: Progress | None = None,
) -> tuple[np.ndarray, np.ndarray, Camera]:
    """The left and right views of the source camera itself (no path), eyes
    ``options.baseline_m`` apart, at the output size; and that camera (the eyes share its
    intrinsics). ``progress`` hears ``("render", eyes done, 2)``."""
    options.check()
    camera = output_camera(source, options.width, options.height)
    check_gaussians(gaussians)
    eyes = counted(stereo_pair(camera, options.baseline_m), progress, "render", 2)
    left, right = (_frame(gaussians, eye, options) for eye in eyes)
    return left, right, camera
