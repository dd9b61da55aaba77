"""Temporally stable depth for a video: each frame's depth made consistent with its neighbours.

A per-frame depth model sees every frame on its own: its scale and shift wander from frame to
frame (a few per cent makes a depth video shimmer) and its noise is new in every frame.
:class:`DepthStabiliser` takes a clip's frames one at a time with their depth and returns depth
that agrees along the video, holding only the previous frame (a long video streams through in
bounded memory). For each frame:

1. **Correspondences.** DIS optical flow (OpenCV) from the frame back to the previous one, on a
   copy at most :attr:`StabiliseSettings.flow_max_side` pixels wide, and forward again: a pixel
   whose backward flow the forward flow does not undo (within ``consistency_px``) is occluded,
   disoccluded or mismatched, and is not used.
2. **Camera motion.** The previous frame's stabilised depth lifts its matched pixels to 3D; their
   positions in this frame give the camera's motion (PnP inside RANSAC, so moving objects are
   outliers), and the points moved with the camera give the inverse depth each pixel should
   have now. Without this a camera walking forward would see the scene come nearer, and the
   alignment would undo exactly that.
3. **Alignment.** This frame's inverse depth ``u`` becomes ``a*u + b`` matching that
   prediction at the matched pixels (:func:`fit_inverse_affine`: the scale from the median
   ratio, the shift from a regression, both under robust weights), so pixels of moving objects,
   or where the flow is wrong, weigh (almost) nothing.
4. **Anchor.** Aligning every frame to the previous one alone would let small errors add up to
   a drift; each frame keeps a small share (``anchor``) of its own scale, so the clip's scale
   follows the long-run average of the model's, with a memory of about ``1 / anchor`` frames.
   The first ``settle_frames`` are held back and set to their average scale and shift, so the
   clip does not start from the first frame's error alone.
5. **Along the flow.** Where a pixel's match is trusted (consistent flow, no depth edge at its
   source in the previous frame, aligned value within the noise of the prediction) its depth is
   averaged with the previous frame's stabilised value carried along the flow: a recursive
   filter along motion trajectories, never in place. Other pixels keep this frame's aligned
   value. Nothing is filtered across the image, so an edge is exactly as sharp as the model
   made it.

Why inverse depth rather than log depth: the errors of monocular models are affine in inverse
depth. Relative models (MiDaS, DPT) are trained up to a scale and shift of inverse depth, and
metric ones such as Depth Pro predict inverse depth scaled by the focal length, so a wrong focal
length is a scale of it and the uncertain far range a shift. Log depth turns a scale into a
shift, but its scale-and-shift is a power law ``depth**a`` that no model makes, and a shift of
inverse depth has no form there. Inverse depth also stays finite for the sky (0), where log depth
is unbounded.

:func:`stabilise_depths` runs a whole clip; :class:`Flicker` measures the mean frame-to-frame
change of depth at corresponding pixels (the figure stabilisation lowers).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from unflat.errors import ConfigError, InputError

#: OpenCV's DIS presets by name: "medium" is the most accurate of the three, still ~30 ms for a
#: 640x480 pair on one core.
FLOW_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}
#: Fewer trusted matches than this share of the pixels is a cut (or a frame flow cannot follow):
#: the frame starts afresh from its own depth.
CUT_SHARE = 0.05
#: Correlation of a frame with the previous one (along the flow) below which it is a cut.
CUT_CORRELATION = 0.5
#: Grey levels (of 255) by which a pixel may differ from its match in the previous frame.
GREY_TOLERANCE = 24
#: Fewest matches for a fit or a camera motion.
MIN_MATCHES = 50
#: Most matches the fit and PnP use: more only costs time.
MAX_MATCHES = 4000


@dataclass(frozen=True)
class StabiliseSettings:
    """How :class:`DepthStabiliser` works (module docstring); the defaults suit most clips.

    ``enabled=False`` passes each frame's depth through unchanged but still measures its
    flicker. ``temporal_weight`` is the weight of the previous frame's stabilised depth carried
    along the flow against 1 for this frame's (0: align scale and shift only). ``anchor`` is the
    share of each frame's own scale kept (the drift's memory is about ``1 / anchor`` frames).
    ``edge_ratio``: inverse depths differing by more than this factor within a 3x3 neighbourhood
    (after a 3x3 median, so pixel noise is no edge) mark a depth edge, where no value is carried
    along the flow. ``shift=False`` aligns the scale alone. ``settle_frames`` frames are held
    back at the start to set the clip's scale and shift to their average (0 or 1: the first
    frame's).
    """

    enabled: bool = True
    temporal_weight: float = 2.0
    anchor: float = 0.05
    shift: bool = True
    motion: bool = True
    flow_preset: str = "medium"
    flow_max_side: int = 640
    consistency_px: float = 1.0
    edge_ratio: float = 1.05
    sample_step: int = 3
    settle_frames: int = 12

    def validate(self) -> StabiliseSettings:
        """These settings, or ``ConfigError`` naming the first one out of range."""
        checks = [
            ("temporal_weight", self.temporal_weight >= 0, "0 or more"),
            ("anchor", 0 < self.anchor <= 1, "in (0, 1]"),
            ("flow_preset", self.flow_preset in FLOW_PRESETS, f"one of {sorted(FLOW_PRESETS)}"),
            ("flow_max_side", self.flow_max_side >= 16, "16 or more"),
            ("consistency_px", self.consistency_px > 0, "positive"),
            ("edge_ratio", self.edge_ratio > 1, "above 1"),
            ("sample_step", self.sample_step >= 1, "1 or more"),
            ("settle_frames", self.settle_frames >= 0, "0 or more"),
        ]
        for name, ok, wanted in checks:
            if not ok:
                raise ConfigError(
                    f"video depth setting {name}={getattr(self, name)!r} is not {wanted}",
                    hint="leave it at its default unless you know why",
                )
        return self


@dataclass
class Flicker:
    """Mean absolute frame-to-frame change of depth at corresponding pixels, accumulated.

    Each :meth:`add` compares a frame's depth with the previous frame's at the pixels ``mask``
    selects, the previous one sampled where each pixel came from (``map_x``, ``map_y``: its
    position in the previous frame). ``metres`` is the mean change, ``relative`` the mean of
    change over depth; both NaN before any pixel was counted.
    """

    total_metres: float = 0.0
    total_relative: float = 0.0
    pixels: int = 0

    def add(
        self,
        previous: np.ndarray,
        current: np.ndarray,
        map_x: np.ndarray,
        map_y: np.ndarray,
        mask: np.ndarray,
    ) -> None:
        """Count the change from ``previous`` (sampled at the maps) to ``current`` on ``mask``."""
        carried = _sample(previous, map_x, map_y)
        with np.errstate(invalid="ignore"):
            use = mask & np.isfinite(carried) & np.isfinite(current) & (current > 0)
        change = np.abs(current[use].astype(np.float64) - carried[use])
        self.total_metres += float(change.sum())
        self.total_relative += float((change / current[use]).sum())
        self.pixels += int(use.sum())

    @property
    def metres(self) -> float:
        return self.total_metres / self.pixels if self.pixels else float("nan")

    @property
    def relative(self) -> float:
        return self.total_relative / self.pixels if self.pixels else float("nan")


@dataclass(frozen=True)
class FrameReport:
    """What the stabiliser did with one frame: the fitted inverse-depth ``scale`` and ``shift``
    (``shift`` relative to the median inverse depth), the share of pixels ``matched`` to the
    previous frame, the share carried along the flow (``carried``), the camera's motion along
    its axis (``forward_m``, None when none was found) and whether the frame began afresh
    (``cut``: the first frame, a cut, or a frame the flow could not follow)."""

    index: int
    scale: float = 1.0
    shift: float = 0.0
    matched: float = 0.0
    carried: float = 0.0
    forward_m: float | None = None
    cut: bool = True


@dataclass
class _Previous:
    """What the stabiliser keeps of the previous frame (inverse depths NaN where invalid)."""

    grey: np.ndarray
    raw: np.ndarray  # its depth as given (metres), for the flicker figure
    inverse: np.ndarray  # its stabilised inverse depth: the output
    edges: np.ndarray  # uint8: 1 on depth edges (and invalid pixels) of ``inverse``


@dataclass
class _Match:
    """Where each pixel of the current frame was in the previous one, and whether to trust it."""

    map_x: np.ndarray
    map_y: np.ndarray
    trusted: np.ndarray  # consistent flow, inside the previous frame, no edge at the source


class DepthStabiliser:
    """Stabilises a clip's depth frame by frame (module docstring).

    :meth:`push` each frame with its depth; it returns the frames finished so far, in order,
    and :meth:`finish` the rest. The first ``settle_frames`` are held back: the clip's scale
    and shift are then set to their average over those frames, rather than to the first
    frame's alone (which would carry that one frame's error through the whole clip).

    ``focal_px`` is the clip's one focal length in pixels (it lifts pixels to 3D to find the
    camera's motion). ``raw_flicker`` and ``flicker`` measure the depth given and the depth
    returned along the same flow, on pixels whose match is trusted; ``last`` reports the
    latest frame pushed.
    """

    def __init__(self, focal_px: float, settings: StabiliseSettings | None = None) -> None:
        if not (np.isfinite(focal_px) and focal_px > 0):
            raise ConfigError(f"focal length {focal_px} is not positive", hint="give pixels")
        self.focal_px = float(focal_px)
        self.settings = (settings or StabiliseSettings()).validate()
        self._flow = cv2.DISOpticalFlow_create(FLOW_PRESETS[self.settings.flow_preset])
        self._previous: _Previous | None = None
        self._shape: tuple[int, int] | None = None
        # Outputs held until the clip's scale is settled, with each one's fit to its own input.
        self._pending: list[np.ndarray] = []
        self._settling: list[tuple[float, float]] | None = (
            [] if self.settings.enabled and self.settings.settle_frames > 1 else None
        )
        self.frames = 0
        self.raw_flicker = Flicker()
        self.flicker = Flicker()
        self.last: FrameReport | None = None

    def push(self, frame: np.ndarray, depth: np.ndarray) -> list[np.ndarray]:
        """Take the next frame (``uint8 [H,W,3]``) and its depth (``float [H,W]`` metres, NaN
        or 0 where unknown); return the stabilised depths (``float32`` metres) now finished."""
        frame, depth = self._checked(frame, depth)
        grey = self._grey(frame)
        raw_inverse = _inverse(depth)
        previous = self._previous
        if previous is None:
            inverse, report = raw_inverse, FrameReport(self.frames)
        else:
            match = self._match(previous, grey)
            inverse, report = self._stabilise(previous, match, raw_inverse)
            self._measure(previous, match, depth, inverse)
        self._previous = _Previous(grey, depth, inverse, self._edges(inverse))
        self.last = report
        self.frames += 1
        output = _depth(inverse)
        if self._settling is None:
            return [output]
        self._settling.append(self._fit_to_input(raw_inverse, inverse))
        self._pending.append(output)
        return self.finish() if len(self._pending) >= self.settings.settle_frames else []

    def finish(self) -> list[np.ndarray]:
        """The frames still held back (a clip shorter than ``settle_frames``), settled."""
        if not self._settling:
            self._settling = None
            return []
        scales, shifts = zip(*self._settling, strict=True)
        scale, shift = float(np.mean(scales)), float(np.mean(shifts))
        self._settling = None
        pending, self._pending = self._pending, []
        settled = [_depth(_affine(_inverse(depth), scale, shift)) for depth in pending]
        previous = self._previous
        if previous is not None:  # later frames follow the settled scale
            previous.inverse = _affine(previous.inverse, scale, shift)
            previous.edges = self._edges(previous.inverse)
        # the changes measured so far were between unsettled frames: mostly a matter of scale
        self.flicker.total_metres /= scale
        return settled

    def _fit_to_input(self, raw_inverse: np.ndarray, inverse: np.ndarray) -> tuple[float, float]:
        """``(a, b)`` taking this frame's stabilised inverse depth closest to its input's."""
        with np.errstate(invalid="ignore"):
            valid = np.isfinite(inverse) & np.isfinite(raw_inverse) & (raw_inverse > 0)
        # fitted the input (the noisier side) to the output, then turned round
        fit = self._fit(raw_inverse, inverse, valid)
        if fit is None:
            return 1.0, 0.0
        scale, shift, _ = fit
        return 1.0 / scale, -shift / scale

    # --- one frame ----------------------------------------------------------------------

    def _checked(self, frame: np.ndarray, depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        frame, depth = np.asarray(frame), np.asarray(depth)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise InputError(
                f"video frames must be uint8 [H,W,3], got {frame.dtype} {frame.shape}",
                hint="pass RGB frames as decoded by unflat.io.video.read_video",
            )
        if depth.shape != frame.shape[:2]:
            raise InputError(
                f"a {frame.shape[1]}x{frame.shape[0]} frame came with a "
                f"{depth.shape[-1]}x{depth.shape[0]} depth map",
                hint="give each frame's depth at the frame's size",
            )
        if self._shape is not None and depth.shape != self._shape:
            raise InputError(
                f"frame {self.frames} is {depth.shape[1]}x{depth.shape[0]}, the clip "
                f"{self._shape[1]}x{self._shape[0]}",
                hint="every frame of a clip must have one size",
            )
        self._shape = depth.shape
        return frame, depth.astype(np.float32, copy=False)

    def _grey(self, frame: np.ndarray) -> np.ndarray:
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        height, width = grey.shape
        scale = min(1.0, self.settings.flow_max_side / max(height, width))
        if scale < 1.0:
            size = (max(8, round(width * scale)), max(8, round(height * scale)))
            grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        return grey

    def _edges(self, inverse: np.ndarray) -> np.ndarray:
        """1 where the 3x3 neighbourhood's inverse depths differ by more than ``edge_ratio``."""
        filled = cv2.medianBlur(np.nan_to_num(inverse, nan=0.0, posinf=0.0, neginf=0.0), 3)
        kernel = np.ones((3, 3), np.uint8)
        highest, lowest = cv2.dilate(filled, kernel), cv2.erode(filled, kernel)
        return (highest > self.settings.edge_ratio * lowest).astype(np.uint8)

    def _match(self, previous: _Previous, grey: np.ndarray) -> _Match:
        """Each pixel's source in the previous frame, and whether to trust it."""
        backward, consistent = self._flow_both_ways(previous.grey, grey)
        height, width = previous.raw.shape
        small_h, small_w = grey.shape
        if (small_h, small_w) != (height, width):
            backward = cv2.resize(backward, (width, height), interpolation=cv2.INTER_LINEAR)
            backward *= np.float32(width / small_w)
            consistent = cv2.resize(
                consistent.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST
            ).astype(bool)
        xs, ys = _grid(height, width)
        map_x, map_y = xs + backward[..., 0], ys + backward[..., 1]
        inside = (map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)
        edge = _sample_nearest(previous.edges, map_x, map_y) > 0
        return _Match(map_x, map_y, consistent & inside & ~edge)

    def _flow_both_ways(
        self, previous_grey: np.ndarray, grey: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The flow from ``grey`` back to ``previous_grey`` (working size), and where it is
        consistent: undone by the forward flow, and the two images agree there (after the
        median difference, for a change of exposure). Unrelated images (a cut) fail the
        second test even where a flow field happens to be consistent."""
        backward = self._flow.calc(grey, previous_grey, None)
        forward = self._flow.calc(previous_grey, grey, None)
        xs, ys = _grid(*grey.shape)
        back_x, back_y = xs + backward[..., 0], ys + backward[..., 1]
        returned = _sample(forward, back_x, back_y)
        error = np.hypot(*np.moveaxis(backward + returned, 2, 0))
        warped = _sample(previous_grey, back_x, back_y)
        with np.errstate(invalid="ignore"):
            tolerance = self.settings.consistency_px * grey.shape[1] / self._shape[1]
            consistent = error < tolerance + 0.05 * np.hypot(backward[..., 0], backward[..., 1])
            consistent &= np.isfinite(warped)
        if not _same_picture(grey[consistent], warped[consistent]):
            return backward, np.zeros_like(consistent)
        difference = grey - warped
        difference -= np.median(difference[consistent])
        with np.errstate(invalid="ignore"):
            consistent &= np.abs(difference) < GREY_TOLERANCE
        return backward, consistent

    def _stabilise(
        self, previous: _Previous, match: _Match, raw_inverse: np.ndarray
    ) -> tuple[np.ndarray, FrameReport]:
        """This frame's stabilised inverse depth, and what was done."""
        index, settings = self.frames, self.settings
        matched = float(match.trusted.mean())
        if not settings.enabled:
            return raw_inverse, FrameReport(index, matched=matched, cut=False)
        carried = _sample(previous.inverse, match.map_x, match.map_y)
        with np.errstate(invalid="ignore"):
            usable = match.trusted & np.isfinite(raw_inverse) & (raw_inverse > 0)
            usable &= np.isfinite(carried) & (carried > 0)
        if usable.mean() < CUT_SHARE:
            return raw_inverse, FrameReport(index, matched=matched)
        predicted, forward_m = self._moved(match, carried, usable)
        with np.errstate(invalid="ignore"):
            usable &= np.isfinite(predicted) & (predicted > 0)
        fit = self._fit(raw_inverse, predicted, usable)
        if fit is None:
            return raw_inverse, FrameReport(index, matched=matched)
        scale, shift, noise = fit
        aligned = (1.0 - settings.anchor) * _affine(raw_inverse, scale, shift)
        aligned += settings.anchor * raw_inverse
        weight = self._carry_weight(aligned, predicted, usable, noise)
        inverse = np.where(weight > 0, (aligned + weight * predicted) / (1.0 + weight), aligned)
        median = float(np.median(predicted[usable]))
        report = FrameReport(
            index,
            scale=scale,
            shift=shift / median,
            matched=matched,
            carried=float((weight > 0).mean()),
            forward_m=forward_m,
            cut=False,
        )
        return inverse.astype(np.float32), report

    def _fit(
        self, inverse: np.ndarray, target: np.ndarray, usable: np.ndarray
    ) -> tuple[float, float, float] | None:
        """:func:`fit_inverse_affine` of ``inverse`` to ``target`` over ``usable`` pixels,
        each side first averaged over 5x5 patches: pixel noise, which resampling along the
        flow smooths on one side only, must not tilt a fit that treats both sides alike."""
        window = (5, 5)
        weight = cv2.boxFilter(usable.astype(np.float32), -1, window, normalize=False)
        patches = []
        for values in (inverse, target):
            filled = np.where(usable, values, 0.0).astype(np.float32)
            total = cv2.boxFilter(filled, -1, window, normalize=False)
            with np.errstate(invalid="ignore", divide="ignore"):
                patches.append(total / weight)
        covered = usable & (weight >= 15)  # most of the patch usable
        samples = _spread_sample(covered, self.settings.sample_step)
        if samples[0].size < MIN_MATCHES:
            return None
        return fit_inverse_affine(
            patches[0][samples], patches[1][samples], shift=self.settings.shift
        )

    def _carry_weight(
        self, aligned: np.ndarray, predicted: np.ndarray, usable: np.ndarray, noise: float
    ) -> np.ndarray:
        """``temporal_weight`` where the carried value agrees with this frame's, within the
        noise of the fit (Gaussian fall-off), else 0: moving objects and wrong matches keep
        this frame's value."""
        if self.settings.temporal_weight == 0:
            return np.zeros(aligned.shape, np.float32)
        sigma = max(3.0 * noise, 0.01)
        with np.errstate(invalid="ignore", divide="ignore"):
            residual = aligned / predicted - 1.0
            agree = np.exp(-0.5 * np.square(residual / sigma))
        agree = np.where(usable & np.isfinite(agree), agree, 0.0)
        agree[agree < 0.05] = 0.0
        return (self.settings.temporal_weight * agree).astype(np.float32)

    def _moved(
        self, match: _Match, carried: np.ndarray, usable: np.ndarray
    ) -> tuple[np.ndarray, float | None]:
        """The previous frame's inverse depth (carried to this frame's pixels) moved with the
        camera, and how far it went along its axis (None: no motion found, the carried values
        as they are)."""
        if not self.settings.motion:
            return carried, None
        height, width = usable.shape
        rays_x = (match.map_x - (width - 1) / 2.0) / self.focal_px
        rays_y = (match.map_y - (height - 1) / 2.0) / self.focal_px
        with np.errstate(divide="ignore", invalid="ignore"):
            distance = 1.0 / carried
        motion = self._camera_motion((rays_x, rays_y, distance), usable)
        if motion is None:
            return carried, None
        rotation, translation = motion
        # the depth after the move: the third row of R applied to the point, plus t_z
        along = rotation[2, 0] * rays_x + rotation[2, 1] * rays_y + rotation[2, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            depth = along * distance + translation[2]
            moved = np.where(depth > 0, 1.0 / depth, np.nan).astype(np.float32)
        return moved, float(-translation[2])

    def _camera_motion(
        self, rays: tuple[np.ndarray, np.ndarray, np.ndarray], usable: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Rotation and translation taking the previous camera's points (``rays``: x/z and
        y/z of each pixel's source, and its distance z) to this camera's pixels."""
        height, width = usable.shape
        rows, columns = _spread_sample(usable, self.settings.sample_step)
        if rows.size < MIN_MATCHES:
            return None
        rays_x, rays_y, distance = (values[rows, columns].astype(np.float64) for values in rays)
        objects = np.stack([rays_x * distance, rays_y * distance, distance], axis=1)
        images = np.stack([columns, rows], axis=1).astype(np.float64)
        camera = np.array(
            [
                [self.focal_px, 0, (width - 1) / 2.0],
                [0, self.focal_px, (height - 1) / 2.0],
                [0, 0, 1],
            ]
        )
        found, rotation_vector, translation, inliers = cv2.solvePnPRansac(
            objects, images, camera, None, iterationsCount=100, reprojectionError=1.0,
            confidence=0.99, flags=cv2.SOLVEPNP_EPNP,
        )  # fmt: skip
        if not found or inliers is None or len(inliers) < max(MIN_MATCHES, 0.3 * rows.size):
            return None
        chosen = inliers[:, 0]
        rotation_vector, translation = cv2.solvePnPRefineLM(
            objects[chosen], images[chosen], camera, None, rotation_vector, translation
        )
        rotation, _ = cv2.Rodrigues(rotation_vector)
        return rotation, translation[:, 0]

    def _measure(
        self, previous: _Previous, match: _Match, depth: np.ndarray, inverse: np.ndarray
    ) -> None:
        """Add this frame's change to both flicker figures, on the same trusted pixels."""
        raw_edges = self._edges(_inverse(previous.raw))
        mask = match.trusted & (_sample_nearest(raw_edges, match.map_x, match.map_y) == 0)
        self.raw_flicker.add(previous.raw, depth, match.map_x, match.map_y, mask)
        self.flicker.add(_depth(previous.inverse), _depth(inverse), match.map_x, match.map_y, mask)


def fit_inverse_affine(
    inverse: np.ndarray, reference: np.ndarray, *, shift: bool = True, iterations: int = 5
) -> tuple[float, float, float]:
    """``(a, b, noise)`` with ``a * inverse + b`` matching ``reference``, robustly.

    ``inverse`` is the noisier side (a frame's own depth), ``reference`` the steadier one (the
    previous frame's stabilised depth). The scale is the median ratio of the two (in logs):
    noise on either side moves it neither way. Were it a least-squares slope instead, the
    noise would shrink it a little every frame and the clip would drift. The shift comes from
    regressing ``inverse`` on ``reference`` (the steadier side as the regressor, which keeps
    that bias small), in relative residuals under Cauchy weights; a light ridge holds it to 0
    unless the data asks for one, which also settles a scene with no spread of depth, where
    scale and shift are one. Residuals far off the rest (moving objects, bad matches) weigh
    little in both. ``noise`` is the robust standard deviation of the relative residuals.
    """
    u = np.asarray(inverse, np.float64)
    r = np.asarray(reference, np.float64)
    median = float(np.median(r))
    ratio = np.log(r / u)
    scale, offset = float(np.exp(np.median(ratio))), 0.0
    for _ in range(iterations):
        residual = (scale * u + offset) / r - 1.0
        noise = max(1.4826 * float(np.median(np.abs(residual))), 1e-4)
        weight = 1.0 / (1.0 + np.square(residual / (2.385 * noise)))
        if shift:
            # u / r = c + d * median / r, so that a * u + b = r with a = 1/c, b = -d*median/c
            level, tilt = median / r, u / r
            ridge = 0.005 * float(weight.sum())
            normal = np.array(
                [
                    [weight.sum(), np.sum(weight * level)],
                    [np.sum(weight * level), np.sum(weight * level * level) + ridge],
                ]
            )
            right = np.array([np.sum(weight * tilt), np.sum(weight * tilt * level)])
            level_part, slope = np.linalg.solve(normal, right)
            offset = -float(np.clip(slope / level_part, -0.5, 0.5)) * median
            ratio = np.log((r - offset) / u)
        scale = float(np.exp(_weighted_quantiles(ratio, weight, (0.5,))[0]))
    residual = (scale * u + offset) / r - 1.0
    noise = max(1.4826 * float(np.median(np.abs(residual))), 1e-4)
    return scale, offset, noise


def _weighted_quantiles(
    values: np.ndarray, weights: np.ndarray, quantiles: tuple[float, ...]
) -> list[float]:
    """The ``quantiles`` of ``values`` counting each with its weight."""
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    positions = np.searchsorted(cumulative, np.multiply(quantiles, cumulative[-1]))
    return [float(values[order][min(p, values.size - 1)]) for p in positions]


def stabilise_depths(
    frames: Iterable[np.ndarray],
    depths: Iterable[np.ndarray],
    focal_px: float,
    settings: StabiliseSettings | None = None,
) -> Iterator[np.ndarray]:
    """Stabilised depth (metres) of each frame, lazily: pairs ``frames`` (``uint8 [H,W,3]``)
    with ``depths`` (``float [H,W]`` metres), holding one previous frame and, at the start,
    the ``settle_frames`` outputs that wait for the clip's scale."""
    stabiliser = DepthStabiliser(focal_px, settings)
    for frame, depth in zip(frames, depths, strict=True):
        yield from stabiliser.push(frame, depth)
    yield from stabiliser.finish()


# --- small array helpers ----------------------------------------------------------------


def _inverse(depth: np.ndarray) -> np.ndarray:
    """1 / depth as float32, NaN where the depth is not a positive finite number."""
    with np.errstate(divide="ignore", invalid="ignore"):
        inverse = np.where(np.isfinite(depth) & (depth > 0), 1.0 / depth, np.nan)
    return inverse.astype(np.float32)


def _depth(inverse: np.ndarray) -> np.ndarray:
    """1 / inverse as float32 metres, NaN where the inverse is not positive."""
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = np.where(np.isfinite(inverse) & (inverse > 0), 1.0 / inverse, np.nan)
    return depth.astype(np.float32)


def _affine(inverse: np.ndarray, scale: float, shift: float) -> np.ndarray:
    """``scale * inverse + shift``, kept above half the scaled value so that a negative shift
    never takes the farthest pixels past infinity."""
    with np.errstate(invalid="ignore"):
        return np.maximum(scale * inverse + shift, 0.5 * scale * inverse).astype(np.float32)


def _sample(image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    """``image`` at (``map_x``, ``map_y``), bilinear; NaN outside it (a constant NaN border
    would also spoil the last row and column, which OpenCV mixes in with weight 0)."""
    height, width = image.shape[:2]
    values = cv2.remap(
        np.asarray(image, np.float32), map_x, map_y, cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )  # fmt: skip
    with np.errstate(invalid="ignore"):
        outside = ~((map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1))
    values[outside] = np.nan
    return values


def _same_picture(grey: np.ndarray, warped: np.ndarray) -> bool:
    """Whether a frame's matched pixels and their sources in the previous frame show one
    picture (correlation of at least :data:`CUT_CORRELATION`): not after a cut, where a flow
    field can still look consistent. Too few pixels, or too little texture to tell: True."""
    if grey.size < MIN_MATCHES:
        return grey.size > 0
    grey, warped = grey.astype(np.float64), warped.astype(np.float64)
    if grey.std() < 2.0 or warped.std() < 2.0:
        return True
    return float(np.corrcoef(grey, warped)[0, 1]) >= CUT_CORRELATION


def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel's column and row, as float32 maps."""
    columns = np.arange(width, dtype=np.float32)
    rows = np.arange(height, dtype=np.float32)
    return np.meshgrid(columns, rows)


def _sample_nearest(image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    """``image`` (uint8) at the nearest pixel of each (``map_x``, ``map_y``); 1 outside it."""
    return cv2.remap(
        image, map_x, map_y, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=1
    )


def _spread_sample(mask: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of ``mask``'s pixels on a grid of ``step``, thinned evenly to at most
    :data:`MAX_MATCHES` (deterministic: the same frame gives the same fit)."""
    grid = np.zeros_like(mask)
    grid[step // 2 :: step, step // 2 :: step] = True
    rows, columns = np.nonzero(mask & grid)
    if rows.size > MAX_MATCHES:
        keep = np.linspace(0, rows.size - 1, MAX_MATCHES).astype(np.int64)
        rows, columns = rows[keep], columns[keep]
    return rows, columns


__all__ = [
    "DepthStabiliser",
    "Flicker",
    "FrameReport",
    "StabiliseSettings",
    "fit_inverse_affine",
    "stabilise_depths",
]
