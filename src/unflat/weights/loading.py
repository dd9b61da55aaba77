"""From ``--weights`` or a model name to a ready ``nn.Module``: resolving the file (a user's
checkpoint converted once into the cache), the config stored with it, a strict load.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from unflat import registry
from unflat.errors import ConfigError, OutputError, UnflatError, WeightsError
from unflat.io.atomic import write_json
from unflat.nn.memory import release_freed_memory
from unflat.registry import get_entry
from unflat.weights.cache import (
    CHECKPOINT_SUFFIXES,
    CONFIG_NAME,
    CONVERTED_DIR,
    SAFETENSORS_KEY,
    SAFETENSORS_NAME,
    SOURCE_NAME,
    cache_dir,
    looks_like_path,
)
from unflat.weights.checkpoints import read_checkpoint, read_state, save_safetensors
from unflat.weights.fetching import fetch
from unflat.weights.integrity import file_identity, made_record, verify_cached, weights_label
from unflat.weights.outputs import check_finite_weights


def resolve_weights(name: str | None, weights: str | os.PathLike[str] | None = None) -> Path:
    """The weights file to load: ``weights`` if given, else registry model ``name`` (fetched).

    ``weights`` may be a ``.safetensors`` file, a ``.pt``/``.pth`` checkpoint (converted once into
    the cache) or a folder holding ``model.safetensors``.
    """
    if weights is None:
        if name is None:
            raise WeightsError("no weights given", "pass a model name or --weights PATH")
        return fetch(name)
    path = Path(weights).expanduser()
    if path.is_dir():
        inner = path / SAFETENSORS_NAME
        if not inner.is_file():
            raise WeightsError(
                f"{path} has no {SAFETENSORS_NAME}",
                "pass a folder holding config.json + model.safetensors, or a weights file",
            )
        return inner
    if not path.is_file():
        raise WeightsError(
            f"weights file {path} does not exist",
            "pass an existing .safetensors/.pt file or a folder holding model.safetensors",
        )
    if path.suffix == ".safetensors":
        return path
    if path.suffix in CHECKPOINT_SUFFIXES:
        return _converted(path)
    raise WeightsError(
        f"{path} is neither a .safetensors file nor a .pt/.pth checkpoint",
        "pass the model's weights file",
    )


def _converted(checkpoint: Path) -> Path:
    """A cached safetensors copy of a user's checkpoint, keyed by its path and file identity."""
    resolved = checkpoint.resolve()
    identity = "|".join(map(str, file_identity(checkpoint)))
    root = cache_dir() / CONVERTED_DIR
    folder = root / hashlib.sha256(identity.encode()).hexdigest()[:16]
    target = folder / SAFETENSORS_NAME
    if target.is_file():
        return target
    state = read_checkpoint(checkpoint)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        save_safetensors(state, target, {"source": str(checkpoint)})
        del state
        record = {
            "source": str(resolved),
            "identity": identity,
            SAFETENSORS_KEY: made_record(target),
        }
        write_json(folder / SOURCE_NAME, record)
    except (OSError, OutputError):
        # An unwritable cache should not stop the run: load the checkpoint directly instead.
        return checkpoint
    _drop_older_conversions(root, folder, str(resolved))
    return target


def _drop_older_conversions(root: Path, keep: Path, source: str) -> None:
    """Remove conversions of earlier versions of ``source``: they can never be used again."""
    for record in root.glob(f"*/{SOURCE_NAME}"):
        if record.parent == keep:
            continue
        with contextlib.suppress(OSError, ValueError, AttributeError):
            if json.loads(record.read_text()).get("source") == source:
                shutil.rmtree(record.parent)


def _config_for(weights: Path) -> dict | None:
    """The architecture config stored with ``weights`` (folder or sibling ``config.json``)."""
    candidate = (weights if weights.is_dir() else weights.parent) / CONFIG_NAME
    if not candidate.is_file():
        return None
    try:
        config = json.loads(candidate.read_text())
    except (OSError, ValueError) as error:
        raise WeightsError(f"cannot read {candidate}: {error}", "fix or delete that file") from None
    # A config.json from some other tool (no architecture key) says nothing about our model.
    return config if isinstance(config, dict) and "architecture" in config else None


def _later_release(architecture: str) -> WeightsError:
    return WeightsError(
        f"the {architecture} architecture lands with a later release of unflat",
        "its weights can already be downloaded with `unflat models fetch`",
    )


def load_model(
    name_or_path: str | os.PathLike[str],
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    weights: str | os.PathLike[str] | None = None,
    *,
    default_architecture: str = "depth-pro",
    builder: Callable[[dict], nn.Module] | None = None,
    progress: bool = True,
) -> nn.Module:
    """A ready model (eval mode, no gradients) on ``device`` in ``dtype``.

    ``name_or_path`` is a registry name, a folder with ``config.json`` + ``model.safetensors``, or a
    weights file (built as registry model ``default_architecture`` unless a ``config.json`` with an
    ``"architecture"`` key sits beside it). ``weights`` overrides where the tensors come from.
    ``builder`` replaces ``unflat.registry.build_model`` (for tests and custom models).
    """
    text = os.fspath(name_or_path)
    path = Path(text).expanduser()
    entry = None
    if not looks_like_path(text) and registry.find_entry(text) is not None:
        entry = get_entry(text)
    elif not path.exists():
        if not looks_like_path(text):
            get_entry(text)  # raises, with a did-you-mean hint
        raise WeightsError(
            f"{path} does not exist", "pass a model name (`unflat models list`) or an existing path"
        )
    elif path.is_dir() and _config_for(path) is None:
        raise WeightsError(
            f"{path} has no {CONFIG_NAME} with an 'architecture' key",
            "pass a folder holding config.json + model.safetensors, or a weights file",
        )

    named = entry is not None
    # Which config: the one stored with --weights, else the model folder's (or the file's
    # sibling), else the registry entry's.
    source = Path(weights).expanduser() if weights is not None else None
    config = _config_for(source) if source is not None and source.exists() else None
    if config is None and entry is None:
        config = _config_for(path)
    if config is None:
        entry = entry or get_entry(default_architecture)
        config = dict(entry.architecture)
        if builder is None and not registry.architecture_available(entry):
            # Refuse before a multi-gigabyte download that could not be used.
            raise _later_release(config["architecture"])

    if source is not None:
        file = resolve_weights(None, source)
    elif named:
        file = fetch(entry.name, progress=progress)
    else:
        file = resolve_weights(None, path)
    verify_cached(file)
    state = read_state(file)
    architecture = config.get("architecture")
    mismatch = f"{file} does not match the {architecture} architecture"
    model = _holding(state, config, builder, mismatch)
    del state
    release_freed_memory()
    check_finite_weights(model, weights_label(file))
    model = model.to(device=device, dtype=dtype).eval().requires_grad_(False)
    # Where the weights came from, for messages about what the model then produces.
    model.unflat_weights = weights_label(file)
    # The config it was built from, for what the state dict does not hold (its input size).
    model.unflat_config = config
    return model


def _holding(
    state: dict[str, torch.Tensor],
    config: dict,
    builder: Callable[[dict], nn.Module] | None,
    what: str,
) -> nn.Module:
    """The model built from ``config`` with the weights of ``state``.

    Built on the meta device (no memory, no random initialisation) and given the state's own
    tensors, so the weights sit in memory once, not twice: full-size Depth Pro peaked at 7.8 GB
    while loading, built and filled for real. A model that makes tensors of its own while being
    built (a mel filter bank, say) would keep them on the meta device: such a model is built for
    real and the state copied into it.
    """
    try:
        with torch.device("meta"):
            empty = _build(config, builder)
    except UnflatError:
        raise
    except Exception:
        empty = None
    if empty is not None:
        load_strict(empty, state, what, assign=True)
        if not _on_meta(empty):
            return empty
    model = _build(config, builder)
    load_strict(model, state, what)
    return model


def _on_meta(model: nn.Module) -> bool:
    """Whether any tensor of ``model`` (parameter, buffer or plain attribute) is on meta."""
    for module in model.modules():
        tensors = [*module.parameters(recurse=False), *module.buffers(recurse=False)]
        tensors += [value for value in vars(module).values() if isinstance(value, torch.Tensor)]
        if any(tensor.is_meta for tensor in tensors):
            return True
    return False


def _build(config: dict, builder: Callable[[dict], nn.Module] | None) -> nn.Module:
    if builder is not None:
        return builder(config)
    try:
        return registry.build_model(config)
    except ConfigError:
        architecture = config.get("architecture")
        if any(
            e.architecture["architecture"] == architecture and not e.available
            for e in registry.list_entries()
        ):
            raise _later_release(str(architecture)) from None
        raise


#: What to do about weights that do not fit the model they were loaded into.
MISMATCH_HINT = "pass weights made for this model, or a folder with the config.json they came with"


def load_strict(
    model: nn.Module,
    state: dict[str, torch.Tensor],
    what: str,
    hint: str = MISMATCH_HINT,
    *,
    assign: bool = False,
) -> None:
    """``load_state_dict(strict=True)``, or a one-line ``WeightsError`` that starts with
    ``what`` (the weights "do not match" whose architecture) and names what does not match.
    ``assign`` makes the state's tensors the model's own (for a model built on meta)."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    reshaped = [
        f"{k} {tuple(state[k].shape)} vs {tuple(expected[k].shape)}"
        for k in state
        if k in expected and state[k].shape != expected[k].shape
    ]
    problems = []
    for label, keys in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", reshaped)):
        if keys:
            # a key from a damaged file may hold a newline: quoted, it keeps the message one line
            names = [key if key.isprintable() else repr(key) for key in keys[:3]]
            shown = ", ".join(names) + (", ..." if len(keys) > 3 else "")
            problems.append(f"{len(keys)} {label} ({shown})")
    if problems:
        raise WeightsError(f"{what}: {'; '.join(problems)} tensors", hint)
    model.load_state_dict(state, strict=True, assign=assign)


__all__ = [
    "load_model",
    "load_strict",
    "resolve_weights",
]
