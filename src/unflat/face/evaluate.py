"""Faces evaluation: self-reenactment against a clip's own frames, and cross-reenactment.

**Self-reenactment** (:func:`self_reenactment`): the clip's first frame is the portrait and the
clip is both the driver and the ground truth. Extra shots are other frames of the clip, spread
evenly over it; the frames scored are those that are never a shot, the same set for every shot
count, so rows with 1, 4 and 16 shots compare like with like. Per scored frame: L1, PSNR and SSIM
on the whole frame, then the output and the true frame are both tracked (unsmoothed, so jitter is
not hidden) for AKD and head-pose error; jitter is the output track's, beside the truth's own.

**Cross-reenactment** (:func:`cross_reenactment`): a portrait driven by another person's video.
There is no true frame, so it scores whether the motion was followed (AKD between the landmarks
tracked on the output and :meth:`Animator.target_landmarks`, the driver's motion retargeted to
the portrait) and whether the identity was kept (:func:`~unflat.face.metrics.shape_distance`
between the output and the portrait, both frontalised: on the driver's rest frame for the whole
face, found afresh in that output frame, and over all frames for the rigid points, which no
expression should move; beside it, the same score for the driver's own face, which is what a lost
identity would read), and whether the mouth followed: the correlation of the driver's and the
output's mouth opening (:func:`mouth_correlation`), with the project's own tracker as the judge
(``tools/judge_mouth_mediapipe.py`` judges the same videos with MediaPipe itself).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from unflat.errors import InputError
from unflat.face import metrics
from unflat.face.animate import OPEN_MOUTH, Animator
from unflat.face.canonical import pose_weights, reference_face
from unflat.face.detect import detect
from unflat.face.motion import from_track
from unflat.face.portrait import Portrait, prepare_portrait
from unflat.face.pose import frontalise, head_pose
from unflat.face.track import FaceTracker, track
from unflat.face_mesh import LANDMARKS, mouth_opening
from unflat.progress import Progress, counted, report
from unflat.types import FaceTrack

# Shot counts the evaluation reports, and how many frames the largest draws on.
SHOT_COUNTS = (1, 4, 16)


@dataclass
class SelfRow:
    """One clip at one shot count."""

    clip: str
    shots: int
    frames: int  # frames scored
    l1: float
    psnr: float
    ssim: float
    akd: float  # inter-ocular units
    pose_error: float  # degrees
    jitter: float  # output's, inter-ocular units per frame^2
    jitter_truth: float  # the true frames', for reference
    ms_per_frame: float  # rendering only

    def as_dict(self) -> dict[str, float | int | str]:
        return asdict(self)


@dataclass
class CrossRow:
    """One portrait driven by one video."""

    portrait: str
    driver: str
    frames: int
    akd: float  # output vs retargeted driver landmarks, inter-ocular units
    identity_neutral: float  # shape distance, whole face, neutral frame
    identity_rigid: float  # shape distance, rigid points, mean over frames
    identity_rigid_driver: float  # same, had the driver's own face shape been pasted on
    mouth_corr: float  # correlation of the driver's and the output's mouth opening
    neutral: int  # the driver frame taken as rest

    def as_dict(self) -> dict[str, float | int | str]:
        return asdict(self)


def shot_frames(frame_count: int, shots: int, pool: int = max(SHOT_COUNTS)) -> list[int]:
    """Frame indices of the shots: the first frame, then ``shots - 1`` of a fixed even pool.

    The pool holds ``pool - 1`` frames spread over the clip; smaller counts take an evenly
    spaced subset of it, so every count's shots are among the largest count's.
    """
    if frame_count < pool + 2:
        raise InputError(
            f"the clip has {frame_count} frames; the evaluation needs more than {pool + 1}",
            "use a longer clip",
        )
    extra = np.round(np.linspace(0, frame_count - 1, pool + 1)[1:-1]).astype(int)
    if shots <= 1:
        return [0]
    chosen = np.round(np.linspace(0, len(extra) - 1, shots - 1)).astype(int)
    return [0, *extra[chosen].tolist()]


def sheet_picks(length: int, count: int = 6) -> list[int]:
    """The frame indices a contact sheet shows: ``count`` evenly spaced over ``length``."""
    return np.round(np.linspace(0, length - 1, min(count, length))).astype(int).tolist()


def contact_sheet(rows: Sequence[Sequence[np.ndarray]], height: int = 192) -> np.ndarray:
    """Frames side by side for looking at, one row per list, each frame scaled to ``height``.

    Rows may differ in width (they are padded with black on the right).
    """
    lines = []
    for row in rows:
        tiles = []
        for frame in row:
            width = max(round(frame.shape[1] * height / frame.shape[0]), 1)
            tiles.append(cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA))
        lines.append(np.concatenate(tiles, axis=1))
    width = max(line.shape[1] for line in lines)
    padded = [np.pad(line, ((0, 0), (0, width - line.shape[1]), (0, 0))) for line in lines]
    return np.concatenate(padded, axis=0)


def _read_frames(
    path: Path, max_frames: int | None = None, progress: Progress | None = None
) -> tuple[list[np.ndarray], np.ndarray]:
    from unflat.io.video import read_video

    frames: list[np.ndarray] = []
    with read_video(path) as reader:
        total = reader.frame_count
        if max_frames is not None:
            total = max_frames if total is None else min(total, max_frames)
        for frame in reader:
            if max_frames is not None and len(frames) >= max_frames:
                break
            frames.append(frame)
            report(progress, f"reading {path.name}", len(frames), total)
        times = np.asarray(reader.timestamps[: len(frames)], dtype=np.float64)
    return frames, times - times[0]


def _track_clip(
    frames: list[np.ndarray],
    times: np.ndarray,
    neutral: int | str = 0,
    progress: Progress | None = None,
) -> FaceTrack:
    """The smoothed track that drives the animation, on the clip's own frame times."""
    rate = (len(frames) - 1) / times[-1] if len(frames) > 1 and times[-1] > 0 else 25.0
    driver = track(frames, fps=rate, neutral=neutral, progress=progress)
    driver.times = times
    return driver


class _Follower:
    """Tracks frames as they are made (video mode, no smoothing, so jitter is not hidden)."""

    def __init__(self) -> None:
        self._tracker = FaceTracker()
        self.landmarks: list[np.ndarray] = []

    def add(self, frame: np.ndarray) -> None:
        found = self._tracker.update(frame, float(len(self.landmarks))).landmarks
        lost = np.full((LANDMARKS, 3), np.nan)
        self.landmarks.append(lost if found is None else found.astype(np.float64))

    def result(self) -> np.ndarray:
        """``[T,478,3]`` landmarks, NaN where the face was lost."""
        return np.stack(self.landmarks)


def _track_frames(frames: Sequence[np.ndarray], progress: Progress | None = None) -> np.ndarray:
    follower = _Follower()
    for frame in counted(frames, progress, "tracking the true frames"):
        follower.add(frame)
    return follower.result()


def _frontal(landmarks: np.ndarray) -> np.ndarray:
    """Landmarks ``[T,478,3]`` with their head pose removed (reference units, facing front)."""
    return frontalise(landmarks, reference_face())[1]


def _rotations(landmarks: np.ndarray) -> np.ndarray:
    reference = reference_face()
    return np.stack([head_pose(points, reference).rotation for points in landmarks])


def self_reenactment(
    video: str | os.PathLike[str],
    shot_counts: Sequence[int] = SHOT_COUNTS,
    *,
    max_frames: int | None = None,
    progress: Progress | None = None,
) -> tuple[list[SelfRow], dict[int, np.ndarray]]:
    """Score re-enacting a clip from its first frame (plus other frames as extra shots).

    Returns the rows (one per shot count) and, per shot count, a contact sheet of true frames
    over output frames.
    """
    path = Path(video)
    frames, times = _read_frames(path, max_frames, progress)
    pool = max(shot_counts)
    used = set(shot_frames(len(frames), pool, pool))
    scored = [t for t in range(len(frames)) if t not in used]
    driver = _track_clip(frames, times, 0, progress)  # the portrait is frame 0: that is rest
    truth_frames = [frames[t] for t in scored]
    truth = _track_frames(truth_frames, progress)
    valid = ~np.isnan(truth).any(axis=(1, 2))
    truth_rotations = _rotations(truth[valid])
    shots: dict[int, Portrait] = {}
    rows = []
    sheets = {}
    for count in shot_counts:
        indices = shot_frames(len(frames), count, pool)
        for i in indices:
            if i not in shots:
                shots[i] = prepare_portrait(frames[i], name=f"frame {i} of {path.name}")
        animator = Animator([shots[i] for i in indices])
        motion = animator.limited(from_track(driver))
        follower = _Follower()
        pixel_scores = []
        picks = set(sheet_picks(len(scored)))
        shown = []
        rendering = 0.0
        for done, t in enumerate(scored, start=1):
            started = time.perf_counter()
            out = animator.render(
                animator.target_landmarks(motion, t),
                driver_frame=frames[t],
                driver_landmarks=driver.landmarks[t],
            )
            rendering += time.perf_counter() - started
            a, b = metrics.to_unit(out), metrics.to_unit(frames[t])
            pixel_scores.append((metrics.l1(a, b), metrics.psnr(a, b), metrics.ssim(a, b)))
            follower.add(out)
            if done - 1 in picks:
                shown.append(out)
            if progress is not None:
                progress(f"{path.stem}, {count} shot(s)", done, len(scored))
        truth_shown = [truth_frames[i] for i in sorted(picks)]
        sheets[count] = contact_sheet([truth_shown, shown])
        predicted = follower.result()
        both = valid & ~np.isnan(predicted).any(axis=(1, 2))
        l1, psnr, ssim = np.mean(pixel_scores, axis=0)
        rotations = _rotations(predicted[both])
        rows.append(
            SelfRow(
                clip=path.stem,
                shots=count,
                frames=len(scored),
                l1=float(l1),
                psnr=float(psnr),
                ssim=float(ssim),
                akd=metrics.akd(predicted[both], truth[both]),
                pose_error=float(
                    np.mean(metrics.pose_error_degrees(rotations, truth_rotations[both[valid]]))
                ),
                jitter=metrics.jitter(predicted[both], np.asarray(times)[scored][both]),
                jitter_truth=metrics.jitter(truth[both], np.asarray(times)[scored][both]),
                ms_per_frame=1000.0 * rendering / len(scored),
            )
        )
    return rows, sheets


def mouth_correlation(driver: np.ndarray, made: np.ndarray) -> float:
    """Pearson correlation of two mouth-opening series ``[T]``: 1 when the output's mouth opens
    and closes with the driver's, 0 when unrelated, ``nan`` when either never moves."""
    a = np.asarray(driver, dtype=np.float64) - np.mean(driver)
    b = np.asarray(made, dtype=np.float64) - np.mean(made)
    scale = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / scale) if scale > 1e-12 else float("nan")


def mid_word_start(mouth_open: np.ndarray) -> int:
    """The frame at which a clip cut there would start mid-word: the widest point of the first
    syllable whose mouth opens past :data:`~unflat.face.animate.OPEN_MOUTH` (0 if none does)."""
    opening = np.asarray(mouth_open, dtype=np.float64)
    open_frames = np.nonzero(opening >= OPEN_MOUTH)[0]
    if not len(open_frames):
        return 0
    t = int(open_frames[0])
    while t + 1 < len(opening) and opening[t + 1] > opening[t]:
        t += 1
    return t


def _cross_driver(
    path: Path,
    max_frames: int | None,
    options: CrossOptions,
    progress: Progress | None,
) -> tuple[list[np.ndarray], FaceTrack, int]:
    """The driver's frames, its track and its first frame in the file.

    With ``options.mid_word`` the clip is cut at :func:`mid_word_start` and tracked afresh from
    there, as a clip that starts mid-word would be.
    """
    cap = None if max_frames is None else 2 * max_frames if options.mid_word else max_frames
    frames, times = _read_frames(path, cap, progress)
    start = 0
    if options.mid_word:
        start = mid_word_start(_track_clip(frames, times, 0, progress).mouth_open)
        frames, times = frames[start:][:max_frames], times[start:][:max_frames] - times[start]
    return frames, _track_clip(frames, times, options.neutral, progress), start


@dataclass
class CrossOptions:
    """How :func:`cross_reenactment` drives the portrait.

    ``neutral``: the driver's rest frame (``"auto"`` or an index); ``shapes=False`` takes the
    mouth's opening as a change from the rest frame alone, as before shapes were retargeted;
    ``mid_word`` cuts the driver to start mid-word (:func:`mid_word_start`); ``videos``, a folder
    to write each output (``PORTRAIT_DRIVER.mp4``) and the driver frames it was made from
    (``PORTRAIT_DRIVER_driver.mp4``) into, for an outside judge.
    """

    neutral: int | str = "auto"
    shapes: bool = True
    mid_word: bool = False
    videos: Path | None = None


def _head_box(animator: Animator) -> tuple[int, int, int, int]:
    """left, top, right, bottom of the portrait's head, for contact sheets."""
    x0, y0, x1, y1 = animator.primary.face.box
    side = 1.8 * max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    h, w = animator.primary.image.shape[:2]
    left, top = int(np.clip(cx - side / 2, 0, w - 1)), int(np.clip(cy - side / 2, 0, h - 1))
    return left, top, int(min(cx + side / 2, w)), int(min(cy + side / 2, h))


def _render_cross(
    animator: Animator,
    targets: np.ndarray,
    frames: list[np.ndarray],
    driver: FaceTrack,
    report_to: tuple[str, Progress | None],
    out: object,
) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """Render every frame, track it; returns the tracked landmarks, the sheet's heads and the
    output at the driver's rest frame.

    ``out`` is a video writer for the output frames, or None.
    """
    left, top, right, bottom = _head_box(animator)
    picks = sheet_picks(len(driver))
    heads = []
    follower = _Follower()
    for t in range(len(driver)):
        made = animator.render(
            targets[t], driver_frame=frames[t], driver_landmarks=driver.landmarks[t]
        )
        follower.add(made)
        if out is not None:
            out.write(made)  # type: ignore[attr-defined]
        if t in picks:
            heads.append(made[top:bottom, left:right])
        if t == driver.neutral:
            rest = made
        if report_to[1] is not None:
            report_to[1](report_to[0], t + 1, len(driver))
    return follower.result(), heads, rest


def cross_reenactment(
    portrait: str | os.PathLike[str] | np.ndarray,
    video: str | os.PathLike[str],
    *,
    max_frames: int | None = None,
    name: str | None = None,
    progress: Progress | None = None,
    options: CrossOptions | None = None,
) -> tuple[CrossRow, np.ndarray]:
    """Score one portrait driven by another person's video (``options``: :class:`CrossOptions`).

    Returns the row and a contact sheet of driver frames over output frames.
    """
    from unflat.io.images import read_photo
    from unflat.io.video import VideoWriter, write_video

    options = options or CrossOptions()
    if isinstance(portrait, np.ndarray):
        image, label = portrait, name or "portrait"
    else:
        image, label = read_photo(portrait).rgb, name or Path(portrait).stem
    path = Path(video)
    frames, driver, start = _cross_driver(path, max_frames, options, progress)
    clip = f"{path.stem}@{start}" if options.mid_word else path.stem
    animator = Animator([image])
    motion = animator.limited(from_track(driver, shapes=options.shapes))
    targets = np.stack([animator.target_landmarks(motion, t) for t in range(len(driver))])
    writer: AbstractContextManager = nullcontext()
    if options.videos is not None:
        options.videos.mkdir(parents=True, exist_ok=True)
        write_video(options.videos / f"{label}_{clip}_driver.mp4", frames, driver.fps)
        writer = VideoWriter(options.videos / f"{label}_{clip}.mp4", driver.fps)
    with writer as out:
        predicted, heads, rest = _render_cross(
            animator, targets, frames, driver, (f"{label} by {clip}", progress), out
        )
    row = _cross_row(animator, driver, predicted, targets, (label, clip), rest)
    return row, contact_sheet([[frames[t] for t in sheet_picks(len(driver))], heads])


def _cross_row(
    animator: Animator,
    driver: FaceTrack,
    predicted: np.ndarray,
    targets: np.ndarray,
    names: tuple[str, str],
    rest: np.ndarray,
) -> CrossRow:
    """Score the landmarks tracked on the output against the motion and the portrait; ``rest``
    is the output at the driver's rest frame, whose face is found afresh (not followed from the
    frame before) for the identity at rest."""
    found = ~np.isnan(predicted).any(axis=(1, 2))
    if not found.any():
        raise InputError(
            f"no face was found in the frames made from {names[0]}",
            "check the portrait animates with `unflat animate` first",
        )
    # identity is compared frontalised (head pose removed in 3-D), so turning the head, which
    # changes the 2-D outline of any face, does not read as a change of identity
    rigid, _ = pose_weights()
    source = _frontal(animator.primary.landmarks[None])
    made = _frontal(predicted[found])
    many = np.broadcast_to(source, made.shape)
    at_rest = detect(rest)
    return CrossRow(
        portrait=names[0],
        driver=names[1],
        frames=int(found.sum()),
        akd=metrics.akd(predicted[found], targets[found]),
        identity_neutral=(
            metrics.shape_distance(_frontal(at_rest[0].landmarks[None])[0], source[0])
            if at_rest
            else float("nan")
        ),
        identity_rigid=metrics.shape_distance(made, many, rigid),
        # the same score had the driver's own face been pasted on: what losing identity reads
        identity_rigid_driver=metrics.shape_distance(
            _frontal(driver.landmarks[found]), many, rigid
        ),
        mouth_corr=mouth_correlation(driver.mouth_open[found], mouth_opening(made)),
        neutral=int(driver.neutral),
    )
