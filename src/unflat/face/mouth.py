"""The inside of an opening mouth, for portraits whose own mouth is closed.

With a driver video, its mouth interior (teeth, tongue, shadow) is warped from the driver frame
onto the output's inner-lip outline and colour-matched to the portrait's lips. Without one (motion
presets), a mouth is drawn: a dark cavity shading to the lip colour, upper teeth and, when it
opens wide, a tongue. Both work in the mouth's box only, so the cost does not grow with the
portrait's size.
"""

from __future__ import annotations

import cv2
import numpy as np

from unflat.face.portrait import polygon_mask
from unflat.face.warp import clip_box
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


# Lip colour for a portrait whose lips fall outside the image.
_DEFAULT_LIPS = (np.array([150.0, 80, 80]), np.full(3, 20.0))


def mouth_interior(
    frame: np.ndarray,
    lip: np.ndarray,
    lips: tuple[np.ndarray, np.ndarray] | None,
    driver_frame: np.ndarray | None,
    driver_landmarks: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """The mouth's inside for the inner-lip outline ``lip`` (frame pixels).

    ``lips`` is the portrait's :func:`lip_colour`, which the inside is matched to. Returns
    (interior float32 [h,w,3], feathered mask float32 [h,w], box): both arrays cover only
    ``box`` (x0, y0, x1, y1) of the frame, the outline's bounds plus the feather.
    """
    mouth_width = float(np.ptp(lip[:, 0])) or 1.0
    pad = 3.0 * max(mouth_width * 0.015, 0.7) + 2.0
    box = clip_box((*(lip.min(0) - pad), *(lip.max(0) + pad)), frame.shape[:2])
    x0, y0, x1, y1 = box
    shape = (y1 - y0, x1 - x0)
    local = lip - [x0, y0]
    hole = polygon_mask(local, shape)
    lip_mean, lip_std = lips if lips is not None else _DEFAULT_LIPS
    interior = None
    if driver_frame is not None and driver_landmarks is not None:
        src = driver_landmarks[list(INNER_LIP), :2].astype(np.float32)
        matrix, _ = cv2.estimateAffine2D(src, local.astype(np.float32), method=cv2.LMEDS)
        if matrix is not None:
            interior = cv2.warpAffine(
                driver_frame,
                matrix,
                (shape[1], shape[0]),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REFLECT101,
            ).astype(np.float32)
            driver_lips = lip_colour(driver_frame, driver_landmarks)
            if driver_lips is not None:
                # match the driver's lip colour statistics to the portrait's, keep its shading
                d_mean, d_std = driver_lips
                interior = (interior - d_mean) / d_std * lip_std + lip_mean
    if interior is None:
        interior = _drawn(local, shape, lip_mean)
    mask = cv2.GaussianBlur(hole.astype(np.float32), (0, 0), max(mouth_width * 0.015, 0.7))
    mask = np.clip((mask - 0.2) / 0.6, 0.0, 1.0)
    return np.clip(interior, 0, 255), mask, box


# Drawn mouth colours (RGB): the cavity's shadow, the tongue, the teeth.
_CAVITY = np.array([40.0, 18.0, 20.0])
_TONGUE = np.array([150.0, 62.0, 66.0])
_TEETH = np.array([222.0, 214.0, 196.0])


def _drawn(lip: np.ndarray, shape: tuple[int, int], lip_colour: np.ndarray) -> np.ndarray:
    """A drawn mouth inside the inner-lip outline ``lip`` (pixels of an image of ``shape``).

    A dark cavity lighter towards the lips; once open enough, upper teeth under the upper lip
    (their height set by the mouth's width, as real teeth do not grow with the opening, fading
    into shadow towards the corners) and a tongue low in the cavity.
    """
    height, width = shape
    top = lip[: len(lip) // 2 + 1]
    bottom = lip[len(lip) // 2 :]
    gap = float(np.median(bottom[:, 1]) - np.median(top[:, 1]))
    mouth_width = max(float(np.ptp(lip[:, 0])), 1.0)
    hole = polygon_mask(lip, shape).astype(np.uint8)
    dist = cv2.distanceTransform(hole, cv2.DIST_L2, 3)
    depth = np.clip(dist / max(gap * 0.35, 1.0), 0, 1)[..., None]
    out = (1 - depth) * (0.55 * lip_colour) + depth * _CAVITY
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
    colour = 0.7 * _TONGUE + 0.3 * lip_colour
    out = tongue * (colour * (0.55 + 0.45 * across)) + (1 - tongue) * out
    teeth_height = min(0.5 * gap, 0.1 * mouth_width)
    below_lip = (rows - upper_y) / max(teeth_height, 1.0)
    # soft lower edge; teeth lit from above, darker towards their edge and the corners
    teeth = np.clip((1.0 - below_lip) / 0.25, 0, 1)[..., None] * across * 0.95
    shade = (0.95 - 0.25 * np.clip(below_lip, 0, 1))[..., None] * (0.45 + 0.55 * across)
    colour = (0.85 * _TEETH + 0.15 * lip_colour) * shade
    out = teeth * colour + (1 - teeth) * out
    return out.astype(np.float32)
