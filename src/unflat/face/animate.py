"""Portrait animation: a portrait (or several of one person) moved by a motion stream.

Per output frame:

1. **Retarget**: the motion's head rotation, shift and scale are applied on top of the portrait's
   own pose, its expression offsets on top of the portrait's own neutral shape (eye lids and irises
   are set from the eye-opening and gaze channels instead, so a driver with narrower eyes cannot
   make the lids cross; a driver's mouth opening is a shape, so the lips part as far beyond
   closed as the driver's, in units of each face's eye-corner distance); angles are clamped to
   limits a single photo can plausibly be warped to.
2. **Warp** at the portrait's resolution: piecewise-affine over the 898 mesh triangles inside the
   face, and over rings around it whose vertices follow the head fully near the crown and less
   towards the neck, then fixed points further out and on the border: hair moves with the head,
   body and background stay, and shared vertices leave no seams.
3. **Composite** the warped person (its segmentation warped the same way) over a background plate
   (the portrait with the head inpainted), so a turned head uncovers background, not smears.
4. **Mouth and eyes**: a mouth the portrait holds closed is filled with the driver's mouth
   interior (warped and colour-matched) or a drawn one; the irises shift with the gaze, and an
   eye opened wider than the portrait's has its inside drawn (:mod:`unflat.face.eyes`).
5. **Few-shot**: with several portraits, the face of the one nearest the target pose and
   expression is warped into place (colour-matched) and blended in; more shots, nearer matches.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from unflat import face_mesh as measures
from unflat.device import frame_workers, pipelined
from unflat.face.canonical import pose_weights, reference_face, triangles
from unflat.face.composite import composite
from unflat.face.detect import detect
from unflat.face.expressions import jaw_open
from unflat.face.eyes import draw_eyes, eye_looks, eye_openings
from unflat.face.metrics import pose_error_degrees
from unflat.face.motion import Motion, from_track, limit_pose
from unflat.face.mouth import lip_colour, mouth_interior, skin_colour
from unflat.face.portrait import (
    Portrait,
    background_plate,
    face_mask,
    polygon_mask,
    prepare_portrait,
)
from unflat.face.pose import fit_similarity, head_pose
from unflat.face.warp import backward_map, clip_box, delaunay, remap
from unflat.face_mesh import EYE_CONTOUR_INDICES, FACE_OVAL
from unflat.progress import Progress, counted
from unflat.types import FaceTrack

# Pitch, yaw, roll (degrees) the portrait's head may reach: beyond them a warp of a photo tears.
POSE_LIMITS = np.array([20.0, 28.0, 25.0])
# Head shift limit, in outer-eye-corner distances.
MAX_SHIFT = 0.35
# Rings around the face (scale from the face centre) and how much of the head's motion their
# vertices take at the crown and at the chin; the last ring is fixed.
_RINGS = ((1.35, 1.0, 0.45), (1.9, 1.0, 0.0), (2.8, 0.0, 0.0))
# Mouth opening (inner-lip gap over eye-corner distance) that counts as an open mouth.
OPEN_MOUTH = 0.06
_LID_POINTS, _LOWER_LID, _HALO_END = 16, 9, 32
# How far past the portrait's own opening the lids may part (the motion's own limit): beyond
# the portrait's opening the eye's inside is drawn (:mod:`unflat.face.eyes`), not stretched.
_MAX_LID_OPEN = 1.6
# Lip gaps (eye-corner distances past the portrait's closed lips) at which a portrait's mouth is
# rendered and read back by the face tracker, once per portrait driven by a video. The tracker's
# mesh (like any face mesh without lip refinement) reads a parting mouth as less open than its
# lips are, by how much depends on the face (thin painted lips read closed until well apart),
# and a driver's openings are that tracker's readings of its face: so the portrait's lips part
# until the tracker reads on its face what it read on the driver's. Up to about the jaw's reach;
# the reading is taken to grow at least a quarter as fast as the gap (single readings are noisy,
# and a flat stretch would make a small change of the driver's a jump of the jaw).
_MOUTH_PROBES = (0.0, 0.04, 0.08, 0.13, 0.2, 0.3)
_MIN_READ_SLOPE, _MAX_RENDERED_GAP = 0.25, 0.45
_MAX_GAZE = 0.22
# How much of each expression measure counts as much as 10 degrees of head rotation.
_KEY_SCALE = np.array([0.05, 0.05, 0.08, 0.08])
# Person probability above which a portrait pixel holds some of the person (its hair's tail),
# and at which it counts as wholly the person when the plate replaces it.
_PERSON_TRACE, _PERSON_FULL = 0.02, 0.25
# How far (eye-corner distances) a point must move before the background plate fully replaces
# the portrait behind it: about 2 mm, under a soft hair edge's width, so a still head is the
# portrait itself and a moved one leaves background, not a copy of its old edge.
_SETTLE = 0.02
# Over how far (eye-corner distances) the warp's movement outside the face oval is smoothed.
_EDGE_SOFTNESS = 0.1
# Few-shot: how many of the nearest shots are blended, and the cost difference over which a
# farther shot's weight falls by a factor e.
_BLEND_SHOTS = 3
_BLEND_SOFTNESS = 1.0


def _expression_key(canonical: np.ndarray) -> np.ndarray:
    """Mouth opening, mouth width and the two eye openings of pose-free landmarks."""
    return np.array(
        [
            measures.mouth_opening(canonical),
            measures.mouth_width(canonical),
            *measures.eye_aspect_ratios(canonical),
        ]
    )


@dataclass
class Warp:
    """How a frame was made from the portrait: inside ``region`` (x0, y0, x1, y1) each pixel
    shows the portrait's pixel at (``map_x``, ``map_y``) (float32, whole-image coordinates)
    with weight ``alpha`` over the background plate; outside it the frame is the portrait.

    Anything aligned with the portrait (its depth map) can follow the frame the same way.
    """

    region: tuple[int, int, int, int]
    map_x: np.ndarray
    map_y: np.ndarray
    alpha: np.ndarray


@dataclass
class _Rig:
    """The primary portrait's warp rig: ring vertices, their weights, triangles, plate."""

    points: np.ndarray  # [V,2] source positions: 468 face points, then rings and border
    weights: np.ndarray  # [V] share of the head's motion each non-face vertex takes
    triangles: np.ndarray  # [M,3] outer triangles, then the face's 898
    n_outer: int
    plate: np.ndarray  # uint8, the whole image
    region: tuple[int, int, int, int]  # box outside which frames equal the portrait
    settle: float  # pixels a point must move before the plate fully shows behind it
    canvas: np.ndarray  # the portrait as float32, which each frame starts from
    # inside ``region``: how much of each pixel is the person (float32), and the portrait and
    # the plate (uint8, contiguous, as the compositing loop reads them)
    foreground: np.ndarray
    still: np.ndarray
    plate_region: np.ndarray


def _build_rig(shot: Portrait) -> _Rig:
    width, height = shot.size
    face = shot.landmarks[:468, :2].astype(np.float64)
    oval = face[list(FACE_OVAL)]
    centre = oval.mean(axis=0)
    ring_pts, ring_w = [], []
    for scale, crown, chin in _RINGS:
        pts = centre + (oval - centre) * scale
        up = -(oval - centre)[:, 1] / np.linalg.norm(oval - centre, axis=1)  # +1 crown, -1 chin
        ring_pts.append(pts)
        ring_w.append(chin + (crown - chin) * (up + 1) / 2)
    xs, ys = np.linspace(0, width - 1, 5), np.linspace(0, height - 1, 5)
    border = np.array(
        [(x, y) for x in xs for y in ys if x in (xs[0], xs[-1]) or y in (ys[0], ys[-1])]
    )
    outer = np.concatenate([oval, *ring_pts, border])
    # border points that fall on a ring vertex would make degenerate triangles: drop them
    keep = np.ones(len(outer), bool)
    for i in range(len(oval) + sum(len(p) for p in ring_pts), len(outer)):
        if np.linalg.norm(outer[:i][keep[:i]] - outer[i], axis=1).min() < 2.0:
            keep[i] = False
    outer = outer[keep]
    tri = delaunay(outer)
    n_oval = len(oval)
    tri = tri[~(tri < n_oval).all(axis=1)]  # inside the oval the face mesh takes over
    # outer vertex k -> global index: oval vertices are face points, the rest are appended
    extra = outer[n_oval:]
    mapping = np.concatenate([np.array(FACE_OVAL), 468 + np.arange(len(extra))])
    weights = np.concatenate([np.concatenate(ring_w), np.zeros(len(border))])[keep[n_oval:]]
    moving = np.concatenate([face, extra[weights > 0]])
    lo, hi = moving.min(axis=0), moving.max(axis=0)
    pad = 0.6 * (hi - lo)
    # every pixel with any of the person in it (hair's soft tail too) gets a background of its
    # own, or the old hair edge would stay behind as a ghost where the head moves away
    # where the rings move anything: inside the second ring, and above the face's middle out
    # to the fixed third ring (the crown's rings take the head's motion fully)
    moving = polygon_mask(ring_pts[1], (height, width))
    upper = polygon_mask(ring_pts[2], (height, width))
    upper[int(np.clip(centre[1], 0, height)) :] = False
    hole = (shot.person > _PERSON_TRACE) & (moving | upper)
    hole = cv2.dilate(hole.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    # outside this box nothing moves and the plate equals the portrait: frames copy it as is
    lo, hi = lo - pad, hi + pad
    if hole.any():
        ys, xs = np.nonzero(hole)
        lo = np.minimum(lo, [xs.min(), ys.min()])
        hi = np.maximum(hi, [xs.max() + 1, ys.max() + 1])
    region = clip_box((*lo, *hi), (height, width))
    x0, y0, x1, y1 = region
    plate = background_plate(shot.image, hole)
    return _Rig(
        points=np.concatenate([face, extra]),
        weights=weights,
        triangles=np.concatenate([mapping[tri], triangles()]).astype(np.int32),
        n_outer=len(tri),
        plate=plate,
        region=region,
        settle=max(_SETTLE * float(measures.face_unit(shot.landmarks)), 1.0),
        canvas=shot.image.astype(np.float32),
        foreground=np.clip(shot.person[y0:y1, x0:x1] / _PERSON_FULL, 0, 1).astype(np.float32),
        still=np.ascontiguousarray(shot.image[y0:y1, x0:x1]),
        plate_region=np.ascontiguousarray(plate[y0:y1, x0:x1]),
    )


def _set_lids(canonical: np.ndarray, eye_open: np.ndarray) -> np.ndarray:
    """Open or close each eye: upper lid points towards the lower lid by ``eye_open``."""
    out = canonical.copy()
    for e, indices in enumerate(EYE_CONTOUR_INDICES):
        idx = np.array(indices)
        lower, upper = idx[:_LOWER_LID], idx[_LOWER_LID:_LID_POINTS]
        halo_upper = idx[_LID_POINTS + _LOWER_LID : _HALO_END]
        order = np.argsort(canonical[lower, 0])
        lx, ly = canonical[lower[order], 0], canonical[lower[order], 1]
        openness = float(np.clip(eye_open[e], 0.0, _MAX_LID_OPEN))
        low = np.interp(canonical[upper, 0], lx, ly)
        new_y = low + (canonical[upper, 1] - low) * openness
        shift = new_y - canonical[upper, 1]
        out[upper, 1] = new_y
        # the skin above the lid follows it part of the way
        nearest = np.abs(canonical[halo_upper, 0][:, None] - canonical[upper, 0][None]).argmin(1)
        out[halo_upper, 1] += 0.4 * shift[nearest]
    return out


@lru_cache(maxsize=1)
def _jaw_per_gap() -> np.ndarray:
    """``[478,3]`` the jaw's opening movement (:func:`~unflat.face.expressions.jaw_open`) per unit
    of inner-lip gap it makes (reference units): lower lip, chin and cheeks together."""
    offsets = jaw_open(0.25).astype(np.float64)  # a talking opening, where the hinge is linear
    upper, lower = measures.MOUTH_INNER
    return offsets / (offsets[lower, 1] - offsets[upper, 1])


def _set_mouth(canonical: np.ndarray, gap: float) -> np.ndarray:
    """Open or close the mouth of pose-free landmarks by moving the jaw, to an inner-lip gap
    (:func:`~unflat.face_mesh.lip_gap`) of ``gap`` eye-corner distances."""
    upper, lower = measures.MOUTH_INNER
    unit = float(measures.face_unit(canonical))
    now = float(canonical[lower, 1] - canonical[upper, 1])
    return canonical + (gap * unit - now) * _jaw_per_gap()


def closed_lip_gap(canonical: np.ndarray) -> float:
    """The lip gap (:func:`~unflat.face_mesh.lip_gap`) of a portrait's mouth when closed: its own
    if it is closed (the mesh reads touching lips of different faces as 0 to 2 mm apart), else
    0, lips that just meet."""
    gap = float(measures.lip_gap(canonical))
    return gap if gap <= measures.LIPS_CLOSED else 0.0


def visible_opening(opening: float) -> float:
    """A driver's mouth opening (eye-corner distances past its closed lips) with the lips' first
    parting made visible: a face mesh without lip refinement reads lips just parted over the
    teeth about :data:`~unflat.face_mesh.LIPS_CLOSED` apart when they are several times that, so
    an opening past two thirds of it gains up to one more, smoothly, over the next two thirds."""
    closed = measures.LIPS_CLOSED
    step = np.clip((opening - 2 * closed / 3) / (2 * closed / 3), 0.0, 1.0)
    return opening + closed * float(step * step * (3 - 2 * step))


def _same_face(found: np.ndarray, landmarks: np.ndarray) -> bool:
    """Whether a face found in a rendered frame is the portrait's (not another in the picture):
    its landmarks lie within a third of an eye-corner distance of the portrait's, on average."""
    offset = np.linalg.norm(found[:468, :2] - landmarks[:468, :2], axis=1).mean()
    return bool(offset < float(measures.face_unit(landmarks)) / 3)


def _set_gaze(canonical: np.ndarray, gaze: np.ndarray) -> np.ndarray:
    out = canonical.copy()
    for e, (corner_a, corner_b) in enumerate(measures.EYE_CORNERS):
        width = np.linalg.norm(canonical[corner_a, :2] - canonical[corner_b, :2])
        shift = np.clip(gaze[e], -_MAX_GAZE, _MAX_GAZE) * width
        out[468 + 5 * e : 473 + 5 * e, :2] += shift
    return out


class Animator:
    """Renders frames of one or more portraits of a person under a :class:`Motion`.

    The first portrait is the canvas: output frames have its size, background and framing.
    """

    def __init__(
        self,
        portraits: Sequence[np.ndarray] | Sequence[Portrait],
        *,
        face: int | None = None,
        pose_limits: np.ndarray = POSE_LIMITS,
    ) -> None:
        if not portraits:
            raise ValueError("at least one portrait is needed")
        self.shots = [
            p if isinstance(p, Portrait) else prepare_portrait(p, face=face, name=f"portrait {i}")
            for i, p in enumerate(portraits)
        ]
        self.primary = self.shots[0]
        self.rig = _build_rig(self.primary)
        self.pose_limits = np.asarray(pose_limits, dtype=np.float64)
        ids, weights = pose_weights()
        self._pose_ids, self._pose_w = ids, weights
        self._unit = float(measures.face_unit(self.primary.landmarks))
        self._closed_lips = closed_lip_gap(self.primary.canonical)
        self._eye_ids = np.concatenate([np.array(i[:_HALO_END]) for i in EYE_CONTOUR_INDICES])
        self._lips = lip_colour(self.primary.image, self.primary.landmarks)
        self._skin = skin_colour(self.primary.image, self.primary.landmarks)
        self._eye_looks = eye_looks(self.primary.image, self.primary.landmarks)
        self._own_eyes = eye_openings(self.primary.landmarks)
        # the head's rigid centre, in the canonical frame and in the portrait
        centre = self.primary.canonical[ids].T @ weights / weights.sum()
        self._centres = centre, self.primary.pose.apply(centre[None])[0]
        self._shot_keys = [_expression_key(shot.canonical) for shot in self.shots]
        self._mouth_map: tuple[np.ndarray, np.ndarray] | None = None
        self._scale_for: tuple[np.ndarray, float] | None = None

    # -- retargeting -------------------------------------------------------------------------

    def limited(self, motion: Motion) -> Motion:
        """The motion with head angles and shift clamped for this portrait."""
        out = limit_pose(motion, self.primary.euler_degrees, self.pose_limits)
        out.translation = np.clip(out.translation, -MAX_SHIFT, MAX_SHIFT)
        return out

    def target_canonical(self, motion: Motion, t: int) -> np.ndarray:
        """The primary portrait's neutral shape with frame ``t``'s expression applied."""
        expression = motion.expression[t].copy()
        expression[self._eye_ids] = 0.0  # lids come from eye_open, irises from gaze
        expression[468:] = 0.0
        canonical = self.primary.canonical + expression
        if motion.mouth_open is not None:  # a shape: as far beyond the portrait's closed lips
            gap = self.rendered_opening(visible_opening(float(motion.mouth_open[t])))
            gap = min(gap * self._gap_scale(motion.mouth_open), _MAX_RENDERED_GAP)
            canonical = _set_mouth(canonical, self._closed_lips + gap)
        canonical = _set_lids(canonical, motion.eye_open[t])
        return _set_gaze(canonical, motion.gaze[t])

    def rendered_opening(self, opening: float) -> float:
        """How far past its closed lips (eye-corner distances) the portrait's lips must part for
        the face tracker to read ``opening`` past its reading of them closed: the inverse of
        :meth:`mouth_response`, and beyond its last probe the probes' mean rate (gap over
        reading), so wide openings stay apart where the reading flattens. Not limited to the
        jaw's reach: :meth:`target_canonical` shrinks a clip's openings together to fit it."""
        if self._mouth_map is None:
            self._mouth_map = self.mouth_response()
        read, literal = self._mouth_map
        if opening <= read[-1]:
            gap = float(np.interp(opening, read, literal))
        else:
            # on at the probes' mean rate, not one to one: where the reading flattens (thin
            # painted lips) that squeezed every wide opening of a clip into the same gap
            gap = float(literal[-1] + (opening - read[-1]) * literal[-1] / read[-1])
        return gap

    def _gap_scale(self, openings: np.ndarray) -> float:
        """The share of each rendered lip gap kept for a driver's ``openings``: 1, or less where
        its widest openings (98th percentile) would part the lips past the jaw's reach, so the
        whole clip's openings shrink together rather than its wide ones all meeting the limit."""
        cached = self._scale_for  # one tuple, so frames rendered side by side see a whole pair
        if cached is not None and cached[0] is openings:
            return cached[1]
        gaps = [self.rendered_opening(visible_opening(float(o))) for o in openings]
        widest = float(np.percentile(gaps, 98)) if gaps else 0.0
        scale = min(1.0, _MAX_RENDERED_GAP / widest) if widest > 0 else 1.0
        self._scale_for = (openings, scale)
        return scale

    def mouth_response(self) -> tuple[np.ndarray, np.ndarray]:
        """(tracker's reading past the closed one, lip gap rendered) at each of the probes,
        the readings made increasing; the identity where the tracker loses the face."""
        shot = self.primary
        literal, read = [], []
        for opening in _MOUTH_PROBES:
            canonical = _set_mouth(shot.canonical, self._closed_lips + opening)
            frame = self.render(self._posed(canonical))
            faces = [f for f in detect(frame) if _same_face(f.landmarks, shot.landmarks)]
            if faces:
                found = faces[0].landmarks
                literal.append(opening)
                read.append(
                    float(measures.lip_gap(head_pose(found, reference_face()).invert(found)))
                )
        if len(read) < 2:
            return np.array([0.0, 1.0]), np.array([0.0, 1.0])
        rise, gaps = np.array(read) - read[0], np.array(literal)
        for k in range(1, len(rise)):  # the reading grows as the lips part, never slower than this
            rise[k] = max(rise[k], rise[k - 1] + _MIN_READ_SLOPE * (gaps[k] - gaps[k - 1]))
        return rise, gaps

    def _posed(self, canonical: np.ndarray) -> np.ndarray:
        """Pose-free landmarks placed with the primary portrait's own head pose."""
        pose = self.primary.pose
        centre, source_centre = self._centres
        moved = pose.scale * (canonical - centre) @ pose.rotation.T + source_centre
        return moved.astype(np.float32)

    def target_landmarks(self, motion: Motion, t: int) -> np.ndarray:
        """Where the portrait's 478 landmarks go in frame ``t`` (pixels of the canvas).

        ``motion`` should already be :meth:`limited`.
        """
        pose = self.primary.pose
        rotation = motion.rotation[t].astype(np.float64) @ pose.rotation
        scale = pose.scale * float(motion.scale[t])
        shift = np.array([*(motion.translation[t] * self._unit), 0.0])
        canonical = self.target_canonical(motion, t).astype(np.float64)
        # rotate and scale about the head's rigid centre, so the head turns in place
        centre, source_centre = self._centres
        moved = scale * (canonical - centre) @ rotation.T + source_centre + shift
        return moved.astype(np.float32)

    # -- rendering ---------------------------------------------------------------------------

    def render(
        self,
        target: np.ndarray,
        *,
        driver_frame: np.ndarray | None = None,
        driver_landmarks: np.ndarray | None = None,
    ) -> np.ndarray:
        """One output frame with the portrait's landmarks moved to ``target`` [478,3]."""
        return self.render_warped(
            target, driver_frame=driver_frame, driver_landmarks=driver_landmarks
        )[0]

    def render_warped(
        self,
        target: np.ndarray,
        *,
        driver_frame: np.ndarray | None = None,
        driver_landmarks: np.ndarray | None = None,
    ) -> tuple[np.ndarray, Warp]:
        """:meth:`render`, with the :class:`Warp` that made the frame from the portrait."""
        shot = self.primary
        rig = self.rig
        src_face = shot.landmarks[:468, :2]
        dst_face = target[:468, :2]
        # the rings follow a 2-D similarity fitted to the head's rigid points
        ids = self._pose_ids
        sim = fit_similarity(src_face[ids], dst_face[ids], self._pose_w)
        extra_src = rig.points[468:]
        extra_rigid = sim.apply(extra_src)
        extra_dst = extra_src + rig.weights[:, None] * (extra_rigid - extra_src)
        src = np.concatenate([src_face, extra_src])
        dst = np.concatenate([dst_face, extra_dst])
        depth = np.concatenate([target[:468, 2], np.full(len(extra_src), 1e9)])
        x0, y0 = rig.region[:2]
        map_x, map_y = backward_map(src, dst, rig.triangles, rig.region, depth=depth)
        self._soften_edge(map_x, map_y, dst_face)
        self._shift_irises(map_x, map_y, (x0, y0), target, shot)
        alpha = remap(shot.person, map_x, map_y)
        frame = self._composite(remap(shot.image, map_x, map_y), alpha, map_x, map_y)
        weights = self.shot_weights(target)
        if weights[0][0] != 0 or len(weights) > 1:
            self._blend_shots(frame, target, weights)
        draw_eyes(frame, target, self._eye_looks, self._own_eyes)  # past the portrait's opening
        best = self.shots[weights[0][0]]
        frame = self._fill_mouth(frame, target, best, driver_frame, driver_landmarks)
        warp = Warp(rig.region, map_x, map_y, alpha)
        # rounded and saturated to 8 bits in one pass (a colour-matched shot can go below 0)
        return cv2.convertScaleAbs(np.maximum(frame, 0, out=frame)), warp

    def _soften_edge(self, map_x: np.ndarray, map_y: np.ndarray, face: np.ndarray) -> None:
        """Fade the warp's edge: outside the face oval (``face``: the 468 target points) the
        movement is smoothed over a tenth of an eye-corner distance, blending into the face's
        own across the jaw line and the hairline, so the jaw opening or the head turning does
        not leave a crease where the face mesh meets the rings around it.

        Worked out at a quarter of the resolution (the correction is smooth; at the oval, where
        detail would show, it is zero), then added at full size.
        """
        x0, y0, _, _ = self.rig.region
        height, width = map_x.shape
        step = 4
        small = (width // step, height // step)
        if min(small) < 4:
            return
        shifts = [
            cv2.resize(map_x, small, interpolation=cv2.INTER_AREA),
            cv2.resize(map_y, small, interpolation=cv2.INTER_AREA),
        ]
        xs = (np.arange(small[0], dtype=np.float32) + 0.5) * width / small[0] - 0.5 + x0
        ys = (np.arange(small[1], dtype=np.float32) + 0.5) * height / small[1] - 0.5 + y0
        shifts[0] -= xs[None]
        shifts[1] -= ys[:, None]
        sigma = max(_EDGE_SOFTNESS * self._unit / step, 1.0)
        scale = np.array([small[0] / width, small[1] / height])
        outline = (face[list(FACE_OVAL)] - [x0, y0]) * scale
        oval = polygon_mask(outline, (small[1], small[0])).astype(np.float32)
        # 0 at the oval and inside it, rising to 1 a blur width out
        outside = np.clip(1.0 - 2.0 * cv2.GaussianBlur(oval, (0, 0), sigma), 0, 1) * (1 - oval)
        for full, shift in zip((map_x, map_y), shifts, strict=True):
            change = outside * (cv2.GaussianBlur(shift, (0, 0), sigma) - shift)
            full += cv2.resize(change, (width, height), interpolation=cv2.INTER_LINEAR)

    def _composite(
        self, warped: np.ndarray, alpha: np.ndarray, map_x: np.ndarray, map_y: np.ndarray
    ) -> np.ndarray:
        """The frame (float32): the portrait, with inside the rig's region the warped person
        (``warped``, weight ``alpha``) over what lies behind it: the portrait where nothing
        moved, the plate where the person has moved away.

        The plate shows in proportion to how far the warp moved each pixel (full after
        ``settle`` pixels) and to how much of the person the portrait held there, so a head
        that stays put is the portrait exactly (no band of inpainted colour round its edge)
        and one that moves leaves background, not a ghost of its old outline.
        """
        rig = self.rig
        x0, y0, x1, y1 = rig.region
        frame = rig.canvas.copy()
        composite(frame[y0:y1, x0:x1], warped, alpha, rig.still, rig.plate_region,
                  rig.foreground, (map_x, map_y), (x0, y0), rig.settle)  # fmt: skip
        return frame

    def _shift_irises(
        self,
        map_x: np.ndarray,
        map_y: np.ndarray,
        origin: tuple[int, int],
        target: np.ndarray,
        shot: Portrait,
    ) -> None:
        """Inside each eye opening, shift the sampling so each iris lands on its target.

        The warp carries the eye with its lids; where the gaze (or a blink's squeeze) puts the
        iris elsewhere, the eye's interior is sampled from where the source iris actually is.
        """
        height, width = map_x.shape
        offset = np.asarray(origin)
        for e, indices in enumerate(EYE_CONTOUR_INDICES):
            ix, iy = np.clip(
                np.round(target[468 + 5 * e, :2]).astype(int) - offset, 0, [width - 1, height - 1]
            )
            shift = np.array([map_x[iy, ix], map_y[iy, ix]]) - shot.landmarks[468 + 5 * e, :2]
            corners = shot.landmarks[list(measures.EYE_CORNERS[e]), :2]
            limit = 0.3 * float(np.linalg.norm(corners[0] - corners[1]))
            norm = float(np.linalg.norm(shift))
            if norm < 0.05:
                continue
            shift *= min(1.0, limit / norm)
            hull = cv2.convexHull(
                np.round(target[list(indices[:_LID_POINTS]), :2] - offset).astype(np.int32)
            )
            mask = np.zeros(map_x.shape, np.uint8)
            cv2.fillConvexPoly(mask, hull, 1)
            inside = mask.astype(bool)
            map_x[inside] -= shift[0]
            map_y[inside] -= shift[1]

    def _blend_shots(
        self, frame: np.ndarray, target: np.ndarray, weights: list[tuple[int, float]]
    ) -> None:
        """Few-shot: the weighted shots' faces, warped onto the target, blended into ``frame``.

        The primary's share is the face ``frame`` already holds; every other shot is warped to
        the target and colour-matched to the primary before mixing.
        """
        face_tri = self.rig.triangles[self.rig.n_outer :]
        dst = target[:468, :2]
        size = max(float(np.ptp(dst[:, 0])), 1.0)
        # the feathered mask reaches a few blur widths past the face
        margin = 3 * max(size * 0.02, 1.0) + 2
        box = clip_box((*(dst.min(0) - margin), *(dst.max(0) + margin)), frame.shape[:2])
        x0, y0, x1, y1 = box
        region = frame[y0:y1, x0:x1]
        mixed = np.zeros_like(region)
        primary = self.primary
        for index, weight in weights:
            if index == 0:
                mixed += weight * region
                continue
            shot = self.shots[index]
            map_x, map_y = backward_map(
                shot.landmarks[:468, :2], dst, face_tri, box, depth=target[:468, 2]
            )
            warped = remap(shot.image, map_x, map_y).astype(np.float32)
            scale = primary.face_std / shot.face_std
            mixed += weight * ((warped - shot.face_mean) * scale + primary.face_mean)
        mask = face_mask(target - [x0, y0, 0], (y1 - y0, x1 - x0)).astype(np.float32)
        mask = cv2.erode(mask, np.ones((3, 3), np.uint8), iterations=max(int(size * 0.02), 1))
        mask = cv2.GaussianBlur(mask, (0, 0), max(size * 0.02, 1.0))[..., None]
        region[:] = mask * mixed + (1 - mask) * region

    def shot_costs(self, target: np.ndarray) -> np.ndarray:
        """How far each shot's head pose and expression are from the target's (``[shots]``).

        Pose counts 1 per 10 degrees; expression is compared through pose-free scalar measures
        (mouth opening and width, eye openings), which are robust to the small shape noise
        between photos.
        """
        pose = head_pose(target, reference_face())
        wanted = _expression_key(pose.invert(target))
        costs = []
        for shot, have in zip(self.shots, self._shot_keys, strict=True):
            angle = pose_error_degrees(shot.pose.rotation, pose.rotation)
            costs.append(angle / 10.0 + float(np.abs((wanted - have) / _KEY_SCALE).sum()))
        return np.array(costs)

    def nearest_shot(self, target: np.ndarray) -> int:
        """Index of the shot whose head pose and expression are nearest to the target's."""
        return int(np.argmin(self.shot_costs(target))) if len(self.shots) > 1 else 0

    def shot_weights(self, target: np.ndarray) -> list[tuple[int, float]]:
        """The nearest shots and their blend weights (summing to 1), nearest first.

        Weights fall off smoothly with the cost, so a motion that passes from one shot's pose
        to another's crossfades between them instead of switching (which would flicker).
        """
        if len(self.shots) == 1:
            return [(0, 1.0)]
        costs = self.shot_costs(target)
        order = np.argsort(costs, kind="stable")[:_BLEND_SHOTS]
        raw = np.exp(-(costs[order] - costs[order[0]]) / _BLEND_SOFTNESS)
        raw = raw / raw.sum()
        return [(int(i), float(w)) for i, w in zip(order, raw, strict=True) if w > 1e-3]

    def _fill_mouth(
        self,
        frame: np.ndarray,
        target: np.ndarray,
        shot: Portrait,
        driver_frame: np.ndarray | None,
        driver_landmarks: np.ndarray | None,
    ) -> np.ndarray:
        """Fill an opening mouth that the shot in use (``shot``) holds closed."""
        # Past the shot's own opening the warp only stretches the thin line between its lips
        # (the mesh's triangles across the mouth): the inside is drawn from the first opening
        # beyond it, fully once the lips are twice as far apart (or LIPS_CLOSED past closed
        # lips), so it fades in without popping and never leaves a stretched lip showing.
        opening = float(measures.mouth_opening(target))
        own = shot.mouth_open
        strength = float(np.clip((opening - own) / max(own, measures.LIPS_CLOSED), 0, 1))
        if strength <= 0:
            return frame
        lip = target[list(measures.INNER_LIP), :2]
        interior, mask, (x0, y0, x1, y1) = mouth_interior(
            frame, lip, self._lips, driver_frame, driver_landmarks, self._skin
        )
        mask = mask[..., None] * strength
        region = frame[y0:y1, x0:x1]
        region[:] = mask * interior + (1 - mask) * region
        return frame


def output_indices(times: np.ndarray, fps: float, seconds: float | None) -> np.ndarray:
    """Which motion frame (by its time) each output frame at ``fps`` shows.

    Nearest in time, so a variable-frame-rate driver plays at its true speed.
    """
    duration = float(times[-1]) + (float(np.median(np.diff(times))) if len(times) > 1 else 0.0)
    if seconds is not None:
        duration = min(duration, seconds)
    count = max(round(duration * fps), 1)
    wanted = np.arange(count) / fps
    right = np.clip(np.searchsorted(times, wanted), 1, max(len(times) - 1, 1))
    left = right - 1
    nearer_left = np.abs(wanted - times[left]) <= np.abs(
        times[np.minimum(right, len(times) - 1)] - wanted
    )
    return np.where(nearer_left, left, right).clip(0, len(times) - 1)


def animate(
    portraits: Sequence[np.ndarray],
    driver: FaceTrack | Motion,
    *,
    frames: Iterable[np.ndarray] | None = None,
    fps: float | None = None,
    max_seconds: float | None = None,
    face: int | None = None,
    progress: Progress | None = None,
) -> Iterator[np.ndarray]:
    """Yield the animated frames (``uint8 [H,W,3]``, the first portrait's size) one by one.

    ``driver`` is a tracked driving video (:func:`unflat.face.track.track`), whose ``frames``
    (the video's pictures, in order) lend their mouth interiors when given, or a :class:`Motion`
    (from :mod:`unflat.face.presets`). ``fps`` resamples the driver's rate; ``max_seconds`` cuts
    it short. ``progress`` hears ``("animating", done, total)``.
    """
    animator = Animator(portraits, face=face)
    for frame, _ in animate_warped(animator, driver, frames=frames, fps=fps,
                                   max_seconds=max_seconds, progress=progress):  # fmt: skip
        yield frame


def animate_warped(
    animator: Animator,
    driver: FaceTrack | Motion,
    *,
    frames: Iterable[np.ndarray] | None = None,
    fps: float | None = None,
    max_seconds: float | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
) -> Iterator[tuple[np.ndarray, Warp]]:
    """:func:`animate` with a prepared ``animator``, yielding each frame with its :class:`Warp`.

    ``workers`` threads render frames ahead of the consumer (default
    :func:`~unflat.device.frame_workers`); the frames come out in order either way.
    """
    if isinstance(driver, Motion):
        motion, landmarks, frames = driver, None, None
        times = np.arange(len(driver)) / driver.fps
    else:
        motion, times, landmarks = from_track(driver), driver.times, driver.landmarks
    motion = animator.limited(motion)
    indices = output_indices(times, fps or motion.fps, max_seconds)

    def jobs() -> Iterator[tuple[int, np.ndarray | None]]:
        # the driver's frames are decoded here, in the caller's thread, in order
        frame_cache: tuple[int, np.ndarray] | None = None
        numbered = enumerate(frames) if frames is not None else None
        for t in counted(indices, progress, "animating"):
            driver_frame = None
            if numbered is not None:
                while frame_cache is None or frame_cache[0] < t:
                    frame_cache = next(numbered)
                driver_frame = frame_cache[1]
            yield int(t), driver_frame

    def render(job: tuple[int, np.ndarray | None]) -> tuple[np.ndarray, Warp]:
        t, driver_frame = job
        target = animator.target_landmarks(motion, t)
        return animator.render_warped(
            target,
            driver_frame=driver_frame,
            driver_landmarks=None if landmarks is None else landmarks[t],
        )

    # frames render side by side while the caller encodes the finished ones
    yield from pipelined(render, jobs(), workers=workers or frame_workers())
