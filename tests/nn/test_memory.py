"""Weights held once: loading into a model built on meta, quantising piece by piece."""

from __future__ import annotations

import copy
import re

import pytest
import torch
from torch import nn

from unflat.nn.inference import QUANTIZED_LINEAR_TYPES, quantize_linears_int8, quantize_piecewise
from unflat.nn.memory import _malloc_trim, release_freed_memory
from unflat.weights.loading import _holding


class _Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(16, 32), nn.Linear(32, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fc2(torch.relu(self.fc1(x)))


class _Tower(nn.Module):
    """Blocks in a list, a linear directly under it: the shapes quantize_piecewise walks."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(_Block() for _ in range(3))
        self.head = nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.head(x)


class _WithFilterBank(_Tower):
    """Makes a tensor of its own while being built, as a mel front end does."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("bank", torch.linspace(0, 1, 5), persistent=False)


def _state(model_type: type[nn.Module]) -> dict[str, torch.Tensor]:
    torch.manual_seed(3)
    return {k: v.clone() for k, v in model_type().state_dict().items()}


def test_the_model_holds_the_loaded_tensors_themselves() -> None:
    state = _state(_Tower)
    model = _holding(state, {}, lambda config: _Tower(), "x")
    # one copy of the weights: the parameters are the state's tensors, not copies of them
    assert model.blocks[1].fc2.weight.data_ptr() == state["blocks.1.fc2.weight"].data_ptr()
    assert not any(p.is_meta for p in model.parameters())


def test_a_model_that_makes_its_own_tensors_is_built_for_real() -> None:
    state = _state(_WithFilterBank)
    model = _holding(state, {}, lambda config: _WithFilterBank(), "x")
    assert torch.equal(model.bank, torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0]))
    assert torch.equal(model.head.bias, state["head.bias"])
    assert model.head.bias.data_ptr() != state["head.bias"].data_ptr()  # copied into


def test_mismatched_weights_are_refused_on_the_meta_path_too() -> None:
    state = _state(_Tower)
    del state["head.bias"]
    with pytest.raises(Exception, match=re.escape("x: 1 missing (head.bias) tensors")):
        _holding(state, {}, lambda config: _Tower(), "x")


@pytest.mark.skipif(not QUANTIZED_LINEAR_TYPES, reason="this PyTorch has no dynamic int8")
def test_piecewise_quantisation_computes_what_whole_quantisation_does() -> None:
    torch.manual_seed(0)
    whole = _Tower().eval()
    pieces = copy.deepcopy(whole)
    quantize_linears_int8(whole)
    quantize_piecewise(pieces)
    quantized = [m for m in pieces.modules() if isinstance(m, QUANTIZED_LINEAR_TYPES)]
    assert len(quantized) == 7  # 2 per block and the head
    assert not [m for m in pieces.modules() if type(m) is nn.Linear]
    x = torch.randn(5, 16)
    with torch.inference_mode():
        assert torch.equal(pieces(x), whole(x))


def _resident_mib() -> int:
    with open("/proc/self/status") as status:
        return int(re.search(r"^VmRSS:\s+(\d+)", status.read(), re.MULTILINE).group(1)) // 1024


@pytest.mark.skipif(_malloc_trim() is None, reason="glibc's malloc_trim is Linux-only")
def test_freed_heap_memory_goes_back_to_the_os() -> None:
    held = [torch.ones(16 * 1024) for _ in range(2048)]  # 64 KiB each: 128 MiB from the heap
    last = held[-1]  # kept, so the heap cannot shrink from its top by itself
    del held
    kept = _resident_mib()
    release_freed_memory(collect=False)
    assert kept - _resident_mib() > 100, "the 128 MiB freed stayed resident"
    del last
