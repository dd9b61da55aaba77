"""The driver's rest face: the frame whose expression counts as "no expression".

A driving video's motion is transferred as its change from a rest frame, so the rest frame should
be a face at rest: mouth closed, eyes open as the person usually holds them, head facing the
camera as the person usually does, and not in the middle of a movement. :func:`pick_rest_frame`
scores every frame of a :class:`~unflat.types.FaceTrack` on those four counts and takes the frame
that is best on all of them together. Nothing is fitted to particular clips: each count is
measured in units of the face's own proportions (or of the clip's own usual value), and each
tolerance below says where it comes from.

A clip in which the mouth is never fully closed still has a rest frame: mouth closure is scored
from the most closed frame of the clip, so the most closed frames win.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unflat.face_mesh import LIPS_CLOSED, MESH_POINTS, face_unit
from unflat.geometry.rotations import rotation_to_euler
from unflat.types import FaceTrack

# Lips count as closed up to face_mesh.LIPS_CLOSED (0.03 outer-eye-corner distances, under 3 mm
# on an adult face: lips that touch, read through the mesh's imprecision). The same gap is the
# scale of the mouth's score: a frame 3 mm more open than the clip's most closed frame
# scores as badly as one a quarter less open-eyed or 10 degrees turned (see below).

# An eye whose lid gap differs from the person's usual one by this share is narrowed (a squint,
# the start of a blink) or widened (surprise). The open lid gap is about a third of the eye's
# width, some 10 mm; a quarter of it is the 2-3 mm by which a lid visibly moves. The usual gap is
# the clip's median: people blink 15-20 times a minute for 0.1-0.4 s each, so the eyes are
# closed well under half the time.
EYE_CHANGE = 0.25
# Irises this many eye widths from where they sit when looking into the lens are glancing aside:
# the iris's radius is about a fifth of the eye's width, and a shift of half of it shows. Looking
# into the lens, an iris sits midway between its eye's corners (the eyeball is centred behind the
# opening); its height in the opening depends on the person's lids, so that is taken from the
# clip's median.
GAZE_SHIFT = 0.1
# Brows this far above or below their usual height over the eyes, in outer-eye-corner distances,
# are raised or frowning: 0.03 is under 3 mm on an adult face, while a full brow raise lifts them
# about 1 cm (expressions.BROW_RAISE).
BROW_SHIFT = 0.03
# Degrees of head rotation away from the person's usual pose that count as much as the tolerances
# above. Talking heads sway by a few degrees; a turn of 10 degrees is deliberate.
POSE_DEGREES = 10.0
# Within this many degrees (yaw and pitch together) of the camera's axis a head still faces the
# camera: the canonical face's pose for a person looking into the lens reads several degrees off
# straight ahead, depending on their nose, brow and jaw against the canonical face's and on the
# camera's height. Beyond it the angle counts against a frame even if the person usually holds
# their head that way.
FRONTAL_DEGREES = 15.0
# A frame moving this many times faster than the clip's median movement counts as much as the
# tolerances above: half the clip moves less than its median, so a steady frame scores at most
# 0.5 here, and a frame in the middle of a word or a nod (several times the median) far more.
STILLNESS = 2.0
# Below this mean speed of the face's points, in outer-eye-corner distances per second, a face is
# still however still the rest of the clip is: 0.05 is under 5 mm a second on an adult face,
# slower than any movement one would see.
STILL_SPEED = 0.05


@dataclass(frozen=True)
class RestFrame:
    """The chosen rest frame and what it is like."""

    index: int
    time: float
    mouth_closed: bool  # inner-lip gap within LIPS_CLOSED of shut
    eyes_open: bool  # both eyes within EYE_CHANGE of their usual opening, or wider
    frontal: bool  # within FRONTAL_DEGREES of facing the camera
    mouth_open: float  # its inner-lip gap, outer-eye-corner distances
    never_closed: bool  # no frame of the clip has its lips closed

    def describe(self) -> str:
        """What the frame is like, in words: ``mouth closed, eyes open, facing the camera``."""
        mouth = "mouth closed" if self.mouth_closed else "mouth slightly open"
        if self.never_closed:
            mouth = "mouth nearly closed (the clip never closes it)"
        eyes = "eyes open" if self.eyes_open else "eyes half closed (the clip's most open)"
        head = "facing the camera" if self.frontal else "head turned (the clip's most frontal)"
        return f"{mouth}, {eyes}, {head}"


COSTS = ("mouth", "eyes", "gaze", "brows", "pose", "movement")


def rest_costs(track: FaceTrack) -> np.ndarray:
    """``[T,6]`` how far each frame is from rest, one column per :data:`COSTS` entry.

    Each column is 0 at rest and 1 at its tolerance (:data:`LIPS_CLOSED`, :data:`EYE_CHANGE`,
    :data:`GAZE_SHIFT`, :data:`BROW_SHIFT`, :data:`POSE_DEGREES`, :data:`STILLNESS`), so they
    add up on one scale.
    """
    mouth = np.asarray(track.mouth_open, dtype=np.float64)
    mouth_cost = (mouth - mouth.min()) / LIPS_CLOSED
    eyes = np.asarray(track.eye_ratio, dtype=np.float64)
    usual = np.maximum(np.median(eyes, axis=0), 1e-6)
    eye_cost = np.abs(eyes / usual - 1.0).max(axis=1) / EYE_CHANGE
    gaze = np.asarray(track.gaze, dtype=np.float64)
    looking = np.zeros(gaze.shape[1:])
    looking[:, 1] = np.median(gaze[..., 1], axis=0)
    glance = np.linalg.norm(gaze - looking, axis=-1).max(axis=1)
    brows = brow_heights(track.canonical)
    brow_cost = np.abs(brows - np.median(brows, axis=0)).max(axis=1) / BROW_SHIFT
    return np.stack(
        [mouth_cost, eye_cost, glance / GAZE_SHIFT, brow_cost, _pose_cost(track),
         _movement_cost(track)], axis=1,
    )  # fmt: skip


def brow_heights(canonical: np.ndarray) -> np.ndarray:
    """``[...,2]`` height of each brow's middle over its eye's upper lid (subject's right, left),
    in outer-eye-corner distances, from pose-free landmarks ``[...,478,>=2]``."""
    points = np.asarray(canonical, dtype=np.float64)
    heights = [points[..., lid, 1] - points[..., brow, 1] for brow, lid in _BROW_OVER_LID]
    return np.stack(heights, axis=-1) / face_unit(points)[..., None]


# The brows' middle points over the upper lids' middle points (subject's right, left).
_BROW_OVER_LID = ((105, 159), (334, 386))


def _pose_cost(track: FaceTrack) -> np.ndarray:
    """Head turn from the person's usual pose, plus any turn away from the camera beyond
    :data:`FRONTAL_DEGREES`, in :data:`POSE_DEGREES`."""
    euler = np.array([rotation_to_euler(r) for r in track.rotation], dtype=np.float64)
    usual = np.median(euler, axis=0)
    turn = np.linalg.norm(euler - usual, axis=1)
    away = np.maximum(np.hypot(euler[:, 0], euler[:, 1]) - FRONTAL_DEGREES, 0.0)
    return (turn + away) / POSE_DEGREES


def _movement_cost(track: FaceTrack) -> np.ndarray:
    """Mean speed of the mesh points (eye-corner distances per second, over the neighbouring
    frames) against the clip's median (or :data:`STILL_SPEED`), over :data:`STILLNESS`."""
    if len(track) < 2:
        return np.zeros(len(track))
    points = np.asarray(track.landmarks[:, :MESH_POINTS, :2], dtype=np.float64)
    unit = np.maximum(face_unit(track.landmarks).astype(np.float64), 1e-6)
    times = np.asarray(track.times, dtype=np.float64)
    if np.any(np.diff(times) <= 0):
        times = np.arange(len(track)) / max(float(track.fps), 1e-6)
    velocity = np.gradient(points, times, axis=0)
    speed = np.linalg.norm(velocity, axis=-1).mean(axis=1) / unit
    return speed / (STILLNESS * max(float(np.median(speed)), STILL_SPEED))


def pick_rest_frame(track: FaceTrack) -> RestFrame:
    """The frame of ``track`` most at rest: least total squared :func:`rest_costs`.

    Squares make a frame that is far off on one count (a blink, a turned head) lose to one that
    is a little off on several. Frames where the face was not found (bridged) are not chosen
    unless no frame was found at all.
    """
    costs = rest_costs(track)
    total = (costs**2).sum(axis=1)
    detected = np.asarray(track.detected, dtype=bool)
    if detected.any():
        total = np.where(detected, total, np.inf)
    index = int(np.argmin(total))
    return describe_frame(track, index)


def describe_frame(track: FaceTrack, index: int) -> RestFrame:
    """What frame ``index`` of ``track`` is like as a rest face."""
    eyes = np.asarray(track.eye_ratio, dtype=np.float64)
    usual = np.median(eyes, axis=0)
    pitch, yaw, _ = rotation_to_euler(track.rotation[index])
    mouth = float(track.mouth_open[index])
    return RestFrame(
        index=index,
        time=float(track.times[index]),
        mouth_closed=mouth <= LIPS_CLOSED,
        eyes_open=bool((eyes[index] >= (1.0 - EYE_CHANGE) * usual).all()),
        frontal=bool(np.hypot(pitch, yaw) <= FRONTAL_DEGREES),
        mouth_open=mouth,
        never_closed=bool(np.min(track.mouth_open) > LIPS_CLOSED),
    )
