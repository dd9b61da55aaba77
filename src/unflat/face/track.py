"""Follow one face through a video: landmarks, head pose, expression and measures per frame.

Like MediaPipe's video mode, a frame's mesh crop comes from the previous frame's landmarks, and the
detector runs only when there is no previous face or the mesh model loses it. That is faster and
steadier than detecting every frame. Frames where the face is lost are flagged and bridged by
linear interpolation between the frames around them; the landmarks are then One-Euro smoothed,
and pose, expression and measures are computed from the smoothed landmarks.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unflat.errors import InputError
from unflat.face import measures
from unflat.face.canonical import reference_face
from unflat.face.detect import Detection, check_image, face_models
from unflat.face.landmarks import MESH_SCALE, face_roi
from unflat.face.pose import frontalise
from unflat.face.roi import enlarge_square, roi_from_points
from unflat.face.smoothing import smooth_sequence
from unflat.types import FaceTrack

# Outer eye corners: MediaPipe levels the tracking crop along them.
_TRACK_ROTATION_POINTS = (33, 263)
# A re-detected face counts as the one being followed if its centre lies within this many box
# widths of where the face was last seen.
_FOLLOW_RADIUS = 0.75


@dataclass
class FrameFace:
    """One frame's tracking result: 478 landmarks in pixels, or None if the face was lost."""

    index: int
    time: float
    landmarks: np.ndarray | None


class FaceTracker:
    """Streaming tracker: feed frames one at a time with :meth:`update`."""

    def __init__(self, face: int | None = None, device: str = "cpu") -> None:
        self.detector, self.landmarker = face_models(device)
        self.face = face
        self._mesh: np.ndarray | None = None  # previous 468 normalised points
        self._last_box: np.ndarray | None = None  # normalised x0, y0, x1, y1
        self._index = 0

    def update(self, frame: np.ndarray, time: float) -> FrameFace:
        """Track the followed face in the next frame."""
        frame = check_image(frame)
        height, width = frame.shape[:2]
        size = (width, height)
        mesh = None
        if self._mesh is not None:
            roi = enlarge_square(
                roi_from_points(self._mesh, *_TRACK_ROTATION_POINTS, size), MESH_SCALE, size
            )
            mesh = self.landmarker.mesh_from_roi(frame, roi)
        if mesh is None:
            mesh = self._detect(frame)
        result = FrameFace(self._index, time, None)
        self._index += 1
        self._mesh = mesh
        if mesh is None:
            return result
        points = self.landmarker.refine(frame, mesh)
        self._last_box = np.concatenate([points[:, :2].min(0), points[:, :2].max(0)])
        result.landmarks = points * np.array([width, height, width], dtype=np.float32)
        return result

    def _detect(self, frame: np.ndarray) -> np.ndarray | None:
        """Mesh of the followed face from a fresh detection, or None."""
        size = (frame.shape[1], frame.shape[0])
        detections = sorted(self.detector(frame), key=_area, reverse=True)
        if self._last_box is not None:
            detections = [d for d in detections if _near(d, self._last_box)]
        elif self.face is not None:
            if self.face >= len(detections):
                return None
            detections = [detections[self.face]]
        for det in detections:  # the largest face whose mesh the model accepts
            mesh = self.landmarker.mesh_from_roi(frame, face_roi(det, size))
            if mesh is not None:
                return mesh
        return None


def _area(det: Detection) -> float:
    x0, y0, x1, y1 = det.box
    return (x1 - x0) * (y1 - y0)


def _near(det: Detection, box: np.ndarray) -> bool:
    x0, y0, x1, y1 = det.box
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    last = (box[:2] + box[2:]) / 2
    return bool(np.linalg.norm(centre - last) <= _FOLLOW_RADIUS * (box[2] - box[0]))


def _frames(
    video: str | os.PathLike[str] | Iterable[np.ndarray], fps: float | None
) -> tuple[Iterator[tuple[np.ndarray, float]], float, int | None]:
    """(frame, time) pairs, the frame rate and the frame count if known."""
    if isinstance(video, str | os.PathLike):
        from unflat.io.video import read_video

        reader = read_video(Path(video))

        def timed() -> Iterator[tuple[np.ndarray, float]]:
            with reader:
                for frame in reader:
                    yield frame, reader.timestamps[-1]

        return timed(), float(reader.fps), reader.frame_count
    rate = float(fps or 25.0)
    return ((f, i / rate) for i, f in enumerate(video)), rate, None


def track(
    video: str | os.PathLike[str] | Iterable[np.ndarray],
    *,
    fps: float | None = None,
    face: int | None = None,
    neutral: int = 0,
    max_frames: int | None = None,
    smooth: bool = True,
    device: str = "cpu",
    progress: Callable[[int, int | None], None] | None = None,
) -> FaceTrack:
    """Track one face through a video file or an iterable of ``uint8 [H,W,3]`` RGB frames.

    ``face`` picks among several faces (0 = largest in the first frame that has one); by default
    the largest face whose mesh the landmark model accepts. ``neutral`` is the frame whose
    expression counts as rest. ``progress(done, total)`` is called after each frame.
    """
    frames, rate, total = _frames(video, fps)
    if max_frames is not None:
        total = min(total, max_frames) if total is not None else max_frames
    tracker = FaceTracker(face=face, device=device)
    results: list[FrameFace] = []
    size = (0, 0)
    for frame, time in frames:
        if max_frames is not None and len(results) >= max_frames:
            break
        size = (frame.shape[1], frame.shape[0])
        results.append(tracker.update(frame, time))
        if progress is not None:
            progress(len(results), total)
    return build_track(results, rate, size, neutral=neutral, smooth=smooth)


def build_track(
    results: list[FrameFace],
    fps: float,
    size: tuple[int, int],
    *,
    neutral: int = 0,
    smooth: bool = True,
) -> FaceTrack:
    """Bridge gaps, smooth, and derive pose, expression and measures."""
    if not results:
        raise InputError("the video has no frames", "check the file plays in a video player")
    detected = np.array([r.landmarks is not None for r in results])
    if not detected.any():
        raise InputError(
            "no face was found in any frame of the video",
            "use a video where a face is clearly visible, frontal and not tiny",
        )
    times = np.array([r.time for r in results], dtype=np.float64)
    landmarks = np.zeros((len(results), 478, 3), dtype=np.float32)
    for r in results:
        if r.landmarks is not None:
            landmarks[r.index] = r.landmarks
    landmarks = bridge_gaps(landmarks, detected, times)
    if smooth and len(results) > 1:
        landmarks = smooth_sequence(landmarks, times)
    if not 0 <= neutral < len(results):
        raise InputError(
            f"the neutral frame {neutral} is outside the video's {len(results)} frames",
            f"give a frame index from 0 to {len(results) - 1}",
        )
    return describe(landmarks, detected, times, fps, size, neutral)


def bridge_gaps(values: np.ndarray, valid: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Fill invalid frames by linear interpolation in time (held constant beyond the ends)."""
    if valid.all():
        return values
    out = values.copy()
    known = np.nonzero(valid)[0]
    flat = values[known].reshape(len(known), -1)
    for j in range(flat.shape[1]):
        out.reshape(len(values), -1)[:, j] = np.interp(times, times[known], flat[:, j])
    return out


def describe(
    landmarks: np.ndarray,
    detected: np.ndarray,
    times: np.ndarray,
    fps: float,
    size: tuple[int, int],
    neutral: int = 0,
) -> FaceTrack:
    """Pose, expression and measures for landmarks ``[T,478,3]``."""
    reference = reference_face()
    poses, canonical = frontalise(landmarks, reference)
    return FaceTrack(
        landmarks=landmarks.astype(np.float32),
        detected=detected,
        times=times,
        fps=float(fps),
        size=size,
        rotation=np.stack([p.rotation for p in poses]).astype(np.float32),
        translation=np.stack([p.translation for p in poses]).astype(np.float32),
        scale=np.array([p.scale for p in poses], dtype=np.float32),
        canonical=canonical,
        expression=(canonical - reference).astype(np.float32),
        mouth_open=measures.mouth_opening(canonical).astype(np.float32),
        eye_ratio=measures.eye_aspect_ratios(canonical).astype(np.float32),
        gaze=measures.gaze(canonical).astype(np.float32),
        boxes=np.concatenate([landmarks[..., :2].min(1), landmarks[..., :2].max(1)], axis=1),
        neutral=neutral,
    )
