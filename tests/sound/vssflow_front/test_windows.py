"""Windows, cross-fades and the phoneme track, on hand-checkable numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unflat.errors import InputError
from unflat.sound.vssflow.windows import cross_fade, phoneme_track, window_starts


def test_window_starts_cover_the_clip():
    assert window_starts(7.0, 10.0, 1.0) == [0.0]
    assert window_starts(10.0, 10.0, 1.0) == [0.0]
    assert window_starts(25.0, 10.0, 1.0) == [0.0, 9.0, 18.0]  # the last ends at 28 s >= 25
    with pytest.raises(InputError):
        window_starts(25.0, 10.0, 10.0)


def test_cross_fade_keeps_constants_and_ramps_between_pieces():
    ones, twos = np.ones(6, np.float32), np.full(6, 2.0, np.float32)
    joined = cross_fade([ones, twos], [0, 4], total=9, fade=2)
    # Overlap samples 4 and 5: weights (2/3, 1/3) then (1/3, 2/3).
    np.testing.assert_allclose(joined, [1, 1, 1, 1, 4 / 3, 5 / 3, 2, 2, 2], rtol=1e-6)
    np.testing.assert_allclose(cross_fade([ones, ones], [0, 4], 10, 2), np.ones(10))


def test_phoneme_track_follows_the_published_span():
    # 3 ids over the span 0.25-0.75 s at 8 frames/s: 2 zero frames, then 4 frames stretched
    # (repeated to 5 5 6 6 7 7, then nearest picks 0 1 3 4).
    track = phoneme_track([5, 6, 7], frames=8, fps=8.0, span=(0.25, 0.75))
    assert track.tolist() == [0, 0, 5, 5, 6, 7, 0, 0]
    # The published int() truncates: (0.6 - 0.2) * 10 = 3.9999... gives 3 frames, not 4.
    assert phoneme_track([5, 6, 7], 8, 10.0, span=(0.2, 0.6)).tolist() == [0, 0, 5, 6, 7, 0, 0, 0]
    assert phoneme_track(None, 4, 10.0).tolist() == [0, 0, 0, 0]
    assert torch.equal(phoneme_track([1, 2], 4, 10.0), torch.tensor([1, 1, 2, 2]))
    with pytest.raises(InputError, match="span"):
        phoneme_track([1], 8, 10.0, span=(0.5, 0.2))
