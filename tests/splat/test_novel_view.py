"""Image metrics and the novel-view evaluation on a real Middlebury pair."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.conftest import shared_path
from unflat.image_quality import psnr, ssim


def test_psnr_matches_its_definition() -> None:
    target = np.zeros((10, 10, 3))
    prediction = np.full((10, 10, 3), 0.1)  # MSE 0.01 -> 20 dB
    assert psnr(prediction, target) == pytest.approx(20.0)
    mask = np.zeros((10, 10), bool)
    mask[0, 0] = True
    prediction[0, 0] = 0.0
    assert psnr(prediction, target, mask) == math.inf
    assert math.isnan(psnr(prediction, target, np.zeros((10, 10), bool)))


def test_ssim_is_one_for_equal_images_and_falls_with_noise() -> None:
    rng = np.random.default_rng(0)
    image = rng.random((32, 32, 3))
    assert ssim(image, image) == pytest.approx(1.0)
    slightly = np.clip(image + rng.normal(0, 0.05, image.shape), 0, 1)
    heavily = np.clip(image + rng.normal(0, 0.3, image.shape), 0, 1)
    assert 0.5 < ssim(slightly, image) < 0.99
    assert ssim(heavily, image) < ssim(slightly, image) - 0.2
    # A constant offset of c on flat images: luminance term (2ab + C1) / (a² + b² + C1).
    flat = np.full((32, 32), 0.5)
    expected = (2 * 0.5 * 0.6 + 0.01**2) / (0.5**2 + 0.6**2 + 0.01**2)
    assert ssim(flat + 0.1, flat) == pytest.approx(expected, rel=1e-9)


def test_scene_beats_the_forward_warp_on_a_middlebury_pair() -> None:
    from unflat.datasets import load_middlebury_pair
    from unflat.splat.evaluate import evaluate_pair

    pair = load_middlebury_pair(shared_path("data", "depth", "middlebury", "Adirondack"))
    assert pair.baseline == pytest.approx(0.176252)
    rows = {row["method"]: row for row in evaluate_pair(pair)}
    warp, bare = rows["forward warp"], rows["scene, no background"]
    layered = rows["scene + background"]
    assert layered["covisible_fraction"] == pytest.approx(0.905, abs=0.005)
    assert layered["disoccluded_fraction"] == pytest.approx(0.066, abs=0.005)
    for key in ("psnr_covisible", "ssim_covisible", "psnr_disoccluded", "ssim_disoccluded"):
        assert layered[key] > warp[key], key
    # The background layer is what fills the disocclusions.
    assert layered["psnr_disoccluded"] > bare["psnr_disoccluded"] + 8.0
    assert layered["ssim_disoccluded"] > bare["ssim_disoccluded"] + 0.4
    assert layered["psnr_covisible"] > 29.0
