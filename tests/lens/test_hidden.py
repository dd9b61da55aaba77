"""What lies behind a blurred foreground: its edge ramps as a lens's does, in both directions."""

from __future__ import annotations

import numpy as np
import pytest

from unflat.lens.evaluate import disc_edge_fraction, occluding_edge_error
from unflat.lens.hidden import hidden_samples
from unflat.lens.scatter import layer_of


def test_disc_edge_fraction_hand_checked() -> None:
    np.testing.assert_allclose(disc_edge_fraction(np.array([-1.0, 0.0, 1.0, 2.0])), [0, 0.5, 1, 1])
    # left of t = sin(pi/6) = 0.5: 1/2 + (0.5 x 0.866 + pi/6) / pi = 0.8045
    assert disc_edge_fraction(np.array(0.5)) == pytest.approx(0.80450, abs=1e-5)


@pytest.mark.parametrize("radius", [3.0, 6.0, 12.0])
def test_blurred_foreground_edge_follows_the_lens(radius: float) -> None:
    # measured: 0.019, 0.008, 0.003 with the hidden samples; 0.39-0.47 without
    assert occluding_edge_error(radius) < 0.025
    assert occluding_edge_error(radius, fill_hidden=False) > 0.35


def test_samples_only_behind_blurred_foreground_edges() -> None:
    radius = np.zeros((40, 40), np.float32)
    radius[:, :20] = -6.0  # a blurred foreground on the left of a sharp background
    hidden = hidden_samples(radius, layer_of(radius), np.ones((40, 40, 3), np.float32))
    columns = np.unique(hidden.positions % 40)
    assert columns.tolist() == list(range(13, 20))  # within 6 px + 1 of the edge, inside
    assert np.all(hidden.layers == 0) and np.all(hidden.radius == 0)
    # a sharp foreground, a background more blurred than the foreground, or a slope: none
    for left, right in ((0.0, 6.0), (-2.0, 8.0)):
        radius[:, :20], radius[:, 20:] = left, right
        assert hidden_samples(radius, layer_of(radius), np.ones((40, 40, 3))).positions.size == 0
    slope = np.tile(np.linspace(-12.0, 0.0, 40, dtype=np.float32), (40, 1))
    assert hidden_samples(slope, layer_of(slope), np.ones((40, 40, 3))).positions.size == 0
