"""How much things move in a video, with the camera's own motion taken out.

For each pair of consecutive frames (grey, downscaled to :data:`ANALYSIS_WIDTH` pixels wide —
plenty for where and how fast, and quick):

1. Dense optical flow (Farnebäck, with a pyramid so fast motion is followed), started from the
   global shift found by phase correlation so that a sudden camera jolt is followed too.
2. The camera's motion: an affine model (pan, tilt, zoom, roll, some shear) fitted with RANSAC
   to flow samples on a grid, only where the image has texture — flow in a flat sky or wall is
   unreliable, and a camera panning over it would otherwise look like the sky moving. The
   model follows the majority of the picture, which for footage is the background.
3. The residual flow (flow minus the camera model) is what objects do. Per frame:

   - ``object_motion``: the mean residual speed (averaged over small neighbourhoods, so that
     flow speckle does not count) of the fastest textured pixels covering :data:`TOP_SHARE` of
     the frame — a small fast object (a drumstick, a hammer) counts fully;
   - ``energy``: the mean residual speed over all textured pixels — how much of the picture
     moves and how fast, which drives the continuous sound;
   - ``camera_motion``: the camera model's mean displacement over the frame.

   Speeds are in frame diagonals per second, so they do not depend on resolution or frame rate.
   A frame repeated by a frame-rate conversion shares the next frame's speed instead of
   making a dip and a spike.
4. Scene cuts (the grey histogram changes abruptly, or a big change that warping by the flow
   does not explain) have no meaningful flow: those frames get
   zero motion and are listed in ``cuts``, so a cut is never mistaken for an impact.

:func:`motion_onsets` picks impacts where ``object_motion`` surges: peaks of its rise that stand
out against the clip's own motion scale, above a floor that grows with the camera's speed
(:func:`object_level`), so neither a static clip's noise nor a pan's flow errors fire.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from unflat.errors import InputError
from unflat.io.video import read_video
from unflat.progress import Progress, report
from unflat.sound.spans import local_peaks

#: Width (pixels) of the grey frames the flow is computed on.
ANALYSIS_WIDTH = 256
#: Share of the frame's area (fastest textured pixels first) averaged into ``object_motion``.
TOP_SHARE = 0.02
#: Side (analysis pixels) of the neighbourhood over which residual speed must be coherent.
COHERENCE_PX = 7
#: Grid step (analysis pixels) of the flow samples the camera model is fitted to.
GRID_STEP = 6
#: RANSAC inlier distance for the camera model, as a share of the frame diagonal.
RANSAC_SHARE = 0.004
#: Phase-correlation peak (0-1) above which its global shift seeds the flow.
SHIFT_CONFIDENCE = 0.2
#: Border left out of the statistics, as a share of the frame's shorter side.
BORDER_SHARE = 0.06
#: Structure-tensor threshold (min eigenvalue, grey levels in [0, 1]) for "textured" pixels.
TEXTURE_EIGEN = 2e-4
#: Half the L1 distance between consecutive grey histograms above which a frame is a cut.
CUT_DISTANCE = 0.5
#: A change of more than ``CUT_CHANGE`` mean grey levels (0-255) that the flow hardly explains
#: (warping by it leaves more than ``CUT_UNEXPLAINED`` of the change) is a cut. Fast, blurred
#: motion (a hammer strike, a head jerk) can leave most of a 12-19 level change unexplained in
#: the evaluation clips, so the bar is high: a cut between similar-looking shots may pass.
CUT_CHANGE, CUT_UNEXPLAINED = 25.0, 0.9
#: A frame differing from the previous one by less than this mean grey level (0-255), right
#: after a pair that moved more than ``REPEAT_MOVING`` diagonals, is a repeated frame (frame-rate
#: conversion): it and the next frame share the next frame's motion.
REPEAT_DIFFERENCE, REPEAT_MOVING = 0.5, 0.002
#: Motion below this (frame diagonals per second) is noise: no onset, no sound.
NOISE_FLOOR = 0.03
#: Share of the camera's speed that flow errors can add to ``object_motion``.
CAMERA_SHARE = 0.2
#: Onset peak prominence: a share of the clip's motion scale (its high object motion), but at
#: least ``ABSOLUTE_PROMINENCE`` diagonals per second.
RELATIVE_PROMINENCE, ABSOLUTE_PROMINENCE = 0.2, 0.05
#: Shortest gap between two visual onsets (seconds).
MIN_ONSET_GAP_S = 0.08


@dataclass
class VideoMotion:
    """Motion of a video per frame (module docstring); index 0 (no previous frame) is 0.

    ``times`` are the decoded frames' times in seconds; ``duration`` is how long the frames
    last (last time plus one frame interval).
    """

    times: np.ndarray  # [T]
    object_motion: np.ndarray  # [T] diagonals per second
    energy: np.ndarray  # [T] diagonals per second
    camera_motion: np.ndarray  # [T] diagonals per second
    cuts: np.ndarray  # [C] frame indices of scene cuts
    duration: float
    fps: float


@dataclass
class VisualOnsets:
    """Impacts seen in a video: ``times`` (seconds) and ``strengths`` in [0, 1]."""

    times: np.ndarray  # [K]
    strengths: np.ndarray  # [K]


def _grey(frame: np.ndarray, width: int) -> np.ndarray:
    height = max(8, round(frame.shape[0] * width / frame.shape[1]))
    small = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)


def _histogram(grey: np.ndarray) -> np.ndarray:
    hist = cv2.calcHist([grey], [0], None, [32], [0, 256]).ravel()
    return hist / max(hist.sum(), 1.0)


class _PairAnalyser:
    """Flow, camera model and residual statistics for one frame pair (analysis pixels)."""

    def __init__(self, height: int, width: int) -> None:
        self.diagonal = float(np.hypot(height, width))
        ys, xs = np.mgrid[GRID_STEP // 2 : height : GRID_STEP, GRID_STEP // 2 : width : GRID_STEP]
        self.grid = (ys.ravel(), xs.ravel())
        self.grid_points = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        self.pixels = np.stack([xx, yy, np.ones_like(xx)], axis=-1)  # [H,W,3] homogeneous
        self.positions = np.ascontiguousarray(self.pixels[..., :2])
        self.window = cv2.createHanningWindow((width, height), cv2.CV_32F)

    def texture(self, grey: np.ndarray) -> np.ndarray:
        """Pixels whose neighbourhood has gradients in two directions (flow is reliable),
        away from the border, where a moving camera brings in content the flow cannot match."""
        eigen = cv2.cornerMinEigenVal(grey.astype(np.float32) / 255.0, blockSize=5, ksize=3)
        textured = eigen > TEXTURE_EIGEN
        margin = max(1, round(BORDER_SHARE * min(grey.shape)))
        textured[:margin] = textured[-margin:] = False
        textured[:, :margin] = textured[:, -margin:] = False
        return textured

    def __call__(
        self, prev: np.ndarray, cur: np.ndarray, textured: np.ndarray
    ) -> tuple[float, float, float] | None:
        """``(object, energy, camera)`` displacement in diagonals per frame, or None when no
        motion explains the change (a scene cut)."""
        # a camera jolt can move everything further than the flow pyramid reaches: start the
        # flow from the global shift that phase correlation finds (any distance, ~1 ms)
        (shift_x, shift_y), response = cv2.phaseCorrelate(
            prev.astype(np.float32), cur.astype(np.float32), self.window
        )
        start = np.zeros((*prev.shape, 2), np.float32)
        if response > SHIFT_CONFIDENCE:  # a weak peak is no global shift (a static scene)
            start[..., 0], start[..., 1] = shift_x, shift_y
        flow = cv2.calcOpticalFlowFarneback(
            prev, cur, start, 0.5, 3, 13, 3, 5, 1.1, cv2.OPTFLOW_USE_INITIAL_FLOW
        )
        change = float(cv2.absdiff(prev, cur).mean())
        if change > CUT_CHANGE:
            # motion explains a big change (warping by the flow removes most of it); a cut
            # to a similar-looking shot does not
            # the flow says where each pixel of prev went: fetch it back from cur
            mapped = cv2.remap(
                cur, self.positions + flow, None, cv2.INTER_LINEAR, cv2.BORDER_REPLICATE
            )
            if cv2.absdiff(mapped, prev).mean() > CUT_UNEXPLAINED * change:
                return None
        if textured.mean() < 0.01:  # a blank frame: nothing can be seen to move
            return 0.0, 0.0, 0.0
        samples = textured[self.grid]
        camera = np.zeros((2, 3), np.float32)
        camera[0, 0] = camera[1, 1] = 1.0
        if samples.sum() >= 12:
            src = self.grid_points[samples]
            dst = src + flow[self.grid][samples]
            model, _ = cv2.estimateAffine2D(
                src,
                dst,
                method=cv2.RANSAC,
                ransacReprojThreshold=RANSAC_SHARE * self.diagonal,
                maxIters=500,
                confidence=0.99,
                refineIters=10,
            )
            if model is not None:
                camera = model.astype(np.float32)
        # the camera model's displacement at every pixel: A @ [x, y, 1] - [x, y]
        moved = self.pixels @ camera.T
        camera_flow = moved - self.positions
        speed = cv2.magnitude(*cv2.split(flow - camera_flow))
        residual = speed[textured]
        # objects move as a whole, flow errors are speckle: rank the pixels by the residual
        # averaged over their textured neighbourhood, so an isolated bad vector cannot fire
        weight = textured.astype(np.float32)
        box = (COHERENCE_PX, COHERENCE_PX)
        local = cv2.boxFilter(speed * weight, -1, box) / np.maximum(
            cv2.boxFilter(weight, -1, box), 1e-3
        )
        coherent = local[textured]
        top = max(1, min(coherent.size, int(TOP_SHARE * speed.size)))
        fastest = np.partition(coherent, coherent.size - top)[-top:]
        camera_speed = float(cv2.magnitude(*cv2.split(camera_flow)).mean())
        scale = 1.0 / self.diagonal
        return float(fastest.mean()) * scale, float(residual.mean()) * scale, camera_speed * scale


#: Per frame: the displacement since the last distinct frame and that frame's index; a repeat
#: (frame-rate conversions duplicate frames) has None and shares the next distinct value.
_Displacements = list[tuple[tuple[float, float, float], int] | None]


def motion_from_frames(
    frames: Iterable[np.ndarray],
    times: Iterable[float] | None = None,
    fps: float | None = None,
    *,
    width: int = ANALYSIS_WIDTH,
    total: int | None = None,
    progress: Progress | None = None,
) -> VideoMotion:
    """:class:`VideoMotion` of ``uint8 [H,W,3]`` RGB frames.

    Frame times come from ``times`` (a sequence, or a list that fills up while ``frames`` is
    iterated, like :attr:`unflat.io.video.VideoReader.timestamps`) or else from ``fps``.
    ``progress`` hears of each frame as stage ``following motion``.
    """
    if times is None and fps is None:
        raise ValueError("give the frames' times or their frame rate")
    values, cuts = _displacements(frames, width, total, progress)
    count = len(values)
    stamps = np.asarray(list(times)[:count] if times is not None else [], dtype=np.float64)
    if len(stamps) != count:
        assert fps is not None
        stamps = np.arange(count) / fps
    steps = np.diff(stamps)
    step = float(np.median(steps)) if len(steps) else 1.0 / (fps or 25.0)
    rate = fps or (1.0 / step if step > 0 else 25.0)
    table = _speeds(values, stamps)
    return VideoMotion(
        times=stamps,
        object_motion=table[:, 0],
        energy=table[:, 1],
        camera_motion=table[:, 2],
        cuts=np.asarray(cuts, dtype=int),
        duration=float(stamps[-1] + step),
        fps=float(rate),
    )


def _displacements(
    frames: Iterable[np.ndarray], width: int, total: int | None, progress: Progress | None
) -> tuple[_Displacements, list[int]]:
    """Each frame's displacement (see :data:`_Displacements`) and the scene cuts' indices."""
    analyser: _PairAnalyser | None = None
    prev: np.ndarray | None = None  # the last frame that was not a repeat
    prev_index = 0
    prev_hist: np.ndarray | None = None
    textured: np.ndarray | None = None
    values: _Displacements = []
    cuts: list[int] = []
    count = 0
    moving = False
    for index, frame in enumerate(frames):
        grey = _grey(frame, min(width, frame.shape[1]))
        hist = _histogram(grey)
        if analyser is None:
            analyser = _PairAnalyser(*grey.shape)
        repeat = False
        if prev is None or prev_hist is None or textured is None:
            values.append(((0.0, 0.0, 0.0), index))
        elif 0.5 * np.abs(hist - prev_hist).sum() > CUT_DISTANCE:
            cuts.append(index)
            values.append(((0.0, 0.0, 0.0), index))
        elif (
            index - prev_index == 1
            and moving
            and cv2.absdiff(prev, grey).mean() < REPEAT_DIFFERENCE
        ):
            repeat = True
            values.append(None)
        else:
            pair = analyser(prev, grey, textured)
            if pair is None:
                cuts.append(index)
                pair = (0.0, 0.0, 0.0)
            # a frame identical to the last is a repeat only amid motion (frame-rate
            # conversion); after stillness it is stillness, and a jerk after it must stay sharp
            moving = max(pair[0], pair[2]) > REPEAT_MOVING
            values.append((pair, prev_index))
        if not repeat:
            textured = analyser.texture(grey)
            prev, prev_hist, prev_index = grey, hist, index
        count = index + 1
        report(progress, "following motion", count, max(total or count, count))
    if count == 0:
        raise InputError("the video has no frames", hint="the video is empty or was cut off")
    if total is not None and total > count:
        report(
            progress, "following motion", count, count
        )  # the container promised more frames than it held: finish
    return values, cuts


def _speeds(values: _Displacements, stamps: np.ndarray) -> np.ndarray:
    """``[T,3]`` object, energy and camera speeds: displacements over the time they took."""
    table = np.zeros((len(values), 3))
    pending: list[int] = []  # repeats waiting for the next distinct frame
    for index, entry in enumerate(values):
        if entry is None:
            pending.append(index)
            continue
        displacement, since = entry
        elapsed = max(float(stamps[index] - stamps[since]), 1e-3)
        # displacement over the time it took: a repeat and the frame after it share the speed
        table[[*pending, index]] = np.asarray(displacement) / elapsed
        pending = []
    return table


def analyze_motion(
    path: str | os.PathLike[str],
    *,
    width: int = ANALYSIS_WIDTH,
    progress: Progress | None = None,
) -> VideoMotion:
    """:class:`VideoMotion` of a video file (``InputError`` if it cannot be read as a video)."""
    with read_video(path) as reader:
        total = reader.frame_count
        if total is None and reader.info.duration_s:
            total = max(1, round(reader.info.duration_s * reader.fps))
        return motion_from_frames(
            reader, reader.timestamps, reader.fps, width=width, total=total, progress=progress
        )


def object_level(motion: VideoMotion) -> np.ndarray:
    """``object_motion`` above what flow errors alone can explain: a fixed floor (compression
    noise) plus a share of the camera's speed (flow errors grow with the displacement, so a
    fast pan leaves some residual everywhere)."""
    floor = NOISE_FLOOR + CAMERA_SHARE * motion.camera_motion
    return np.maximum(motion.object_motion - floor, 0.0)


def motion_onsets(motion: VideoMotion) -> VisualOnsets:
    """Impacts: frames where ``object_motion`` jumps up — peaks of its rise from the previous
    frame (like spectral flux for sound) prominent against the clip's motion scale.

    A hit, a shot's recoil, a bark's head jerk all start as a sudden surge of motion; the
    surge's frame is where the sound goes. Measured on the six clips of the evaluation, the
    rise places onsets better than the motion peaks themselves, which lag hits by half a frame
    to a frame.
    """
    level = object_level(motion)
    if len(level) < 3 or not level.any():
        return VisualOnsets(np.zeros(0), np.zeros(0))
    rise = np.maximum(np.diff(level, prepend=level[0]), 0.0)
    # the clip's own scale: a calm clip's small jerks count, a busy clip's wobbles do not
    scale = float(np.percentile(level, 95))
    prominence = max(RELATIVE_PROMINENCE * scale, ABSOLUTE_PROMINENCE)
    gap = max(1, round(MIN_ONSET_GAP_S * motion.fps))
    peaks = local_peaks(rise, prominence, gap)
    if len(peaks) == 0:
        return VisualOnsets(np.zeros(0), np.zeros(0))
    strengths = np.clip(rise[peaks] / max(scale, 1e-9), 0.0, 1.0)
    return VisualOnsets(motion.times[peaks], strengths)
