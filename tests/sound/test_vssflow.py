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
    MelLatentConfig,
    VSSFlow,
    VSSFlowConfig,
    VSSFlowTrainConfig,
)
from unflat.sound.vssflow.data import SyntheticToneDataset, collate
from unflat.sound.vssflow.flow import FlowObjective, draw_noise_and_times
from unflat.sound.vssflow.frontend import MelFrontend, mel_filterbank
from unflat.sound.vssflow.phonemes import FILLER_ID, PhonemeVocab
from unflat.sound.vssflow.sample import generate_latents
from unflat.sound.vssflow.train import model_from_checkpoint, train
from unflat.sound.vssflow.vocoder import griffin_lim

TRAIN_STEPS = 240
VOICED_LOGMEL = -2.0  # silence is log(1e-5) = -11.5, a full tone about 0, a frame edge ~ -3.9


pytestmark = pytest.mark.usefixtures("one_thread")


# ----------------------------------------------------------------------------- config / model
def test_presets_and_derived_shapes():
    tiny, full = VSSFlowConfig.tiny(), VSSFlowConfig.full()
    assert VSSFlowConfig.from_dict(tiny.to_dict()) == tiny
    assert (full.num_layers, full.inner_dim, full.in_channels, full.latent_length) == (
        10,
        1536,
        1952,
        250,
    )
    assert (tiny.latent_channels, tiny.latent_length, tiny.latent_fps) == (32, 40, 40.0)
    config = VSSFlowConfig.from_dict({"preset": "tiny", "vaflow_params": {"dit_num_layers": 2}})
    assert config.num_layers == 2 and config.latent_channels == 32  # the rest from the preset
    with pytest.raises(ConfigError):
        VSSFlowConfig.from_dict({"architecture": "sharp"})


def test_training_config_splits_model_and_training_keys():
    mixed = {"preset": "tiny", "vaflow_params": {"dit_num_layers": 2}, "batch_size": 4,
             "ckpt_every": 2}  # fmt: skip
    config = VSSFlowTrainConfig.from_dict({**mixed, "seed": 7, "p_uncond": 0.5})
    assert config.model.num_layers == 2
    assert (config.batch_size, config.ckpt_every, config.seed, config.p_uncond) == (4, 2, 7, 0.5)
    assert config.lr == VSSFlowTrainConfig.tiny().lr == 1e-3  # the preset's training settings
    assert VSSFlowTrainConfig.from_dict({"preset": "tiny"}) == VSSFlowTrainConfig.tiny()
    assert VSSFlowTrainConfig.from_dict({}) == VSSFlowTrainConfig.full() == VSSFlowTrainConfig()
    assert "batch_size" not in config.model.to_dict() and "vaflow_params" not in config.to_dict()
    assert VSSFlowTrainConfig.from_dict({**config.model.to_dict(), **config.to_dict()}) == config
    # The latent follows the model: 16 channels = 16 mels x 1 frame.
    narrow = VSSFlowTrainConfig.from_dict(
        {"preset": "tiny", "vaflow_params": {"original_channel": 16}, "frontend": {"n_mels": 16}}
    )
    assert narrow.frontend.latent_channels == narrow.model.latent_channels == 16
    with pytest.raises(ConfigError, match="latent has 32 channels"):
        VSSFlowTrainConfig.from_dict({"preset": "tiny", "vaflow_params": {"original_channel": 16}})
    with pytest.raises(ConfigError) as err:
        VSSFlowTrainConfig.from_dict({**mixed, "widht": 3, "bacth_size": 2})
    assert "widht" in str(err.value) and "bacth_size" in str(err.value)
    assert "dit_config" in err.value.hint and "batch_size" in err.value.hint  # both sides' keys
    with pytest.raises(ConfigError, match="batch_size"):
        VSSFlowConfig.from_dict({"preset": "tiny", "batch_size": 4})  # a training key
    with pytest.raises(ConfigError, match="batch_size"):
        VSSFlowTrainConfig.from_dict({"preset": "tiny", "batch_size": "4"})
    with pytest.raises(ConfigError, match="p_uncond"):
        VSSFlowTrainConfig.from_dict({"p_uncond": 1.5})
    with pytest.raises(ConfigError):
        VSSFlowTrainConfig.from_dict({"preset": "small"})


def test_condition_dropout_is_per_batch():
    x1 = torch.zeros(4, 3, 5)
    gen = torch.Generator().manual_seed(0)
    drops = [draw_noise_and_times(x1, 0.1, gen)[2] for _ in range(2000)]
    assert 0.08 < sum(drops) / len(drops) < 0.12  # published unconditional_prob 0.1
    assert not any(draw_noise_and_times(x1, 0.0, gen)[2] for _ in range(50))
    x0, t, _ = draw_noise_and_times(x1, 0.1, gen)
    assert x0.shape == x1.shape and t.shape == (4,) and ((t >= 0) & (t < 1)).all()


def _tiny_batch(config: VSSFlowTrainConfig, b: int = 3) -> dict[str, torch.Tensor]:
    ds = SyntheticToneDataset(config, size=8)
    batch = collate([ds[i] for i in range(b)], config)
    batch["latent"] = MelFrontend(config.frontend).encode(batch.pop("wave")).transpose(1, 2)
    return batch


def test_objective_drops_the_whole_batch_to_the_null_condition():
    config = VSSFlowTrainConfig.tiny()
    torch.manual_seed(0)
    model = VSSFlow(config.model)
    batch = _tiny_batch(config)
    assert batch["latent"].shape == (3, 32, 40) and batch["phone_id"].shape == (3, 40)
    assert batch["video"].shape == (3, 10, 8)
    x0, t = torch.randn_like(batch["latent"]), torch.rand(3)
    objective = FlowObjective(model)
    dropped = objective(batch, x0, t, True)
    other = {**batch, "video": torch.randn_like(batch["video"]),
             "phone_id": torch.randint_like(batch["phone_id"], 90)}  # fmt: skip
    torch.testing.assert_close(objective(other, x0, t, True), dropped)  # conditions ignored
    kept = objective(batch, x0, t, False)
    assert abs(float(kept.detach()) - float(dropped.detach())) > 1e-4
    kept.backward()
    assert model.cond_proj[0].weight.grad.abs().sum() > 0
    assert model.phone_embedding.weight.grad.abs().sum() > 0
    assert model.vaflow.time_proj.weight.grad is None  # fixed frequencies, as published


# ----------------------------------------------------------------------------- phonemes
def test_phoneme_vocab():
    vocab = PhonemeVocab()
    ids = vocab.encode("HH AH0 L OW1")
    assert vocab.decode(ids) == ["HH", "AH0", "L", "OW1"]
    assert len(vocab) == 96 and vocab.tokens[FILLER_ID] == "<filler>"
    with pytest.raises(InputError):
        vocab.encode(["QQ"])


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
    cfg = MelLatentConfig(**{**VSSFlowTrainConfig.tiny().frontend.__dict__, "frames_per_latent": 2})
    fe = MelFrontend(cfg)
    assert fe.latent_channels == 64 and fe.latent_fps == 20.0
    t = torch.arange(40 * cfg.hop_length) / cfg.sample_rate
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
    model, config = model_from_checkpoint(out, use_ema=True)
    ds = SyntheticToneDataset(config, seed=4242)  # clips never seen in training
    items = [ds[i] for i in range(32)]
    batch = collate(items, config)
    with torch.no_grad():  # the published conditioning path: video tokens, phoneme channels
        conditions = model.condition(batch["video"], phone_id=batch["phone_id"])
    return {"result": result, "model": model, "config": config, "ds": ds, "items": items,
            "conditions": conditions}  # fmt: skip


def _measure(trained, scale: float) -> dict[str, float]:
    config, items = trained["config"], trained["items"]
    gen = torch.Generator().manual_seed(0)
    lat = generate_latents(trained["model"], trained["conditions"], generator=gen, guidance=scale)
    lat = lat.transpose(1, 2)  # [B, T, C], as the front end stacks it
    logmel = lat * config.frontend.latent_std + config.frontend.latent_mean
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
    config, items = trained["config"], trained["items"][:12]
    m = _measure(trained, 3.0)
    fe = MelFrontend(config.frontend)
    waves = fe.decode(m["latent"][:12])
    assert waves.shape == (12, config.clip_samples)
    cfg = config.frontend
    pitches = torch.tensor(trained["ds"].pitches)
    spec = torch.fft.rfft(waves * torch.hann_window(waves.shape[-1]), dim=-1).abs()
    freqs = torch.fft.rfftfreq(waves.shape[-1], 1 / cfg.sample_rate)
    peak = freqs[spec[:, 20:].argmax(-1) + 20]  # ignore DC
    pred = (peak[:, None].log() - pitches[None].log()).abs().argmin(-1)
    truth = torch.tensor([it["pitch_class"] for it in items])
    acc = float((pred == truth).float().mean())
    print(f"waveform dominant-frequency pitch accuracy: {acc:.3f}")
    assert acc >= 0.8
