"""The inside of an opening mouth, for portraits whose own mouth is closed.

With a driver video, its mouth interior (teeth, tongue, shadow) is warped from the driver frame
onto the output's inner-lip outline and relit by the ratio of the portrait's skin colour to the
driver's (a per-channel gain: the portrait's light and colour cast, while teeth stay lighter than
the cavity). Without one (motion presets), a mouth is drawn in the portrait's own colours: a
cavity darker than its lips, upper teeth as light as its skin and less saturated, and, when it
opens wide, a tongue. Either sits behind the lips: its mask ends inside the inner-lip outline
with a soft edge. Both work in the mouth's box only, so the cost does not grow with the
portrait's size.
"""

from __future__ import annotations

import cv2
import numpy as np

from unflat.face.portrait import polygon_mask
from unflat.face.warp import backward_map, clip_box, remap
from unflat.face_mesh import INNER_LIP, OUTER_LIP


def lip_colour(image: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Mean and spread (std + 1) of the lips' colour: the pixels inside the outer lip outline
    and outside the inner one. ``None`` when no such pixel lies in the image.

    Works in the lips' box only, so it costs the same for a 4K portrait as for a thumbnail.
    """
    height, width = image.shape[:2]
    # round in image coordinates first, so the pixels are those a full-image fill would take
    outer = np.round(landmarks[list(OUTER_LIP), :2])
    inner = np.round(landmarks[list(INNER_LIP), :2])
    lo = np.clip(outer.min(0).astype(int), 0, [width, height])
    hi = np.clip(outer.max(0).astype(int) + 1, 0, [width, height])
    shape = (int(hi[1] - lo[1]), int(hi[0] - lo[0]))
    if min(shape) <= 0:
        return None
    ring = polygon_mask(outer - lo, shape) & ~polygon_mask(inner - lo, shape)
    pixels = image[lo[1] : hi[1], lo[0] : hi[0]][ring].astype(np.float32)
    if not len(pixels):
        return None
    return pixels.mean(0), pixels.std(0) + 1.0


def skin_colour(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray | None:
    """Mean colour of the skin around the mouth: the box a mouth's width about the outer lips,
    less the lips. ``None`` when none of it lies in the image."""
    height, width = image.shape[:2]
    outer = np.round(landmarks[list(OUTER_LIP), :2])
    reach = 0.5 * float(np.ptp(outer[:, 0]))
    lo = np.clip((outer.min(0) - reach).astype(int), 0, [width, height])
    hi = np.clip((outer.max(0) + reach).astype(int) + 1, 0, [width, height])
    shape = (int(hi[1] - lo[1]), int(hi[0] - lo[0]))
    if min(shape) <= 0:
        return None
    skin = ~polygon_mask(outer - lo, shape)
    pixels = image[lo[1] : hi[1], lo[0] : hi[0]][skin].astype(np.float32)
    return pixels.mean(0) if len(pixels) else None


# Lip and skin colour for a portrait whose mouth falls outside the image.
_DEFAULT_LIPS = (np.array([150.0, 80, 80]), np.full(3, 20.0))
_DEFAULT_SKIN = np.array([190.0, 140.0, 120.0])


def mouth_interior(
    frame: np.ndarray,
    lip: np.ndarray,
    lips: tuple[np.ndarray, np.ndarray] | None,
    driver_frame: np.ndarray | None,
    driver_landmarks: np.ndarray | None,
    skin: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """The mouth's inside for the inner-lip outline ``lip`` (frame pixels).

    ``lips`` and ``skin`` are the portrait's :func:`lip_colour` and :func:`skin_colour`, which
    the inside is lit by. Returns (interior float32 [h,w,3], feathered mask float32 [h,w], box):
    both arrays cover only ``box`` (x0, y0, x1, y1) of the frame, the outline's bounds plus the
    feather.
    """
    mouth_width = float(np.ptp(lip[:, 0])) or 1.0
    pad = 3.0 * max(mouth_width * 0.015, 0.7) + 2.0
    box = clip_box((*(lip.min(0) - pad), *(lip.max(0) + pad)), frame.shape[:2])
    x0, y0, x1, y1 = box
    shape = (y1 - y0, x1 - x0)
    local = lip - [x0, y0]
    hole = polygon_mask(local, shape)
    lip_mean, _ = lips if lips is not None else _DEFAULT_LIPS
    skin = _DEFAULT_SKIN if skin is None else skin
    interior = None
    if driver_frame is not None and driver_landmarks is not None:
        interior = _driver_inside(driver_frame, _driver_opening(driver_landmarks), local, shape)
        if interior is not None:
            driver_skin = skin_colour(driver_frame, driver_landmarks)
            if driver_skin is not None:
                # relight: the driver's skin brightness becomes the portrait's, and half the
                # colour cast between them is taken over (all of it turned a warm-lit driver's
                # teeth blue on a pale face; matching the lips' spread tinted them pink, gold or
                # green with the lips' hue)
                ratio = np.clip(skin / np.maximum(driver_skin, 1.0), 0.25, 4.0)
                gain = ratio.mean() * np.sqrt(ratio / ratio.mean())
                interior = interior * gain
            interior = _in_shadow(interior, skin)
    if interior is None:
        interior = _drawn(local, shape, lip_mean, skin)
    mask = cv2.GaussianBlur(hole.astype(np.float32), (0, 0), max(mouth_width * 0.015, 0.7))
    mask = np.clip((mask - 0.2) / 0.6, 0.0, 1.0)
    return np.clip(interior, 0, 255), mask, box


# The gamma (on brightness relative to the portrait's skin) that darkens the driver's relit
# mouth: a mouth's inside lies in the shadow of its lips and cheeks, but a video's cavity,
# compressed and relit to a portrait's skin, comes out a mid-tone of the lips' own brightness,
# which a face tracker (and the eye) takes for more lip. Relative to the skin, not to white, so
# a dark painting's teeth stay lighter than its skin (on 0-255 they fell to a mid-tone).
_SHADOW_GAMMA = 1.6


def _in_shadow(interior: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """The relit driver's mouth with its darks deepened (:data:`_SHADOW_GAMMA`), on brightness
    relative to the portrait's skin: what is darker than the skin darkens, what is lighter (the
    teeth) keeps its contrast, so a dark painting's open mouth still shows its teeth."""
    luma = interior @ _LUMA
    relative = luma / max(float(skin @ _LUMA), 1.0)
    darker = np.minimum(relative, 1.0)
    scale = darker ** (_SHADOW_GAMMA - 1.0)
    return np.clip(interior * scale[..., None], 0, 255)


_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


# How far from the upper inner-lip outline towards the outer one the driver's mouth is taken
# from: a face mesh without lip refinement puts a parted mouth's upper inner lip on the middle
# of the upper teeth (the lower one on the lower lip's edge), so its outline leaves out the
# teeth's upper half, the lightest part of a mouth just parted.
_GROW = 0.4


def _driver_opening(landmarks: np.ndarray) -> np.ndarray:
    """The driver's mouth opening outline: the upper inner lip (not its corners) moved
    :data:`_GROW` of the way to the outer lip, where the mouth is open."""
    inner = landmarks[list(INNER_LIP), :2].astype(np.float64)
    outer = landmarks[list(OUTER_LIP), :2].astype(np.float64)
    if float(np.ptp(inner[:, 1])) < 1.0:
        return inner
    grow = np.zeros((len(inner), 1))
    grow[1:10] = _GROW  # the upper lip only, not its corners
    return inner + grow * (outer - inner)


def _lip_rim(contour: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The inner-lip ``contour`` [N,2] with its centre and a ring a third further out (onto the
    lips), as mesh points ``[2N+1,2]``, and the triangles over them: a fan inside, a band out."""
    centre = contour.mean(0)
    points = np.concatenate([contour, centre + 1.3 * (contour - centre), centre[None]])
    n = len(contour)
    k = np.arange(n)
    following = (k + 1) % n
    fan = np.stack([k, following, np.full(n, 2 * n)], axis=1)
    band = np.concatenate(
        [np.stack([k, following, n + k], 1), np.stack([following, n + following, n + k], 1)]
    )
    return points, np.concatenate([fan, band]).astype(np.int32)


def _driver_inside(
    driver_frame: np.ndarray,
    driver_contour: np.ndarray,
    contour: np.ndarray,
    shape: tuple[int, int],
) -> np.ndarray | None:
    """The driver's mouth, mapped piecewise so its inner-lip outline lands exactly on
    ``contour`` (pixels of the ``shape`` box): what lies inside the driver's lips fills the
    inside of the portrait's, never the driver's lips (a single affine fit put them in the
    corners)."""
    if float(np.ptp(driver_contour[:, 1])) < 1.0:
        return None
    src, tri = _lip_rim(np.asarray(driver_contour, np.float64))
    dst, _ = _lip_rim(np.asarray(contour, np.float64))
    map_x, map_y = backward_map(src, dst, tri, (0, 0, shape[1], shape[0]))
    return remap(driver_frame, map_x, map_y).astype(np.float32)


# Drawn mouth colours from the portrait's own: the cavity's shadow and the tongue as shares of
# the lips' colour; the teeth a quarter lighter than the skin around the mouth (enamel is
# lighter than skin under the same light) with two fifths of its saturation taken out.
_CAVITY, _TONGUE, _TEETH_GREY, _TEETH_LIGHT = 0.22, 0.75, 0.4, 1.25


def _drawn(
    lip: np.ndarray, shape: tuple[int, int], lip_colour: np.ndarray, skin: np.ndarray
) -> np.ndarray:
    """A drawn mouth inside the inner-lip outline ``lip`` (pixels of an image of ``shape``).

    A dark cavity lighter towards the lips; once open enough, upper teeth under the upper lip
    (their height set by the mouth's width, as real teeth do not grow with the opening, fading
    into shadow towards the corners) and a tongue low in the cavity. Colours come from the
    portrait's lips and skin, so the mouth has the painting's light and colour cast.
    """
    cavity = _CAVITY * lip_colour
    tongue_colour = _TONGUE * lip_colour
    teeth_colour = _TEETH_LIGHT * ((1 - _TEETH_GREY) * skin + _TEETH_GREY * skin.mean())
    height, width = shape
    top = lip[: len(lip) // 2 + 1]
    bottom = lip[len(lip) // 2 :]
    gap = float(np.median(bottom[:, 1]) - np.median(top[:, 1]))
    mouth_width = max(float(np.ptp(lip[:, 0])), 1.0)
    hole = polygon_mask(lip, shape).astype(np.uint8)
    dist = cv2.distanceTransform(hole, cv2.DIST_L2, 3)
    depth = np.clip(dist / max(gap * 0.35, 1.0), 0, 1)[..., None]
    out = (1 - depth) * (0.55 * lip_colour) + depth * cavity
    out = out.astype(np.float32)
    if gap <= 4:
        return out
    xs = np.arange(width, dtype=np.float32)
    centre_x = float(lip[:, 0].min() + lip[:, 0].max()) / 2
    # across the mouth: 1 in the middle, 0 at the corners, where the teeth recede into shadow
    across = np.clip(1.0 - np.abs(xs - centre_x) / (0.5 * mouth_width), 0.0, 1.0)
    across = (across * (2.0 - across))[None, :, None]
    order = np.argsort(top[:, 0])
    upper_y = np.interp(xs, top[order, 0], top[order, 1])[None, :]
    rows = np.arange(height, dtype=np.float32)[:, None]
    # tongue: a rounded bulge rising from the lower lip, only in a wide-open mouth
    order = np.argsort(bottom[:, 0])
    lower_y = np.interp(xs, bottom[order, 0], bottom[order, 1])[None, :]
    tongue_top = lower_y - 0.35 * gap * across[..., 0]
    tongue = np.clip((rows - tongue_top) / max(0.15 * gap, 1.0), 0, 1)[..., None]
    tongue *= float(np.clip((gap / mouth_width - 0.15) / 0.15, 0, 1)) * 0.8
    out = tongue * (tongue_colour * (0.55 + 0.45 * across)) + (1 - tongue) * out
    teeth_height = min(0.5 * gap, 0.15 * mouth_width)
    below_lip = (rows - upper_y) / max(teeth_height, 1.0)
    # soft lower edge; teeth lit from above, darker towards their edge and the corners
    teeth = np.clip((1.0 - below_lip) / 0.25, 0, 1)[..., None] * across * 0.95
    shade = (0.95 - 0.25 * np.clip(below_lip, 0, 1))[..., None] * (0.45 + 0.55 * across)
    colour = teeth_colour * shade
    out = teeth * colour + (1 - teeth) * out
    return out.astype(np.float32)
