"""The released safetensors files go through unflat's cache and load strictly (tiny stand-ins)."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from tests.sound.vssflow_front.conftest import read_reference
from unflat import weights
from unflat.sound.vssflow.hifigan import HifiGan, HifiGanConfig
from unflat.sound.vssflow.vae import MelVAE, MelVAEConfig


def _vae(config: dict) -> MelVAE:
    return MelVAE(MelVAEConfig(**{**config, "block_out_channels": (8, 16, 16)}))


def _vocoder(config: dict) -> HifiGan:
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items()}
    fields["resblock_dilation_sizes"] = tuple(map(tuple, fields["resblock_dilation_sizes"]))
    return HifiGan(HifiGanConfig(**fields))


@pytest.mark.parametrize(
    ("name", "reference", "filename", "build"),
    [
        ("audioldm2-vae", "vae_tiny.safetensors", "diffusion_pytorch_model.safetensors", _vae),
        ("audioldm2-vocoder", "hifigan_tiny.safetensors", "vocoder.safetensors", _vocoder),
    ],
)
def test_a_hand_placed_release_file_is_cached_and_loads(
    tmp_path, monkeypatch, name, reference, filename, build
):
    monkeypatch.setenv("UNFLAT_HOME", str(tmp_path))
    monkeypatch.setenv("UNFLAT_OFFLINE", "1")
    state, _, config = read_reference(reference)
    folder = weights.cache_dir() / name
    folder.mkdir(parents=True)
    save_file(state, str(folder / filename))
    cached = weights.fetch(name, progress=False)
    assert cached.name == "model.safetensors" and cached.is_file()
    assert not (folder / filename).exists() or filename == cached.name
    model = weights.load_model(name, builder=lambda _: build(config))
    for key, tensor in model.state_dict().items():
        torch.testing.assert_close(tensor, state[key])
