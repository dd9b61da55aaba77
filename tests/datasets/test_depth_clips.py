"""The clips with known depth: their correspondences and the jitter are what they say."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from unflat.datasets.depth_clips import (
    Layer,
    Mover,
    jittered_depth,
    layered_clip,
    panned_clip,
    texture,
)


def sample(image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    return cv2.remap(
        image.astype(np.float32), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def test_layered_clip_correspondences_follow_the_surfaces() -> None:
    layers = [
        Layer(texture(120, 160, 1), (-4, -3, 4, 3), 6.0),
        Layer(texture(60, 60, 2), (-0.5, -0.5, 0.5, 0.5), 2.0),
    ]
    step = (0.1, 0.0, 0.0)
    clip = list(layered_clip(layers, size=(96, 72), focal_px=80, frames=3, camera_step=step))
    first, second = clip[0], clip[1]
    assert first.map_x is None and second.map_x is not None
    # the camera moves 10 cm right: the wall (6 m) slides 80*0.1/6 px left, the board 4 px
    wall = second.static & (second.depth > 4)
    board = second.static & (second.depth < 4)
    xs = np.arange(96, dtype=np.float32)[None, :].repeat(72, 0)
    assert np.allclose((second.map_x - xs)[wall], 80 * 0.1 / 6, atol=1e-4)
    assert np.allclose((second.map_x - xs)[board], 80 * 0.1 / 2, atol=1e-4)
    # a static pixel's colour and depth are where its map says they were
    grey = [cv2.cvtColor(f.rgb, cv2.COLOR_RGB2GRAY) for f in (first, second)]
    before = sample(grey[0], second.map_x, second.map_y)
    error = np.median(np.abs(before[second.static] - grey[1][second.static]))
    unmoved = np.median(np.abs(grey[0][second.static].astype(float) - grey[1][second.static]))
    assert error < 3.0 and error < unmoved / 2  # resampling the texture costs a little
    depth_before = sample(first.depth, second.map_x, second.map_y)
    np.testing.assert_allclose(depth_before[second.static], second.depth[second.static], 1e-5)
    # pixels beside the board's edge are not static: the surface there changes
    assert second.static.sum() < (np.isfinite(second.depth)).sum()


def test_moving_layer_is_moving_not_static() -> None:
    layers = [
        Layer(texture(120, 160, 1), (-4, -3, 4, 3), 6.0),
        Layer(texture(40, 40, 3), (-0.2, -0.2, 0.2, 0.2), 2.0, (0.05, 0.0, -0.02)),
    ]
    clip = list(layered_clip(layers, size=(96, 72), focal_px=80, frames=4, camera_step=(0, 0, 0)))
    for frame in clip:
        assert frame.moving.any() and not (frame.moving & frame.static).any()
    assert clip[3].depth[clip[3].moving].max() == pytest.approx(2.0 - 3 * 0.02)


def test_panned_clip_shifts_by_whole_pixels_and_draws_the_mover() -> None:
    rgb = texture(80, 120, 4)
    depth = np.linspace(2.0, 4.0, 120, dtype=np.float32)[None, :].repeat(80, 0)
    mover = Mover(texture(10, 10, 5), (30, 20), (2.0, 0.0), 1.0, -0.1)
    clip = list(panned_clip(rgb, depth, size=(60, 40), frames=5, step=(2.0, 1.0), mover=mover))
    second = clip[1]
    np.testing.assert_array_equal(second.map_x[0, :3], [2, 3, 4])
    np.testing.assert_array_equal(second.map_y[:3, 0], [1, 2, 3])
    assert second.moving.sum() == 100
    assert second.depth[second.moving].max() == pytest.approx(0.9)
    # static pixels see the same depth in both frames
    carried = sample(clip[0].depth, second.map_x, second.map_y)
    np.testing.assert_allclose(carried[second.static], second.depth[second.static])
    with pytest.raises(ValueError, match="cannot pan"):
        list(panned_clip(rgb, depth, size=(60, 40), frames=50, step=(2.0, 0.0)))


def test_jittered_depth_is_reproducible_and_as_strong_as_asked() -> None:
    depth = np.full((120, 160), 4.0, np.float32)
    depth[:10, :10] = np.nan  # unknown: filled, as a model leaves no holes
    first = jittered_depth(depth, 0, seed=7)
    np.testing.assert_array_equal(first, jittered_depth(depth, 0, seed=7))
    assert np.isfinite(first).all()
    # only a scale: the inverse depth's log-ratio to the truth spreads as asked
    gains = [float(np.median(4.0 / jittered_depth(depth, i, seed=1, shift=0.0, blotches=0.0,
                                                   noise=0.0))) for i in range(200)]  # fmt: skip
    assert np.std(np.log(gains)) == pytest.approx(0.08, rel=0.15)
    # pixel noise alone: 2 % of inverse depth
    noisy = jittered_depth(depth, 3, scale=0.0, shift=0.0, blotches=0.0, noise=0.02)
    assert np.std(4.0 / noisy[20:, 20:]) == pytest.approx(0.02, rel=0.05)
