"""Face animation metrics on synthetic data with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from unflat import image_quality
from unflat.face import metrics
from unflat.face.metrics import (
    akd,
    interocular,
    jitter,
    l1,
    pose_error_degrees,
    shape_distance,
    to_unit,
)
from unflat.face.pose import fit_similarity

IOD = 60.0


def face(n: int = 478, seed: int = 0) -> np.ndarray:
    """Random landmarks ``[n,3]`` around (130, 150) with the eyes exactly ``IOD`` apart."""
    rng = np.random.default_rng(seed)
    points = rng.uniform([70, 80, -20], [190, 230, 20], size=(n, 3))
    if n >= 478:
        points[468, :2], points[473, :2] = (100, 120), (100 + IOD, 120)
    points[33, :2], points[263, :2] = (90, 121), (90 + 1.5 * IOD, 121)
    return points


def similarity(points: np.ndarray, degrees: float, scale: float, shift: tuple) -> np.ndarray:
    """Rotate x, y about the origin, scale and shift; other columns kept."""
    angle = math.radians(degrees)
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    out = points.copy()
    out[..., :2] = scale * points[..., :2] @ rot.T + np.asarray(shift)
    return out


def rotation(axis: np.ndarray, degrees: float) -> np.ndarray:
    """Rodrigues' rotation by ``degrees`` about ``axis``."""
    k = np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    theta = math.radians(degrees)
    return np.eye(3) + math.sin(theta) * kx + (1 - math.cos(theta)) * kx @ kx


# ---- pixels ----------------------------------------------------------------------------------


def test_l1_of_known_images() -> None:
    black = np.zeros((8, 10, 3), np.uint8)
    assert l1(black, black) == 0.0
    assert l1(black, np.full_like(black, 255)) == pytest.approx(1.0)
    assert l1(black, np.full_like(black, 51)) == pytest.approx(0.2)
    assert l1(np.full_like(black, 51), black) == pytest.approx(0.2)  # symmetric
    # one channel off by 255 in the left half only
    other = black.copy()
    other[:, :5, 0] = 255
    assert l1(black, other) == pytest.approx(0.5 / 3)
    left = np.zeros((8, 10), bool)
    left[:, :5] = True
    assert l1(black, other, mask=left) == pytest.approx(1 / 3)
    assert l1(black, other, mask=~left) == 0.0
    assert math.isnan(l1(black, other, mask=np.zeros((8, 10), bool)))
    # floats are taken as [0, 1] already
    assert l1(to_unit(black), to_unit(other)) == pytest.approx(0.5 / 3)
    with pytest.raises(ValueError):
        l1(black, black[:4])


def test_psnr_and_ssim_are_image_qualitys() -> None:
    assert metrics.psnr is image_quality.psnr and metrics.ssim is image_quality.ssim
    a = to_unit(np.zeros((16, 16, 3), np.uint8))
    b = to_unit(np.full((16, 16, 3), 51, np.uint8))
    assert metrics.psnr(a, b) == pytest.approx(-20 * math.log10(0.2))
    assert metrics.ssim(a, a) == pytest.approx(1.0)
    assert to_unit(np.array([0, 255], np.uint8)).tolist() == [0.0, 1.0]


# ---- landmarks -------------------------------------------------------------------------------


def test_interocular_uses_irises_then_eye_corners() -> None:
    assert interocular(face()) == pytest.approx(IOD)
    assert interocular(face(468)) == pytest.approx(1.5 * IOD)
    batch = np.stack([face(), similarity(face(), 30, 2.0, (5, 5))])
    assert interocular(batch) == pytest.approx([IOD, 2 * IOD])
    with pytest.raises(ValueError):
        interocular(face()[:100])


def test_akd_of_a_shifted_set_is_the_shift_in_iod() -> None:
    target = face()
    assert akd(target, target) == 0.0
    shift = 0.02 * IOD
    assert akd(similarity(target, 0, 1, (shift, 0)), target) == pytest.approx(0.02)
    diagonal = shift / math.sqrt(2)
    assert akd(similarity(target, 0, 1, (diagonal, -diagonal)), target) == pytest.approx(0.02)
    # the z column is ignored
    deeper = target.copy()
    deeper[:, 2] += 50
    assert akd(deeper, target) == 0.0
    # 468 points: outer eye corners, 1.5 IOD apart here
    small = face(468)
    assert akd(similarity(small, 0, 1, (0, 0.03 * IOD)), small) == pytest.approx(0.02)


def test_akd_normalises_by_the_target_and_averages_frames() -> None:
    target = face()
    big = similarity(target, 0, 2.0, (0, 0))  # IOD 120
    # prediction shifted by 6 px: 0.1 IOD against the small face, 0.05 against the big one
    assert akd(similarity(target, 0, 1, (6, 0)), target) == pytest.approx(0.1)
    assert akd(similarity(big, 0, 1, (6, 0)), big) == pytest.approx(0.05)
    frames = np.stack([target, big])
    preds = np.stack([similarity(target, 0, 1, (6, 0)), similarity(big, 0, 1, (0, 6))])
    assert akd(preds, frames) == pytest.approx(0.075)
    with pytest.raises(ValueError):
        akd(target[:470], target)


# ---- head pose -------------------------------------------------------------------------------


def test_pose_error_is_the_geodesic_angle() -> None:
    eye = np.eye(3)
    assert pose_error_degrees(eye, eye) == pytest.approx(0.0, abs=1e-9)
    r10 = rotation([0.3, -1.0, 0.2], 10.0)
    assert pose_error_degrees(eye, r10) == pytest.approx(10.0)
    assert pose_error_degrees(r10, eye) == pytest.approx(10.0)
    # invariant to a common rotation on either side
    base = rotation([1, 2, 3], 70.0)
    assert pose_error_degrees(base, base @ r10) == pytest.approx(10.0)
    assert pose_error_degrees(base, r10 @ base) == pytest.approx(10.0)
    assert pose_error_degrees(eye, rotation([0, 0, 1], 180.0)) == pytest.approx(180.0)
    assert pose_error_degrees(eye, rotation([1, 1, 0], 1e-4)) == pytest.approx(1e-4, rel=1e-6)
    batch = pose_error_degrees(
        np.stack([eye, eye, base]), np.stack([r10, rotation([0, 1, 0], 45.0), base])
    )
    assert isinstance(batch, np.ndarray)
    assert batch == pytest.approx([10.0, 45.0, 0.0], abs=1e-9)


# ---- temporal jitter -------------------------------------------------------------------------


def track(frames: int, offsets: np.ndarray) -> np.ndarray:
    """``face()`` moved by per-frame x, y offsets ``[T,2]``: ``[T,478,3]``."""
    base = face()
    out = np.repeat(base[None], frames, axis=0)
    out[..., :2] += np.asarray(offsets, dtype=np.float64)[:, None, :]
    return out


def test_jitter_is_zero_for_still_and_constant_velocity() -> None:
    t = np.arange(30, dtype=np.float64)
    assert jitter(track(30, np.zeros((30, 2)))) == 0.0
    moving = track(30, np.stack([3.0 * t, -1.5 * t], axis=-1))
    assert jitter(moving) == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(jitter(moving[:2]))


def test_jitter_of_known_tracks() -> None:
    # x alternates +1, -1 px: every second difference is 4 px long
    alternating = track(11, np.stack([(-1.0) ** np.arange(11), np.zeros(11)], axis=-1))
    assert jitter(alternating) == pytest.approx(4.0 / IOD)
    # constant acceleration of 0.5 px per frame^2 along y
    t = np.arange(20, dtype=np.float64)
    falling = track(20, np.stack([np.zeros(20), 0.25 * t**2], axis=-1))
    assert jitter(falling) == pytest.approx(0.5 / IOD)
    # evenly spaced times (any frame rate) change nothing
    assert jitter(falling, times=t / 25.0) == pytest.approx(0.5 / IOD)
    assert jitter(alternating, times=100 + np.arange(11) / 30.0) == pytest.approx(4.0 / IOD)


def test_jitter_with_uneven_times() -> None:
    rng = np.random.default_rng(1)
    times = np.cumsum(rng.uniform(0.02, 0.06, size=25))
    # constant velocity in time, sampled unevenly: still 0 (and not 0 if times are ignored)
    steady = track(25, np.stack([200.0 * times, 50.0 * times], axis=-1))
    assert jitter(steady, times=times) == pytest.approx(0.0, abs=1e-9)
    assert jitter(steady) > 0.01
    # constant acceleration a in time: a times the squared mean frame interval, per frame
    accel = 300.0
    falling = track(25, np.stack([np.zeros(25), 0.5 * accel * times**2], axis=-1))
    expected = accel * np.mean(np.diff(times)) ** 2 / IOD
    assert jitter(falling, times=times) == pytest.approx(expected)
    with pytest.raises(ValueError):
        jitter(steady, times=times[::-1])


# ---- identity shape --------------------------------------------------------------------------


def test_shape_distance_ignores_similarity() -> None:
    a = face()
    assert shape_distance(a, a) == pytest.approx(0.0, abs=1e-12)
    moved = similarity(a, 25.0, 1.7, (-40.0, 12.0))
    assert shape_distance(moved, a) == pytest.approx(0.0, abs=1e-9)
    assert shape_distance(a, moved) == pytest.approx(0.0, abs=1e-9)
    # a mirror image is a different shape
    mirrored = a.copy()
    mirrored[:, 0] *= -1
    assert shape_distance(mirrored, a) > 0.1


def test_shape_distance_of_a_different_face() -> None:
    a = face(seed=0)
    rng = np.random.default_rng(2)
    b = a.copy()
    b[:, :2] += rng.normal(0.0, 1.5, size=(478, 2))
    b[[468, 473], :2] = a[[468, 473], :2]
    d = shape_distance(b, a)
    # about the noise's mean length (1.5 * sqrt(pi/2) px) over the IOD, a little less after fitting
    assert 0.025 < d < 1.5 * math.sqrt(math.pi / 2) / IOD
    # moving the prediction changes nothing; moving both scales with the target's IOD, so no change
    assert shape_distance(similarity(b, -40.0, 0.5, (3.0, 4.0)), a) == pytest.approx(d)
    both = (similarity(b, 15.0, 2.5, (9.0, 1.0)), similarity(a, 15.0, 2.5, (9.0, 1.0)))
    assert shape_distance(*both) == pytest.approx(d)
    # a batch averages its frames
    assert shape_distance(np.stack([a, b]), np.stack([a, a])) == pytest.approx(d / 2)


def test_shape_distance_over_chosen_points() -> None:
    a = face(seed=0)
    b = a.copy()
    moved_points = np.arange(100, 140)
    b[moved_points, :2] += 5.0  # an "expression" on points outside the chosen set
    rigid = np.arange(0, 60)
    assert shape_distance(b, a, rigid) == pytest.approx(0.0, abs=1e-9)
    assert shape_distance(b, a) > 0.01
    # the unit stays the target's inter-ocular distance, not the chosen points' spread
    c = a.copy()
    c[0, :2] += IOD * 0.6
    fit = fit_similarity(c[rigid, :2], a[rigid, :2])
    moved = fit.scale * c[rigid, :2] @ fit.rotation.T + fit.translation
    expected = np.linalg.norm(moved - a[rigid, :2], axis=1).mean() / IOD
    assert shape_distance(c, a, rigid) == pytest.approx(expected)
    assert 0.01 < expected < 0.6
