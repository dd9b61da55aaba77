"""Tracking: pose fit, smoothing, gap bridging and measures, on synthetic data and real clips."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

from tests.conftest import shared_path
from unflat.errors import InputError
from unflat.face.canonical import reference_face, triangles
from unflat.face.pose import fit_similarity, head_pose
from unflat.face.smoothing import OneEuroFilter, smooth_sequence
from unflat.face.track import bridge_gaps, describe, track
from unflat.geometry.rotations import euler_to_rotation, rotation_to_euler


def test_reference_face_is_frontal_and_symmetric() -> None:
    ref = reference_face()
    assert ref.shape == (478, 3)
    # outer eye corners mirror each other; nose tip nearer the camera than the eyes
    assert np.allclose(ref[33] * [-1, 1, 1], ref[263], atol=1e-5)
    assert ref[1, 2] < ref[33, 2]
    assert ref[10, 1] < ref[152, 1]  # forehead above chin (y down)
    pose = head_pose(ref, ref)
    assert np.allclose(pose.rotation, np.eye(3), atol=1e-6) and abs(pose.scale - 1) < 1e-6
    tri = triangles()
    assert tri.shape == (898, 3) and tri.min() == 0 and tri.max() == 467


@pytest.mark.parametrize("angles", [(0, 0, 0), (15, -30, 10), (-20, 40, -25)])
def test_head_pose_recovers_a_known_rotation(angles: tuple[float, float, float]) -> None:
    ref = reference_face()
    rotation = euler_to_rotation(*angles)
    points = 12.0 * ref @ rotation.T + np.array([300.0, 250.0, 0.0])
    pose = head_pose(points.astype(np.float32), ref)
    assert np.allclose(pose.euler_degrees, angles, atol=1e-3)
    assert abs(pose.scale - 12.0) < 1e-3
    assert np.allclose(pose.invert(points), ref, atol=1e-3)


def test_weighted_fit_ignores_zero_weight_outliers() -> None:
    rng = np.random.default_rng(1)
    src = rng.normal(size=(20, 3))
    dst = src @ euler_to_rotation(5, 10, -5).T
    dst[:5] += 100.0  # outliers with zero weight
    weights = np.r_[np.zeros(5), np.ones(15)]
    pose = fit_similarity(src, dst, weights)
    assert np.allclose(rotation_to_euler(pose.rotation), (5, 10, -5), atol=1e-6)


def test_one_euro_smooths_jitter_and_follows_motion() -> None:
    rng = np.random.default_rng(0)
    times = np.arange(200) / 25.0
    still = 100 + rng.normal(0, 0.5, size=200)
    smoothed = smooth_sequence(still[:, None], times)[:, 0]
    assert np.std(np.diff(smoothed[50:])) < 0.25 * np.std(np.diff(still[50:]))
    # a fast ramp (200 px/s) is followed with little lag thanks to the speed-adaptive cutoff
    ramp = 200.0 * times
    followed = smooth_sequence(ramp[:, None], times)[:, 0]
    assert np.abs(followed[100:] - ramp[100:]).max() < 8.0
    with pytest.raises(ValueError):
        OneEuroFilter(min_cutoff=0)


def test_bridge_gaps_interpolates_in_time_and_holds_the_ends() -> None:
    values = np.array([[0.0], [0.0], [0.0], [3.0], [0.0]])
    valid = np.array([False, True, False, True, False])
    times = np.array([0.0, 1.0, 2.0, 4.0, 5.0])
    out = bridge_gaps(values, valid, times)
    assert out[:, 0].tolist() == [0.0, 0.0, 1.0, 3.0, 3.0]


def test_describe_measures_a_synthetic_blink_and_mouth() -> None:
    ref = reference_face()
    frames = np.repeat(ref[None] * 10 + [200, 200, 0], 3, axis=0).astype(np.float32)
    # frame 1: close both eyes (upper lids onto lower lids); frame 2: open the mouth
    from unflat.face_mesh import EYE_LIDS

    for lids in EYE_LIDS:
        for upper, lower in lids:
            frames[1, upper] = frames[1, lower]
    frames[2, 14, 1] += 30.0
    tr = describe(frames, np.ones(3, bool), np.arange(3) / 25, 25.0, (400, 400))
    assert tr.eye_ratio[0].min() > 0.15 and tr.eye_ratio[1].max() < 0.01
    assert tr.mouth_open[2] > tr.mouth_open[0] + 0.3
    assert np.allclose(tr.euler_degrees[0], 0, atol=1e-3)


@lru_cache(maxsize=1)
def _talk_track():
    return track(shared_path("data", "faces", "videos", "talk_1.mp4"), max_frames=60)


def test_track_on_a_talking_head_clip() -> None:
    tr = _talk_track()
    assert len(tr) == 60 and tr.detected.all()
    assert tr.size == (700, 700) and 20 < tr.fps < 30
    # the speaker talks: the mouth opens and closes; eyes are open most of the time
    assert tr.mouth_open.max() > 3 * tr.mouth_open.min()
    assert np.median(tr.eye_ratio) > 0.2
    # a steady head: yaw and pitch stay within a few degrees of their mean
    euler = tr.euler_degrees
    assert np.abs(euler - euler.mean(0)).max() < 10
    # smoothing: frame-to-frame motion of the rigid nose bridge is well under a pixel
    assert np.abs(np.diff(tr.landmarks[:, 168, :2], axis=0)).mean() < 1.0


def test_track_bridges_frames_without_a_face(tmp_path) -> None:
    from unflat.io.video import read_video

    with read_video(shared_path("data", "faces", "videos", "talk_1.mp4")) as reader:
        frames = [f for _, f in zip(range(12), reader, strict=False)]
    frames[5] = np.zeros_like(frames[5])  # a black frame: no face
    tr = track(frames, fps=25.0)
    assert tr.detected.tolist() == [True] * 5 + [False] + [True] * 6
    # bridged from its neighbours, before smoothing: between frames 4 and 6
    nose = tr.landmarks[:, 1, 0]
    assert min(nose[4], nose[6]) - 2 <= nose[5] <= max(nose[4], nose[6]) + 2
    saved = tr.save(tmp_path / "t.npz")
    again = type(tr).load(saved)
    assert np.array_equal(again.landmarks, tr.landmarks) and again.size == tr.size


def test_track_without_any_face_is_a_clear_error() -> None:
    frames = [np.full((120, 160, 3), 90, np.uint8)] * 3
    with pytest.raises(InputError, match="no face"):
        track(frames, fps=25.0)


def test_lips_and_lids_keep_syllables_and_blinks_the_rest_is_smoothed_of() -> None:
    # a still face whose lower lip opens and closes 4 times a second (speech's syllable rate),
    # by 4 px, with a 0.5 px jitter on every point, 2 s at 25 fps
    from unflat.face.track import FrameFace, build_track

    rng = np.random.default_rng(0)
    times = np.arange(50) / 25.0
    face = reference_face()[None] * 10 + [200, 200, 0]
    frames = np.repeat(face, len(times), axis=0) + rng.normal(0, 0.5, (len(times), 478, 3))
    opening = 2.0 * (1 - np.cos(2 * np.pi * 4.0 * times))
    frames[:, 14, 1] += opening
    frames[:, 159, 1] += opening  # an upper lid, blinking as fast
    results = [
        FrameFace(i, float(t), f.astype(np.float32))
        for i, (t, f) in enumerate(zip(times, frames, strict=True))
    ]
    tr = build_track(results, 25.0, (400, 400), neutral=0)
    gap = tr.landmarks[:, 14, 1] - tr.landmarks[:, 13, 1]
    swing = np.ptp(gap[25:])  # after the filter has settled: 4 px in, 3.3 out
    assert swing > 0.7 * np.ptp(opening)
    assert np.ptp(tr.landmarks[25:, 159, 1]) > 0.7 * np.ptp(opening)
    # with the face's 1 Hz rest cutoff they would be cut to 1.7 px
    slow = smooth_sequence(frames[:, [13, 14]], times)
    assert np.ptp(slow[25:, 1, 1] - slow[25:, 0, 1]) < 0.5 * np.ptp(opening)
    # the rest of the face is still smoothed: a nose point's jitter falls below half
    assert np.std(tr.landmarks[25:, 4, 0]) < 0.5 * np.std(frames[25:, 4, 0])
