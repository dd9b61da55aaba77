"""Meta-learning runs: resume follows the same loss curve, DDP on two CPU processes agrees,
the entry point's errors are one line, and the video-folder layout is read."""

from __future__ import annotations

import os
import socket

import cv2
import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from unflat.errors import InputError
from unflat.face.fewshot.config import tiny_config
from unflat.face.fewshot.data import VideoFolder, sample_episodes
from unflat.face.fewshot.synthetic import SyntheticFaces
from unflat.face.fewshot.train import (
    TrainSettings,
    load_checkpoint,
    main,
    model_from_checkpoint,
    train,
)
from unflat.io.video import VideoWriter

torch.set_num_threads(1)
CONFIG = tiny_config(image_size=32)


def _settings(steps: int) -> TrainSettings:
    # One content-only warm-up step, so resume and DDP cross into the adversarial terms.
    return TrainSettings(steps=steps, batch_size=2, shots=2, checkpoint_every=2, warmup_steps=1)


def _data() -> SyntheticFaces:
    return SyntheticFaces(6, frames=6, size=32)


def test_resume_follows_the_same_loss_curve(tmp_path) -> None:
    straight = train(CONFIG, _settings(4), _data(), tmp_path / "a", log=None)
    train(CONFIG, _settings(2), _data(), tmp_path / "b", log=None)
    resumed = train(CONFIG, _settings(4), _data(), tmp_path / "b", resume=True, log=None)
    assert resumed.step == 4 and len(resumed.history) == 4
    assert resumed.history == straight.history  # the same episodes, the same updates
    first, second = straight.history[:2]
    assert first["adversarial"] == first["feature_matching"] == first["embedding_match"] == 0
    assert second["feature_matching"] > 0 and second["embedding_match"] > 0
    saved = load_checkpoint(tmp_path / "b")
    assert saved["step"] == 4 and saved["config"]["videos"] == 6
    model = model_from_checkpoint(tmp_path / "b" / "checkpoint.pt")
    for name, value in straight.model.state_dict().items():
        torch.testing.assert_close(model.state_dict()[name], value, msg=name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, port: int, out: str) -> None:
    # What torchrun sets for each process.
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank),
                       "LOCAL_RANK": str(rank), "WORLD_SIZE": "2"})  # fmt: skip
    torch.set_num_threads(1)
    run = train(CONFIG, _settings(2), _data(), out, log=None)
    torch.save(run.model.state_dict(), os.path.join(out, f"rank{rank}.pt"))
    torch.save(run.history, os.path.join(out, f"history{rank}.pt"))


def test_ddp_on_two_cpu_processes(tmp_path) -> None:
    mp.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=2, join=True)
    first, second = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    for name, value in first.items():  # gradients were averaged: the replicas agree
        torch.testing.assert_close(second[name], value, msg=name)
    # Each rank drew its own episodes.
    assert torch.load(tmp_path / "history0.pt") != torch.load(tmp_path / "history1.pt")
    assert load_checkpoint(tmp_path)["step"] == 2


def test_entry_point_errors_are_one_line(tmp_path, capsys) -> None:
    assert main(["--steps", "1", "--out", str(tmp_path)]) == 2
    assert "--synthetic" in capsys.readouterr().err
    assert main(["--data", str(tmp_path / "none"), "--steps", "1", "--out", str(tmp_path)]) == 2
    assert main(["--synthetic", "2", "--steps", "1", "--out", str(tmp_path / "r"),
                 "--resume"]) == 2  # fmt: skip
    assert "no checkpoint" in capsys.readouterr().err
    run = tmp_path / "warm"
    warm = ["--warmup-steps", "1", "--rates", "1e-3", "2e-3"]
    assert main(["--synthetic", "2", "--steps", "2", "--out", str(run), "--batch-size", "1",
                 "--shots", "1", *warm]) == 0  # fmt: skip
    saved = load_checkpoint(run)
    assert saved["settings"]["warmup_steps"] == 1
    assert saved["settings"]["discriminator_rate"] == 2e-3
    assert saved["history"][0]["feature_matching"] == 0 < saved["history"][1]["feature_matching"]


def test_video_folder_layout(tmp_path) -> None:
    faces = SyntheticFaces(1, frames=5, size=48)
    frames, landmarks = faces.video(0)
    clip = tmp_path / "id0001" / "video1" / "00001.mp4"
    clip.parent.mkdir(parents=True)
    with VideoWriter(clip, fps=25) as writer:
        for frame in frames:
            writer.write(frame)
    with pytest.raises(InputError, match="no landmarks"):
        VideoFolder(tmp_path, 32)
    np.save(clip.with_name("00001.landmarks.npy"), landmarks)
    folder = VideoFolder(tmp_path, 32)
    assert len(folder) == 1 and folder.frame_count(0) == 5
    images, points = folder.frames(0, [0, 3])
    assert images.shape == (2, 32, 32, 3)
    np.testing.assert_allclose(points, landmarks[[0, 3]] * 32 / 48, rtol=1e-6)
    # The decoded frame is the drawn one, within video compression.
    small = faces.frames(0, [3])[0][0].astype(float)
    wanted = cv2.resize(small, (32, 32), interpolation=cv2.INTER_AREA)
    assert np.abs(images[1] - wanted).mean() < 12
    episodes = sample_episodes(folder, [0, 0], 2, torch.Generator().manual_seed(0))
    assert episodes.frames.shape == (2, 2, 3, 32, 32) and episodes.videos.tolist() == [0, 0]
