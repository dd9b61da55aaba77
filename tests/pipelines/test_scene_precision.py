"""SHARP runs in the precision asked for; ``auto`` keeps it to the paths measured faithful."""

from __future__ import annotations

from pathlib import Path

import torch

import unflat.weights
from unflat import device
from unflat.pipelines.scene import SHARP_FAITHFUL, ScenePipeline


def sharp_pipeline(monkeypatch, precision: str) -> ScenePipeline:
    """A scene pipeline whose "SHARP" is a one-layer network (no weights are read)."""
    network = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1))
    monkeypatch.setattr(unflat.weights, "resolve_weights", lambda _name, _given: Path("w"))
    monkeypatch.setattr(unflat.weights, "load_model", lambda _name, device, weights: network)
    monkeypatch.setattr(unflat.weights, "weights_id", lambda _file: "sha")
    return ScenePipeline(method="sharp", weights="w", device="cpu", precision=precision)


def test_an_explicit_precision_reaches_sharp(monkeypatch):
    model = sharp_pipeline(monkeypatch, "bf16")._sharp_model()
    assert next(model.parameters()).dtype == torch.bfloat16


def test_auto_runs_sharp_in_a_faithful_path_and_says_so(monkeypatch, capsys):
    monkeypatch.setattr(device, "_SAID", set())
    model = sharp_pipeline(monkeypatch, "auto")._sharp_model()
    assert SHARP_FAITHFUL == ("fp32", "int8-fp32")
    assert next(model.parameters()).dtype == torch.float32
    said = [line for line in capsys.readouterr().err.splitlines() if "precision auto" in line]
    assert len(said) == 1 and said[0].startswith("note: precision auto (SHARP) -> ")
    assert said[0].split("-> ")[1].split(" ")[0] in SHARP_FAITHFUL
