"""Rotated regions of interest: MediaPipe's crop-and-project geometry, reproduced exactly.

MediaPipe chains its face models through *normalised rotated rectangles*: a detection or a set of
landmarks becomes a rectangle (centre, size, rotation) in image-normalised units, the rectangle is
squared and enlarged, the image inside it is resampled to the model's input size, and the model's
landmarks are projected back. Matching MediaPipe's landmarks to a fraction of a pixel needs its
exact conventions, which this module keeps in one place:

- sizes are normalised by the image width (x) and height (y) separately, and ``square_long``
  squares the rectangle in *pixels*;
- the rotation is the angle that makes the vector from keypoint ``a`` to keypoint ``b`` horizontal
  (image y points down, hence the minus sign), wrapped to [-pi, pi);
- the crop maps the rectangle's corners onto the tensor's corners with a perspective transform
  (OpenCV ``boxPoints`` order), bilinear, on the ``uint8`` image;
- projection back uses normalised coordinates, rotation and all (exact for square crops in
  pixels, which all face crops are).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np


@dataclass(frozen=True)
class Roi:
    """A rotated rectangle in image-normalised units (x by width, y by height); radians."""

    x_center: float
    y_center: float
    width: float
    height: float
    rotation: float = 0.0

    def in_pixels(self, image_width: int, image_height: int) -> tuple[float, float, float, float]:
        """Centre x, centre y, width, height in pixels."""
        return (
            self.x_center * image_width,
            self.y_center * image_height,
            self.width * image_width,
            self.height * image_height,
        )


def normalize_radians(angle: float) -> float:
    """Wrap an angle to [-pi, pi), as MediaPipe does."""
    return angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))


def rotation_between(start_xy: np.ndarray, end_xy: np.ndarray) -> float:
    """Rotation (radians) that brings the vector start -> end (pixels) to horizontal."""
    dx = float(end_xy[0] - start_xy[0])
    dy = float(end_xy[1] - start_xy[1])
    return normalize_radians(-math.atan2(-dy, dx))


def roi_from_box(x0: float, y0: float, x1: float, y1: float, rotation: float = 0.0) -> Roi:
    """The rectangle of a normalised box (MediaPipe's ``RectFromBox``)."""
    return Roi((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0, rotation)


def roi_from_points(
    points_xy: np.ndarray, start: int, end: int, image_size: tuple[int, int]
) -> Roi:
    """Bounding rectangle of normalised points, rotated by the vector ``points[start] -> end``.

    ``image_size`` is (width, height): the rotation is measured in pixels.
    """
    pts = np.asarray(points_xy, dtype=np.float32)[:, :2]
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    scale = np.array(image_size, dtype=np.float64)
    rotation = rotation_between(pts[start] * scale, pts[end] * scale)
    return roi_from_box(float(x0), float(y0), float(x1), float(y1), rotation)


def enlarge_square(roi: Roi, scale: float, image_size: tuple[int, int]) -> Roi:
    """Square the rectangle on its long side (in pixels) and scale it (``RectTransformation``)."""
    width, height = image_size
    long_side = max(roi.width * width, roi.height * height)
    return replace(roi, width=long_side / width * scale, height=long_side / height * scale)


def crop(
    image: np.ndarray,
    roi: Roi,
    size: tuple[int, int],
    *,
    border: str = "replicate",
) -> np.ndarray:
    """Resample the rectangle to ``size`` = (width, height) pixels: ``uint8 [h,w,3]``.

    The rectangle's corners go to the output's corners, as in MediaPipe's ``ImageToTensor``
    (perspective transform from ``cv2.boxPoints``). ``border`` is ``"replicate"`` or ``"zero"``.
    """
    image_h, image_w = image.shape[:2]
    cx, cy, w, h = roi.in_pixels(image_w, image_h)
    box = cv2.boxPoints(((cx, cy), (w, h), roi.rotation * 180.0 / math.pi))
    out_w, out_h = size
    corners = np.array([[0, out_h], [0, 0], [out_w, 0], [out_w, out_h]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(box.astype(np.float32), corners)
    mode = cv2.BORDER_REPLICATE if border == "replicate" else cv2.BORDER_CONSTANT
    return cv2.warpPerspective(
        image, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=mode, borderValue=0
    )


def crop_native(image: np.ndarray, roi: Roi) -> np.ndarray:
    """The rectangle at the image's own resolution (MediaPipe's ``ImageCroppingCalculator``).

    The output is ``round(width) x round(height)`` pixels; the corner mapping uses pixel
    centres (a half-pixel shift on both sides), and an unrotated crop's centre snaps to the
    pixel grid. The iris stage uses this crop before resizing it to the model's input.
    """
    image_h, image_w = image.shape[:2]
    f32 = np.float32
    crop_w = int(np.floor(f32(roi.width) * f32(image_w) + f32(0.5)))
    crop_h = int(np.floor(f32(roi.height) * f32(image_h) + f32(0.5)))
    cx = float(f32(roi.x_center) * f32(image_w))
    cy = float(f32(roi.y_center) * f32(image_h))
    if roi.rotation == 0.0:
        cx = float(np.round(cx)) if crop_w % 2 == 0 else float(np.floor(cx + 1.0) - 0.5)
        cy = float(np.round(cy)) if crop_h % 2 == 0 else float(np.floor(cy + 1.0) - 0.5)
    angle = float(f32(roi.rotation) * f32(180.0) / f32(math.pi))
    box = cv2.boxPoints(((cx, cy), (float(crop_w), float(crop_h)), angle))
    corners = np.array([[0, crop_h], [0, 0], [crop_w, 0], [crop_w, crop_h]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(box.astype(np.float32), corners).astype(np.float64)
    to_centres = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]])
    from_centres = np.array([[1, 0, -0.5], [0, 1, -0.5], [0, 0, 1]])
    return cv2.warpPerspective(
        image,
        from_centres @ matrix @ to_centres,
        (max(crop_w, 1), max(crop_h, 1)),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )


def fit_square(pixels: np.ndarray, side: int) -> tuple[np.ndarray, tuple[float, float]]:
    """Resize into a ``side`` square keeping the aspect ratio, edge-padded (``ScaleMode FIT``).

    Downscaling averages areas, upscaling is bilinear, as in MediaPipe's
    ``ImageTransformationCalculator``. Returns the square and the (x, y) padding fractions on
    each side, which :func:`unletterbox` removes from landmarks.
    """
    h, w = pixels.shape[:2]
    scale = min(side / w, side / h)
    tw, th = int(np.round(w * scale)), int(np.round(h * scale))
    interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    resized = cv2.resize(pixels, (tw, th), interpolation=interp)
    top, left = (side - th) // 2, (side - tw) // 2
    out = cv2.copyMakeBorder(
        resized, top, side - th - top, left, side - tw - left, cv2.BORDER_REPLICATE
    )
    return out, ((side - tw) / 2 / side, (side - th) / 2 / side)


def unletterbox(points: np.ndarray, padding: tuple[float, float]) -> np.ndarray:
    """Normalised points in a padded square back to the unpadded content's [0,1] frame."""
    px, py = padding
    out = np.array(points, dtype=np.float32, copy=True)
    out[:, 0] = (out[:, 0] - px) / (1 - 2 * px)
    out[:, 1] = (out[:, 1] - py) / (1 - 2 * py)
    out[:, 2] = out[:, 2] / (1 - 2 * px)
    return out


def project(points: np.ndarray, roi: Roi) -> np.ndarray:
    """Crop-normalised points [N,3] (x, y in [0,1], z in crop widths) to image-normalised ones.

    z is scaled like x, by the rectangle's normalised width.
    """
    pts = np.asarray(points, dtype=np.float32)
    x = pts[:, 0] - np.float32(0.5)
    y = pts[:, 1] - np.float32(0.5)
    cos, sin = np.float32(math.cos(roi.rotation)), np.float32(math.sin(roi.rotation))
    out = np.empty_like(pts)
    out[:, 0] = (cos * x - sin * y) * np.float32(roi.width) + np.float32(roi.x_center)
    out[:, 1] = (sin * x + cos * y) * np.float32(roi.height) + np.float32(roi.y_center)
    out[:, 2] = pts[:, 2] * np.float32(roi.width)
    return out
