"""VSSFlow training machinery: checkpoints, bit-exact resume, DDP on CPU (gloo), the CLIs."""

from __future__ import annotations

import json
import math
import os
import socket
import wave as wavlib

import pytest
import torch
import torch.multiprocessing as mp

import unflat
from unflat.errors import ConfigError, InputError
from unflat.sound.vssflow import VSSFlowConfig, VSSFlowTrainConfig
from unflat.sound.vssflow.data import SyntheticToneDataset
from unflat.sound.vssflow.sample import main as sample_main
from unflat.sound.vssflow.train import CHECKPOINT, load_checkpoint, model_from_checkpoint, train
from unflat.sound.vssflow.train import main as train_main

pytestmark = pytest.mark.usefixtures("one_thread")


def _cfg(**over) -> VSSFlowTrainConfig:
    # Small and quick; ckpt_every=2 also exercises the mid-run checkpoint.
    layers = {"vaflow_params": {"dit_num_layers": 2}}
    return VSSFlowTrainConfig.from_dict(
        {"preset": "tiny", **layers, "batch_size": 4, "ckpt_every": 2, **over}
    )


def _assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], dict):
            _assert_same_state(a[k], b[k])
        elif torch.is_tensor(a[k]):
            assert torch.equal(a[k], b[k]), k
        else:
            assert a[k] == b[k], k


def test_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path):
    cfg = _cfg()
    ds = SyntheticToneDataset(cfg, size=12)  # 3 batches an epoch: the run crosses epochs
    train(cfg, ds, 7, tmp_path / "straight", log=None)
    first = train(cfg, ds, 4, tmp_path / "resumed", log=None)
    assert first["step"] == 4
    second = train(cfg, ds, 7, tmp_path / "resumed", resume=True, log=None)
    assert second["step"] == 7 and len(second["losses"]) == 3
    a = load_checkpoint(tmp_path / "straight" / CHECKPOINT)
    b = load_checkpoint(tmp_path / "resumed" / CHECKPOINT)
    assert a["step"] == b["step"] == 7
    for key in ("model", "ema", "optimizer", "scheduler"):
        _assert_same_state(a[key], b[key])
    assert torch.equal(a["rng"][0]["flow"], b["rng"][0]["flow"])
    saved = json.loads((tmp_path / "resumed" / "config.json").read_text())
    assert VSSFlowConfig.from_dict(saved) == cfg.model
    training = json.loads((tmp_path / "resumed" / "train.json").read_text())
    assert VSSFlowTrainConfig.from_dict({**saved, **training}) == cfg
    assert not [p for p in (tmp_path / "resumed").iterdir() if ".tmp" in p.name]  # atomic
    # The run folder is a model folder: the registry builds it and loads the EMA weights.
    loaded = unflat.load_model(tmp_path / "resumed")
    assert saved["latent"] == "mel" and loaded.unflat_config["latent"] == "mel"
    assert type(loaded).__name__ == "VSSFlow"
    _assert_same_state(loaded.state_dict(), a["ema"])


def test_resume_refuses_another_config_and_missing_inputs(tmp_path):
    cfg = _cfg()
    ds = SyntheticToneDataset(cfg, size=8)
    train(cfg, ds, 1, tmp_path, log=None)
    with pytest.raises(ConfigError) as err:
        train(_cfg(vaflow_params={"dit_num_layers": 3}), ds, 2, tmp_path, resume=True, log=None)
    assert "vaflow_params.dit_num_layers" in str(err.value) and err.value.hint
    with pytest.raises(InputError):
        train(cfg, ds, 2, tmp_path / "empty", resume=True, log=None)
    with pytest.raises(InputError):
        train(cfg, str(tmp_path / "no_such_dir"), 2, tmp_path / "x", log=None)


def test_checkpoint_gives_the_model_and_its_run_config(tmp_path):
    cfg = _cfg()
    ds = SyntheticToneDataset(cfg, size=8)
    train(cfg, ds, 1, tmp_path, log=None)
    ckpt = torch.load(tmp_path / CHECKPOINT, weights_only=True)
    assert VSSFlowConfig.from_dict(ckpt["config"]) == cfg.model  # model sections only
    assert VSSFlowTrainConfig.from_dict({**ckpt["config"], **ckpt["train"]}) == cfg
    model, loaded = model_from_checkpoint(tmp_path)
    assert loaded == cfg and len(model.vaflow.transformer_blocks) == 2
    # The published names: a run's weights load into the network strictly.
    assert "vaflow.transformer_blocks.1.ff.net.0.proj.weight" in ckpt["ema"]
    assert "phone_embedding.weight" in ckpt["model"]
    with pytest.raises(ConfigError) as err:
        train(_cfg(dit_config={"time_proj_dim": 32}), ds, 3, tmp_path, resume=True, log=None)
    assert "dit_config.time_proj_dim" in str(err.value)


def test_folder_dataset_of_latent_items(tmp_path):
    cfg = _cfg()
    from unflat.sound.vssflow.frontend import MelFrontend

    synth = SyntheticToneDataset(cfg, size=4)
    fe = MelFrontend(cfg.frontend)
    for i in range(4):
        item = synth[i]
        latent = fe.encode(item["wave"][None])[0][:-3]  # shorter than a clip: gets padded
        keep = {k: item[k] for k in ("video", "phonemes")}
        if i % 2:  # some items carry the published lip / speaker features, the others none
            keep |= {"lip": torch.randn(30, 8), "speaker": torch.randn(8)}
        torch.save({"latent": latent, **keep}, tmp_path / f"clip{i}.pt")
    result = train(cfg, str(tmp_path), 2, tmp_path / "run", log=None)
    assert result["step"] == 2 and all(map(math.isfinite, result["losses"]))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, out: str) -> None:
    # What torchrun would set up for each process.
    os.environ.update(
        {
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": str(world),
        }
    )
    torch.set_num_threads(1)
    cfg = _cfg()
    result = train(cfg, SyntheticToneDataset(cfg, size=16), 2, out, device="cpu", log=None)
    torch.save(result["model"].state_dict(), os.path.join(out, f"rank{rank}.pt"))


def test_ddp_two_processes_on_cpu(tmp_path):
    mp.spawn(_ddp_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    r0 = torch.load(tmp_path / "rank0.pt")
    r1 = torch.load(tmp_path / "rank1.pt")
    _assert_same_state(r0, r1)  # gradients were all-reduced: replicas agree exactly
    ckpt = load_checkpoint(tmp_path / CHECKPOINT)
    assert ckpt["step"] == 2 and ckpt["world_size"] == 2 and len(ckpt["rng"]) == 2
    _assert_same_state(ckpt["model"], r0)
    # each rank drew its own noise stream
    assert not torch.equal(ckpt["rng"][0]["flow"], ckpt["rng"][1]["flow"])


def test_train_and_sample_cli(tmp_path, capsys):
    cfg_path = tmp_path / "cfg.json"
    layers = {"vaflow_params": {"dit_num_layers": 1}}
    cfg_path.write_text(json.dumps({"preset": "tiny", **layers, "log_every": 1}))
    run = tmp_path / "run"
    assert train_main(["--config", str(cfg_path), "--steps", "2", "--out", str(run),
                       "--batch-size", "2", "--device", "cpu"]) == 0  # fmt: skip
    assert "step 2/2" in capsys.readouterr().out
    assert train_main(["--config", str(cfg_path), "--steps", "3", "--out", str(run),
                       "--batch-size", "2", "--resume"]) == 0  # fmt: skip
    assert load_checkpoint(run)["step"] == 3
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"preset": "tiny", "widht": 3}))
    assert train_main(["--config", str(bad), "--steps", "1", "--out", str(run)]) == 2
    assert "widht" in capsys.readouterr().err
    assert train_main(["--config", "tiny", "--data", str(tmp_path / "nope"), "--steps", "1",
                       "--out", str(tmp_path / "r2")]) == 2  # fmt: skip

    cfg = VSSFlowConfig.from_dict(json.loads((run / "config.json").read_text()))
    video = torch.zeros(10, cfg.fixed_raw_input_dims.clip_video)
    torch.save(video, tmp_path / "video.pt")
    wav = tmp_path / "out.wav"
    args = ["--checkpoint", str(run), "--video", str(tmp_path / "video.pt"),
            "--phonemes", "sp AA1 sp IY1 sp", "--steps", "2", "--method", "dopri5",
            "--out", str(wav)]  # fmt: skip
    assert sample_main(args) == 0
    with wavlib.open(str(wav)) as f:
        assert f.getframerate() == 8000 and f.getnframes() == 40 * 200  # 1 s at 40 frames/s
    args[args.index("--phonemes") + 1] = "AA1 QQ"
    assert sample_main(args) == 2
