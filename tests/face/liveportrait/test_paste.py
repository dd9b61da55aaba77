"""Paste-back: the network's square goes back in place, and nothing outside its mask changes."""

from __future__ import annotations

import numpy as np

from unflat.face.liveportrait.crop import FaceCrop
from unflat.face.liveportrait.paste import (
    RAMP,
    RIM,
    feather_mask,
    paste_back,
    paste_layout,
    source_grid,
    source_map,
)


def _crop(centre: tuple[float, float], side: float, degrees: float) -> FaceCrop:
    angle = np.radians(degrees)
    axes = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    return FaceCrop(np.array(centre), side, axes)


def test_the_mask_is_zero_on_the_rim_one_inside_and_rises_smoothly() -> None:
    mask = feather_mask(256)
    rim, ramp = int(256 * RIM), int(256 * RAMP)
    assert mask[:rim].max() == 0 and mask[:, -rim:].max() == 0
    assert mask[rim + ramp + 1 : -(rim + ramp + 1), rim + ramp + 1 : -(rim + ramp + 1)].min() == 1
    profile = mask[128, : rim + ramp + 2]
    assert (np.diff(profile) >= 0).all() and 0.3 < profile[rim + ramp // 2] < 0.7


def test_pixels_outside_the_mask_are_the_portrait_bit_for_bit() -> None:
    rng = np.random.default_rng(0)
    portrait = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    ys, xs = np.mgrid[0:128, 0:128]
    picture = np.stack([xs * 2, ys * 2, 255 - xs - ys], axis=-1).astype(np.uint8)
    crop = _crop((150.0, 60.0), 150.0, 17.0)  # turned, and over the top edge
    pasted = paste_back(picture, crop, portrait)
    x0, y0, x1, y1 = pasted.region
    assert (x0, y0) == (int(np.floor(crop.corners()[:, 0].min())), 0)
    outside = np.ones(portrait.shape[:2], bool)
    outside[y0:y1, x0:x1] = pasted.alpha <= 0
    assert outside.mean() > 0.5
    assert np.array_equal(pasted.frame[outside], portrait[outside])
    # where the mask is full the frame is the picture, put back by the inverse transform
    full = np.argwhere(pasted.alpha >= 1)
    assert len(full) > 5000
    for y, x in full[:: len(full) // 20]:
        cx, cy = crop.to_crop(128)[:2] @ [x0 + x + 0.5, y0 + y + 0.5, 1]
        nearest = picture[int(cy), int(cx)].astype(int)
        assert np.abs(pasted.frame[y0 + y, x0 + x].astype(int) - nearest).max() <= 3
    assert pasted.frame.dtype == np.uint8 and pasted.frame.shape == portrait.shape


def test_the_portrait_cut_and_pasted_back_is_the_portrait() -> None:
    ys, xs = np.mgrid[0:240, 0:320]
    smooth = np.stack([xs * 0.7, ys * 0.9, (xs + ys) * 0.4], axis=-1).astype(np.uint8)
    crop = _crop((160.0, 120.0), 140.0, -25.0)
    pasted = paste_back(crop.cut(smooth, 256), crop, smooth)
    x0, y0, x1, y1 = pasted.region
    inside = pasted.alpha > 0
    error = np.abs(pasted.frame[y0:y1, x0:x1].astype(int) - smooth[y0:y1, x0:x1])[inside]
    assert error.max() <= 2  # two bilinear resamplings of a smooth ramp


def test_a_crop_outside_the_image_changes_nothing() -> None:
    portrait = np.full((50, 60, 3), 7, np.uint8)
    pasted = paste_back(np.zeros((64, 64, 3), np.uint8), _crop((500.0, 500.0), 40.0, 0.0),
                        portrait)  # fmt: skip
    assert np.array_equal(pasted.frame, portrait) and pasted.alpha.size == 0


def test_the_flow_says_where_each_pasted_pixel_came_from() -> None:
    crop = _crop((150.0, 60.0), 150.0, 17.0)
    region = (10, 0, 200, 150)
    ys, xs = np.mgrid[0:150, 10:200]
    map_x, map_y = source_map(crop, np.zeros((16, 16, 2)), region)
    assert np.abs(map_x - xs).max() < 1e-3 and np.abs(map_y - ys).max() < 1e-3
    # sampling 0.1 grid units (0.05 of the side) further along the crop's x axis: each pixel
    # inside the crop comes from that far along it in the portrait
    map_x, map_y = source_map(crop, np.full((16, 16, 2), [0.1, 0.0]), region)
    along = crop.axes[0] * 0.05 * crop.side
    unit = np.stack([xs + 0.5, ys + 0.5, np.ones_like(xs)], axis=-1) @ crop.to_crop(1).T
    inside = (unit[..., :2] > 0).all(axis=-1) & (unit[..., :2] < 1).all(axis=-1)
    assert inside.mean() > 0.3
    assert np.abs(map_x[inside] - xs[inside] - along[0]).max() < 1e-3
    assert np.abs(map_y[inside] - ys[inside] - along[1]).max() < 1e-3
    assert np.array_equal(map_x[~inside], xs[~inside].astype(np.float32))


def test_a_layout_made_once_pastes_every_frame_as_a_fresh_paste_does() -> None:
    rng = np.random.default_rng(1)
    portrait = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    crop = _crop((150.0, 60.0), 150.0, 17.0)
    layout = paste_layout(crop, portrait, 64)
    grid = source_grid(crop, layout.region, (16, 16, 2))
    for _ in range(2):
        picture = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        offset = rng.normal(0.0, 0.05, (16, 16, 2))
        once, fresh = layout.paste(picture), paste_back(picture, crop, portrait)
        assert np.array_equal(once.frame, fresh.frame) and once.region == fresh.region
        assert np.array_equal(once.alpha, fresh.alpha) and not once.alpha.flags.writeable
        mine, theirs = grid.source_map(offset), source_map(crop, offset, once.region)
        assert all(np.array_equal(a, b) for a, b in zip(mine, theirs, strict=True))
