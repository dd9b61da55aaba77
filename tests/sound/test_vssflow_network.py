"""VSSFlow against the published code: the reference vectors of ``vssflow_tiny_a`` (made by running
the published classes; tolerances from its README), the full-size manifest, and other configs."""

from __future__ import annotations

import json

import pytest
import torch

import unflat
from tests.conftest import shared_path
from unflat.errors import ConfigError, InputError
from unflat.sound.vssflow import VSSFlowConfig, sample, stretch_phonemes
from unflat.sound.vssflow.model import rotary_tables
from unflat.sound.vssflow.sample import sample_with_nfe

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def fixture():
    from safetensors.torch import load_file

    folder = shared_path("fixtures", "vssflow_tiny_a")
    config = json.loads((folder / "config.json").read_text())
    model = unflat.build_model(config).eval()
    model.load_state_dict(load_file(folder / "model.safetensors"), strict=True)
    io = load_file(folder / "io.safetensors")
    with torch.no_grad():
        conditions = model.condition(
            io["in_video_feat"],
            io["in_ref_audio_ebd"],
            io["in_synch_feat"],
            io["in_lip_feat"],
            io["in_phone_id"],
        )
    return model, io, conditions


def _close(got: torch.Tensor, want: torch.Tensor, atol: float, rtol: float = 0.0) -> None:
    torch.testing.assert_close(got.float(), want, atol=atol, rtol=rtol)


def test_conditions_match_the_published_glue(fixture):
    model, io, conditions = fixture
    _close(conditions.cross_attn, io["glue_cross_attn_cond"], 1e-6)
    _close(conditions.channels, io["glue_latent_cond"], 1e-6)
    assert conditions.cross_attn.shape == (2, 13, 24) and conditions.channels.shape == (2, 18, 12)
    # The pieces: token 0 is the speaker, then the resampled video; channels lip | phone | synch.
    _close(conditions.cross_attn[:, :1], io["glue_ref_proj"], 1e-6)
    _close(conditions.cross_attn[:, 1:], io["glue_video_proj"], 1e-6)
    lip, phone, synch = conditions.channels.split([8, 4, 6], dim=1)
    _close(lip.transpose(1, 2), io["glue_lip_proj"], 1e-6)
    _close(phone.transpose(1, 2), io["glue_phone_emb"], 1e-6)
    _close(synch.transpose(1, 2), io["glue_synch_proj"], 1e-6)
    assert torch.equal(model.phone_embedding.weight[io["glue_phone_id_padded"]].transpose(1, 2),
                       phone)  # fmt: skip


def test_rope_and_time_token(fixture):
    model, io, _ = fixture
    cos, sin = rotary_tables(13, 8)
    _close(cos, io["rope_cos"], 1e-6)
    _close(sin, io["rope_sin"], 1e-6)
    with torch.no_grad():
        _close(model.vaflow.time_token(io["t_vec"]), io["time_token"], 1e-6)


def test_velocity_conditional_unconditional_and_guided(fixture):
    model, io, conditions = fixture
    x, t, w = io["x_in"], io["t_vec"], float(io["guidance_scale"])
    tokens = conditions.cross_attn
    _close(torch.cat([io["noise"], conditions.channels], 1), x, 1e-6)
    with torch.no_grad():
        _close(model(x, t, tokens), io["v_cond"], 1e-5, 1e-5)
        _close(model(io["x_in_uncond"], t, torch.zeros_like(tokens)), io["v_uncond"], 1e-5, 1e-5)
        guided = model.guided_velocity(x, t, tokens, w)
        _close(guided, io["v_guided"], 1e-5, 1e-5)
        assert not guided[:, 16:].any()  # no velocity on the condition channels
        _close(model(x, float(io["t"]), tokens), io["v_cond"], 1e-5, 1e-5)  # a scalar time


@pytest.mark.parametrize(("method", "steps", "atol"), [("euler", 4, 2e-5), ("midpoint", 4, 2e-5),
                                                      ("dopri5", 10, 1e-3)])  # fmt: skip
def test_samplers_match_torchdiffeq(fixture, method, steps, atol):
    model, io, conditions = fixture
    w = float(io["guidance_scale"])
    got, nfe = sample_with_nfe(
        model, io["x_in"], conditions.cross_attn, guidance=w, method=method, steps=steps
    )
    _close(got, io[f"sample_{method}"], atol)
    assert nfe == int(io[f"sample_{method}_nfe"])  # 4, 8 and 38 (step-size selection included)


def test_unguided_sampling_keeps_the_unconditional_velocity(fixture):
    model, io, conditions = fixture
    got = sample(model, io["x_in"], conditions.cross_attn, guidance=0.0, method="euler", steps=4)
    _close(got, io["sample_euler_w0"], 2e-5)
    # The model's defaults are the published sampler: dopri5 on 10 intervals, w = 3.
    default = sample(model, io["x_in"], conditions.cross_attn)
    _close(default, io["sample_dopri5"], 1e-3)


def test_training_loss_on_the_condot_path(fixture):
    model, io, conditions = fixture
    with torch.no_grad():
        loss = model.training_loss(io["train_x1"], io["train_x0"], io["train_t"], conditions)
        _close(model(io["train_x_t"], io["train_t"], conditions.cross_attn), io["train_pred"],
               1e-5, 1e-5)  # fmt: skip
    _close(loss.reshape(1), io["train_loss"], 0.0, 1e-5)


@pytest.mark.parametrize("case", range(5))
def test_stretch_phonemes_as_published(fixture, case):
    _, io, _ = fixture
    want = io[f"stretch{case}_out"]
    got = stretch_phonemes(io[f"stretch{case}_in"], want.numel())
    assert got.dtype == torch.int64 and torch.equal(got, want)


def test_stretch_phonemes_by_hand():
    # 3 ids to 7 frames: repeated 3x to 9, then nearest picks indices floor(i * 9 / 7).
    assert stretch_phonemes([4, 5, 6], 7).tolist() == [4, 4, 4, 5, 5, 6, 6]
    assert stretch_phonemes([1, 2, 3, 4], 2).tolist() == [1, 3]  # only interpolated
    with pytest.raises(InputError):
        stretch_phonemes([], 5)


def test_full_size_network_has_the_published_state_dict():
    manifest = json.loads(shared_path("fixtures", "manifests", "vssflow.json").read_text())
    with torch.device("meta"):
        model = unflat.build_model({"architecture": "vssflow"})
    state = model.state_dict()
    assert len(state) == len(manifest) == 198
    shapes = {k: [list(v.shape), str(v.dtype).removeprefix("torch.")] for k, v in state.items()}
    assert shapes == manifest
    # A parameter (as published, so strict loading finds it), not trained.
    time_weight = dict(model.named_parameters())["vaflow.time_proj.weight"]
    assert not time_weight.requires_grad


def test_another_config_builds_and_runs():
    config = {
        "architecture": "vssflow",
        "dit_config": {"attention_head_dim": 8, "num_attention_heads": 6,
                       "num_key_value_attention_heads": 3, "cross_attention_dim": 12,
                       "time_proj_dim": 10},
        "vaflow_params": {"dit_num_layers": 3, "phone_ebd_dim": 2, "cond_feat_dim": 12,
                          "lip_feat_dim": 3, "synch_feat_dim": 5, "original_channel": 7,
                          "audio_duration_sec": 1.5, "audio_length_per_sec": 6},
        "fixed_raw_input_dims": {"clip_video": 9, "rawnet_speaker": 4, "synchformer": 5,
                                 "avhubert_lip": 6, "phone_vocab": 11},
    }  # fmt: skip
    torch.manual_seed(0)
    model = unflat.build_model(config).eval()
    assert len(model.vaflow.transformer_blocks) == 3 and model.cfg.latent_length == 9
    assert model.vaflow.transformer_blocks[0].attn2.to_k.weight.shape == (3 * 8, 12)
    conditions = model.condition(
        torch.randn(2, 15, 9), torch.randn(2, 4), torch.randn(2, 3, 8, 5), torch.randn(2, 20, 6),
        torch.randint(0, 11, (2, 4)),
    )  # fmt: skip
    assert conditions.cross_attn.shape == (2, 10, 12) and conditions.channels.shape == (2, 10, 9)
    x = torch.cat([torch.randn(2, 7, 9), conditions.channels], 1)
    out = sample(model, x, conditions.cross_attn, method="midpoint", steps=2)
    assert out.shape == (2, 17, 9) and torch.isfinite(out).all()
    assert torch.equal(out[:, 7:], x[:, 7:])  # the condition channels do not move
    loss = model.training_loss(torch.randn(2, 7, 9), torch.randn(2, 7, 9), torch.rand(2),
                               conditions)  # fmt: skip
    loss.backward()
    assert model.cond_proj[0].weight.grad is not None and torch.isfinite(loss)
    # Missing conditions are zeros (phoneme id 0: no speech).
    alone = model.condition(torch.randn(1, 15, 9))
    assert not alone.cross_attn[:, 0].any() and alone.channels.shape == (1, 10, 9)


def test_config_schema_round_trip_and_errors():
    folder = shared_path("fixtures", "vssflow_tiny_a")
    data = json.loads((folder / "config.json").read_text())
    config = VSSFlowConfig.from_dict(data)
    assert (config.in_channels, config.latent_length, config.inner_dim) == (34, 12, 32)
    assert VSSFlowConfig.from_dict(config.to_dict()) == config
    assert VSSFlowConfig.from_dict({"architecture": "vssflow"}) == VSSFlowConfig.full()
    assert VSSFlowConfig.from_dict({"preset": "tiny"}) == VSSFlowConfig.tiny()
    wrong_channels = json.loads(json.dumps(data))
    wrong_channels["dit_config"]["in_channels"] = 33
    with pytest.raises(ConfigError, match="in_channels"):
        VSSFlowConfig.from_dict(wrong_channels)
    with pytest.raises(ConfigError, match="derived"):
        VSSFlowConfig.from_dict({**data, "derived": {"latent_length": 13}})
    with pytest.raises(ConfigError, match="cond_feat_dim"):
        VSSFlowConfig.from_dict({"vaflow_params": {"cond_feat_dim": 512}})
    with pytest.raises(ConfigError, match=r"dit_config\.num_attention_heads is 0"):
        VSSFlowConfig.from_dict({"dit_config": {"num_attention_heads": 0}})
    with pytest.raises(ConfigError, match="unknown"):
        VSSFlowConfig.from_dict({"vaflow_params": {"dit_num_layer": 2}})
    with pytest.raises(ConfigError, match="sample_method"):
        VSSFlowConfig.from_dict({"vaflow_params": {"sample_method": "rk4"}})


def test_bad_inputs_are_input_errors(fixture):
    model, io, conditions = fixture
    with pytest.raises(InputError, match="flow state"):
        model(io["x_in"][:, :20], io["t_vec"], conditions.cross_attn)
    with pytest.raises(InputError, match="video_feat"):
        model.condition(io["in_video_feat"][..., :10])
    with pytest.raises(InputError, match="phoneme ids"):
        model.condition(io["in_video_feat"], phone_id=torch.full((2, 3), 200))


def test_condot_path_over_all_channels(fixture):
    from unflat.sound.vssflow.model import condot_path

    _, io, conditions = fixture
    x_t, target = condot_path(io["train_x1"], io["train_x0"], io["train_t"], conditions.channels)
    _close(x_t, io["train_x_t"], 1e-6)
    _close(target, io["train_dx_t"], 1e-6)
    assert not target[:, 16:].any()  # the condition channels stay where they are
