"""LivePortrait as a portrait animator: unflat's face tracking in, the network's frames pasted out.

The portrait's face is found by unflat's own detector and mesh (no insightface), cropped as the
released weights expect (:mod:`.crop`), and encoded once: its appearance volume, its motion and
its keypoints ``x_s``. Each frame then needs driving keypoints ``x_d``, which the network warps
and decodes into the crop's picture; that is pasted back into the portrait (:mod:`.paste`), with
a map of where each pasted pixel came from (the network's flow) for the living photo's depth.

``x_d`` comes from one of two streams:

- a **driving video** (its :class:`~unflat.types.FaceTrack` and frames): each frame is cropped
  by one upright square for the clip, the motion extractor reads it, the readings are smoothed
  (:mod:`.smoothing`), and the motion relative to the driver's rest frame (the track's
  ``neutral``, where the published code takes frame 0) moves the portrait's keypoints, then the
  stitching MLP fits them to the portrait. A portrait whose lips are apart has them closed first
  (lip retargeting to 0), so lips together in the driver's rest give lips together;
- a **motion stream** (:class:`~unflat.face.motion.Motion`, from the presets or speech): its head
  rotation, shift and scale change the portrait's own pose, and its eye and mouth openings become
  eye and lip retargeting targets in the published ratios' units (:mod:`.retarget`), measured on
  the portrait's landmarks; then stitching.

``timings`` adds up seconds per part (``crop``, ``motion``, ``network``, ``paste``).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from unflat.face.animate import Warp, closed_lip_gap, output_indices
from unflat.face.liveportrait import retarget
from unflat.face.liveportrait.crop import FaceCrop, crop_from_landmarks, driver_crop
from unflat.face.liveportrait.paste import (
    PasteLayout,
    SourceGrid,
    crop_region,
    paste_layout,
    source_grid,
)
from unflat.face.liveportrait.smoothing import smooth_motions
from unflat.face.motion import Motion
from unflat.face.portrait import Portrait, prepare_portrait
from unflat.face_mesh import face_unit
from unflat.geometry.rotations import euler_to_rotation, rotation_to_euler
from unflat.progress import Progress, counted, report
from unflat.types import FaceTrack

#: The released network's input side; its output is twice that.
INPUT_SIZE = 256


@dataclass
class Source:
    """The portrait as the network holds it (crop, appearance volume, motion, keypoints), with
    what every frame would otherwise measure again: the portrait's openings, its pose and face
    size, the paste's region, mask and sampling grids."""

    crop: FaceCrop
    features: torch.Tensor
    motion: dict[str, torch.Tensor]
    keypoints: torch.Tensor
    lips_closed: torch.Tensor | None  # keypoint offsets closing an open mouth, or None
    rest_flow: torch.Tensor  # [h,w,2] where W samples when nothing moves (its own grid)
    openings: retarget.Openings
    rotation: np.ndarray  # [3,3] the portrait's own head rotation, from ``motion``
    unit: float  # the portrait's outer-eye-corner distance, pixels
    grid: SourceGrid  # the paste region's pixels on the flow's cells
    # the paste for the network's picture size, made with the first frame (its size)
    layout: PasteLayout | None = field(default=None, repr=False)


class LivePortraitEngine:
    """Renders frames of one portrait with a LivePortrait-compatible ``model`` (its methods
    ``extract_features``, ``motion``, ``keypoints``, ``relative``, ``stitch``, ``retarget_eye``,
    ``retarget_lip``, ``decode``). Only the first portrait is used: the network is one-shot.
    """

    name = "liveportrait"

    def __init__(
        self,
        model: nn.Module,
        portraits: Sequence[np.ndarray] | Sequence[Portrait],
        *,
        face: int | None = None,
        input_size: int = INPUT_SIZE,
        smooth: bool = True,
    ) -> None:
        if not portraits:
            raise ValueError("at least one portrait is needed")
        first = portraits[0]
        self.portrait = first if isinstance(first, Portrait) else prepare_portrait(first, face=face)
        self.model, self.input_size, self.smooth = model, input_size, smooth
        self.timings: dict[str, float] = defaultdict(float)
        self._source: Source | None = None

    # -- plumbing ----------------------------------------------------------------------------

    @contextmanager
    def _timed(self, part: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.timings[part] += time.perf_counter() - start

    def _tensor(self, rgb: np.ndarray) -> torch.Tensor:
        """``uint8 [S,S,3]`` -> ``[1,3,S,S]`` in [0, 1] on the model's device and dtype."""
        parameter = next(self.model.parameters())
        image = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None]
        return (image.float() / 255.0).to(device=parameter.device, dtype=parameter.dtype)

    @property
    def source(self) -> Source:
        """The portrait encoded (on first use)."""
        if self._source is None:
            with torch.inference_mode():
                self._source = self._encode()
        return self._source

    def _encode(self) -> Source:
        crop = crop_from_landmarks(self.portrait.landmarks)
        with self._timed("crop"):
            image = self._tensor(crop.network_input(self.portrait.image, self.input_size))
        model = self.model
        features = model.extract_features(image)
        motion = model.motion(image)
        keypoints = model.keypoints(motion)
        portrait = self.portrait
        openings = retarget.Openings.measure(
            portrait.landmarks, portrait.canonical, closed_lip_gap(portrait.canonical)
        )
        lips_closed = None
        if openings.lips >= retarget.LIPS_OPEN:
            lips_closed = self._lip_delta(keypoints, openings.lip_condition(0.0))
        rest_flow = _flow(model.warp(features, keypoints, keypoints).deformation)
        angles = [float(motion[key].reshape(-1)[0]) for key in ("pitch", "yaw", "roll")]
        rotation, unit = euler_to_rotation(*angles), float(face_unit(portrait.landmarks))
        grid = source_grid(crop, crop_region(crop, portrait.image.shape), rest_flow.shape)
        return Source(crop, features, motion, keypoints, lips_closed, rest_flow, openings,
                      rotation, unit, grid)  # fmt: skip

    def _lip_delta(self, keypoints: torch.Tensor, condition: np.ndarray) -> torch.Tensor:
        ratio = torch.from_numpy(condition).to(keypoints)
        return self.model.retarget_lip(keypoints, ratio).reshape(keypoints.shape)

    def _eye_delta(self, keypoints: torch.Tensor, condition: np.ndarray) -> torch.Tensor:
        ratio = torch.from_numpy(condition).to(keypoints)
        return self.model.retarget_eye(keypoints, ratio).reshape(keypoints.shape)

    # -- frames ------------------------------------------------------------------------------

    def render(self, driving: torch.Tensor) -> tuple[np.ndarray, Warp]:
        """One frame: the portrait with its keypoints moved to ``driving`` ``[1,21,3]``.

        Its :class:`Warp` maps each pasted pixel to where the network's flow (its 3D
        deformation averaged over depth, against the same at rest) took it from, so anything
        aligned with the portrait (the living photo's depth) can follow the face.
        """
        source = self.source
        with torch.inference_mode(), self._timed("network"):
            warped = self.model.warp(source.features, source.keypoints, driving)
            image = self.model.generate(warped.warped_feature)
            picture = (image[0].float().clamp(0, 1) * 255 + 0.5).byte().permute(1, 2, 0)
            picture = np.ascontiguousarray(picture.cpu().numpy())
            offset = (_flow(warped.deformation) - source.rest_flow).cpu().numpy()
        with self._timed("paste"):
            return self._paste(picture, offset)

    def _paste(self, picture: np.ndarray, offset: np.ndarray) -> tuple[np.ndarray, Warp]:
        """The network's ``picture`` pasted into the portrait, with the flow ``offset``'s warp."""
        source = self.source
        if source.layout is None or source.layout.size != picture.shape[0]:
            source.layout = paste_layout(source.crop, self.portrait.image, picture.shape[0])
        pasted = source.layout.paste(picture)
        map_x, map_y = source.grid.source_map(offset)
        # the living scene blends by the same feathered mask as the pasted frame
        return pasted.frame, Warp(pasted.region, map_x, map_y, pasted.alpha)

    def frames(
        self,
        driver: FaceTrack | Motion,
        *,
        driver_frames: Iterable[np.ndarray] | None = None,
        fps: float | None = None,
        max_seconds: float | None = None,
        progress: Progress | None = None,
    ) -> Iterator[tuple[np.ndarray, Warp]]:
        """Yield each frame (``uint8 [H,W,3]``, the portrait's size) with its :class:`Warp`.

        ``driver`` is a tracked driving video, whose ``driver_frames`` (its pictures, in order)
        the motion extractor reads, or a :class:`Motion`. ``fps`` resamples the driver's rate,
        ``max_seconds`` cuts it short; ``progress`` hears ``("animating", done, total)``.
        """
        if isinstance(driver, Motion):
            times = np.arange(len(driver)) / driver.fps
            indices = output_indices(times, fps or driver.fps, max_seconds)
            targets = (self.motion_keypoints(driver, int(t)) for t in indices)
        else:
            if driver_frames is None:
                raise ValueError("a tracked driver needs its frames: the network reads them")
            indices = output_indices(driver.times, fps or driver.fps, max_seconds)
            motions = self.driver_motions(driver, driver_frames, indices, progress)
            targets = (self.driver_keypoints(motions, int(t), driver.neutral) for t in indices)
        for driving in counted(targets, progress, "animating", total=len(indices)):
            yield self.render(driving)

    # -- a driving video ---------------------------------------------------------------------

    def driver_motions(
        self,
        track: FaceTrack,
        frames: Iterable[np.ndarray],
        indices: np.ndarray,
        progress: Progress | None = None,
    ) -> dict[int, dict[str, torch.Tensor]]:
        """The motion extractor's smoothed readings of the driver frames in ``indices`` and of
        its rest frame, by frame index."""
        wanted = {*map(int, indices), int(track.neutral)}
        last = max(wanted)
        with self._timed("crop"):
            square = driver_crop(track.landmarks[: last + 1])
        readings: dict[int, dict[str, torch.Tensor]] = {}
        for index, frame in enumerate(frames):
            if index > last:
                break
            if index not in wanted:
                continue
            with self._timed("crop"):
                image = self._tensor(square.network_input(frame, self.input_size))
            with torch.inference_mode(), self._timed("motion"):
                readings[index] = self.model.motion(image)
            report(progress, "reading the driver's motion", len(readings), len(wanted))
        if self.smooth:
            order = sorted(readings)
            smoothed = smooth_motions([readings[i] for i in order], track.times[order])
            readings = dict(zip(order, smoothed, strict=True))
        return readings

    def driver_keypoints(
        self, motions: dict[int, dict[str, torch.Tensor]], index: int, rest: int
    ) -> torch.Tensor:
        """``x_d`` for driver frame ``index``: its motion relative to frame ``rest``."""
        source = self.source
        # a driver shorter than its track: its last frame read stands in for the rest
        reading = motions.get(index) or motions[max(k for k in motions if k <= index)]
        with torch.inference_mode(), self._timed("motion"):
            driving = self.model.relative(source.motion, reading, motions[rest])
            driving = self.model.stitch(source.keypoints, driving)
            if source.lips_closed is not None:
                driving = driving + source.lips_closed
        return driving

    # -- a motion stream ---------------------------------------------------------------------

    def motion_keypoints(self, motion: Motion, t: int) -> torch.Tensor:
        """``x_d`` for frame ``t`` of ``motion``: pose changed, eyes and lips retargeted."""
        source = self.source
        openings = source.openings
        with torch.inference_mode(), self._timed("motion"):
            moved = self.model.keypoints(self._moved_motion(motion, t))
            eyes = openings.eyes_target(motion.eye_open[t])
            moved = moved + self._eye_delta(source.keypoints, openings.eye_condition(eyes))
            opening = None if motion.mouth_open is None else float(motion.mouth_open[t])
            lips = openings.mouth_target(self.portrait.canonical, motion.expression[t], opening)
            moved = moved + self._lip_delta(source.keypoints, openings.lip_condition(lips))
            return self.model.stitch(source.keypoints, moved)

    def _moved_motion(self, motion: Motion, t: int) -> dict[str, torch.Tensor]:
        """The portrait's motion with frame ``t``'s head rotation (in the camera's frame), shift
        (eye-corner distances, turned into the crop's frame) and scale applied."""
        own = self.source.motion
        rotation = motion.rotation[t].astype(np.float64) @ self.source.rotation
        moved = dict(own)
        for key, value in zip(("pitch", "yaw", "roll"), rotation_to_euler(rotation), strict=True):
            moved[key] = torch.full_like(own[key], value)
        crop = self.source.crop
        shift = crop.axes @ (motion.translation[t].astype(np.float64) * self.source.unit)
        shift = shift * 2 / crop.side
        offset = torch.zeros_like(own["t"])
        offset[..., 0], offset[..., 1] = float(shift[0]), float(shift[1])
        moved["t"] = own["t"] + offset
        moved["scale"] = own["scale"] * float(motion.scale[t])
        return moved


def _flow(deformation: torch.Tensor) -> torch.Tensor:
    """``[h,w,2]`` the first item's (x, y) sampling positions, averaged over the volume's depth."""
    return deformation[0, ..., :2].float().mean(dim=0)
