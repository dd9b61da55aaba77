"""Reading weight files (``.pt``/``.pth`` checkpoints with ``weights_only=True``, safetensors one
tensor at a time) and writing safetensors, with plain messages for files that cannot be read.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterable
from pathlib import Path

import torch

from unflat.errors import WeightsError
from unflat.weights.integrity import file_hint


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The tensors of a ``.pt``/``.pth`` checkpoint, read with ``weights_only=True`` (or of a
    ``.safetensors`` file, floats as float32).

    Unwraps ``{"state_dict": ...}``/``{"model": ...}``, flattens nested dicts with dots (a
    multi-module file), and drops a ``module.`` prefix that DDP training leaves on every key.
    """
    path = Path(path)
    if path.suffix == ".safetensors":  # a released file already in safetensors (diffusers')
        return dict(read_state(path))
    try:
        with warnings.catch_warnings():
            # torch warns on stderr about what it meets in the file (a pickle protocol other than
            # its default, objects a damaged pickle defines oddly), then reads the file or refuses
            # it all the same: our error says what is wrong.
            warnings.simplefilter("ignore")
            try:
                # mmap keeps a multi-gigabyte checkpoint out of RAM until each tensor is used.
                loaded = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
            except RuntimeError as error:
                if "mmap" not in str(error):
                    raise
                loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise _unreadable_checkpoint(path, error) from None

    while isinstance(loaded, dict):
        inner = next((loaded[k] for k in ("state_dict", "model") if k in loaded), None)
        if not isinstance(inner, dict):
            break
        loaded = inner
    if isinstance(loaded, torch.Tensor) or not isinstance(loaded, dict):
        raise WeightsError(
            f"{path} holds a {type(loaded).__name__}, not a state dict",
            "pass a checkpoint saved from model.state_dict()",
        )
    state = dict(_flatten(loaded))
    if not state:
        raise WeightsError(f"{path} holds no tensors", "pass the model's weights file")
    if all(key.startswith("module.") for key in state):
        state = {key[len("module.") :]: value for key, value in state.items()}
    return state


def read_training_state(path: str | os.PathLike[str]) -> object:
    """Whatever a trainer saved with ``torch.save`` at ``path`` (tensors, numbers, strings,
    dicts and lists only: read with ``weights_only=True``); a damaged, foreign or unsafe file
    is a :class:`WeightsError` that says which, as for model checkpoints."""
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on the pickle; our error says more
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise _unreadable_checkpoint(path, error) from None


def _unreadable_checkpoint(path: Path, error: Exception) -> WeightsError:
    """A plain message for a file ``torch.load`` refused.

    torch's own text is not shown: for junk it is an opcode number or "pop from empty list",
    and for unsafe files it suggests ``weights_only=False``, which would run the file's code.
    """
    unsafe = re.search(r"GLOBAL ([\w.]+)", str(error))
    if unsafe:
        return WeightsError(
            f"{path} is not a plain tensor checkpoint: it holds Python objects "
            f"({unsafe.group(1)}), and loading those could run code from the file",
            "unflat reads checkpoints with torch.load(weights_only=True); save model.state_dict() "
            "alone, or pass a .safetensors file",
        )
    try:
        with open(path, "rb") as handle:
            head = handle.read(2)
    except OSError as problem:
        return _unreadable_file(path, problem)
    if not head:
        return WeightsError(f"{path} is empty (0 bytes)", file_hint(path))
    # torch.save writes a zip archive ("PK"); older files are a pickle (protocol byte 0x80).
    if head == b"PK" or head[:1] == b"\x80":
        return WeightsError(
            f"{path} is a damaged PyTorch checkpoint: it could not be read to its end",
            file_hint(path),
        )
    return WeightsError(
        f"{path} is not a PyTorch checkpoint (it does not begin like one)",
        "pass the model's weights: a .safetensors file or a .pt/.pth checkpoint",
    )


def _flatten(tree: dict, prefix: str = "") -> Iterable[tuple[str, torch.Tensor]]:
    for key, value in tree.items():
        if isinstance(value, torch.Tensor):
            yield prefix + str(key), value
        elif isinstance(value, dict):
            # A nested module saved from its DDP wrapper (LivePortrait's stitching file holds
            # three such state dicts) has "module." on every key of its own.
            inner = dict(_flatten(value))
            if inner and all(name.startswith("module.") for name in inner):
                inner = {name[len("module.") :]: tensor for name, tensor in inner.items()}
            yield from ((f"{prefix}{key}.{name}", tensor) for name, tensor in inner.items())


def save_safetensors(
    state: dict[str, torch.Tensor], target: Path, metadata: dict[str, str] | None = None
) -> None:
    """Write ``state`` to ``target`` via a temporary name, so a crash never leaves half a file."""
    from safetensors.torch import save_file

    seen: set[tuple[int, int]] = set()
    tensors: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        tensor = tensor.detach()
        # safetensors refuses tensors that share storage (tied weights): give each its own copy.
        storage = (tensor.untyped_storage().data_ptr(), tensor.untyped_storage().nbytes())
        if storage in seen and tensor.numel():
            tensor = tensor.clone()
        seen.add(storage)
        tensors[key] = tensor.contiguous()
    temporary = target.with_name(target.name + ".tmp")
    try:
        save_file(tensors, str(temporary), metadata=metadata)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def read_state(file: Path) -> dict[str, torch.Tensor]:
    """Every tensor of ``file`` with floating point ones as float32 (released files are fp16)."""
    if file.suffix != ".safetensors":
        state = read_checkpoint(file)
        return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    from safetensors import safe_open

    state = {}
    try:
        # One tensor at a time, so the float16 copy never sits in memory beside the float32 one.
        with safe_open(str(file), framework="pt", device="cpu") as handle:
            for key in handle.keys():  # noqa: SIM118 - safe_open handles are not iterable
                tensor = handle.get_tensor(key)
                state[key] = tensor.float() if tensor.is_floating_point() else tensor
    except Exception as error:
        raise _unreadable_safetensors(file, error) from None
    return state


def _unreadable_safetensors(file: Path, error: Exception) -> WeightsError:
    """A plain message for a file the safetensors reader refused (its wording, explained)."""
    text = str(error)
    try:
        size = file.stat().st_size
        with open(file, "rb"):
            pass
    except OSError as problem:
        return _unreadable_file(file, problem)
    if size == 0:
        why = "it is empty (0 bytes)"
    elif "incomplete" in text or "not fully covered" in text:
        why = "it ends before its last tensor (cut short)"
    elif any(word in text for word in ("header too large", "header too small", "header length")):
        why = "it does not begin with a safetensors header (it is some other kind of file)"
    else:
        why = "its header or tensors are damaged"
    return WeightsError(f"{file} is not a readable safetensors file: {why}", file_hint(file))


def _unreadable_file(path: Path, problem: OSError) -> WeightsError:
    """A weights file the system will not let us read (permissions, a vanished disk)."""
    return WeightsError(
        f"cannot read {path}: {problem.strerror or type(problem).__name__}",
        "check that the file exists and that you may read it",
    )


__all__ = [
    "read_checkpoint",
    "read_state",
    "save_safetensors",
]
