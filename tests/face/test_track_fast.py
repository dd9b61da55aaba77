"""Tracking without the iris model (``irises=False``): same mouth, estimated irises, faster."""

from __future__ import annotations

import time
from functools import lru_cache

import numpy as np

from tests.conftest import shared_path
from unflat.face.canonical import reference_face
from unflat.face.track import FaceTracker, estimate_irises, track
from unflat.face_mesh import EYE_CONTOUR_INDICES, INNER_LIP, OUTER_LIP, face_unit
from unflat.geometry.rotations import euler_to_rotation
from unflat.types import FaceTrack

FRAMES = 24
_EYES = sorted(set(EYE_CONTOUR_INDICES[0]) | set(EYE_CONTOUR_INDICES[1]))


def _clip() -> str:
    return str(shared_path("data", "faces", "videos", "talk_1.mp4"))


@lru_cache(maxsize=2)
def _tracks(irises: bool) -> FaceTrack:
    return track(_clip(), max_frames=FRAMES, irises=irises)


@lru_cache(maxsize=1)
def _frames() -> list[np.ndarray]:
    from unflat.io.video import read_video

    with read_video(_clip()) as reader:
        return [f for _, f in zip(range(FRAMES), reader, strict=False)]


def test_estimated_irises_follow_a_moved_reference_face() -> None:
    ref = reference_face()
    rotation = euler_to_rotation(12.0, -25.0, 8.0)
    face = (40.0 * ref @ rotation.T + np.array([320.0, 240.0, 5.0])).astype(np.float32)
    irises = estimate_irises(face)
    assert irises.shape == (10, 3) and irises.dtype == np.float32
    # an exact similarity of the reference carries its irises exactly
    assert np.allclose(irises, face[468:], atol=1e-3)


def test_without_irises_the_mouth_is_bit_identical() -> None:
    full, fast = _tracks(True), _tracks(False)
    assert fast.landmarks.shape == full.landmarks.shape == (FRAMES, 478, 3)
    assert np.array_equal(fast.detected, full.detected) and fast.detected.all()
    lips = list(INNER_LIP + OUTER_LIP)
    assert np.array_equal(fast.landmarks[:, lips], full.landmarks[:, lips])
    # every mesh point the iris model does not touch, not only the lips
    others = np.setdiff1d(np.arange(468), _EYES)
    assert np.array_equal(fast.landmarks[:, others], full.landmarks[:, others])
    # the derived mouth measure tracks the default one closely (its unit, the eye corners, moves)
    assert np.corrcoef(fast.mouth_open, full.mouth_open)[0, 1] > 0.99


def test_estimated_irises_sit_where_the_iris_model_puts_them() -> None:
    full, fast = _tracks(True), _tracks(False)
    unit = face_unit(full.landmarks)[:, None]  # outer eye corners, about 2.2 eye widths
    centres = [468, 473]
    error = np.linalg.norm(fast.landmarks[:, centres, :2] - full.landmarks[:, centres, :2], axis=-1)
    assert (error / unit).mean() < 0.08 and (error / unit).max() < 0.15

    def rim(tr: FaceTrack) -> np.ndarray:
        return np.linalg.norm(tr.landmarks[:, 469:473, :2] - tr.landmarks[:, 468:469, :2], axis=-1)

    radius, model = rim(fast), rim(full)
    assert 0.7 < radius.mean() / model.mean() < 1.4


def _seconds_per_frame(tracker: FaceTracker, frames: list[np.ndarray]) -> float:
    start = time.perf_counter()
    for i, frame in enumerate(frames):
        tracker.update(frame, i / 25.0)
    return (time.perf_counter() - start) / len(frames)


def test_without_irises_tracking_is_faster() -> None:
    frames = _frames()[:12]
    trackers = {irises: FaceTracker(irises=irises) for irises in (True, False)}
    for tracker in trackers.values():
        tracker.update(frames[0], 0.0)  # detection and warm-up, not timed
    # interleaved, so a burst of load elsewhere slows both alike; about 2.5-3x on a 2-core CPU
    best = {True: float("inf"), False: float("inf")}
    for _ in range(3):
        for irises, tracker in trackers.items():
            best[irises] = min(best[irises], _seconds_per_frame(tracker, frames))
    full, fast = best[True], best[False]
    assert fast * 1.7 < full, f"irises=False {fast * 1e3:.1f} ms/frame vs {full * 1e3:.1f}"
