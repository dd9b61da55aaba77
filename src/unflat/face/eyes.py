"""The inside of an eye opened wider than the portrait's own.

A warp that pulls the lids apart stretches what lay between them: the iris becomes an oval
smear, the white a band. Past the portrait's own opening each eye's inside is drawn instead,
in the portrait's own colours and light: the white is the portrait's own white carried rigidly
with the eye's corners, and where the raised lid uncovers more, that white spread from where it
shows; the iris is a round disc of the portrait's iris radius at the target's (gaze-shifted)
centre, resampled from the portrait's iris by a shift and an even scale only (never stretched),
ring by ring from its mean colours where the portrait's lids hid it; the whole is darker under
the upper lid (its shadow) and towards the corners (the eyeball's curve). It is clipped to the
new lid outline with a soft edge, so the lid line and lashes stay the warp's. All work is in
each eye's box.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from unflat.face.portrait import polygon_mask
from unflat.face.warp import clip_box
from unflat.face_mesh import EYE_CONTOUR_INDICES, EYE_CORNERS, EYE_LID_POINTS, IRISES

# Each eye's contour starts with its lower lid, corner to corner, then its upper lid inside the
# corners (MediaPipe's order); the outline runs round the lower lid and back along the upper.
_LOWER = 9
# Rings the iris's mean colour is measured in, centre to rim (the pupil, the iris, the darker
# limbal ring at its edge).
_RINGS = 6
# Iris pixels this close (in iris radii) to the portrait's lid outline are the lid's (lashes, the
# lid's shadow) and not taken as the iris's own; sclera pixels must be this far outside the iris.
_LID_MARGIN, _IRIS_MARGIN = 0.25, 0.15
# The iris's edge is looked for between these multiples of the landmarks' radius, where the
# white is at least this many levels brighter than the iris's core.
_EDGE_RANGE, _EDGE_CONTRAST = (0.7, 1.25), 12.0
# The upper lid's shadow on the eyeball: its strength at the lid and its reach (iris radii: a
# quarter is about 1.5 mm, the lid's thickness); the lower lid casts little (light comes from
# above). The eyeball's curve darkens the white towards the corners by this share.
_UPPER_SHADOW, _UPPER_REACH = 0.5, 0.25
_LOWER_SHADOW, _LOWER_REACH = 0.15, 0.15
_CORNER_SHADE = 0.2
# How far past the portrait's own opening (as a share of it) the drawn inside takes over fully:
# a quarter, where the stretch of the warped eye starts to show; below it the two blend.
_TAKE_OVER = 0.25
# The white's mean colour counts, where it is spread, as much as this much of its own pixels'
# blurred weight: it shows only far from any white the portrait holds.
_SPREAD_PRIOR = 0.05


@dataclass(frozen=True)
class EyeLook:
    """One eye of the portrait, as the drawn eye needs it (pixels of the portrait)."""

    sclera: np.ndarray  # [3] the lit white's colour
    shadow: np.ndarray  # [3] the colour just under the upper lid: its shadow on the eyeball
    rings: np.ndarray  # [_RINGS,3] the iris's mean colour per ring, centre to rim
    radius: float  # iris radius
    fit: float  # that radius over the landmarks' (their rim sits off the iris's visible edge)
    centre: np.ndarray  # [2] iris centre
    patch: np.ndarray  # float32 [h,w,3] the portrait around the eye
    seen: np.ndarray  # float32 [h,w] how surely each patch pixel shows the iris (0-1)
    white: np.ndarray  # float32 [h,w] how surely each patch pixel shows the white (0-1)
    whites: np.ndarray  # float32 [h,w,3] the white spread over the patch, lit as around it
    origin: np.ndarray  # [2] the patch's top-left corner in the portrait
    corners: np.ndarray  # [2,2] the eye's corners (outer, inner)


def lid_outline(landmarks: np.ndarray, eye: int) -> np.ndarray:
    """``[16,2]`` eye ``eye``'s opening: lower lid corner to corner, then upper lid back."""
    indices = EYE_CONTOUR_INDICES[eye][:EYE_LID_POINTS]
    lower, upper = list(indices[:_LOWER]), list(indices[_LOWER:])
    return np.asarray(landmarks, np.float64)[lower + upper[::-1], :2]


def iris_circle(landmarks: np.ndarray, eye: int) -> tuple[np.ndarray, float]:
    """Centre and radius (mean distance of the four rim points) of eye ``eye``'s iris."""
    points = np.asarray(landmarks, np.float64)[list(IRISES[eye]), :2]
    centre = points[0]
    return centre, float(np.linalg.norm(points[1:] - centre, axis=1).mean())


def eye_openings(landmarks: np.ndarray) -> np.ndarray:
    """``[2]`` each eye's opening: its outline's area over its corner distance squared."""
    out = []
    for eye in range(2):
        outline = lid_outline(landmarks, eye)
        a, b = (np.asarray(landmarks, np.float64)[k, :2] for k in EYE_CORNERS[eye])
        following = np.roll(outline, -1, axis=0)  # the shoelace formula
        area = 0.5 * abs(
            float((outline[:, 0] * following[:, 1] - following[:, 0] * outline[:, 1]).sum())
        )
        out.append(area / max(float(np.sum((a - b) ** 2)), 1e-9))
    return np.array(out)


def _box(points: np.ndarray, pad: float, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    return clip_box((*(points.min(0) - pad), *(points.max(0) + pad)), shape)


def _luminance(colours: np.ndarray) -> np.ndarray:
    return colours @ np.array([0.299, 0.587, 0.114], np.float32)


def eye_look(image: np.ndarray, landmarks: np.ndarray, eye: int) -> EyeLook | None:
    """Measure eye ``eye`` of a portrait; ``None`` when its opening holds no pixel."""
    outline = lid_outline(landmarks, eye)
    centre, radius = iris_circle(landmarks, eye)
    radius = max(radius, 1.0)
    # room above and below for what a wider opening uncovers
    pad = 2.0 + 0.5 * float(np.ptp(outline[:, 0]))
    box = _box(np.vstack([outline, centre - radius, centre + radius]), pad, image.shape[:2])
    x0, y0, x1, y1 = box
    shape = (y1 - y0, x1 - x0)
    if min(shape) <= 0:
        return None
    opening = polygon_mask(outline - [x0, y0], shape)
    if not opening.any():
        return None
    patch = image[y0:y1, x0:x1].astype(np.float32)
    inside = cv2.distanceTransform(opening.astype(np.uint8), cv2.DIST_L2, 3)
    # how far from the lids' line, lashes and shadow: the iris counts from a margin in; the
    # white, carried to where the lids no longer are, from twice that (a trace of the old lid
    # would float in the opened eye)
    margin = _LID_MARGIN * radius
    clear = np.clip(inside / margin, 0.0, 1.0).astype(np.float32)
    clearer = np.clip(inside / margin - 1.0, 0.0, 1.0).astype(np.float32)
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    reach = np.hypot(xx - centre[0], yy - centre[1]) / radius
    sclera = _sclera(patch, opening & (reach > 1.0 + _IRIS_MARGIN))
    fit = _iris_edge(_luminance(patch), clear, reach, float(_luminance(sclera)))
    radius *= fit
    reach /= fit
    seen = clear * (reach < 1.0)
    white = clearer * np.clip((reach - 1.0) / _IRIS_MARGIN, 0.0, 1.0).astype(np.float32)
    rings = _iris_rings(patch, seen, reach, opening)
    white = _whiteness(patch, white, sclera, rings)
    upper = outline[[_LOWER - 1, *range(_LOWER, len(outline)), 0]]
    band = opening & (clear < 1.0) & (yy - y0 < _lid_curve(upper - [x0, y0], xx[0] - x0) + 2)
    return EyeLook(
        sclera=sclera,
        shadow=patch[band].mean(0) if band.any() else 0.5 * sclera,
        rings=rings,
        radius=radius,
        fit=fit,
        centre=centre,
        patch=patch,
        seen=seen,
        white=white,
        whites=_spread(patch, white, sclera, radius),
        origin=np.array([x0, y0], np.float64),
        corners=np.asarray(landmarks, np.float64)[list(EYE_CORNERS[eye]), :2],
    )


def _whiteness(
    patch: np.ndarray, white: np.ndarray, sclera: np.ndarray, rings: np.ndarray
) -> np.ndarray:
    """``white`` (the weights of the pixels outside the iris) times how far each pixel's
    brightness lies from the iris's rim towards the white's: a blurred iris edge, a lash or a
    fleck of shadow is not white to carry or spread."""
    lit, dark = float(_luminance(sclera)), float(_luminance(rings[-1]))
    if lit - dark <= 1.0:
        return white
    return white * np.clip((_luminance(patch) - dark) / (lit - dark), 0.0, 1.0)


def _spread(patch: np.ndarray, white: np.ndarray, sclera: np.ndarray, radius: float) -> np.ndarray:
    """The white's pixels spread over the whole patch (a normalised blur an iris radius wide),
    so a wider opening shows the white lit as the nearest part the portrait shows; far from any,
    its mean colour."""
    sigma = max(radius, 1.0)
    weight = cv2.GaussianBlur(white, (0, 0), sigma)[..., None]
    spread = cv2.GaussianBlur(patch * white[..., None], (0, 0), sigma)
    return ((spread + _SPREAD_PRIOR * sclera) / (weight + _SPREAD_PRIOR)).astype(np.float32)


def _iris_edge(lit: np.ndarray, clear: np.ndarray, reach: np.ndarray, white: float) -> float:
    """Where, in the landmarks' iris radii, the iris's visible edge lies: the first ring
    outward from half the radius whose mean brightness is past halfway from the iris's core to
    the white; 1 where the eye shows too little of either to tell."""
    core = clear * (reach < 0.5)
    if core.sum() < 1.0:
        return 1.0
    dark = float((lit * core).sum() / core.sum())
    if white - dark < _EDGE_CONTRAST:
        return 1.0
    for edge in np.arange(*_EDGE_RANGE, 0.05):
        ring = clear * (np.abs(reach - edge) < 0.025)
        if ring.sum() >= 1.0 and (lit * ring).sum() / ring.sum() > 0.5 * (dark + white):
            return float(edge)
    return 1.0


def _sclera(patch: np.ndarray, white: np.ndarray) -> np.ndarray:
    """The lit white's colour: the brighter half of its pixels (the rest is lash and shadow);
    where no white shows, the opening's brightest tenth stands in."""
    pixels = patch[white] if white.sum() >= 4 else patch.reshape(-1, 3)
    lit = _luminance(pixels)
    return pixels[lit >= np.quantile(lit, 0.5 if white.sum() >= 4 else 0.9)].mean(0)


def _iris_rings(
    patch: np.ndarray, seen: np.ndarray, reach: np.ndarray, opening: np.ndarray
) -> np.ndarray:
    """``[_RINGS,3]`` the iris's mean colour per ring (weighted by how surely each pixel shows
    it); a ring the lids hid takes its nearest seen ring's colour. The rings span the iris
    inside its blurred edge (the outer :data:`_IRIS_MARGIN`), whose pixels are half white."""
    inner = reach / (1.0 - _IRIS_MARGIN)
    ring = np.minimum((inner * _RINGS).astype(int), _RINGS - 1)
    rings = np.full((_RINGS, 3), np.nan, np.float32)
    for k in range(_RINGS):
        weight = seen * (ring == k) * (inner < 1.0)
        if weight.sum() >= 0.5:
            rings[k] = (patch * weight[..., None]).sum((0, 1)) / weight.sum()
    have = ~np.isnan(rings[:, 0])
    if not have.any():  # no iris shows: the opening's darkest quarter stands in for it
        lit = _luminance(patch[opening])
        return np.tile(patch[opening][lit <= np.quantile(lit, 0.25)].mean(0), (_RINGS, 1))
    known = np.nonzero(have)[0]
    for k in np.nonzero(~have)[0]:
        rings[k] = rings[known[np.abs(known - k).argmin()]]
    return rings


def eye_looks(image: np.ndarray, landmarks: np.ndarray) -> tuple[EyeLook | None, ...]:
    """Both eyes' :func:`eye_look`, subject's right then left."""
    return tuple(eye_look(image, landmarks, eye) for eye in range(2))


def drawn_eye(
    look: EyeLook, target: np.ndarray, eye: int, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """Eye ``eye``'s inside for the ``target`` landmarks (frame pixels; ``shape`` the frame's).

    Returns (colour float32 [h,w,3], soft mask float32 [h,w], box (x0, y0, x1, y1) of the frame
    both cover)."""
    outline = lid_outline(target, eye)
    centre, radius = iris_circle(target, eye)
    radius = max(radius * look.fit, 1.0)
    width = max(float(np.ptp(outline[:, 0])), 1.0)
    soft = max(0.03 * width, 0.6)
    box = _box(outline, 3.0 * soft + 2.0, shape)
    x0, y0, x1, y1 = box
    size = (y1 - y0, x1 - x0)
    xs = np.arange(x0, x1, dtype=np.float32)
    rows = np.arange(y0, y1, dtype=np.float32)[:, None]
    # the portrait's own white where it showed, carried with the eye's corners (moved, turned
    # and scaled, never stretched); what the raised lid uncovers, the white spread from it,
    # darker towards the corners (the eyeball's curve)
    src_x, src_y = _from_portrait(look, target[list(EYE_CORNERS[eye]), :2], (x0, y0), size)
    own, white, spread = (
        cv2.remap(layer, src_x, src_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        for layer in (look.patch, look.white, look.whites)
    )
    across = (xs - float(outline[:, 0].mean())) / width
    spread *= (1.0 - _CORNER_SHADE * (2.0 * across) ** 2)[:, None]
    white = white[..., None]
    colour = white * own + (1.0 - white) * spread
    colour = _with_iris(colour, look, centre - [x0, y0], radius)
    # the lids' shadows, by the height above the lower lid and below the upper one
    lower = outline[:_LOWER]
    upper = outline[[_LOWER - 1, *range(_LOWER, len(outline)), 0]]  # corner to corner
    under = rows - _lid_curve(upper, xs)
    over = _lid_curve(lower, xs) - rows
    dark = _UPPER_SHADOW * np.exp(-np.maximum(under, 0) / (_UPPER_REACH * radius))
    dark += _LOWER_SHADOW * np.exp(-np.maximum(over, 0) / (_LOWER_REACH * radius))
    dark = np.clip(dark, 0.0, 1.0)[..., None]
    colour = (1.0 - dark) * colour + dark * look.shadow
    hole = polygon_mask(outline - [x0, y0], size).astype(np.float32)
    mask = cv2.GaussianBlur(hole, (0, 0), soft)
    # 0 on the outline, whole a blur width inside: the lid's edge and lashes stay the warp's
    return colour, np.clip((mask - 0.5) / 0.35, 0.0, 1.0), box


def _from_portrait(
    look: EyeLook, corners: np.ndarray, origin: tuple[int, int], size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Where in ``look``'s patch each pixel of a box (``origin``, ``size``) lies, by the
    similarity taking the target's eye ``corners`` onto the portrait's."""
    to_target = complex(*(corners[1] - corners[0]))
    to_portrait = complex(*(look.corners[1] - look.corners[0]))
    turn = to_portrait / to_target if abs(to_target) > 1e-6 else 1.0
    yy, xx = np.mgrid[: size[0], : size[1]].astype(np.float64)
    z = (xx + origin[0] - corners[0][0]) + 1j * (yy + origin[1] - corners[0][1])
    source = complex(*(look.corners[0] - look.origin)) + z * turn
    return source.real.astype(np.float32), source.imag.astype(np.float32)


def _lid_curve(points: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """``[1,W]`` the lid's height at each column ``xs``, from its points (any order)."""
    order = np.argsort(points[:, 0])
    return np.interp(xs, points[order, 0], points[order, 1])[None].astype(np.float32)


def _with_iris(colour: np.ndarray, look: EyeLook, centre: np.ndarray, radius: float) -> np.ndarray:
    """``colour`` (the white, in box pixels) with the portrait's iris on it: a round disc at
    ``centre`` of ``radius``, sampled from the portrait's iris scaled evenly (its radius to
    ``radius``) where the portrait shows it, and ring by ring from its mean colours where not."""
    height, width = colour.shape[:2]
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    dx, dy = xx - float(centre[0]), yy - float(centre[1])
    reach = np.hypot(dx, dy) / radius
    disc = np.clip((1.0 - reach) * radius / max(0.08 * radius, 0.75) + 0.5, 0.0, 1.0)
    if not disc.any():
        return colour
    scale = look.radius / radius
    src_x = (look.centre[0] - look.origin[0] + dx * scale).astype(np.float32)
    src_y = (look.centre[1] - look.origin[1] + dy * scale).astype(np.float32)
    sampled = cv2.remap(look.patch, src_x, src_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    seen = cv2.remap(look.seen, src_x, src_y, cv2.INTER_LINEAR, borderValue=0.0)[..., None]
    # the rings were measured inside the iris's blurred edge (:func:`_iris_rings`)
    position = np.clip(reach / (1.0 - _IRIS_MARGIN) * _RINGS - 0.5, 0, _RINGS - 1)
    rings = np.stack(
        [np.interp(position, np.arange(_RINGS), look.rings[:, c]) for c in range(3)], -1
    )
    iris = seen * sampled + (1.0 - seen) * rings
    disc = disc[..., None]
    return (disc * iris + (1.0 - disc) * colour).astype(np.float32)


def draw_eyes(
    frame: np.ndarray,
    target: np.ndarray,
    looks: tuple[EyeLook | None, ...],
    own: np.ndarray,
) -> None:
    """Draw, in place in ``frame`` (float32), each eye of the ``target`` landmarks that opens
    wider than the portrait's own opening ``own`` (:func:`eye_openings`): fading in over the
    first :data:`_TAKE_OVER` of its opening past it, fully drawn beyond."""
    openings = eye_openings(target)
    for eye, look in enumerate(looks):
        strength = float(np.clip((openings[eye] / max(own[eye], 1e-6) - 1.0) / _TAKE_OVER, 0, 1))
        if look is None or strength <= 0:
            continue
        colour, mask, (x0, y0, x1, y1) = drawn_eye(look, target, eye, frame.shape[:2])
        mask = strength * mask[..., None]
        region = frame[y0:y1, x0:x1]
        region[:] = mask * colour + (1.0 - mask) * region
