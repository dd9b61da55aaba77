"""The motion stream's smoothing takes the frame-to-frame jitter out and keeps the motion."""

from __future__ import annotations

import numpy as np
import torch

from unflat.face.liveportrait.smoothing import smooth_motions

FPS, FRAMES = 25.0, 100
TIMES = np.arange(FRAMES) / FPS


def _rms(values: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(values))))


def _stream(yaw: np.ndarray, exp: np.ndarray) -> list[dict]:
    return [{"yaw": torch.tensor([[y]], dtype=torch.float32),
             "exp": torch.tensor(e[None], dtype=torch.float32), "name": "kept"}
            for y, e in zip(yaw, exp, strict=True)]  # fmt: skip


def test_smoothing_reduces_jitter_on_a_noisy_stream() -> None:
    rng = np.random.default_rng(3)
    yaw = 10 * np.sin(2 * np.pi * 0.4 * TIMES)  # a slow head turn, degrees
    noisy_yaw = yaw + rng.normal(0, 1.0, FRAMES)
    still_exp = rng.normal(0, 0.005, (FRAMES, 21, 3))  # a face at rest, read with jitter
    stream = _stream(noisy_yaw, still_exp)
    smoothed = smooth_motions(stream, TIMES)
    assert len(smoothed) == FRAMES and smoothed[5]["name"] == "kept"
    assert smoothed[5]["yaw"].shape == (1, 1) and smoothed[5]["yaw"].dtype == torch.float32
    out_yaw = np.array([float(m["yaw"]) for m in smoothed])
    out_exp = np.stack([m["exp"][0].numpy() for m in smoothed])
    # nearer the true motion than the readings were, with no lag added
    assert _rms(out_yaw - yaw) < 0.5 * _rms(noisy_yaw - yaw)
    assert abs(np.argmax(out_yaw[:40]) - np.argmax(yaw[:40])) <= 1
    assert np.ptp(out_yaw) > 18  # the turn itself survives (20 degrees peak to peak)
    # the jitter (frame-to-frame change beyond the motion's own) falls the most
    assert _rms(np.diff(out_yaw - yaw)) < 0.2 * _rms(np.diff(noisy_yaw - yaw))
    assert _rms(out_exp) < 0.6 * _rms(still_exp)
    assert _rms(np.diff(out_exp, axis=0)) < 0.3 * _rms(np.diff(still_exp, axis=0))
    assert float(stream[3]["yaw"]) == np.float32(noisy_yaw[3])  # the input is left as it was


def test_a_talking_mouth_keeps_its_opening() -> None:
    rng = np.random.default_rng(4)
    exp = 0.02 * np.sin(2 * np.pi * 3.0 * TIMES)[:, None, None] * np.ones((1, 21, 3))
    noisy = exp + rng.normal(0, 0.005, exp.shape)
    out = np.stack([m["exp"][0].numpy() for m in smooth_motions(_stream(
        np.zeros(FRAMES), noisy), TIMES)])  # fmt: skip
    assert 0.9 < np.ptp(out[20:80, 0, 0]) / np.ptp(exp[20:80, 0, 0]) < 1.1
    assert _rms(out - exp) < _rms(noisy - exp)


def test_a_single_frame_passes_unchanged() -> None:
    motion = {"yaw": torch.tensor([[3.0]])}
    assert smooth_motions([motion], np.array([0.0]))[0]["yaw"] is motion["yaw"]
