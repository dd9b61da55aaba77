"""The AudioLDM2 mel VAE: diffusers' AutoencoderKL numbers and names, VSSFlow's latent packing."""

from __future__ import annotations

import pytest
import torch

from tests.sound.vssflow_front.conftest import manifest, read_reference, shapes
from unflat.errors import InputError
from unflat.registry import build_model, get_entry
from unflat.sound.vssflow.vae import (
    MelVAE,
    MelVAEConfig,
    pack_latent,
    sample_posterior,
    unpack_latent,
)

# fp32, same operations in the same order as diffusers: observed differences are 0 or ~1e-7.
TOLERANCE = 1e-5


def test_tiny_diffusers_autoencoder_loads_strictly_and_matches():
    state, io, config = read_reference("vae_tiny.safetensors")
    config["block_out_channels"] = tuple(config["block_out_channels"])
    model = MelVAE(MelVAEConfig(**config)).eval()
    model.load_state_dict(state, strict=True)
    with torch.no_grad():
        mean, logvar = model.encode(io["input.mel"])
        decoded = model.decode(mean)
    torch.testing.assert_close(mean, io["output.mean"], atol=TOLERANCE, rtol=0)
    torch.testing.assert_close(logvar, io["output.logvar"], atol=TOLERANCE, rtol=0)
    torch.testing.assert_close(decoded, io["output.decoded"], atol=TOLERANCE, rtol=0)
    sample = mean + torch.exp(0.5 * logvar) * io["input.noise"]
    torch.testing.assert_close(sample, io["output.sample"], atol=TOLERANCE, rtol=0)


def test_full_size_keys_and_shapes_equal_diffusers_at_the_audioldm2_config():
    with torch.device("meta"):
        model = build_model({"architecture": "audioldm2_vae"})
    assert shapes(model) == manifest("vae_keys.json")
    assert get_entry("audioldm2-vae").architecture == {"architecture": "audioldm2_vae"}


def test_ten_seconds_of_mel_make_250_frames_of_128_channels():
    model = MelVAE(MelVAEConfig(block_out_channels=(32, 32, 32), layers_per_block=1)).eval()
    with torch.no_grad():
        mean, logvar = model.encode(torch.zeros(1, 1, 1000, 64))
    assert mean.shape == (1, 8, 250, 16)
    assert pack_latent(sample_posterior(mean, logvar)).shape == (1, 128, 250)


def test_packing_puts_frequency_before_latent_channel():
    latent = torch.arange(2 * 8 * 3 * 16, dtype=torch.float32).reshape(2, 8, 3, 16)
    packed = pack_latent(latent)
    # Packed channel 8 f + c holds latent channel c at mel-latent frequency f.
    assert packed[1, 8 * 5 + 3, 2] == latent[1, 3, 2, 5]
    assert packed[0, 7, 0] == latent[0, 7, 0, 0]
    torch.testing.assert_close(unpack_latent(packed), latent)
    with pytest.raises(InputError, match="multiple of 8"):
        unpack_latent(torch.zeros(1, 12, 3))


def test_posterior_sample_follows_its_generator():
    mean, logvar = (
        torch.zeros(1, 2, 3, 4),
        torch.full((1, 2, 3, 4), 2 * torch.log(torch.tensor(3.0))),
    )
    a = sample_posterior(mean, logvar, torch.Generator().manual_seed(5))
    noise = torch.randn(1, 2, 3, 4, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(a, 3 * noise)
