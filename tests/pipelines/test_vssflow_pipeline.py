"""``unflat vssflow generate`` end to end with tiny random networks (no weights needed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unflat.errors import ConfigError, WeightsError
from unflat.io.audio import read_audio, write_wav
from unflat.io.video import write_video
from unflat.nn.clip_vit import ClipVisionConfig, ClipVisionModel
from unflat.pipelines.vssflow import VSSFlowPipeline, missing_weights
from unflat.registry import build_model
from unflat.sound.vssflow.codec import LatentCodec
from unflat.sound.vssflow.hifigan import HifiGan, HifiGanConfig
from unflat.sound.vssflow.rawnet import RawNet3, RawNet3Config
from unflat.sound.vssflow.text import Phonemizer
from unflat.sound.vssflow.vae import MelVAE, MelVAEConfig
from unflat.types import Audio


def _pipeline(tmp_path) -> VSSFlowPipeline:
    torch.manual_seed(0)
    # One-second windows of the published latent (128 channels at 25 frames/s).
    params = {"original_channel": 128, "audio_duration_sec": 1.0, "audio_length_per_sec": 25}
    flow = build_model({"architecture": "vssflow", "preset": "tiny", "vaflow_params": params})
    vae = MelVAE(MelVAEConfig(block_out_channels=(32, 32, 32), layers_per_block=1)).eval()
    vocoder = HifiGan(HifiGanConfig(upsample_initial_channel=32)).eval()
    # The tiny preset's video features are 8-wide: a CLIP of width 8 at the published 224 px.
    shape = {"hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1}
    clip = ClipVisionModel(ClipVisionConfig(**shape, num_attention_heads=2)).eval()
    dictionary = tmp_path / "tiny.dict"
    dictionary.write_text("hello HH AH0 L OW1\n")
    phonemizer = Phonemizer(dictionary, predictor=tmp_path / "absent.npz")
    speaker = RawNet3(RawNet3Config(channels=32, scale=4, embedding_channels=16, out_dim=8))
    return VSSFlowPipeline(
        flow.eval(), LatentCodec(vae, vocoder), clip, speaker=speaker.eval(), method="euler",
        steps=2, overlap=0.5, phonemizer=phonemizer,
    )  # fmt: skip


def test_windows_join_into_the_clips_length(tmp_path):
    video = tmp_path / "clip.mp4"
    frames = [np.full((48, 64, 3), 10 * i, np.uint8) for i in range(15)]
    write_video(video, frames, fps=10)
    voice = tmp_path / "voice.wav"
    write_wav(voice, Audio(np.sin(np.arange(8000) * 0.3).astype(np.float32) * 0.5, 16000))
    stages = []
    result = _pipeline(tmp_path)(
        video, tmp_path / "out.wav", text="hello", reference=voice,
        progress=lambda *a: stages.append(a),
    )  # fmt: skip
    assert result.windows == 2  # starts 0 and 0.5 s cover 1.5 s
    audio = read_audio(result.output, sample_rate=16000)
    assert abs(len(audio.samples) - 24000) <= 1 and np.isfinite(audio.samples).all()
    assert stages[-1] == ("VSSFlow windows", 2, 2)


def test_weights_of_another_latent_are_refused_by_their_config(tmp_path):
    pipeline = _pipeline(tmp_path)
    flow, codec = pipeline.flow, pipeline.codec
    flow.unflat_config = {"architecture": "vssflow", "latent": "audioldm2-vae"}
    VSSFlowPipeline(flow, codec, pipeline.clip)  # the published latent, said
    flow.unflat_config = {"architecture": "vssflow", "latent": "mel"}  # a trainer's run
    with pytest.raises(ConfigError, match="model the 'mel' latent") as error:
        VSSFlowPipeline(flow, codec, pipeline.clip)
    assert "unflat.sound.vssflow.sample" in error.value.hint


def test_missing_weights_are_all_named_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("UNFLAT_OFFLINE", "1")
    monkeypatch.setenv("UNFLAT_HOME", str(tmp_path / "home"))
    problems = missing_weights(tmp_path / "run", need_clip=True)
    assert len(problems) == 4  # the VSSFlow folder, the VAE, the vocoder, CLIP
    assert "diffusion_pytorch_model.safetensors (audioldm2-vae) in " in problems[1]
    assert "model.safetensors in" in problems[0]
    with pytest.raises(WeightsError, match="missing weights: VSSFlow"):
        VSSFlowPipeline.from_options(tmp_path / "run")


def test_cli_names_the_missing_weights_and_exits_2(tmp_path, monkeypatch, capsys):
    from unflat.cli import main

    monkeypatch.setenv("UNFLAT_OFFLINE", "1")
    monkeypatch.setenv("UNFLAT_HOME", str(tmp_path / "home"))
    video = tmp_path / "clip.mp4"
    write_video(video, [np.zeros((48, 64, 3), np.uint8)] * 5, fps=10)
    args = ["vssflow", "generate", str(video), "-o", str(tmp_path / "out.wav"), "--device", "cpu"]
    code = main(args)
    error = capsys.readouterr().err.strip()
    assert code == 2 and len(error.splitlines()) == 1
    assert "missing weights" in error and "audioldm2-vocoder" in error
    assert not (tmp_path / "out.wav").exists()
