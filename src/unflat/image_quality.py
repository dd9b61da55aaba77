"""Image similarity: PSNR and SSIM over an optional pixel mask.

Both take images as float arrays in [0, 1] (``[H,W]`` or ``[H,W,C]``); with a mask ``[H,W]``
the score covers the masked pixels only. SSIM is Wang et al. (2004) with the usual constants:
an 11x11 Gaussian window of sigma 1.5, K1 = 0.01, K2 = 0.03, computed per channel and averaged.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

_C1 = 0.01**2
_C2 = 0.03**2


def _as_float(image: np.ndarray) -> np.ndarray:
    array = np.asarray(image, dtype=np.float64)
    return array[..., None] if array.ndim == 2 else array


def psnr(prediction: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio in dB (peak 1) over ``mask``; ``inf`` for equal images."""
    error = (_as_float(prediction) - _as_float(target)) ** 2
    if mask is not None:
        error = error[np.asarray(mask, dtype=bool)]
    if error.size == 0:
        return math.nan
    mse = float(error.mean())
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def ssim_map(prediction: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-pixel SSIM ``[H,W]``, averaged over channels."""
    x, y = _as_float(prediction), _as_float(target)

    def blur(values: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(values, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    scores = []
    for channel in range(x.shape[2]):
        a, b = x[..., channel], y[..., channel]
        mean_a, mean_b = blur(a), blur(b)
        var_a = blur(a * a) - mean_a**2
        var_b = blur(b * b) - mean_b**2
        covariance = blur(a * b) - mean_a * mean_b
        numerator = (2 * mean_a * mean_b + _C1) * (2 * covariance + _C2)
        denominator = (mean_a**2 + mean_b**2 + _C1) * (var_a + var_b + _C2)
        scores.append(numerator / denominator)
    return np.mean(scores, axis=0)


def ssim(prediction: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean SSIM over ``mask`` (all pixels when ``None``)."""
    scores = ssim_map(prediction, target)
    if mask is not None:
        scores = scores[np.asarray(mask, dtype=bool)]
    return float(scores.mean()) if scores.size else math.nan
