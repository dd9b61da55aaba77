"""Follow one face through a video: landmarks, head pose, expression and measures per frame.

Like MediaPipe's video mode, a frame's mesh crop comes from the previous frame's landmarks, and the
detector runs only when there is no previous face or the mesh model loses it. That is faster and
steadier than detecting every frame. Frames where the face is lost are flagged and bridged by
linear interpolation between the frames around them; the landmarks are then One-Euro smoothed,
and pose, expression and measures are computed from the smoothed landmarks.

With ``irises=False`` the iris model (two runs per frame, about two thirds of the tracking time on
a CPU) is skipped. The 468 mesh points are then exactly those of the default path, since the next
frame's crop comes from the mesh alone, but the eye contours stay the mesh's own instead of the
iris model's refinement, and the 10 iris points are *estimated from the mesh*, not measured: see
:func:`estimate_irises`. That suits uses that need the mouth and the head pose (dubbing, lip
activity), not gaze.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unflat import face_mesh
from unflat.device import small_work
from unflat.errors import InputError
from unflat.face.canonical import reference_face
from unflat.face.detect import face_models
from unflat.face.detector import Detection, check_image
from unflat.face.landmarks import MESH_SCALE, face_roi
from unflat.face.neutral import pick_rest_frame
from unflat.face.pose import fit_similarity, frontalise
from unflat.face.roi import enlarge_square, roi_from_points
from unflat.face.smoothing import smooth_sequence
from unflat.face_mesh import EYE_CONTOUR_INDICES, EYE_LID_POINTS, EYE_OUTER, IRISES, LANDMARKS
from unflat.progress import Progress, report
from unflat.types import FaceTrack

# A re-detected face counts as the one being followed if its centre lies within this many box
# widths of where the face was last seen.
_FOLLOW_RADIUS = 0.75
# Syllables per second of ordinary speech (Hz): the lips' own smoothing cutoff.
SYLLABLE_RATE = 4.5
_FAST = sorted(
    set(face_mesh.INNER_LIP)
    | set(face_mesh.OUTER_LIP)
    | {i for eye in EYE_CONTOUR_INDICES for i in eye[:EYE_LID_POINTS]}
)


@dataclass
class FrameFace:
    """One frame's tracking result: 478 landmarks in pixels, or None if the face was lost.

    With a tracker made with ``irises=False``, points 468-477 are estimated from the mesh (see
    :func:`estimate_irises`) and the eye contours are the mesh's own.
    """

    index: int
    time: float
    landmarks: np.ndarray | None


class FaceTracker:
    """Streaming tracker: feed frames one at a time with :meth:`update`.

    ``irises=False`` skips the iris model: about three times faster on a CPU, with the same mesh
    points outside the eyes (mouth, jaw, nose, face oval, bit for bit), the mesh's own eye
    contours, and irises estimated from the eyelids rather than measured (see :func:`track`
    and :func:`estimate_irises`).
    """

    def __init__(self, face: int | None = None, device: str = "cpu", irises: bool = True) -> None:
        self.detector, self.landmarker = face_models(device)
        self.face = face
        self.irises = irises
        self._mesh: np.ndarray | None = None  # previous 468 normalised points
        self._last_box: np.ndarray | None = None  # normalised x0, y0, x1, y1
        self._index = 0

    @small_work
    def update(self, frame: np.ndarray, time: float) -> FrameFace:
        """Track the followed face in the next frame."""
        frame = check_image(frame)
        height, width = frame.shape[:2]
        size = (width, height)
        mesh = None
        if self._mesh is not None:
            roi = enlarge_square(roi_from_points(self._mesh, *EYE_OUTER, size), MESH_SCALE, size)
            mesh = self.landmarker.mesh_from_roi(frame, roi)
        if mesh is None:
            mesh = self._detect(frame)
        result = FrameFace(self._index, time, None)
        self._index += 1
        self._mesh = mesh
        if mesh is None:
            return result
        scale = np.array([width, height, width], dtype=np.float32)
        if self.irises:
            points = self.landmarker.refine(frame, mesh)
            self._last_box = np.concatenate([points[:, :2].min(0), points[:, :2].max(0)])
            result.landmarks = points * scale
        else:
            self._last_box = np.concatenate([mesh[:, :2].min(0), mesh[:, :2].max(0)])
            pixels = mesh * scale
            result.landmarks = np.concatenate([pixels, estimate_irises(pixels)])
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


def estimate_irises(mesh: np.ndarray) -> np.ndarray:
    """The 10 iris points (per eye: centre, then four on the rim) estimated from a face mesh
    ``[>=468,3]`` in pixels, as ``float32 [10,3]``: *estimated from the mesh, not measured by the
    iris model*.

    Each eye's 16 eyelid points are fitted to the reference face's (a similarity:
    :func:`~unflat.face.pose.fit_similarity`) and the reference's irises are carried along. The
    centre is therefore the middle of the eyelids and the rim a circle about 0.22 eye widths in
    radius: right in size and place for drawing or warping an eye, and in the same layout as the
    model's points, but the irises always look straight ahead, so gaze measured from them
    (``FaceTrack.gaze``) is flat and says nothing about where the person looks.
    """
    reference = reference_face()
    points = np.asarray(mesh, dtype=np.float64)
    irises = []
    for eye, lids in enumerate(_LID_INDICES):
        pose = fit_similarity(reference[lids], points[lids])
        irises.append(pose.apply(reference[IRISES[eye].start : IRISES[eye].stop]))
    return np.concatenate(irises).astype(np.float32)


_LID_INDICES = [list(indices[:EYE_LID_POINTS]) for indices in EYE_CONTOUR_INDICES]


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
    neutral: int | str = "auto",
    max_frames: int | None = None,
    smooth: bool = True,
    device: str = "cpu",
    progress: Progress | None = None,
    irises: bool = True,
) -> FaceTrack:
    """Track one face through a video file or an iterable of ``uint8 [H,W,3]`` RGB frames.

    ``face`` picks among several faces (0 = largest in the first frame that has one); by default
    the largest face whose mesh the landmark model accepts. ``neutral`` is the frame whose
    expression counts as rest: a frame index, or ``"auto"`` for the frame most at rest (mouth
    closed, eyes open, facing the camera, still: :func:`~unflat.face.neutral.pick_rest_frame`).
    ``progress`` hears of each frame as stage ``tracking the face``.

    ``irises=False`` skips the iris model, about three times faster on a CPU. The landmarks are
    still ``[T,478,3]`` and every mesh point outside the eyes (mouth, lips, jaw, nose, face
    oval) is bit-identical to the default's. The differences: the eye contours and brows
    (:data:`~unflat.face_mesh.EYE_CONTOUR_INDICES`) are the mesh's own rather than the iris
    model's, and points 468-477 are irises *estimated from the mesh, not measured*
    (:func:`estimate_irises`), so ``gaze`` is meaningless. The eye corners weigh most in the
    head-pose fit and the outer ones (33, 263) are the measures' unit of length, so everything
    derived from the whole face differs somewhat too: on the shared talking-head clips the mesh
    puts the outer corners further apart (face unit about 9% longer), so ``mouth_open`` and
    lip speeds in the ``canonical`` frame read about 10% lower, and pitch and yaw are 2-3
    degrees off. (Bit-identical mesh points assume the face is never lost: a re-detection
    follows the face whose box is nearest the last one, and that box is the mesh's here.)
    """
    frames, rate, total = _frames(video, fps)
    if max_frames is not None:
        total = min(total, max_frames) if total is not None else max_frames
    tracker = FaceTracker(face=face, device=device, irises=irises)
    results: list[FrameFace] = []
    size = (0, 0)
    for frame, time in frames:
        if max_frames is not None and len(results) >= max_frames:
            break
        size = (frame.shape[1], frame.shape[0])
        results.append(tracker.update(frame, time))
        report(progress, "tracking the face", len(results), total)
    return build_track(results, rate, size, neutral=neutral, smooth=smooth)


def build_track(
    results: list[FrameFace],
    fps: float,
    size: tuple[int, int],
    *,
    neutral: int | str = "auto",
    smooth: bool = True,
) -> FaceTrack:
    """Bridge gaps, smooth, and derive pose, expression and measures; ``neutral`` as in
    :func:`track`."""
    if not results:
        raise InputError("the video has no frames", "check the file plays in a video player")
    detected = np.array([r.landmarks is not None for r in results])
    if not detected.any():
        raise InputError(
            "no face was found in any frame of the video",
            "use a video where a face is clearly visible, frontal and not tiny",
        )
    times = np.array([r.time for r in results], dtype=np.float64)
    landmarks = np.zeros((len(results), LANDMARKS, 3), dtype=np.float32)
    for r in results:
        if r.landmarks is not None:
            landmarks[r.index] = r.landmarks
    landmarks = bridge_gaps(landmarks, detected, times)
    if smooth and len(results) > 1:
        raw, landmarks = landmarks, smooth_sequence(landmarks, times)
        # the lips are speech's fastest movers: they open and close with each syllable, 4 to 5
        # times a second, which the 1 Hz rest cutoff cuts to a fraction; they get that rate, and
        # so do the lids (a blink closes and opens within a syllable's time)
        landmarks[:, _FAST] = smooth_sequence(raw[:, _FAST], times, min_cutoff=SYLLABLE_RATE)
    chosen = parse_neutral(neutral)
    if chosen is not None and chosen >= len(results):
        raise InputError(
            f"the neutral frame {chosen} is outside the video's {len(results)} frames",
            f"give a frame index from 0 to {len(results) - 1}, or 'auto'",
        )
    described = describe(landmarks, detected, times, fps, size, chosen or 0)
    if chosen is None:
        described.neutral = pick_rest_frame(described).index
    return described


def parse_neutral(neutral: int | str) -> int | None:
    """``neutral`` as a frame index, or None for ``"auto"``.

    A number in a string (``"5"``, as typed after ``--neutral``) is a frame index; anything else
    that is not ``"auto"``, and a negative index, is an :class:`InputError`.
    """
    if isinstance(neutral, str):
        if neutral.strip().lower() == "auto":
            return None
        try:
            neutral = int(neutral)
        except ValueError:
            raise InputError(
                f"--neutral {neutral!r} is neither a frame number nor 'auto'",
                "give a frame index, or 'auto' to let unflat pick the rest face",
            ) from None
    if neutral < 0:
        raise InputError(
            f"the neutral frame {neutral} is negative", "give a frame index from 0, or 'auto'"
        )
    return int(neutral)


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
        mouth_open=face_mesh.mouth_opening(canonical).astype(np.float32),
        eye_ratio=face_mesh.eye_aspect_ratios(canonical).astype(np.float32),
        gaze=face_mesh.gaze(canonical).astype(np.float32),
        boxes=np.concatenate([landmarks[..., :2].min(1), landmarks[..., :2].max(1)], axis=1),
        neutral=neutral,
    )
