"""Lens blur from a metric depth map: a thin lens's circle of confusion, scattered as discs.

**The lens.** A thin lens of focal length ``f`` at f-number ``N`` (aperture diameter ``f/N``)
focused at distance ``S1`` images a point at distance ``S2`` as a disc of diameter
``c = (f/N) * f * |S2 - S1| / (S2 * (S1 - f))`` on the sensor. Distances are depths along the
optical axis (the depth map's z), in metres.

**Millimetres to pixels.** ``focal_mm`` and the depth map's ``focal_px`` describe the same
lens, so one sensor millimetre is ``focal_px / focal_mm`` pixels and the disc is
``c_px = focal_px * (f/N) * |S2 - S1| / (S2 * (S1 - f))`` pixels wide. With the default
``focal_mm`` (the photo's 35 mm-equivalent focal length, from its field of view: the 36x24 mm
frame's diagonal, 43.27 mm, over the image's diagonal in pixels, times ``focal_px``) the blur
is that of a full-frame camera with the photo's framing; give a phone's real focal length
(e.g. 6 mm) instead and the sensor shrinks with it, and so does the blur.

**The blur.** Linear light (sRGB decoded), discs not Gaussians, occlusion by depth layers
(:mod:`unflat.lens.scatter`), and what the photo never saw behind a blurred foreground's edge
filled from the background across it (:mod:`unflat.lens.hidden`). Clipped highlights (sRGB near
255) of out-of-focus pixels are brightened by ``highlights`` before the blur, since an 8-bit
photo cannot tell a lamp from a white wall: their discs then stay bright, as bokeh does.
In-focus pixels keep their values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from unflat.colour import linear_to_srgb8, srgb8_to_linear
from unflat.errors import ConfigError
from unflat.geometry.fill import nearest_fill
from unflat.lens.hidden import hidden_samples
from unflat.lens.scatter import SHARP_RADIUS, layer_of, scatter_layers
from unflat.progress import Progress

#: The 36x24 mm frame's diagonal: the reference of 35 mm-equivalent focal lengths.
FULL_FRAME_DIAGONAL_MM = math.hypot(36.0, 24.0)
#: f-numbers a lens can have: f/0.5 is the theoretical limit in air; f/64 a large-format stop.
F_NUMBER_RANGE = (0.5, 64.0)
#: sRGB lumas from here to 1 count as (possibly clipped) highlights, fully from 1.
HIGHLIGHT_START = 0.85
#: The blur radius is capped at this fraction of the image diagonal (time grows with it).
MAX_RADIUS_FRACTION = 0.05


@dataclass(frozen=True)
class Lens:
    """An f-number and a focal length in millimetres (None: the photo's 35 mm equivalent)."""

    f_number: float
    focal_mm: float | None = None

    def check(self) -> None:
        """Raise ``ConfigError`` for an f-number or focal length no lens has."""
        low, high = F_NUMBER_RANGE
        if not (math.isfinite(self.f_number) and low <= self.f_number <= high):
            raise ConfigError(
                f"f-number {self.f_number:g} is not one a lens can have",
                hint=f"give --f-number between {low:g} and {high:g} (e.g. 2.0)",
            )
        if self.focal_mm is not None and not (
            math.isfinite(self.focal_mm) and 1.0 <= self.focal_mm <= 2000.0
        ):
            raise ConfigError(
                f"focal length {self.focal_mm:g} mm is not one a lens can have",
                hint="give --focal-mm between 1 and 2000 (e.g. 26 for a phone's main camera)",
            )

    def focal_metres(self, focal_px: float, width: int, height: int) -> float:
        """The focal length in metres: ``focal_mm``, else the 35 mm equivalent of the view."""
        if self.focal_mm is not None:
            return self.focal_mm / 1000.0
        return equivalent_focal_mm(focal_px, width, height) / 1000.0


def equivalent_focal_mm(focal_px: float, width: int, height: int) -> float:
    """The 35 mm-equivalent focal length (mm) of a view ``focal_px`` wide, on the diagonal."""
    return float(focal_px) * FULL_FRAME_DIAGONAL_MM / math.hypot(width, height)


def circle_of_confusion(
    depth: np.ndarray, focus_m: float, f_number: float, focal_m: float, focal_px: float
) -> np.ndarray:
    """Signed diameter (px) of the blur disc of each depth: positive behind the focus plane."""
    if not focus_m > focal_m:
        raise ConfigError(
            f"cannot focus at {focus_m:g} m: a {focal_m * 1000:g} mm lens focuses beyond "
            f"{focal_m:g} m only",
            hint="focus farther away",
        )
    aperture = focal_m / f_number
    scale = np.float32(focal_px * aperture / (focus_m - focal_m))
    z = np.asarray(depth, dtype=np.float32)
    return scale * (np.float32(1.0) - np.float32(focus_m) / z)


def blur_radius(
    depth: np.ndarray, focal_px: float, focus_m: float, lens: Lens
) -> tuple[np.ndarray, float, float]:
    """Signed blur radius (px) of each depth, capped; the largest uncapped one; the cap.

    The cap (:data:`MAX_RADIUS_FRACTION` of the diagonal) bounds the time, which grows with the
    radius; ``depth`` must be valid everywhere (:func:`fill_missing_depth`).
    """
    lens.check()
    height, width = depth.shape
    focal_m = lens.focal_metres(focal_px, width, height)
    radius = circle_of_confusion(depth, focus_m, lens.f_number, focal_m, focal_px) / 2.0
    largest = float(np.abs(radius).max())
    cap = max(SHARP_RADIUS, MAX_RADIUS_FRACTION * math.hypot(width, height))
    return np.clip(radius, -cap, cap), largest, cap


def fill_missing_depth(depth: np.ndarray) -> np.ndarray:
    """``depth`` with each invalid value (NaN, inf, <= 0) replaced by its nearest valid one."""
    metres = np.asarray(depth, dtype=np.float32)
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(metres) & (metres > 0)
    if valid.all():
        return metres
    if not valid.any():
        raise ConfigError("the depth map has no valid value", hint="give a depth map in metres")
    return nearest_fill(metres, ~valid)


def boost_highlights(
    linear: np.ndarray, rgb: np.ndarray, radius: np.ndarray, gain: float
) -> np.ndarray:
    """``linear`` with its near-white pixels multiplied by up to ``gain`` where blurred.

    Full gain from an sRGB luma of 1.0 (clipped white) and 1.5 px of blur radius; none at luma
    ``HIGHLIGHT_START`` or for sharp pixels (radius 0.5), which keep their exact colour.
    """
    if gain == 1.0:
        return linear
    # brightness as luma, not the largest channel: warm skin or a red flower has one channel near
    # 255 without being a light source (the Mona Lisa's chest glowed with the largest channel)
    peak = rgb[..., 0] * 0.2126 + rgb[..., 1] * 0.7152 + rgb[..., 2] * 0.0722
    bright = peak > round(HIGHLIGHT_START * 255)  # few pixels: work on those only
    t = (peak[bright].astype(np.float32) / 255 - HIGHLIGHT_START) / (1 - HIGHLIGHT_START)
    blur = np.clip(np.abs(radius[bright]) - SHARP_RADIUS, 0.0, 1.0)
    factor = 1 + (gain - 1) * np.minimum(t, 1) ** 2 * (3 - 2 * np.minimum(t, 1)) * blur
    boosted = linear.copy()
    boosted[bright] *= factor[:, None].astype(np.float32)
    return boosted


def refocus_linear(
    rgb: np.ndarray,
    depth: np.ndarray,
    focal_px: float,
    focus_m: float,
    lens: Lens,
    *,
    highlights: float = 1.0,
    progress: Progress | None = None,
) -> np.ndarray:
    """The blurred photo in linear light (``float32 [H,W,3]``, highlights may exceed 1)."""
    radius, _, _ = blur_radius(fill_missing_depth(depth), focal_px, focus_m, lens)
    linear = boost_highlights(to_linear(rgb), rgb, radius, highlights)
    layers = layer_of(radius)
    hidden = hidden_samples(radius, layers, linear)
    return scatter_layers(linear, radius, layers, hidden=hidden, progress=progress)


def to_linear(rgb: np.ndarray) -> np.ndarray:
    """``uint8`` sRGB to linear light (``float32``, exact per code)."""
    return srgb8_to_linear(rgb)


def to_srgb8(linear: np.ndarray) -> np.ndarray:
    """Linear light to ``uint8`` sRGB, clipped to [0, 1] first."""
    return linear_to_srgb8(linear)


def refocus(
    rgb: np.ndarray,
    depth: np.ndarray,
    focal_px: float,
    focus_m: float,
    lens: Lens,
    *,
    highlights: float = 3.0,
    progress: Progress | None = None,
) -> np.ndarray:
    """``rgb`` (``uint8 [H,W,3]``) as a lens focused at ``focus_m`` metres would have taken it.

    ``depth`` is metric z (``[H,W]``, invalid values take their nearest valid neighbour's),
    ``focal_px`` its focal length in pixels; see the module docstring for the lens model.
    """
    linear = refocus_linear(rgb, depth, focal_px, focus_m, lens, highlights=highlights,
                            progress=progress)  # fmt: skip
    return to_srgb8(linear)
