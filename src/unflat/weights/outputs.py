"""What models hold and produce: weights and outputs checked finite, naming the weights."""

from __future__ import annotations

import itertools

import torch
from torch import nn

from unflat import registry
from unflat.errors import WeightsError
from unflat.weights.cache import looks_like_path


def check_finite(
    outputs: dict[str, torch.Tensor], weights: str | None, dtype: torch.dtype = torch.float32
) -> None:
    """Refuse model outputs holding NaN or infinity, naming the weights that produced them.

    Damaged weights (or a half-precision overflow) give NaN everywhere; written out, that makes
    an unusable result and a sidecar that is not valid JSON. ``outputs`` maps what each tensor
    is ("depth", "focal length") to the tensor; ``weights`` is their label (``weights_label``),
    None when unknown; ``dtype`` is the precision the model ran in.
    """
    for what, tensor in outputs.items():
        finite = torch.isfinite(tensor)
        if bool(finite.all()):
            continue
        bad, total = int((~finite).sum()), finite.numel()
        model = f"the model with weights {weights}" if weights else "the model"
        raise WeightsError(
            f"{model} produced NaN or infinite {what} ({bad} of {total} values)",
            _output_hint(weights, dtype),
        )


def check_finite_weights(model: nn.Module, weights: str | None) -> None:
    """Refuse a loaded model whose parameters or buffers hold NaN or infinity.

    Checked once after loading, before minutes of inference: such weights give NaN everywhere,
    and the int8 paths cannot even quantise the activations they make (PyTorch stops with an
    internal error). ``weights`` is their label, as for :func:`check_finite`.
    """
    tensors = itertools.chain(model.named_parameters(), model.named_buffers())
    damaged = [
        (name, tensor)
        for name, tensor in tensors
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())
    ]
    if not damaged:
        return
    bad = sum(int((~torch.isfinite(tensor)).sum()) for _, tensor in damaged)
    model_name = f"the model with weights {weights}" if weights else "the model"
    raise WeightsError(
        f"{model_name} has NaN or infinite weights ({bad} values in {len(damaged)} tensors, "
        f"the first {damaged[0][0]})",
        _output_hint(weights, torch.float32),
    )


def _output_hint(weights: str | None, dtype: torch.dtype) -> str:
    named = weights is not None and not looks_like_path(weights)
    entry = registry.find_entry(weights) if named else None
    if entry is not None and entry.bundled is None:
        refetch = f"`unflat models fetch {entry.name} --force`"
        hint = f"the weights are damaged: download them again ({refetch})"
    else:
        hint = "the weights are damaged or not made for this model: pass other --weights"
    if dtype != torch.float32:
        hint = f"try --precision fp32 (half precision can overflow); if that fails too, {hint}"
    return hint


__all__ = [
    "check_finite",
    "check_finite_weights",
]
