"""VSSFlow: units, and proof that the machinery learns the synthetic pitch/rhythm task.

The learning test trains the tiny config for a few hundred CPU steps through the real training
entry point; the video feature sets a tone's pitch class, the phoneme track its on/off rhythm.
Generated samples are measured: pitch class from the mel-bin argmax in voiced frames (and from
the Griffin-Lim waveform's spectrum), rhythm as IoU of voiced frames, and the guidance effect as
a conditioning margin (log-mel at the right pitch bin minus the best wrong one).
"""

from __future__ import annotations

import math

import pytest
import torch

from unflat.errors import ConfigError, InputError
from unflat.sound.vssflow import (
    FILLER_ID,
    MelFrontend,
    PhonemeVocab,
    VSSFlow,
    VSSFlowConfig,
    VSSFlowTrainConfig,
    griffin_lim,
    mel_filterbank,
    stretch_phonemes,
)
from unflat.sound.vssflow.data import SyntheticToneDataset, collate
from unflat.sound.vssflow.flow import (
    condition_dropout,
    guided_velocity,
    sample_latents,
    time_grid,
)
from unflat.sound.vssflow.model import build_vssflow
from unflat.sound.vssflow.train import model_from_checkpoint, train

TRAIN_STEPS = 240
VOICED_LOGMEL = -2.0  # silence is log(1e-5) = -11.5, a full tone about 0, a frame edge ~ -3.9


pytestmark = pytest.mark.usefixtures("one_thread")


# ----------------------------------------------------------------------------- config / model
def test_config_round_trip_presets_and_errors():
    tiny = VSSFlowConfig.tiny()
    assert VSSFlowConfig.from_dict(tiny.to_dict()) == tiny
    assert VSSFlowConfig.from_dict({"preset": "tiny", "depth": 2}).depth == 2
    full = VSSFlowConfig.full()
    assert (full.depth, full.dim, full.heads, full.kv_heads, full.video_dim) == (
        10,
        1536,
        24,
        12,
        768,
    )
    assert (full.latent_fps, full.latent_frames, full.video_frames) == (25.0, 250, 100)
    with pytest.raises(ConfigError) as err:
        VSSFlowConfig.from_dict({"dimm": 3})
    assert err.value.hint and "known keys" in err.value.hint
    with pytest.raises(ConfigError):
        VSSFlowConfig.from_dict({"preset": "tiny", "heads": 3})
    with pytest.raises(ConfigError):
        VSSFlowConfig.from_dict({"architecture": "sharp"})


def test_training_config_splits_model_and_training_keys():
    mixed = {"preset": "tiny", "depth": 2, "cfg_scale": 2.0, "batch_size": 4, "ckpt_every": 2}
    config = VSSFlowTrainConfig.from_dict({**mixed, "seed": 7, "p_drop_video": 0.5})
    assert config.model == VSSFlowConfig.from_dict({"preset": "tiny", "depth": 2, "cfg_scale": 2.0})
    assert (config.batch_size, config.ckpt_every, config.seed, config.p_drop_video) == (
        4,
        2,
        7,
        0.5,
    )
    assert config.lr == VSSFlowTrainConfig.tiny().lr == 1e-3  # the preset's training settings
    assert VSSFlowTrainConfig.from_dict({"preset": "tiny"}) == VSSFlowTrainConfig.tiny()
    assert VSSFlowTrainConfig.tiny().model == VSSFlowConfig.tiny()
    assert VSSFlowTrainConfig.from_dict({}) == VSSFlowTrainConfig.full() == VSSFlowTrainConfig()
    assert "batch_size" not in config.model.to_dict() and "depth" not in config.to_dict()
    assert VSSFlowTrainConfig.from_dict({**config.model.to_dict(), **config.to_dict()}) == config
    with pytest.raises(ConfigError) as err:
        VSSFlowTrainConfig.from_dict({**mixed, "widht": 3, "bacth_size": 2})
    assert "widht" in str(err.value) and "bacth_size" in str(err.value)
    assert "depth" in err.value.hint and "batch_size" in err.value.hint  # both sides' keys
    with pytest.raises(ConfigError) as err:
        VSSFlowConfig.from_dict({"preset": "tiny", "batch_size": 4})  # a training key
    assert "batch_size" in str(err.value)
    with pytest.raises(ConfigError) as err:
        VSSFlowTrainConfig.from_dict({"preset": "tiny", "batch_size": "4"})
    assert "batch_size" in str(err.value)
    with pytest.raises(ConfigError) as err:
        VSSFlowTrainConfig.from_dict({"p_uncond": 1.5})
    assert "p_uncond" in str(err.value)
    with pytest.raises(ConfigError):
        VSSFlowTrainConfig.from_dict({"preset": "small"})


def test_condition_dropout_reads_the_training_config():
    def masks(**probabilities):
        config = VSSFlowTrainConfig(**probabilities)
        return condition_dropout(config, 64, torch.device("cpu"), torch.Generator().manual_seed(0))

    video, phonemes = masks(p_uncond=1.0)
    assert video.all() and phonemes.all()
    video, phonemes = masks(p_uncond=0.0, p_drop_video=1.0)
    assert video.all() and not phonemes.any()
    video, phonemes = masks(p_uncond=0.0, p_drop_phonemes=1.0)
    assert not video.any() and phonemes.all()


def test_full_model_size_on_meta_device():
    with torch.device("meta"):
        model = build_vssflow({"architecture": "vssflow"})
    n = sum(p.numel() for p in model.parameters())
    assert len(model.blocks) == 10
    assert 400e6 < n < 460e6  # ~430M: 10 Stable-Audio-width blocks
    names = dict(model.named_parameters())
    for key in (
        "phoneme_embed.weight",
        "video_proj.0.weight",
        "blocks.9.attn2.to_k.weight",
        "blocks.0.ff.proj_in.weight",
        "proj_out.weight",
        "post_conv.weight",
    ):
        assert key in names
    assert names["blocks.0.attn2.to_k.weight"].shape == (12 * 64, 768)  # grouped kv heads


def _tiny_batch(cfg: VSSFlowConfig, b: int = 3) -> dict[str, torch.Tensor]:
    ds = SyntheticToneDataset(cfg, size=8)
    batch = collate([ds[i] for i in range(b)], cfg)
    batch["latent"] = MelFrontend(cfg).encode(batch.pop("wave"))
    return batch


def test_model_shapes_and_null_condition():
    cfg = VSSFlowConfig.tiny()
    torch.manual_seed(0)
    model = VSSFlow(cfg)
    batch = _tiny_batch(cfg)
    x, video, ph = batch["latent"], batch["video"], batch["phonemes"]
    assert x.shape == (3, cfg.latent_frames, cfg.latent_channels) == (3, 40, 32)
    t = torch.rand(3)
    # proj_out starts at zero: the initial velocity is exactly zero.
    assert model(x, t, video, ph).abs().max() == 0
    torch.nn.init.normal_(model.proj_out.weight, std=0.02)
    v = model(x, t, video, ph)
    assert v.shape == x.shape
    null = torch.ones(3, dtype=torch.bool)
    v_null = model(x, t, video, ph, null, null)
    v_null2 = model(x, t, torch.randn_like(video), torch.randint_like(ph, 90), null, null)
    torch.testing.assert_close(v_null, v_null2)  # the null condition ignores the inputs
    assert (v - v_null).abs().mean() > 1e-4
    # guidance arithmetic: w=0 is unconditional, w=1 conditional, w=2 extrapolates
    g2 = guided_velocity(model, x, t, video, ph, 2.0)
    torch.testing.assert_close(g2, v_null + 2 * (v - v_null), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(guided_velocity(model, x, t, video, ph, 0.0), v_null)
    with pytest.raises(InputError):
        model(x, t, video[..., :5], ph)
    with pytest.raises(InputError):
        model(x, t, video, ph[:, :10])


def test_time_grid_and_sway():
    g = time_grid(8, None, torch.device("cpu"))
    torch.testing.assert_close(g, torch.linspace(0, 1, 9))
    s = time_grid(8, -1.0, torch.device("cpu"))
    assert s[0] == 0 and abs(float(s[-1]) - 1) < 1e-6 and (s[1:4] < g[1:4]).all()


# ----------------------------------------------------------------------------- phonemes
def test_phoneme_vocab_and_stretching():
    vocab = PhonemeVocab()
    ids = vocab.encode("HH AH0 L OW1")
    assert vocab.decode(ids) == ["HH", "AH0", "L", "OW1"]
    assert len(vocab) <= 200 and vocab.tokens[FILLER_ID] == "<filler>"
    with pytest.raises(InputError):
        vocab.encode(["QQ"])
    track = stretch_phonemes(ids, num_frames=40, fps=40.0, span=(0.25, 0.75))
    assert (track[:10] == FILLER_ID).all() and (track[30:] == FILLER_ID).all()
    for k, pid in enumerate(ids):  # equal shares of 5 frames each
        assert (track[10 + 5 * k : 15 + 5 * k] == pid).all()
    weighted = stretch_phonemes(ids, 40, 40.0, span=(0.25, 0.75), durations=[3, 1, 0.5, 0.5])
    assert int((weighted == ids[0]).sum()) == 12
    assert (stretch_phonemes([], 40, 40.0) == FILLER_ID).all()  # video-to-sound: no speech
    with pytest.raises(InputError):
        stretch_phonemes(ids, 40, 40.0, span=(0.5, 0.55))


# ----------------------------------------------------------------------------- front end
def test_mel_filterbank_slaney_and_htk():
    for scale in ("slaney", "htk"):
        fb = mel_filterbank(16000, 1024, 64, 0.0, 8000.0, scale)
        assert fb.shape == (64, 513) and (fb >= 0).all()
        peaks = fb.argmax(1)
        assert (peaks[1:] >= peaks[:-1]).all()  # centres rise with the mel index
        # area normalisation: every filter integrates to ~1 (weights x 15.6 Hz bin width)
        area = fb.sum(1) * (8000 / 512)
        assert ((area[8:] - 1).abs() < 0.05).all()
    slaney = mel_filterbank(16000, 1024, 64, 0.0, 8000.0, "slaney").argmax(1)
    # Slaney is linear below 1 kHz: equally spaced low centres (~ 15 Hz x 16 bins apart)
    low = slaney[1:12].diff().float()
    assert low.max() - low.min() <= 1


def test_frontend_round_trips():
    cfg = VSSFlowConfig.from_dict({"preset": "tiny", "frames_per_latent": 2})
    fe = MelFrontend(cfg)
    assert fe.latent_channels == 64 and fe.latent_fps == 20.0
    t = torch.arange(cfg.clip_samples) / cfg.sample_rate
    wave = (0.5 * torch.sin(2 * math.pi * 440 * t))[None]
    mel = fe.mel(wave)
    lat = fe.encode(wave)
    assert lat.shape == (1, 20, 64)
    torch.testing.assert_close(fe.latent_to_mel(lat), mel.clamp_min(1e-5))  # exact inverse
    # through the vocoder and back: log-mel within 0.15 nats where there is sound
    again = fe.encode(fe.decode(lat))
    logmel, logmel2 = fe.latent_to_mel(lat).log(), fe.latent_to_mel(again).log()
    loud = logmel > logmel.max() - 4
    err = (logmel - logmel2)[loud].abs().mean()
    assert err < 0.15, float(err)


def test_griffin_lim_reconstructs_a_tone():
    sr, n_fft, hop = 8000, 512, 128
    t = torch.arange(sr) / sr
    wave = (0.4 * torch.sin(2 * math.pi * 440 * t) + 0.2 * torch.sin(2 * math.pi * 1250 * t))[None]
    window = torch.hann_window(n_fft)
    mag = torch.stft(wave, n_fft, hop, window=window, return_complex=True).abs()
    gen = torch.Generator().manual_seed(0)
    kw = {"n_fft": n_fft, "hop": hop, "win": n_fft, "window": window, "length": sr}
    y = griffin_lim(mag, n_iter=64, momentum=0.99, generator=gen, **kw)
    y0 = griffin_lim(mag, n_iter=64, momentum=0.0, generator=gen.manual_seed(0), **kw)

    def sc(x: torch.Tensor) -> float:
        rec = torch.stft(x, n_fft, hop, window=window, return_complex=True).abs()
        return float(torch.linalg.norm(rec - mag) / torch.linalg.norm(mag))

    # measured: 0.087 with momentum 0.99, 0.19 without (64 iterations, random initial phase)
    assert sc(y) < 0.1, sc(y)
    assert sc(y) < 0.6 * sc(y0)  # momentum ("fast" Griffin-Lim) converges faster


# ----------------------------------------------------------------------------- learning
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("vssflow_run")
    result = train(VSSFlowTrainConfig.tiny(), "synthetic", TRAIN_STEPS, out, log=None)
    model, cfg = model_from_checkpoint(out, use_ema=True)
    ds = SyntheticToneDataset(cfg, seed=4242)  # clips never seen in training
    items = [ds[i] for i in range(32)]
    batch = collate(items, cfg)
    return {"result": result, "model": model, "cfg": cfg, "ds": ds, "items": items, "batch": batch}


def _measure(trained, scale: float) -> dict[str, float]:
    cfg, items, batch = trained["cfg"], trained["items"], trained["batch"]
    gen = torch.Generator().manual_seed(0)
    lat = sample_latents(
        trained["model"], batch["video"], batch["phonemes"], cfg_scale=scale, generator=gen
    )
    logmel = lat * cfg.latent_std + cfg.latent_mean
    bins = trained["ds"].reference_bins()
    target = torch.stack([it["voiced"] for it in items])
    voiced = logmel.max(-1).values > VOICED_LOGMEL
    iou = ((voiced & target).sum(1) / (voiced | target).sum(1).clamp_min(1)).float().mean()
    hits, margins = 0, []
    for i, it in enumerate(items):
        frames = logmel[i][target[i]]
        nearest = torch.stack([(frames.argmax(-1) - b).abs() for b in bins]).argmin(0)
        hits += int(torch.bincount(nearest, minlength=len(bins)).argmax() == it["pitch_class"])
        level = frames[:, bins].mean(0)
        pc = it["pitch_class"]
        margins.append(float(level[pc] - torch.cat([level[:pc], level[pc + 1 :]]).max()))
    return {
        "pitch_acc": hits / len(items),
        "rhythm_iou": float(iou),
        "margin": sum(margins) / len(margins),
        "latent": lat,
    }


def test_training_loss_goes_down(trained):
    losses = trained["result"]["losses"]
    assert len(losses) == TRAIN_STEPS
    first, last = sum(losses[:30]) / 30, sum(losses[-30:]) / 30
    print(f"loss {first:.3f} -> {last:.3f}, {trained['result']['seconds']:.1f} s training")
    assert last < 0.4 * first, (first, last)


def test_samples_have_the_conditioned_pitch_and_rhythm(trained):
    m = _measure(trained, 3.0)
    print(f"cfg 3: pitch acc {m['pitch_acc']:.3f} rhythm IoU {m['rhythm_iou']:.3f}")
    assert m["pitch_acc"] >= 0.9
    assert m["rhythm_iou"] >= 0.75


def test_guidance_strengthens_the_conditioning(trained):
    m0, m1, m3 = (_measure(trained, s) for s in (0.0, 1.0, 3.0))
    table = [
        (m["pitch_acc"], round(m["rhythm_iou"], 3), round(m["margin"], 2)) for m in (m0, m1, m3)
    ]
    print("pitch acc / rhythm IoU / margin at cfg 0, 1, 3:", table)
    assert m0["pitch_acc"] <= 0.5  # unconditional: near chance (0.25)
    assert m0["rhythm_iou"] < 0.5
    assert m3["pitch_acc"] >= m1["pitch_acc"]
    assert m3["rhythm_iou"] >= m1["rhythm_iou"] - 0.02
    assert m3["margin"] > m1["margin"] + 3.0 > m0["margin"] + 3.0


def test_decoded_audio_has_the_conditioned_pitch(trained):
    # The end-to-end path: latents -> mel -> NNLS -> fast Griffin-Lim -> waveform spectrum.
    cfg, items = trained["cfg"], trained["items"][:12]
    m = _measure(trained, 3.0)
    fe = MelFrontend(cfg)
    waves = fe.decode(m["latent"][:12])
    assert waves.shape == (12, cfg.clip_samples)
    pitches = torch.tensor(trained["ds"].pitches)
    spec = torch.fft.rfft(waves * torch.hann_window(waves.shape[-1]), dim=-1).abs()
    freqs = torch.fft.rfftfreq(waves.shape[-1], 1 / cfg.sample_rate)
    peak = freqs[spec[:, 20:].argmax(-1) + 20]  # ignore DC
    pred = (peak[:, None].log() - pitches[None].log()).abs().argmin(-1)
    truth = torch.tensor([it["pitch_class"] for it in items])
    acc = float((pred == truth).float().mean())
    print(f"waveform dominant-frequency pitch accuracy: {acc:.3f}")
    assert acc >= 0.8
