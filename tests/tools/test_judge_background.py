"""The judge's background measures (tools/judge_mouth_mediapipe.py, without MediaPipe): the ring
tells a ghost beside the head from encoder noise; the whole-background measure cannot."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

TOOL = Path(__file__).parents[2] / "tools" / "judge_mouth_mediapipe.py"


@pytest.fixture(scope="module")
def judge():
    pytest.importorskip("av")
    spec = importlib.util.spec_from_file_location("judge_mouth_mediapipe", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _scene() -> tuple[np.ndarray, np.ndarray]:
    """A 120x120 painted wall (a gradient with a weave) and a round head of radius 25 at the
    centre."""
    rows, cols = np.mgrid[:120, :120].astype(np.float32)
    wall = 60 + 0.8 * cols + 12 * np.sin(cols / 3) * np.cos(rows / 4)
    portrait = np.stack([wall, wall * 0.9, wall * 0.7], -1)
    person = (rows - 60) ** 2 + (cols - 60) ** 2 < 25**2
    portrait[person] = (200, 150, 120)
    return np.clip(portrait, 0, 255).astype(np.uint8), person


def _encoder_noise(image: np.ndarray, seed: int) -> np.ndarray:
    """What an encoder does to a still picture: pixel noise and a small overall colour shift."""
    noise = np.random.default_rng(seed).normal(-1.0, 2.0, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def test_a_uniform_colour_shift_counts_in_the_background_but_not_in_the_ring(judge) -> None:
    portrait, person = _scene()
    shifted = np.clip(portrait.astype(int) + 1, 0, 255).astype(np.uint8)
    assert judge.still_change(portrait, shifted, person, 5) == pytest.approx(1.0)
    assert judge.ring_change(portrait, shifted, person, 15) == pytest.approx(0.0, abs=1e-4)


def test_the_ring_tells_a_ghost_from_encoder_noise(judge) -> None:
    portrait, person = _scene()
    ghost = judge.paste_ghost(portrait, person, np.array([60.0, 60.0]), 80.0, 30.0)
    changed = np.abs(ghost.astype(int) - portrait).max(-1) > 1
    rows, cols = np.mgrid[:120, :120]
    core = (rows - 60) ** 2 + (cols - 60) ** 2 < 20**2  # the head but its feathered rim
    assert changed.any() and not (changed & core).any()  # pasted beside the head
    assert np.nonzero(changed)[1].max() < 60 + 6  # left of the nose (and the feather)
    clean, ghosted = _encoder_noise(portrait, 0), _encoder_noise(ghost, 1)
    ring = [judge.ring_change(portrait, f, person, 15) for f in (clean, ghosted)]
    still = [judge.still_change(portrait, f, person, 7) for f in (clean, ghosted)]
    # the old measure sees the noise (about 1.8 levels) either way
    assert 1.5 < still[0] < 2.2 and abs(still[1] - still[0]) < 0.3
    # the ring sees under half a level of noise, and the ghost several times that
    assert ring[0] < 0.5 and ring[1] > 4 * ring[0]
