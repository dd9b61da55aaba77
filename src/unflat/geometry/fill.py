"""Filling the pixels of a map that have no value from the pixels that do."""

from __future__ import annotations

import numpy as np


def nearest_fill(values: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """``values`` (float32) with each ``missing`` pixel given the value of its nearest kept pixel.

    Nearness is Euclidean (OpenCV's 5x5 distance transform). With nothing missing, or
    nothing kept to copy from, ``values`` comes back unchanged.
    """
    import cv2

    values = np.asarray(values, dtype=np.float32)
    if not missing.any() or missing.all():
        return values.copy()
    # labels give every pixel the number of its nearest zero (kept) pixel; with
    # DIST_LABEL_PIXEL the kept pixels are numbered from 1 in raster order
    _, labels = cv2.distanceTransformWithLabels(
        missing.astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
    )
    kept = values[~missing]
    return kept[labels - 1]
