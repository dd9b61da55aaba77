"""Colour maths shared by every capability: the sRGB transfer function and 3DGS's DC colour.

Scenes (:class:`~unflat.types.Gaussians`) hold linear RGB; photos, videos and what viewers show
are sRGB-encoded. The numpy functions work in float64 and extend the curve outside [0, 1]
rather than clipping; :func:`srgb_to_linear_tensor` is the same curve on torch tensors (in
their own dtype and device, for models).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported lazily: the numpy functions do not need it
    import torch

#: Degree-0 spherical harmonic, sqrt(1 / (4 pi)): 3DGS files store a colour ``c`` as the DC
#: coefficient ``(c - 0.5) / SH_C0``.
SH_C0 = 0.28209479177387814


def linear_to_srgb(values: np.ndarray) -> np.ndarray:
    """The standard piecewise sRGB transfer; values outside [0, 1] are extended, not clipped."""
    values = np.asarray(values, dtype=np.float64)
    curve = 1.055 * np.power(np.maximum(values, 0.0031308), 1.0 / 2.4) - 0.055
    return np.where(values <= 0.0031308, values * 12.92, curve)


def srgb_to_linear(values: np.ndarray) -> np.ndarray:
    """Inverse of :func:`linear_to_srgb`."""
    values = np.asarray(values, dtype=np.float64)
    curve = np.power((np.maximum(values, 0.04045) + 0.055) / 1.055, 2.4)
    return np.where(values <= 0.04045, values / 12.92, curve)


def srgb_to_linear_tensor(srgb: torch.Tensor) -> torch.Tensor:
    """:func:`srgb_to_linear` for torch tensors (piecewise: linear toe, 2.4 power above 0.04045)."""
    import torch

    threshold = 0.04045
    # Both branches are evaluated; clamping the power branch's input keeps it finite.
    power_input = torch.where(srgb <= threshold, threshold, srgb)
    return torch.where(srgb <= threshold, srgb / 12.92, ((power_input + 0.055) / 1.055) ** 2.4)


def sh_dc_to_colour(dc: np.ndarray) -> np.ndarray:
    """The colour a 3DGS viewer shows for degree-0 spherical-harmonic coefficients ``dc``."""
    return dc * SH_C0 + 0.5


def colour_to_sh_dc(colour: np.ndarray) -> np.ndarray:
    """Inverse of :func:`sh_dc_to_colour`."""
    return (colour - 0.5) / SH_C0


# Per-frame conversions by table: 8-bit codes to linear light exactly, and linear light in
# 1/65535 steps back to 8-bit codes (exact for every value the first table gives, the darkest
# codes being 20 steps apart), several times quicker than the power curve on every pixel.
_ENCODE_STEPS = 65535
_DECODE_TABLE: np.ndarray | None = None
_ENCODE_TABLE: np.ndarray | None = None


def srgb8_to_linear(rgb: np.ndarray) -> np.ndarray:
    """``uint8`` sRGB to linear light, ``float32``, exact per code."""
    global _DECODE_TABLE
    if _DECODE_TABLE is None:
        _DECODE_TABLE = srgb_to_linear(np.arange(256) / 255.0).astype(np.float32)
    return _DECODE_TABLE[rgb]


def linear_to_srgb8(linear: np.ndarray) -> np.ndarray:
    """Linear light to ``uint8`` sRGB, clipped to [0, 1] first."""
    global _ENCODE_TABLE
    if _ENCODE_TABLE is None:
        codes = linear_to_srgb(np.arange(_ENCODE_STEPS + 1) / _ENCODE_STEPS) * 255
        _ENCODE_TABLE = np.rint(codes).astype(np.uint8)
    steps = np.rint(np.clip(linear, 0.0, 1.0) * np.float32(_ENCODE_STEPS)).astype(np.uint16)
    return _ENCODE_TABLE[steps]
