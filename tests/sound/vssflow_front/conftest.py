"""Reference vectors made by tools/make_vssflow_front_refs.py (see tests/data/vssflow_front)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

DATA = Path(__file__).resolve().parents[2] / "data" / "vssflow_front"


def read_reference(name: str) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict]:
    """(state dict, inputs and outputs, config) of one reference file."""
    with safe_open(str(DATA / name), "pt") as handle:
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
        config = json.loads((handle.metadata() or {}).get("config", "{}"))
    state = {k[len("state.") :]: v for k, v in tensors.items() if k.startswith("state.")}
    rest = {k: v for k, v in tensors.items() if not k.startswith("state.")}
    return state, rest, config


def manifest(name: str) -> dict[str, list[int]]:
    return json.loads((DATA / name).read_text())


def shapes(module: torch.nn.Module) -> dict[str, list[int]]:
    return {k: list(v.shape) for k, v in module.state_dict().items()}


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
