"""Camera paths for videos of a 3D Gaussian scene, in metres, as lists of :class:`Camera`.

The world frame is the source photo's camera (OpenCV axes: x right, y down, z forward), so the
source view is the identity pose and each path moves a little around it. Every path is derived
from the scene's depth range (:class:`DepthRange`, from :func:`depth_range_from_gaussians` or
:func:`depth_range_from_depth`), which keeps the motion proportionate for a room and a valley.

Apple's SHARP conventions, used for its four paths (``swipe``, ``shake``, ``rotate``,
``rotate_forward``):

- depths are the 0.1 %, 10 % and 99.9 % quantiles of the positive z of the Gaussian means
  (``near``, ``focus``, ``far``);
- the lateral amplitude (x and y) is ``max_disparity * diagonal * near`` with ``max_disparity =
  0.08`` and ``diagonal = hypot(W/f, H/f)``: the nearest content moves by 8 % of the image
  diagonal; the forward amplitude is ``max_zoom * near`` with ``max_zoom = 0.15``;
- the camera looks at the point ``(0, 0, max(2 m, focus))`` (``look_at="point"``) or straight
  ahead (``"ahead"``: pure translation);
- 60 frames per cycle; ``swipe`` goes from ``-x`` to ``+x`` linearly; ``shake`` is one sine
  cycle along x in the first half of the frames, then one along y; ``rotate`` is a circle
  ``(a sin 2πt, a cos 2πt, 0)``; ``rotate_forward`` is ``(a sin 2πt, 0, b (1 - cos 2πt) / 2)``.

Beyond SHARP: ``dolly_zoom`` (the camera moves along z and the focal length follows, so that the
subject at the focus depth keeps its size while the background grows or shrinks; each camera has
its own ``K``), ``orbit`` (an arc around the point at the focus depth, same distance throughout,
looking at it) and ``ken_burns`` (a slow push-in with a sideways pan, looking ahead, i.e. the
"3D Ken Burns" effect with real parallax). These use the focus depth without SHARP's 2 m floor,
because the subject there is what must stay put.

``loop`` (default True): the path is sampled as a closed cycle without repeating its first frame,
so a looping player (GIF, ``<video loop>``) shows no hitch; ``swipe`` and ``ken_burns`` then go
there and back with eased ends. ``loop=False`` is SHARP's sampling exactly (``linspace`` with the
end point, ``swipe`` jumping back for each repeat); ``dolly_zoom`` then moves once towards the
subject and ``ken_burns`` pans once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from unflat.errors import ConfigError, InputError
from unflat.types import Camera, DepthMap, Gaussians

TrajectoryName = Literal[
    "swipe", "shake", "rotate", "rotate_forward", "dolly_zoom", "orbit", "ken_burns"
]
LookAt = Literal["point", "ahead"]

#: SHARP's depth quantiles: near, focus and far.
DEPTH_QUANTILES = (0.001, 0.1, 0.999)
#: SHARP never looks at a point nearer than this (metres).
MIN_FOCUS_DEPTH_M = 2.0
#: Frames of one cycle when neither ``num_frames`` nor ``seconds`` is given (SHARP's 60).
DEFAULT_NUM_FRAMES = 60
# Quantiles of a few million samples are as good as of all; beyond that, a regular subsample.
_MAX_QUANTILE_SAMPLES = 4_000_000


@dataclass(frozen=True)
class DepthRange:
    """Scene depths in metres: ``near`` (0.1 %), ``focus`` (10 %) and ``far`` (99.9 %)."""

    near: float
    focus: float
    far: float


def _depth_range(depths: np.ndarray, what: str) -> DepthRange:
    values = np.asarray(depths, dtype=np.float64).ravel()
    values = values[np.isfinite(values) & (values > 0)]
    if values.size == 0:
        raise InputError(f"{what} has no point in front of the camera", hint="check the scene")
    if values.size > _MAX_QUANTILE_SAMPLES:
        values = values[:: math.ceil(values.size / _MAX_QUANTILE_SAMPLES)]
    near, focus, far = np.quantile(values, DEPTH_QUANTILES)
    return DepthRange(near=float(near), focus=float(focus), far=float(far))


def depth_range_from_gaussians(
    gaussians: Gaussians, world_to_camera: torch.Tensor | None = None
) -> DepthRange:
    """Depth quantiles of the Gaussian means as seen from ``world_to_camera`` (default: identity,
    the source camera), counting only means in front of it, as SHARP does."""
    means = gaussians.means.detach().to("cpu", torch.float64)
    if world_to_camera is not None:
        matrix = world_to_camera.detach().to("cpu", torch.float64)
        means = means @ matrix[:3, :3].T + matrix[:3, 3]
    return _depth_range(means[:, 2].numpy(), "the Gaussian scene")


def depth_range_from_depth(depth: DepthMap | np.ndarray) -> DepthRange:
    """Depth quantiles of a depth map (metres); NaN, inf and non-positive pixels are ignored."""
    values = depth.depth if isinstance(depth, DepthMap) else depth
    return _depth_range(np.asarray(values), "the depth map")


@dataclass(frozen=True)
class TrajectoryOptions:
    """How long and how far a path goes; the defaults are SHARP's.

    One cycle lasts ``num_frames`` frames, or ``seconds * fps`` (give one of them; default 60),
    and is played ``repeats`` times. ``amplitude_m`` replaces the lateral amplitude (swipe,
    shake, rotate, rotate_forward, the orbit's sideways reach and ken_burns's pan, which is half
    of it by default), ``forward_m`` the movement along z (rotate_forward, ken_burns; for
    dolly_zoom how far the camera pulls back, default ``dolly_fraction * focus``).
    ``distance_m`` moves the whole path along z; ``focus_depth_m`` replaces the focus depth.
    """

    num_frames: int | None = None
    seconds: float | None = None
    fps: float = 30.0
    repeats: int = 1
    loop: bool = True
    max_disparity: float = 0.08
    max_zoom: float = 0.15
    amplitude_m: float | None = None
    forward_m: float | None = None
    distance_m: float = 0.0
    look_at: LookAt = "point"
    focus_depth_m: float | None = None
    min_focus_depth_m: float = MIN_FOCUS_DEPTH_M
    dolly_fraction: float = 0.4

    @property
    def frames_per_cycle(self) -> int:
        """Frames of one cycle: ``num_frames``, else ``round(seconds * fps)``, else 60."""
        if self.num_frames is not None and self.seconds is not None:
            raise ConfigError(
                "give the path's length as frames or as seconds, not both",
                hint="drop num_frames or seconds",
            )
        if self.num_frames is not None:
            count = self.num_frames
        elif self.seconds is not None:
            if not (math.isfinite(self.fps) and self.fps > 0):
                raise ConfigError(f"fps {self.fps} is not positive", hint="use e.g. 30")
            count = round(self.seconds * self.fps)
        else:
            count = DEFAULT_NUM_FRAMES
        if count < 2:
            raise ConfigError(
                f"a camera path needs at least 2 frames, got {count}",
                hint="give more frames or seconds",
            )
        return int(count)

    @property
    def total_frames(self) -> int:
        if self.repeats < 1:
            raise ConfigError(f"repeats must be at least 1, got {self.repeats}", hint="use 1")
        return self.frames_per_cycle * self.repeats


def max_offsets_m(
    camera: Camera, depth: DepthRange, options: TrajectoryOptions
) -> tuple[float, float]:
    """SHARP's ``(lateral, forward)`` amplitudes in metres, or the overrides in ``options``."""
    focal_x, focal_y = float(camera.K[0, 0]), float(camera.K[1, 1])
    diagonal = math.hypot(camera.width / focal_x, camera.height / focal_y)
    lateral = options.max_disparity * diagonal * depth.near
    forward = options.max_zoom * depth.near
    if options.amplitude_m is not None:
        lateral = options.amplitude_m
    if options.forward_m is not None:
        forward = options.forward_m
    return lateral, forward


def _cycle_times(count: int, cycles: int, loop: bool) -> np.ndarray:
    """``count`` times covering ``cycles`` periods: SHARP's inclusive linspace, or without the
    end point for a seamless loop."""
    if loop:
        return np.arange(count, dtype=np.float64) * cycles / count
    return np.linspace(0.0, cycles, count)


def _look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """World-to-camera rotation (rows: right, down, forward) of a camera at ``eye`` looking at
    ``target`` with the image's up being world -y."""
    forward = target - eye
    forward = forward / np.linalg.norm(forward)
    right = np.cross(forward, np.array([0.0, -1.0, 0.0]))
    right = right / np.linalg.norm(right)
    down = np.cross(forward, right)
    return np.stack([right, down, forward])


def _cameras(
    camera: Camera,
    eyes: np.ndarray,
    targets: np.ndarray | None,
    focal_scales: np.ndarray | None = None,
) -> list[Camera]:
    """Cameras at ``eyes`` (N,3, source-camera frame) looking at ``targets`` (None: ahead)."""
    dtype = camera.world_to_camera.dtype if camera.world_to_camera.is_floating_point() else None
    dtype = dtype or torch.float32
    source = camera.world_to_camera.detach().to("cpu", torch.float64)
    base_K = camera.K.detach().to("cpu", torch.float64)
    cameras = []
    for index, eye in enumerate(eyes):
        rotation = np.eye(3) if targets is None else _look_at(eye, targets[index])
        modifier = np.eye(4)
        modifier[:3, :3] = rotation
        modifier[:3, 3] = -rotation @ eye
        world_to_camera = torch.from_numpy(modifier) @ source
        K = base_K.clone()
        if focal_scales is not None:
            K[0, 0] *= focal_scales[index]
            K[1, 1] *= focal_scales[index]
        cameras.append(
            Camera(
                K=K.to(dtype),
                world_to_camera=world_to_camera.to(dtype),
                width=camera.width,
                height=camera.height,
            )
        )
    return cameras


def _sharp_targets(eyes: np.ndarray, depth: DepthRange, options: TrajectoryOptions) -> np.ndarray:
    focus = options.focus_depth_m or max(options.min_focus_depth_m, depth.focus)
    ahead = np.array([0.0, 0.0, focus])
    return eyes + ahead if options.look_at == "ahead" else np.broadcast_to(ahead, eyes.shape)


def _subject_depth(depth: DepthRange, options: TrajectoryOptions) -> float:
    focus = options.focus_depth_m or depth.focus
    if not (math.isfinite(focus) and focus > 0):
        raise ConfigError(f"focus depth {focus} m is not positive", hint="give a positive depth")
    return float(focus)


def swipe(camera: Camera, depth: DepthRange, options: TrajectoryOptions) -> list[Camera]:
    """Side to side along x over ``±lateral``: SHARP's linear sweep, or there and back."""
    lateral, _ = max_offsets_m(camera, depth, options)
    count = options.frames_per_cycle
    if options.loop:
        x = -lateral * np.cos(2 * np.pi * _cycle_times(options.total_frames, options.repeats, True))
    else:
        x = np.tile(np.linspace(-lateral, lateral, count), options.repeats)
    eyes = np.stack([x, np.zeros_like(x), np.full_like(x, options.distance_m)], axis=1)
    return _cameras(camera, eyes, _sharp_targets(eyes, depth, options))


def shake(camera: Camera, depth: DepthRange, options: TrajectoryOptions) -> list[Camera]:
    """A sine along x in the first half of the frames, then one along y (SHARP's shake)."""
    lateral, _ = max_offsets_m(camera, depth, options)
    total = options.total_frames
    horizontal = total // 2
    t_x = _cycle_times(horizontal, options.repeats, options.loop)
    t_y = _cycle_times(total - horizontal, options.repeats, options.loop)
    x = np.concatenate([lateral * np.sin(2 * np.pi * t_x), np.zeros_like(t_y)])
    y = np.concatenate([np.zeros_like(t_x), lateral * np.sin(2 * np.pi * t_y)])
    eyes = np.stack([x, y, np.full_like(x, options.distance_m)], axis=1)
    return _cameras(camera, eyes, _sharp_targets(eyes, depth, options))


def rotate(camera: Camera, depth: DepthRange, options: TrajectoryOptions) -> list[Camera]:
    """A circle in the image plane, ``(a sin 2πt, a cos 2πt)``, starting above (SHARP)."""
    lateral, _ = max_offsets_m(camera, depth, options)
    t = _cycle_times(options.total_frames, options.repeats, options.loop)
    x, y = lateral * np.sin(2 * np.pi * t), lateral * np.cos(2 * np.pi * t)
    eyes = np.stack([x, y, np.full_like(x, options.distance_m)], axis=1)
    return _cameras(camera, eyes, _sharp_targets(eyes, depth, options))


def rotate_forward(camera: Camera, depth: DepthRange, options: TrajectoryOptions) -> list[Camera]:
    """Side to side while moving in and back out: ``(a sin 2πt, 0, b (1 - cos 2πt) / 2)``."""
    lateral, forward = max_offsets_m(camera, depth, options)
    t = _cycle_times(options.total_frames, options.repeats, options.loop)
    x = lateral * np.sin(2 * np.pi * t)
    z = options.distance_m + forward * (1.0 - np.cos(2 * np.pi * t)) / 2.0
    eyes = np.stack([x, np.zeros_like(x), z], axis=1)
    return _cameras(camera, eyes, _sharp_targets(eyes, depth, options))


def dolly_zoom(camera: Camera, depth: DepthRange, options: TrajectoryOptions) -> list[Camera]:
    """The camera moves along z while the focal length keeps the subject's size.

    The subject is at the focus depth ``D``; a camera at ``z`` sees it at ``D - z``, so the focal
    length is scaled by ``(D - z) / D``. The camera starts pulled back by ``forward_m`` (default
    ``dolly_fraction * D``, zoomed in) and moves to the source view (``loop=False``), or starts
    at the source view, pulls back and returns (``loop=True``). Pulling back and zooming in
    never shows the background outside the source photo's view; a negative ``forward_m``
    moves in front of the source view instead, which does.
    """
    subject = _subject_depth(depth, options)
    pull = options.dolly_fraction * subject if options.forward_m is None else options.forward_m
    if options.loop:
        t = _cycle_times(options.total_frames, options.repeats, True)
        z = -pull * (1.0 - np.cos(2 * np.pi * t)) / 2.0
    else:
        eased = (1.0 - np.cos(np.pi * np.linspace(0.0, 1.0, options.frames_per_cycle))) / 2.0
        z = np.tile(-pull * (1.0 - eased), options.repeats)
    z = z + options.distance_m
    if np.any(z >= subject):
        raise ConfigError(
            f"this dolly zoom would move the camera past the subject at {subject:.3g} m",
            hint="use a smaller forward amplitude or distance",
        )
    eyes = np.stack([np.zeros_like(z), np.zeros_like(z), z], axis=1)
    # relative to the source camera, which sees the subject at `subject` with the source focal
    scales = (subject - z) / subject
    return _cameras(camera, eyes, None, focal_scales=scales)


def orbit(camera: Camera, depth: DepthRange, options: TrajectoryOptions) -> list[Camera]:
    """An arc around the point ``(0, 0, D)`` at the focus depth, always looking at it.

    The camera stays at distance ``D`` from that point and swings by ``±asin(lateral / D)``
    about the vertical axis (a sine for ``loop=True``, a linear sweep otherwise).
    """
    subject = _subject_depth(depth, options)
    lateral, _ = max_offsets_m(camera, depth, options)
    max_angle = math.asin(min(1.0, abs(lateral) / subject)) * math.copysign(1.0, lateral)
    if options.loop:
        t = _cycle_times(options.total_frames, options.repeats, True)
        angles = max_angle * np.sin(2 * np.pi * t)
    else:
        angles = np.tile(
            np.linspace(-max_angle, max_angle, options.frames_per_cycle), options.repeats
        )
    pivot = np.array([0.0, 0.0, subject + options.distance_m])
    eyes = np.stack(
        [
            subject * np.sin(angles),
            np.zeros_like(angles),
            options.distance_m + subject * (1.0 - np.cos(angles)),
        ],
        axis=1,
    )
    return _cameras(camera, eyes, np.broadcast_to(pivot, eyes.shape))


def ken_burns(camera: Camera, depth: DepthRange, options: TrajectoryOptions) -> list[Camera]:
    """A slow push-in by ``forward`` with a pan from ``-pan`` to ``+pan`` along x, looking ahead.

    ``pan`` is half SHARP's lateral amplitude (or ``amplitude_m``), ``forward`` SHARP's forward
    one (or ``forward_m``); both ends are eased. ``loop=True`` goes there and back.
    """
    lateral, forward = max_offsets_m(camera, depth, options)
    pan = lateral if options.amplitude_m is not None else lateral / 2.0
    if options.loop:
        t = _cycle_times(options.total_frames, options.repeats, True)
        progress = (1.0 - np.cos(2 * np.pi * t)) / 2.0
    else:
        eased = (1.0 - np.cos(np.pi * np.linspace(0.0, 1.0, options.frames_per_cycle))) / 2.0
        progress = np.tile(eased, options.repeats)
    eyes = np.stack(
        [
            pan * (2.0 * progress - 1.0),
            np.zeros_like(progress),
            options.distance_m + forward * progress,
        ],
        axis=1,
    )
    return _cameras(camera, eyes, None)


Trajectory = Callable[[Camera, DepthRange, TrajectoryOptions], list[Camera]]

#: Every camera path by name.
TRAJECTORIES: dict[str, Trajectory] = {
    "swipe": swipe,
    "shake": shake,
    "rotate": rotate,
    "rotate_forward": rotate_forward,
    "dolly_zoom": dolly_zoom,
    "orbit": orbit,
    "ken_burns": ken_burns,
}


def make_trajectory(
    name: str,
    camera: Camera,
    depth: DepthRange,
    options: TrajectoryOptions | None = None,
) -> list[Camera]:
    """The cameras of the path ``name`` (see :data:`TRAJECTORIES`) around ``camera``."""
    if name not in TRAJECTORIES:
        raise ConfigError(
            f"unknown camera path {name!r}", hint="use one of " + ", ".join(TRAJECTORIES)
        )
    options = options or TrajectoryOptions()
    if options.look_at not in ("point", "ahead"):
        raise ConfigError(f"unknown look_at {options.look_at!r}", hint="use point or ahead")
    return TRAJECTORIES[name](camera, depth, options)
