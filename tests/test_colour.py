"""The one colour module: sRGB transfer (numpy and torch) and 3DGS's DC colour."""

from __future__ import annotations

import numpy as np
import torch

from unflat.colour import (
    SH_C0,
    colour_to_sh_dc,
    linear_to_srgb,
    sh_dc_to_colour,
    srgb_to_linear,
    srgb_to_linear_tensor,
)


def test_tensor_curve_matches_the_numpy_one() -> None:
    srgb = np.linspace(-0.1, 1.1, 241)
    tensor = srgb_to_linear_tensor(torch.from_numpy(srgb))
    assert tensor.dtype == torch.float64
    np.testing.assert_allclose(tensor.numpy(), srgb_to_linear(srgb), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(linear_to_srgb(srgb_to_linear(srgb)), srgb, atol=1e-12)


def test_sh_dc_round_trip() -> None:
    assert colour_to_sh_dc(np.float64(0.5)) == 0.0
    assert sh_dc_to_colour(np.float64(1.0)) == 0.5 + SH_C0
    colours = np.linspace(0.0, 1.0, 11)
    np.testing.assert_allclose(sh_dc_to_colour(colour_to_sh_dc(colours)), colours, atol=1e-15)
