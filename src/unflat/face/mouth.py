"""The inside of an opening mouth, for portraits whose own mouth is closed.

With a driver video, its mouth interior (teeth, tongue, shadow) is warped from the driver frame
onto the output's inner-lip outline and colour-matched to the portrait's lips. Without one (motion
presets), a mouth is drawn: a dark cavity shading to the lip colour, with a band of upper teeth
when it opens wide.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from unflat.face.portrait import Portrait


def _polygon(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 1)
    return mask.astype(bool)


def _lip_ring(
    landmarks: np.ndarray, inner: Sequence[int], outer: Sequence[int], shape
) -> np.ndarray:
    """Pixels of the lips: inside the outer outline, outside the inner one."""
    return _polygon(landmarks[list(outer), :2], shape) & ~_polygon(
        landmarks[list(inner), :2], shape
    )


def mouth_interior(
    frame: np.ndarray,
    lip: np.ndarray,
    portrait: Portrait,
    driver_frame: np.ndarray | None,
    driver_landmarks: np.ndarray | None,
    inner: Sequence[int],
    outer: Sequence[int],
) -> tuple[np.ndarray, np.ndarray]:
    """(interior image float32 [H,W,3], feathered mask float32 [H,W]) for the inner-lip ``lip``."""
    height, width = frame.shape[:2]
    hole = _polygon(lip, (height, width))
    mouth_width = float(np.ptp(lip[:, 0])) or 1.0
    portrait_lips = portrait.image[
        _lip_ring(portrait.landmarks, inner, outer, portrait.image.shape[:2])
    ].astype(np.float32)
    lip_mean = portrait_lips.mean(0) if len(portrait_lips) else np.array([150.0, 80, 80])
    lip_std = portrait_lips.std(0) + 1.0 if len(portrait_lips) else np.full(3, 20.0)
    if driver_frame is not None and driver_landmarks is not None:
        src = driver_landmarks[list(inner), :2].astype(np.float32)
        matrix, _ = cv2.estimateAffine2D(src, lip.astype(np.float32), method=cv2.LMEDS)
        if matrix is None:
            interior = _drawn(lip, (height, width), lip_mean)
        else:
            interior = cv2.warpAffine(
                driver_frame,
                matrix,
                (width, height),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REFLECT101,
            ).astype(np.float32)
            driver_lips = driver_frame[
                _lip_ring(driver_landmarks, inner, outer, driver_frame.shape[:2])
            ].astype(np.float32)
            if len(driver_lips):
                # match the driver's lip colour statistics to the portrait's, keep its shading
                d_mean, d_std = driver_lips.mean(0), driver_lips.std(0) + 1.0
                interior = (interior - d_mean) / d_std * lip_std + lip_mean
    else:
        interior = _drawn(lip, (height, width), lip_mean)
    mask = cv2.GaussianBlur(hole.astype(np.float32), (0, 0), max(mouth_width * 0.015, 0.7))
    mask = np.clip((mask - 0.2) / 0.6, 0.0, 1.0)
    return np.clip(interior, 0, 255), mask


def _drawn(lip: np.ndarray, shape: tuple[int, int], lip_colour: np.ndarray) -> np.ndarray:
    """A drawn mouth: dark cavity, lighter towards the lips, upper teeth when wide open."""
    height, width = shape
    out = np.zeros((height, width, 3), np.float32)
    top = lip[: len(lip) // 2 + 1]
    bottom = lip[len(lip) // 2 :]
    gap = float(np.median(bottom[:, 1]) - np.median(top[:, 1]))
    hole = _polygon(lip, shape).astype(np.uint8)
    dist = cv2.distanceTransform(hole, cv2.DIST_L2, 3)
    depth = np.clip(dist / max(gap * 0.35, 1.0), 0, 1)[..., None]
    cavity = np.array([40.0, 18.0, 20.0])
    out[:] = (1 - depth) * (0.55 * lip_colour) + depth * cavity
    if gap > 4:
        # upper teeth: a band under the upper lip, ivory toned towards the lips, in shadow
        teeth = np.zeros(shape, np.uint8)
        band = np.round(np.c_[top[:, 0], top[:, 1] + 0.22 * gap]).astype(np.int32)
        cv2.fillPoly(teeth, [np.vstack([np.round(top).astype(np.int32), band[::-1]])], 1)
        teeth = cv2.GaussianBlur(teeth.astype(np.float32), (0, 0), max(gap * 0.06, 0.6))
        ivory = 0.6 * np.array([205.0, 195.0, 175.0]) + 0.4 * lip_colour
        teeth = teeth[..., None] * 0.85
        out = teeth * ivory + (1 - teeth) * out
    return out
