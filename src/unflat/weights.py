"""Everything between a model's name and a ready ``nn.Module``: fetching, caching, loading.

What each model is (architecture, weight files, licence) is in the one table, ``unflat.registry``,
filled beside each model's code. Weights are cached under
``cache_dir()/<name>/`` in the fixtures' layout (``config.json`` + ``model.safetensors``), so a
cached model folder is itself a valid ``--weights`` argument. A released ``.pt`` is read once with
``weights_only=True`` and kept as safetensors; the ``.pt`` is then deleted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
from torch import nn

from unflat import registry
from unflat.download import download, file_sha256, manual_hint, offline
from unflat.errors import ConfigError, OutputError, WeightsError
from unflat.io.atomic import write_json
from unflat.registry import ModelEntry, WeightFile, get_entry

SAFETENSORS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
SOURCE_NAME = "source.json"
_LICENCE_MARKER = ".licence-shown"
_CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")


def cache_dir() -> Path:
    """``$UNFLAT_HOME/models``, else ``$XDG_CACHE_HOME/unflat/models``, else ``~/.cache/...``."""
    if home := os.environ.get("UNFLAT_HOME"):
        return Path(home).expanduser() / "models"
    if xdg := os.environ.get("XDG_CACHE_HOME"):
        return Path(xdg).expanduser() / "unflat" / "models"
    return Path.home() / ".cache" / "unflat" / "models"


def weights_path(name: str) -> Path:
    """Where registry model ``name``'s weights live (or will): the cached ``model.safetensors``,
    or the packaged file of a bundled model."""
    entry = get_entry(name)
    if entry.bundled is not None:
        return registry.bundled_files(entry)[0]
    return cache_dir() / entry.name / SAFETENSORS_NAME


def is_cached(name: str) -> bool:
    """True when ``name``'s weights are already on disk (bundled ones always are)."""
    return weights_path(name).is_file()


def fetch_hint(name: str) -> str:
    """How to get ``name``'s weights: the command, or the manual download."""
    entry = get_entry(name)
    first = entry.files[0]
    manual = manual_hint(first.urls, cache_dir() / entry.name / first.filename)
    return f"run `unflat models fetch {entry.name}`, or {manual}"


# ---------------------------------------------------------------------------------------------
# Fetching and converting


def fetch(name: str, progress: bool = True, force: bool = False) -> Path:
    """Make ``name``'s weights available locally and return the ``model.safetensors`` path.

    Downloads what is missing (resuming partial files), verifies size and sha256 where known,
    converts the released checkpoint to safetensors once, and deletes the checkpoint. A file put
    at the expected path by hand is used as if downloaded.
    """
    entry = get_entry(name)
    if entry.bundled is not None:
        return _bundled_file(entry)
    folder = cache_dir() / entry.name
    target = folder / SAFETENSORS_NAME
    if force:
        for stale in (target, folder / SOURCE_NAME, *(folder / f.filename for f in entry.files)):
            stale.unlink(missing_ok=True)
            Path(str(stale) + ".part").unlink(missing_ok=True)
    if target.is_file():
        return target

    folder.mkdir(parents=True, exist_ok=True)
    missing = [w for w in entry.files if not (folder / w.filename).is_file()]
    if not (missing and offline()):
        # Offline with files missing fails at once; the licence would only bury that error.
        _show_licence_once(entry, folder)
    sources: list[Path] = []
    for weight in entry.files:
        path = folder / weight.filename
        if path.is_file():
            _check_hand_placed(entry, weight, path)
        else:
            download(weight.urls, path, weight.size_bytes, weight.sha256, progress=progress)
        sources.append(path)

    record = []
    for weight, path in zip(entry.files, sources, strict=True):
        record.append(
            {
                "filename": weight.filename,
                "url": weight.urls[0] if weight.urls else None,
                "size_bytes": path.stat().st_size,
                "sha256": file_sha256(path),
            }
        )
    state: dict[str, torch.Tensor] = {}
    for weight, path in zip(entry.files, sources, strict=True):
        for key, tensor in read_checkpoint(path).items():
            state[weight.prefix + key] = tensor
    _save_safetensors(state, target, {"source": ",".join(w.filename for w in entry.files)})
    write_json(folder / CONFIG_NAME, entry.architecture)
    write_json(folder / SOURCE_NAME, {"model": entry.name, "files": record})
    # The safetensors copy is all we read from now on; the checkpoint would double the disk use.
    for path in sources:
        path.unlink(missing_ok=True)
    return target


def _bundled_file(entry: ModelEntry) -> Path:
    """The packaged weights of a model that ships with unflat (there is nothing to download)."""
    path = registry.bundled_files(entry)[0]
    if not path.is_file():
        raise WeightsError(
            f"{entry.name}'s weights (unflat/{entry.bundled}/{path.name}) are missing from this "
            "install",
            "reinstall unflat; in a source checkout run `python tools/convert_mediapipe.py`",
        )
    return path


def _check_hand_placed(entry: ModelEntry, weight: WeightFile, path: Path) -> None:
    size = path.stat().st_size
    bad = None
    if weight.size_bytes is not None and size != weight.size_bytes:
        bad = f"its size is {size} bytes, expected {weight.size_bytes}"
    elif weight.sha256 is not None and file_sha256(path).lower() != weight.sha256.lower():
        bad = "its sha256 differs from the published file's"
    if bad:
        raise WeightsError(
            f"{path} is not the published {weight.filename}: {bad}",
            f"delete it and run `unflat models fetch {entry.name}`",
        )


def _show_licence_once(entry: ModelEntry, folder: Path) -> None:
    """Print the licence the first time a model is fetched; a marker file remembers it."""
    marker = folder / _LICENCE_MARKER
    if marker.exists():
        return
    use = "research only, NOT for commercial use" if entry.research_only else "commercial use ok"
    print(
        f"{entry.name}: weights by {entry.homepage} under the {entry.licence} — {use}.\n"
        f"{entry.licence_summary}\nFull licence: {entry.licence_url}",
        file=sys.stderr,
    )
    marker.write_text(entry.licence_url + "\n")


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The tensors of a ``.pt``/``.pth`` checkpoint, read with ``weights_only=True``.

    Unwraps ``{"state_dict": ...}``/``{"model": ...}``, flattens nested dicts with dots (a
    multi-module file), and drops a ``module.`` prefix that DDP training leaves on every key.
    """
    path = Path(path)
    try:
        try:
            # mmap keeps a multi-gigabyte checkpoint out of RAM until each tensor is used.
            loaded = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as error:
            if "mmap" not in str(error):
                raise
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        why = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise WeightsError(
            f"{path} is not a plain tensor checkpoint that can be loaded safely ({why})",
            "unflat reads checkpoints with torch.load(weights_only=True); pass the published "
            "weights or a .safetensors file",
        ) from None

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


def _flatten(tree: dict, prefix: str = "") -> Iterable[tuple[str, torch.Tensor]]:
    for key, value in tree.items():
        if isinstance(value, torch.Tensor):
            yield prefix + str(key), value
        elif isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")
        # Other leaves (epoch counters, config strings) are not weights.


def _save_safetensors(
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


# ---------------------------------------------------------------------------------------------
# Resolving --weights and loading models


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
    if path.suffix in _CHECKPOINT_SUFFIXES:
        return _converted(path)
    raise WeightsError(
        f"{path} is neither a .safetensors file nor a .pt/.pth checkpoint",
        "pass the model's weights file",
    )


def _converted(checkpoint: Path) -> Path:
    """A cached safetensors copy of a user's checkpoint; keyed by path, size and mtime."""
    stat = checkpoint.stat()
    identity = f"{checkpoint.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    folder = cache_dir() / "converted" / hashlib.sha256(identity.encode()).hexdigest()[:16]
    target = folder / SAFETENSORS_NAME
    if target.is_file():
        return target
    state = read_checkpoint(checkpoint)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _save_safetensors(state, target, {"source": str(checkpoint)})
        write_json(folder / SOURCE_NAME, {"source": str(checkpoint), "identity": identity})
    except (OSError, OutputError):
        # An unwritable cache should not stop the run: load the checkpoint directly instead.
        return checkpoint
    return target


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


def _looks_like_path(text: str) -> bool:
    suffixes = (".safetensors", *_CHECKPOINT_SUFFIXES)
    return os.sep in text or "/" in text or Path(text).suffix in suffixes


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
    if not _looks_like_path(text) and registry.find_entry(text) is not None:
        entry = get_entry(text)
    elif not path.exists():
        if not _looks_like_path(text):
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
    state = _read_state(file)
    model = _build(config, builder)
    _load_strict(model, state, file, str(config.get("architecture")))
    return model.to(device=device, dtype=dtype).eval().requires_grad_(False)


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


def _read_state(file: Path) -> dict[str, torch.Tensor]:
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
        raise WeightsError(
            f"{file} is not a readable safetensors file ({error})",
            "download it again (`unflat models fetch NAME --force`) or pass another file",
        ) from None
    return state


def _load_strict(model: nn.Module, state: dict[str, torch.Tensor], file: Path, arch: str) -> None:
    """``load_state_dict(strict=True)`` with a one-line error that names what does not match."""
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
            shown = ", ".join(keys[:3]) + (", ..." if len(keys) > 3 else "")
            problems.append(f"{len(keys)} {label} ({shown})")
    if problems:
        raise WeightsError(
            f"{file} does not match the {arch} architecture: {'; '.join(problems)} tensors",
            "pass weights made for this model, or a folder with the config.json they came with",
        )
    model.load_state_dict(state, strict=True)


# ---------------------------------------------------------------------------------------------
# Identifying weights


def weights_id(path_or_name: str | os.PathLike[str]) -> str:
    """The sha256 of a model's weights file, cached beside it in ``<file>.sha256``.

    Accepts a registry name (its cached safetensors), a model folder or a file. The sidecar is
    keyed by size and mtime so a multi-gigabyte file is hashed once, not on every run.
    """
    text = os.fspath(path_or_name)
    path = Path(text).expanduser()
    if not path.exists() and not _looks_like_path(text):
        path = weights_path(text)
        if not path.is_file():
            raise WeightsError(f"{get_entry(text).name} is not downloaded yet", fetch_hint(text))
    if path.is_dir():
        path = path / SAFETENSORS_NAME
    if not path.is_file():
        raise WeightsError(f"weights file {path} does not exist", "pass an existing weights file")

    stat = path.stat()
    key = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    sidecar = path.with_name(path.name + ".sha256")
    try:
        cached = json.loads(sidecar.read_text())
        if {k: cached.get(k) for k in key} == key and isinstance(cached.get("sha256"), str):
            return cached["sha256"]
    except (OSError, ValueError):
        pass
    digest = file_sha256(path)
    # Read-only locations (the shared fixtures) just get hashed each time.
    with contextlib.suppress(OSError, OutputError):
        write_json(sidecar, {**key, "sha256": digest})
    return digest


__all__ = [
    "cache_dir",
    "fetch",
    "fetch_hint",
    "file_sha256",
    "is_cached",
    "load_model",
    "offline",
    "read_checkpoint",
    "resolve_weights",
    "weights_id",
    "weights_path",
]
