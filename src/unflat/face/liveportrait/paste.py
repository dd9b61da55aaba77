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
#: OpenCV's flags for warping the picture by a region-to-crop matrix.
_INVERSE = cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR


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


@dataclass(frozen=True)
class PasteLayout:
    """What pasting ``size`` x ``size`` pictures of one crop into one portrait needs that no
    frame changes: the region, the matrix from its pixels to the picture's (OpenCV's
    convention), the feathered mask warped into it and the portrait's share of the blend."""

    size: int
    portrait: np.ndarray  # uint8 [H,W,3]
    region: tuple[int, int, int, int]
    to_crop: np.ndarray  # [2,3]
    alpha: np.ndarray  # float32 [h,w], read-only: every frame's Pasted shares it
    kept: np.ndarray  # float32 [h,w,3] (1 - alpha) times the portrait under the region
    shown: np.ndarray  # bool [h,w,1] where alpha > 0: the rest stays the portrait's own

    def paste(self, picture: np.ndarray) -> Pasted:
        """``picture`` (``uint8 [size,size,3]``) put back into a copy of the portrait."""
        if picture.shape[:2] != (self.size, self.size):
            raise ValueError(f"the picture must be {self.size} square, got {picture.shape[:2]}")
        frame = self.portrait.copy()
        x0, y0, x1, y1 = self.region
        if self.alpha.size == 0:
            return Pasted(frame, self.region, np.zeros((0, 0), np.float32))
        box = (x1 - x0, y1 - y0)
        warped = cv2.warpAffine(picture, self.to_crop, box, flags=_INVERSE, borderValue=0)
        blended = self.alpha[..., None] * warped.astype(np.float32) + self.kept
        mixed = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
        below = self.portrait[y0:y1, x0:x1]
        frame[y0:y1, x0:x1] = np.where(self.shown, mixed, below)
        return Pasted(frame, self.region, self.alpha)


def paste_layout(crop: FaceCrop, portrait: np.ndarray, size: int) -> PasteLayout:
    """The :class:`PasteLayout` of ``size`` pictures of ``crop`` into ``portrait``."""
    x0, y0, x1, y1 = region = crop_region(crop, portrait.shape)
    if x1 <= x0 or y1 <= y0:
        empty = np.zeros((0, 0), np.float32)
        return PasteLayout(size, portrait, region, np.eye(3)[:2], empty, empty, empty > 0)
    # region pixels -> crop pixels: the crop's transform after moving the region's origin
    origin = np.eye(3)
    origin[:2, 2] = (x0, y0)
    to_crop = pixel_centre_matrix(crop.to_crop(size) @ origin)[:2]
    box = (x1 - x0, y1 - y0)
    alpha = cv2.warpAffine(feather_mask(size), to_crop, box, flags=_INVERSE, borderValue=0)
    alpha = np.clip(alpha, 0.0, 1.0)
    alpha.setflags(write=False)
    kept = (1 - alpha[..., None]) * portrait[y0:y1, x0:x1].astype(np.float32)
    return PasteLayout(size, portrait, region, to_crop, alpha, kept, alpha[..., None] > 0)


def paste_back(picture: np.ndarray, crop: FaceCrop, portrait: np.ndarray) -> Pasted:
    """``picture`` (``uint8 [S,S,3]``, the network's output for ``crop``) put back into a copy
    of ``portrait`` (``uint8 [H,W,3]``); frames of one crop reuse :func:`paste_layout`'s."""
    size = picture.shape[0]
    if picture.shape[:2] != (size, size):
        raise ValueError(f"the picture must be square, got {picture.shape[:2]}")
    return paste_layout(crop, portrait, size).paste(picture)


@dataclass(frozen=True)
class SourceGrid:
    """What :func:`source_map` needs that no frame changes, for one crop, region and flow
    shape: the region's pixel centres in the crop's [0, 1] square, where they fall on the
    flow's cells, and which of them are inside the crop."""

    region: tuple[int, int, int, int]
    flow_shape: tuple[int, int]
    to_image: np.ndarray  # [3,3] the crop's [0, 1] square -> image pixels
    xs: np.ndarray  # [1,w] the region's pixel centres
    ys: np.ndarray  # [h,1]
    unit_x: np.ndarray  # [h,w]
    unit_y: np.ndarray
    grid_x: np.ndarray  # float32 [h,w] OpenCV coordinates on the flow's cells
    grid_y: np.ndarray
    inside: np.ndarray  # bool [h,w]

    def source_map(self, offset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:func:`source_map` of ``offset`` ``[h,w,2]`` (of :attr:`flow_shape`)."""
        if offset.shape[:2] != self.flow_shape:
            raise ValueError(f"the flow must be {self.flow_shape}, got {offset.shape[:2]}")
        moved = cv2.remap(offset.astype(np.float32), self.grid_x, self.grid_y, cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
        from_x, from_y = self.unit_x + moved[..., 0] / 2, self.unit_y + moved[..., 1] / 2
        to_image = self.to_image
        source_x = to_image[0, 0] * from_x + to_image[0, 1] * from_y + to_image[0, 2]
        source_y = to_image[1, 0] * from_x + to_image[1, 1] * from_y + to_image[1, 2]
        map_x = np.where(self.inside, source_x, self.xs) - 0.5
        map_y = np.where(self.inside, source_y, self.ys) - 0.5
        return map_x.astype(np.float32), map_y.astype(np.float32)


def source_grid(
    crop: FaceCrop, region: tuple[int, int, int, int], flow_shape: tuple[int, ...]
) -> SourceGrid:
    """The :class:`SourceGrid` of ``region`` for ``crop`` and flows ``[h,w,...]``."""
    x0, y0, x1, y1 = region
    # region pixel centres -> the crop in [0, 1] (an affine map, built from a row and a column)
    to_unit = crop.to_crop(1)
    xs = np.arange(x0, x1, dtype=np.float32)[None, :] + 0.5
    ys = np.arange(y0, y1, dtype=np.float32)[:, None] + 0.5
    unit_x = to_unit[0, 0] * xs + to_unit[0, 1] * ys + to_unit[0, 2]
    unit_y = to_unit[1, 0] * xs + to_unit[1, 1] * ys + to_unit[1, 2]
    # ... -> the flow's own cell grid (OpenCV coordinates), sampled there
    height, width = flow_shape[:2]
    grid_x = (unit_x * width - 0.5).astype(np.float32)
    grid_y = (unit_y * height - 0.5).astype(np.float32)
    inside = (unit_x >= 0) & (unit_x <= 1) & (unit_y >= 0) & (unit_y <= 1)
    return SourceGrid(region, (height, width), crop.to_image(1), xs, ys, unit_x, unit_y,
                      grid_x, grid_y, inside)  # fmt: skip


def source_map(
    crop: FaceCrop, offset: np.ndarray, region: tuple[int, int, int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Where each pixel of ``region`` came from in the portrait (``map_x``, ``map_y``, float32,
    OpenCV pixel coordinates), by the network's backward flow: ``offset`` ``[h,w,2]`` is, per
    cell of the crop, how far from where it samples at rest it samples now, in ``grid_sample``
    units (2 across the crop). Outside the crop the pixels stay where they are. Frames of one
    crop reuse :func:`source_grid`'s."""
    return source_grid(crop, region, offset.shape).source_map(offset)
