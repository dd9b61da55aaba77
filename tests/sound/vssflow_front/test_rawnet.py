"""RawNet3: the RawNet repository's forward and parameter names, the published embedding crops."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.sound.vssflow_front.conftest import read_reference, shapes
from unflat.errors import InputError
from unflat.registry import architecture_available, build_model, get_entry
from unflat.sound.vssflow.rawnet import RawNet3, RawNet3Config, speaker_embedding

TOLERANCE = 1e-4


def test_tiny_published_rawnet3_loads_strictly_and_matches():
    state, io, config = read_reference("rawnet_tiny.safetensors")
    model = RawNet3(RawNet3Config(**config)).eval()
    model.load_state_dict(state, strict=True)
    with torch.no_grad():
        embedding = model(io["input.wave"])
    torch.testing.assert_close(embedding, io["output"], atol=TOLERANCE, rtol=1e-4)


def test_full_size_is_the_released_shape():
    with torch.device("meta"):
        model = build_model({"architecture": "rawnet3"})
    keys = shapes(model)
    assert keys["conv1.filterbank.low_hz_"] == [128, 1]
    assert keys["layer4.weight"] == [1536, 3072, 1] and keys["fc6.weight"] == [256, 3072]
    assert architecture_available(get_entry("rawnet3"))


def test_embedding_is_the_mean_of_ten_crops():
    torch.manual_seed(0)
    config = RawNet3Config(channels=32, scale=4, embedding_channels=16, out_dim=8)
    model = RawNet3(config).eval()
    wave = np.random.default_rng(0).standard_normal(20000) * 0.1
    crops = np.stack([wave[int(s) : int(s) + 4000] for s in np.linspace(0, 16000, 10)])
    with torch.no_grad():
        expected = model(torch.from_numpy(crops.astype(np.float32))).mean(0)
    torch.testing.assert_close(speaker_embedding(model, wave, crop=4000), expected)
    # A clip shorter than a crop wraps around first.
    assert speaker_embedding(model, wave[:1000], crop=4000).shape == (8,)
    with pytest.raises(InputError, match="mono"):
        speaker_embedding(model, np.zeros((2, 100)))
