"""Video depth stabilisation on small clips whose true depth is known."""

from __future__ import annotations

import numpy as np
import pytest

from unflat.datasets.depth_clips import ClipFrame, Layer, jittered_depth, layered_clip, texture
from unflat.depth.metrics import abs_rel
from unflat.depth.video import (
    DepthStabiliser,
    Flicker,
    StabiliseSettings,
    fit_inverse_affine,
    stabilise_depths,
)
from unflat.errors import ConfigError, InputError

FOCAL = 130.0


def scene(
    *, camera_step=(0.01, 0.0, 0.0), mover: bool = False, frames: int = 24, near: float = 3.0
) -> list[ClipFrame]:
    """A 160x120 clip: a textured wall 6 m away, a board in front, maybe a moving card."""
    layers = [
        Layer(texture(240, 320, 1), (-4, -3, 4, 3), 6.0),
        Layer(texture(96, 96, 2), (-0.9, -0.6, 0.2, 0.5), near),
    ]
    if mover:
        layers.append(Layer(texture(64, 64, 3), (0.3, -0.3, 0.9, 0.3), 2.0, (-0.03, 0.0, 0.0)))
    return list(
        layered_clip(
            layers, size=(160, 120), focal_px=FOCAL, frames=frames, camera_step=camera_step
        )
    )


def flicker_on_static(clip: list[ClipFrame], depths: list[np.ndarray]) -> float:
    """Mean relative frame-to-frame change of depth on static pixels (truth correspondences)."""
    flicker = Flicker()
    for index in range(1, len(clip)):
        frame = clip[index]
        flicker.add(depths[index - 1], depths[index], frame.map_x, frame.map_y, frame.static)
    return flicker.relative


def mean_abs_rel(clip: list[ClipFrame], depths: list[np.ndarray]) -> float:
    return float(
        np.mean(
            [abs_rel(d, c.depth, np.isfinite(c.depth)) for d, c in zip(depths, clip, strict=True)]
        )
    )


def stabilised(clip: list[ClipFrame], depths: list[np.ndarray], **settings) -> list[np.ndarray]:
    frames = [frame.rgb for frame in clip]
    return list(stabilise_depths(frames, depths, FOCAL, StabiliseSettings(**settings)))


@pytest.mark.parametrize(
    "case",
    [
        {"camera_step": (0.01, 0.0, 0.0)},  # sideways: parallax and occlusions
        {"camera_step": (0.0, 0.0, 0.03)},  # forward: true depth falls 0.5-1 % a frame
        {"mover": True},  # a card moving across the scene on its own
    ],
    ids=["pan", "dolly", "moving-object"],
)
def test_stabilisation_removes_most_flicker_and_improves_accuracy(case) -> None:
    clip = scene(**case)
    raw = [jittered_depth(frame.depth, i, seed=3) for i, frame in enumerate(clip)]
    out = stabilised(clip, raw)
    assert len(out) == len(clip)
    raw_flicker, out_flicker = flicker_on_static(clip, raw), flicker_on_static(clip, out)
    # measured: 10.7 % -> 1.3-1.4 % (8x) on these clips
    assert raw_flicker > 0.09
    assert out_flicker < raw_flicker / 5
    # measured: 7.7 % -> 2.0-2.3 %: the jitter averages out instead of being frozen in
    assert mean_abs_rel(clip, out) < 0.5 * mean_abs_rel(clip, raw)


def test_forward_motion_is_kept_not_aligned_away() -> None:
    # The camera walks 3 cm a frame towards a wall 6 m away: without the camera's motion the
    # alignment would hold the depth still, and the error would grow frame by frame.
    clip = scene(camera_step=(0.0, 0.0, 0.03), frames=30)
    truth = [np.where(np.isfinite(c.depth), c.depth, 6.0).astype(np.float32) for c in clip]
    moved = stabilised(clip, truth)
    still = stabilised(clip, truth, motion=False)
    assert mean_abs_rel(clip, moved) < 0.003
    assert mean_abs_rel(clip, still) > 3 * mean_abs_rel(clip, moved)


def test_true_depth_passes_through_unchanged() -> None:
    clip = scene()
    truth = [np.where(np.isfinite(c.depth), c.depth, 6.0).astype(np.float32) for c in clip]
    out = stabilised(clip, truth)
    assert mean_abs_rel(clip, out) < 0.002
    assert flicker_on_static(clip, out) < 0.001


def test_step_edge_stays_sharp() -> None:
    # A board at 2 m before a wall at 6 m, seen from a camera moving sideways: flow is least
    # reliable exactly at the edge. No pixel may end up between the two surfaces.
    clip = scene(near=2.0)
    raw = [jittered_depth(frame.depth, i, seed=5, blotches=0.0) for i, frame in enumerate(clip)]
    out = stabilised(clip, raw)
    for frame, given, result in zip(clip[5:], raw[5:], out[5:], strict=True):
        board = np.isfinite(frame.depth) & (frame.depth < 4.0)
        wall = np.isfinite(frame.depth) & (frame.depth > 4.0)
        # each surface's own depth range (noise and jitter included) in this frame
        near_top = np.percentile(result[board], 99.9)
        far_bottom = np.percentile(result[wall], 0.1)
        between = (result > near_top * 1.05) & (result < far_bottom / 1.05)
        raw_between = (given > near_top * 1.05) & (given < far_bottom / 1.05)
        assert between.sum() <= raw_between.sum() + 2
        # and the edge is where the truth has it: each side keeps its surface
        assert np.median(np.abs(result[board] / frame.depth[board] - 1)) < 0.05
        assert np.median(np.abs(result[wall] / frame.depth[wall] - 1)) < 0.05


def test_without_stabilising_the_depth_passes_through_and_flicker_is_still_measured() -> None:
    clip = scene(frames=6)
    raw = [jittered_depth(frame.depth, i, seed=1) for i, frame in enumerate(clip)]
    stabiliser = DepthStabiliser(FOCAL, StabiliseSettings(enabled=False))
    out = [
        depth for frame, d in zip(clip, raw, strict=True) for depth in stabiliser.push(frame.rgb, d)
    ]
    assert stabiliser.finish() == []
    for given, result in zip(raw, out, strict=True):
        np.testing.assert_array_equal(given, result)
    assert stabiliser.raw_flicker.pixels > 1000
    assert stabiliser.flicker.relative == stabiliser.raw_flicker.relative > 0.05


def test_the_first_frames_wait_for_the_clip_scale_then_stream() -> None:
    clip = scene(frames=8)
    raw = [jittered_depth(frame.depth, i, seed=2) for i, frame in enumerate(clip)]
    stabiliser = DepthStabiliser(FOCAL, StabiliseSettings(settle_frames=4))
    counts = [
        len(stabiliser.push(frame.rgb, depth)) for frame, depth in zip(clip, raw, strict=True)
    ]
    assert counts == [0, 0, 0, 4, 1, 1, 1, 1]
    assert stabiliser.finish() == []
    # a clip shorter than the settling frames comes out at the end
    short = DepthStabiliser(FOCAL, StabiliseSettings(settle_frames=12))
    assert [len(short.push(f.rgb, d)) for f, d in zip(clip[:3], raw[:3], strict=True)] == [0, 0, 0]
    assert len(short.finish()) == 3


def test_a_cut_starts_afresh() -> None:
    first = scene(frames=4)
    other = list(
        layered_clip(
            [Layer(texture(240, 320, 9), (-4, -3, 4, 3), 2.0)],
            size=(160, 120),
            focal_px=FOCAL,
            frames=3,
        )
    )
    stabiliser = DepthStabiliser(FOCAL, StabiliseSettings(settle_frames=0))
    for frame in first:
        stabiliser.push(frame.rgb, np.where(np.isfinite(frame.depth), frame.depth, 6.0))
    assert not stabiliser.last.cut
    (out,) = stabiliser.push(other[0].rgb, other[0].depth * 1.5)
    assert stabiliser.last.cut
    np.testing.assert_allclose(out, other[0].depth * 1.5, rtol=1e-5)


def test_fit_recovers_scale_and_shift_despite_outliers() -> None:
    rng = np.random.default_rng(0)
    u = rng.uniform(0.2, 1.0, 5000)
    reference = 1.5 * u + 0.05
    reference[:500] *= rng.uniform(1.5, 3.0, 500)  # a tenth of the pixels on a moving object
    scale, shift, noise = fit_inverse_affine(u, reference)
    assert scale == pytest.approx(1.5, rel=0.01)
    assert shift == pytest.approx(0.05, abs=0.005)
    assert noise < 0.01
    scale_only, none, _ = fit_inverse_affine(u[500:], 1.5 * u[500:], shift=False)
    assert scale_only == pytest.approx(1.5, rel=1e-6)
    assert none == 0.0


def test_fit_scale_is_unbiased_when_both_sides_are_noisy() -> None:
    # A least-squares slope would come out ~0.3 % low here, every frame: a drift.
    rng = np.random.default_rng(1)
    u = rng.uniform(0.2, 1.0, 20000)
    noisy = u * (1 + rng.normal(0, 0.05, u.size))
    reference = 0.8 * u * (1 + rng.normal(0, 0.05, u.size))
    scale, _, _ = fit_inverse_affine(noisy, reference, shift=False)
    assert scale == pytest.approx(0.8, rel=0.002)


def test_flicker_measures_change_at_corresponding_pixels() -> None:
    previous = np.full((4, 6), 2.0, np.float32)
    previous[:, 3:] = 4.0
    current = np.roll(previous, -1, axis=1) * np.float32(1.1)  # moved left by 1, 10 % farther
    xs, ys = np.meshgrid(np.arange(6, dtype=np.float32), np.arange(4, dtype=np.float32))
    flicker = Flicker()
    mask = np.ones((4, 6), bool)
    mask[:, -1] = False  # its source is outside the previous frame
    flicker.add(previous, current, xs + 1, ys, mask)
    assert flicker.pixels == 20
    assert flicker.metres == pytest.approx((8 * 0.2 + 12 * 0.4) / 20)
    assert flicker.relative == pytest.approx(0.1 / 1.1)


def test_bad_input_is_refused() -> None:
    stabiliser = DepthStabiliser(FOCAL)
    frame = np.zeros((12, 16, 3), np.uint8)
    with pytest.raises(InputError, match="uint8"):
        stabiliser.push(frame.astype(np.float32), np.ones((12, 16)))
    with pytest.raises(InputError, match="depth map"):
        stabiliser.push(frame, np.ones((16, 12)))
    stabiliser.push(frame, np.ones((12, 16)))
    with pytest.raises(InputError, match="one size"):
        stabiliser.push(np.zeros((24, 32, 3), np.uint8), np.ones((24, 32)))
    with pytest.raises(ConfigError, match="temporal_weight"):
        DepthStabiliser(FOCAL, StabiliseSettings(temporal_weight=-1))
    with pytest.raises(ConfigError, match="focal"):
        DepthStabiliser(0.0)


def test_invalid_depth_stays_invalid() -> None:
    clip = scene(frames=5)
    raw = []
    for frame in clip:
        depth = np.where(np.isfinite(frame.depth), frame.depth, 6.0).astype(np.float32)
        depth[:10, :10] = np.nan  # the model knows nothing here
        depth[-5:, -5:] = 0.0
        raw.append(depth)
    for result in stabilised(clip, raw):
        assert np.isnan(result[:10, :10]).all() and np.isnan(result[-5:, -5:]).all()
        assert np.isfinite(result[20:-20, 20:-20]).all()
