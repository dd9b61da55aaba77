"""The living photo's frames: an animated face moving inside the photo's 3D scene.

Per frame, the face animator (an :class:`~unflat.pipelines.engines.Engine`: the classical warp of
:func:`unflat.face.animate.animate_warped`, or LivePortrait) redraws the portrait; the scene's
Gaussians follow the frame's warp (:class:`unflat.splat.living.LivingScene`), so the
face's colours and its relief move together while the layer behind occluding edges stays put;
the camera moves along a path and the scene is rendered from it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from unflat.colour import linear_to_srgb8
from unflat.device import ThreadTuner
from unflat.errors import ConfigError
from unflat.face.motion import Motion
from unflat.face.presets import PRESETS, generate
from unflat.pipelines.engines import Engine
from unflat.splat.living import LivingScene, covering_zoom, nearest_background, zoomed
from unflat.splat.render import render
from unflat.splat.rgbd import RGBD_EPS2D
from unflat.splat.trajectories import (
    TRAJECTORIES,
    TrajectoryOptions,
    depth_range_from_depth,
    make_trajectory,
)
from unflat.types import Camera, DepthMap, FaceTrack

#: The mouth opening (beyond closed lips, in eye-corner distances) of a viseme opening of 1:
#: about what a speaker's open vowels reach on the shared talking clips.
MOUTH_OPENING = 0.2
#: The default camera path and how far it moves: a gentle side-to-side with a slight push in,
#: turning about the face so it stays in view. Disparity is SHARP's measure: the largest shift
#: of the nearest surface, as a share of the image width.
DEFAULT_TRAJECTORY = "rotate_forward"
GENTLE_DISPARITY = 0.03
#: The head motion under speech when no --motion is given.
SPEAKING_MOTION = "idle"


def speech_motion(
    openings: np.ndarray | None, *, fps: float, seconds: float, spec: str, seed: int = 0
) -> Motion:
    """Head motion from the presets in ``spec`` with the mouth set by ``openings`` [T] in [0, 1].

    ``openings`` None leaves the mouth to the presets (``talk`` moves it without sound).
    """
    motion = generate(spec, seconds=seconds, fps=fps, seed=seed)
    if openings is not None:
        count = len(motion)
        padded = np.zeros(count, dtype=np.float32)
        padded[: min(count, len(openings))] = openings[:count]
        motion.mouth_open = padded * MOUTH_OPENING
    return motion


def check_motion_spec(spec: str) -> None:
    """``ConfigError`` for a --motion that names no preset."""
    names = [name for name in spec.replace(",", "+").split("+") if name]
    unknown = [name for name in names if name not in PRESETS]
    if not names or unknown:
        raise ConfigError(
            f"unknown motion {spec!r}", hint=f"use presets joined by +, of: {', '.join(PRESETS)}"
        )


def check_trajectory(name: str) -> None:
    if name not in TRAJECTORIES and name != "none":
        raise ConfigError(
            f"unknown camera path {name!r}",
            hint="use one of " + ", ".join([*TRAJECTORIES, "none"]),
        )


@dataclass
class Stage3D:
    """The photo's scene and camera, ready for frames."""

    rgb: np.ndarray
    depth: DepthMap
    camera: Camera

    @property
    def K(self) -> np.ndarray:
        return self.camera.K.double().numpy()


def path_cameras(
    stage: Stage3D, name: str, frames: int, fps: float, focus_m: float | None
) -> list[Camera]:
    """``frames`` cameras along the path ``name`` (``none``: the photo's own camera)."""
    if name == "none":
        return [stage.camera] * frames
    options = TrajectoryOptions(
        num_frames=max(frames, 2), fps=fps, max_disparity=GENTLE_DISPARITY, focus_depth_m=focus_m
    )
    cameras = make_trajectory(name, stage.camera, depth_range_from_depth(stage.depth), options)
    cameras = cameras[:frames]
    # zoom in just enough that the moving camera never sees past the photo's edges
    return zoomed(cameras, covering_zoom(stage.depth.depth, stage.K, cameras))


def face_depth(engine: Engine, depth: np.ndarray) -> float:
    """The median depth (m) under the portrait's face landmarks: what the camera turns about."""
    points = np.rint(engine.portrait.landmarks[:468, :2]).astype(int)
    height, width = depth.shape
    xs, ys = points[:, 0].clip(0, width - 1), points[:, 1].clip(0, height - 1)
    values = depth[ys, xs]
    values = values[np.isfinite(values) & (values > 0)]
    return float(np.median(values)) if len(values) else float(np.nanmedian(depth))


def frame_pixels(scene: torch.Tensor) -> np.ndarray:
    """A rendered linear-RGB image as ``uint8 [H,W,3]`` sRGB."""
    return linear_to_srgb8(scene.float().cpu().numpy())


def living_frames(
    stage: Stage3D,
    engine: Engine,
    driver: FaceTrack | Motion,
    cameras: list[Camera],
    *,
    fps: float,
    driver_frames: Iterator[np.ndarray] | None = None,
    progress: object = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(animated 2-D frame, rendered 3-D frame)`` pairs, one per camera."""
    person = engine.portrait.person > 0.5
    behind = nearest_background(stage.depth.depth, person)
    scene = LivingScene(stage.rgb, stage.depth.depth, stage.K, behind=behind)
    animated = engine.frames(
        driver,
        driver_frames=driver_frames,
        fps=fps,
        max_seconds=len(cameras) / fps,
        progress=progress,  # type: ignore[arg-type]
    )
    tuner = ThreadTuner()
    pairs = zip(animated, cameras, strict=False)

    def step() -> tuple[np.ndarray, torch.Tensor]:
        # the whole frame: the animator's OpenCV work waits on threads as the renderer's does
        (frame, warp), camera = next(pairs)
        gaussians = scene.follow(frame, warp.region, warp.map_x, warp.map_y, warp.alpha)
        return frame, render(gaussians, camera, eps2d=RGBD_EPS2D, check_scene=False).color

    try:
        with torch.inference_mode():
            for _ in cameras:
                try:
                    frame, color = tuner.run(step)
                except StopIteration:
                    return
                yield frame, frame_pixels(color)
    finally:
        tuner.restore()


def still_frames(stage: Stage3D, cameras: list[Camera]) -> Iterator[np.ndarray]:
    """The photo's scene alone (no face animation) from each camera."""
    scene = LivingScene(stage.rgb, stage.depth.depth, stage.K)
    tuner = ThreadTuner()
    try:
        with torch.inference_mode():
            for camera in cameras:
                result = tuner.run(
                    lambda c=camera: render(scene.gaussians, c, eps2d=RGBD_EPS2D, check_scene=False)
                )
                yield frame_pixels(result.color)
    finally:
        tuner.restore()
