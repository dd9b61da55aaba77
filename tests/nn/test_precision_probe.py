"""The probe ``auto`` times: every CPU path runs on it, and a hopeless path runs once."""

from __future__ import annotations

import torch

from unflat.nn.precision_probe import PrecisionProbe, ProbeNetwork

CPU = torch.device("cpu")


def test_probe_network_shape():
    network = ProbeNetwork(width=64, grid=2, features=8).eval()
    with torch.inference_mode():
        out = network(torch.rand(1, 3, 32, 32))
    # A 2x2 token grid, upsampled once: 8 features at 4x4.
    assert out.shape == (1, 8, 4, 4)


def test_every_cpu_path_is_timed(monkeypatch):
    probe = PrecisionProbe(CPU, width=64, grid=2)
    seconds = {name: probe(name) for name in ("fp32", "int8", "bf16")}
    assert all(0 < value < 5 for value in seconds.values())
    assert probe.best == min(seconds.values())


def test_a_hopeless_path_runs_once(monkeypatch):
    probe = PrecisionProbe(CPU, width=64, grid=2, hopeless=3.0)
    probe.best = 1e-12  # anything is hopeless against this
    calls = []
    forward = ProbeNetwork.forward
    monkeypatch.setattr(
        ProbeNetwork, "forward", lambda self, x: calls.append(1) or forward(self, x)
    )
    probe("fp32")
    assert len(calls) == 1
