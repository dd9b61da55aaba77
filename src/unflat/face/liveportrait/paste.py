"""Paste the network's square picture back into the full frame, through a feathered mask.

The network redraws the whole crop (face, hair, shoulders and the background around them), so the
square goes back in whole; only its rim is blended, so the seam fades and the black the crop took
from beyond the photo's edges never shows. The mask is zero on the outermost ``1/64`` of the side
(where resampling mixes in the border) and rises along a raised cosine over the next ``1/32``. It is
warped into the frame with the crop's inverse transform; every pixel where it is zero (everything
outside the turned square, and its rim) is the portrait's own, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from unflat.face.liveportrait.crop import FaceCrop, pixel_centre_matrix

#: The rim left out (share of the side) and the ramp's width after it.
RIM = 1 / 64
RAMP = 1 / 32


@lru_cache(maxsize=4)
def feather_mask(size: int) -> np.ndarray:
    """``float32 [size,size]``: 0 on the rim, a raised-cosine ramp, then 1."""
    centres = (np.arange(size) + 0.5) / size
    edge = np.minimum(centres, 1 - centres)  # distance to the nearest side, in sides
    ramp = np.clip((edge - RIM) / RAMP, 0.0, 1.0)
    profile = (0.5 - 0.5 * np.cos(np.pi * ramp)).astype(np.float32)
    mask = np.minimum(profile[:, None], profile[None, :])
    mask.setflags(write=False)
    return mask


@dataclass
class Pasted:
    """A pasted frame and where it changed: inside ``region`` (x0, y0, x1, y1) the crop shows
    with weight ``alpha``; outside it the frame is the portrait."""

    frame: np.ndarray
    region: tuple[int, int, int, int]
    alpha: np.ndarray


def crop_region(crop: FaceCrop, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The whole-pixel box (x0, y0, x1, y1) of the turned square inside an image of ``shape``."""
    corners = crop.corners()
    height, width = shape[:2]
    x0, y0 = (int(v) for v in np.floor(corners.min(axis=0)))
    x1, y1 = (int(v) for v in np.ceil(corners.max(axis=0)))
    return max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)


def paste_back(picture: np.ndarray, crop: FaceCrop, portrait: np.ndarray) -> Pasted:
    """``picture`` (``uint8 [S,S,3]``, the network's output for ``crop``) put back into a copy
    of ``portrait`` (``uint8 [H,W,3]``)."""
    size = picture.shape[0]
    if picture.shape[:2] != (size, size):
        raise ValueError(f"the picture must be square, got {picture.shape[:2]}")
    frame = portrait.copy()
    x0, y0, x1, y1 = region = crop_region(crop, portrait.shape)
    if x1 <= x0 or y1 <= y0:
        return Pasted(frame, region, np.zeros((0, 0), np.float32))
    # region pixels -> crop pixels: the crop's transform after moving the region's origin
    origin = np.eye(3)
    origin[:2, 2] = (x0, y0)
    to_crop = pixel_centre_matrix(crop.to_crop(size) @ origin)[:2]
    inverse = cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR
    box = (x1 - x0, y1 - y0)
    warped = cv2.warpAffine(picture, to_crop, box, flags=inverse, borderValue=0)
    alpha = cv2.warpAffine(feather_mask(size), to_crop, box, flags=inverse, borderValue=0)
    alpha = np.clip(alpha, 0.0, 1.0)
    inside = alpha > 0
    below = portrait[y0:y1, x0:x1].astype(np.float32)
    blended = alpha[..., None] * warped.astype(np.float32) + (1 - alpha[..., None]) * below
    mixed = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
    frame[y0:y1, x0:x1] = np.where(inside[..., None], mixed, portrait[y0:y1, x0:x1])
    return Pasted(frame, region, alpha)


def source_map(
    crop: FaceCrop, offset: np.ndarray, region: tuple[int, int, int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Where each pixel of ``region`` came from in the portrait (``map_x``, ``map_y``, float32,
    OpenCV pixel coordinates), by the network's backward flow: ``offset`` ``[h,w,2]`` is, per
    cell of the crop, how far from where it samples at rest it samples now, in ``grid_sample``
    units (2 across the crop). Outside the crop the pixels stay where they are."""
    x0, y0, x1, y1 = region
    # region pixel centres -> the crop in [0, 1] (an affine map, built from a row and a column)
    to_unit = crop.to_crop(1)
    xs = np.arange(x0, x1, dtype=np.float32)[None, :] + 0.5
    ys = np.arange(y0, y1, dtype=np.float32)[:, None] + 0.5
    unit_x = to_unit[0, 0] * xs + to_unit[0, 1] * ys + to_unit[0, 2]
    unit_y = to_unit[1, 0] * xs + to_unit[1, 1] * ys + to_unit[1, 2]
    # ... -> the offset's own cell grid (OpenCV coordinates), sampled there
    height, width = offset.shape[:2]
    grid_x = (unit_x * width - 0.5).astype(np.float32)
    grid_y = (unit_y * height - 0.5).astype(np.float32)
    moved = cv2.remap(offset.astype(np.float32), grid_x, grid_y, cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    from_x, from_y = unit_x + moved[..., 0] / 2, unit_y + moved[..., 1] / 2
    to_image = crop.to_image(1)
    source_x = to_image[0, 0] * from_x + to_image[0, 1] * from_y + to_image[0, 2]
    source_y = to_image[1, 0] * from_x + to_image[1, 1] * from_y + to_image[1, 2]
    inside = (unit_x >= 0) & (unit_x <= 1) & (unit_y >= 0) & (unit_y <= 1)
    map_x = np.where(inside, source_x, xs) - 0.5
    map_y = np.where(inside, source_y, ys) - 0.5
    return map_x.astype(np.float32), map_y.astype(np.float32)
