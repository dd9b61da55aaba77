"""The published mel front end against librosa's filterbank and STFT (float64 in numpy)."""

from __future__ import annotations

import math

import pytest
import torch

from tests.sound.vssflow_front.conftest import read_reference
from unflat.errors import InputError
from unflat.sound.vssflow.frontend import mel_filterbank
from unflat.sound.vssflow.mel import log_mel, normalise_waveform


def test_log_mel_matches_librosa():
    _, io, _ = read_reference("mel_reference.safetensors")
    mel = log_mel(io["input.wave"])
    assert mel.shape == (2, 50, 64)  # 8000 samples / hop 160
    # float32 STFT against float64: log-mel values agree to ~1e-4 where the power is not tiny.
    torch.testing.assert_close(mel, io["output.log_mel"], atol=2e-3, rtol=0)
    assert (mel - io["output.log_mel"]).abs().median() < 1e-4


def test_filterbank_is_librosas_slaney():
    _, io, _ = read_reference("mel_reference.safetensors")
    bank = mel_filterbank(16000, 1024, 64, 0.0, 8000.0)
    torch.testing.assert_close(bank, io["output.filterbank"], atol=1e-7, rtol=1e-5)


def test_clips_lose_dc_and_peak_at_half():
    wave = torch.tensor([[1.0, 3.0, 5.0, 3.0]])
    torch.testing.assert_close(normalise_waveform(wave), torch.tensor([[-0.5, 0.0, 0.5, 0.0]]))


def test_ten_seconds_give_1000_frames_and_short_clips_pad_with_minus_11():
    wave = torch.sin(torch.arange(160000) * 2 * math.pi * 440 / 16000)[None]
    assert log_mel(wave, frames=1000).shape == (1, 1000, 64)
    short = log_mel(wave[:, :16000], frames=1000)
    assert short.shape == (1, 1000, 64)
    assert (short[0, 100:] == -11.0).all() and (short[0, :100] > -11.0).any()
    with pytest.raises(InputError, match="at least 1024"):
        log_mel(torch.zeros(1, 500))
