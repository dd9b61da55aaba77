"""The codec's shapes and rates: 10 s of 16 kHz audio <-> [128, 250] and back to 160000 samples."""

from __future__ import annotations

import torch

from unflat.sound.vssflow.codec import LatentCodec
from unflat.sound.vssflow.hifigan import HifiGan, HifiGanConfig
from unflat.sound.vssflow.vae import MelVAE, MelVAEConfig


def _codec() -> LatentCodec:
    torch.manual_seed(0)
    vae = MelVAE(MelVAEConfig(block_out_channels=(32, 32, 32), layers_per_block=1)).eval()
    vocoder = HifiGan(HifiGanConfig(upsample_initial_channel=32)).eval()
    return LatentCodec(vae, vocoder)


def test_ten_seconds_round_trip_shapes():
    codec = _codec()
    assert (codec.sample_rate, codec.latent_fps, codec.latent_channels) == (16000, 25.0, 128)
    wave = torch.sin(torch.arange(160000) * 2 * torch.pi * 440 / 16000)[None]
    latent = codec.encode(wave, generator=torch.Generator().manual_seed(1))
    assert latent.shape == (1, 128, 250)
    again = codec.encode(wave, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(latent, again)
    assert codec.decode_mel(latent).shape == (1, 1000, 64)
    audio = codec.decode(latent[:, :, :10])
    assert audio.shape == (1, 6400) and audio.abs().max() <= 1.0
