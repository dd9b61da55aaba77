"""The AudioLDM HiFi-GAN: transformers' SpeechT5HifiGan numbers and names."""

from __future__ import annotations

import pytest
import torch

from tests.sound.vssflow_front.conftest import manifest, read_reference, shapes
from unflat.errors import InputError
from unflat.registry import build_model
from unflat.sound.vssflow.hifigan import HifiGan, HifiGanConfig

# fp32, same operations as transformers: observed differences are 0 or ~1e-7.
TOLERANCE = 1e-5


def test_tiny_speecht5_hifigan_loads_strictly_and_matches():
    state, io, config = read_reference("hifigan_tiny.safetensors")
    fields = {
        k: tuple(map(tuple, v)) if k.endswith("dilation_sizes") else v for k, v in config.items()
    }
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}
    model = HifiGan(HifiGanConfig(**fields)).eval()
    model.load_state_dict(state, strict=True)
    with torch.no_grad():
        wave = model(io["input.mel"])
    torch.testing.assert_close(wave, io["output.wave"], atol=TOLERANCE, rtol=0)


def test_full_size_keys_and_shapes_equal_transformers_at_the_audioldm2_config():
    with torch.device("meta"):
        model = build_model({"architecture": "audioldm_hifigan"})
    assert shapes(model) == manifest("hifigan_keys.json")
    assert model.hop == 160  # 100 mel frames/s -> 16 kHz


def test_one_frame_gives_one_hop_of_samples():
    config = HifiGanConfig(model_in_dim=4, upsample_initial_channel=8, upsample_rates=(4, 2))
    config.upsample_kernel_sizes = (8, 4)
    model = HifiGan(config).eval()
    with torch.no_grad():
        wave = model(torch.zeros(2, 5, 4))
    assert wave.shape == (2, 40)
    assert wave.abs().max() <= 1.0  # tanh output
    with pytest.raises(InputError, match=r"mel \[B, T, 4\]"):
        model(torch.zeros(2, 4, 5))
