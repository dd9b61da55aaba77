"""Everything between a model's name and a ready ``nn.Module``: fetching, caching, loading.

What each model is (architecture, weight files, licence) is in the one table, ``unflat.registry``,
filled beside each model's code. Weights are cached under
``cache_dir()/<name>/`` in the fixtures' layout (``config.json`` + ``model.safetensors``), so a
cached model folder is itself a valid ``--weights`` argument. A released ``.pt`` is read once with
``weights_only=True`` and kept as safetensors; the ``.pt`` is then deleted.

Integrity: each download is checked against the sha256 the registry pins, else the one the source
publishes (the Hugging Face hub's LFS hash), else the one recorded at its first download (trust
on first use); ``source.json`` records those and the sha256 of the ``model.safetensors`` made from
them, which is checked again (once per process) whenever the file is used. Every file unflat
keeps for itself, hashes of users' files included, lives under ``cache_dir()``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import sys
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from unflat import registry
from unflat.download import download, file_sha256, hub_digest, manual_hint, offline
from unflat.errors import ConfigError, OutputError, WeightsError
from unflat.io.atomic import write_json
from unflat.registry import ModelEntry, WeightFile, get_entry

SAFETENSORS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
SOURCE_NAME = "source.json"
# The key of source.json that records the model.safetensors made from the downloads.
SAFETENSORS_KEY = "safetensors"
HASHES_DIR = "hashes"
CONVERTED_DIR = "converted"
_LICENCE_MARKER = ".licence-shown"
_CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")
_SHA256 = re.compile(r"[0-9a-f]{64}")


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

    Downloads what is missing (resuming partial files) and verifies each file against the
    registry's sha256, else the hub's own, else the one recorded at its first download; converts
    the released checkpoint to safetensors once, records that file's sha256, and deletes the
    checkpoint. A file put at the expected path by hand is checked the same way. An already
    cached ``model.safetensors`` is checked against its recorded sha256. ``force`` downloads and
    converts again but keeps the recorded hashes of the downloads, which the new ones must match.
    """
    entry = get_entry(name)
    if entry.bundled is not None:
        return _bundled_file(entry)
    folder = cache_dir() / entry.name
    target = folder / SAFETENSORS_NAME
    if force:
        _clear_for_refetch(entry, folder)
    if target.is_file():
        verify_cached(target)
        return target

    folder.mkdir(parents=True, exist_ok=True)
    missing = [w for w in entry.files if not (folder / w.filename).is_file()]
    if not (missing and offline()):
        # Offline with files missing fails at once; the licence would only bury that error.
        _show_licence_once(entry, folder)
    known = _download_records(folder)
    records = [
        _obtain(entry, weight, folder, known.get(weight.filename), progress)
        for weight in entry.files
    ]
    # Recorded before converting: the downloads' hashes outlive a failed conversion, and no
    # record of an older model.safetensors can be taken for the new one's.
    write_json(folder / SOURCE_NAME, {"model": entry.name, "files": records})
    state: dict[str, torch.Tensor] = {}
    for weight in entry.files:
        for key, tensor in read_checkpoint(folder / weight.filename).items():
            state[weight.prefix + key] = tensor
    _save_safetensors(state, target, {"source": ",".join(w.filename for w in entry.files)})
    del state
    write_json(folder / CONFIG_NAME, entry.architecture)
    write_json(
        folder / SOURCE_NAME,
        {"model": entry.name, "files": records, SAFETENSORS_KEY: _made_record(target)},
    )
    # The safetensors copy is all we read from now on; the checkpoint would double the disk use.
    for weight in entry.files:
        (folder / weight.filename).unlink(missing_ok=True)
    return target


def _clear_for_refetch(entry: ModelEntry, folder: Path) -> None:
    """Delete what ``--force`` redoes; keep the downloads' recorded hashes (trust anchors)."""
    known = _download_records(folder)
    for stale in (
        folder / SAFETENSORS_NAME,
        folder / SOURCE_NAME,
        *(folder / f.filename for f in entry.files),
    ):
        stale.unlink(missing_ok=True)
        Path(str(stale) + ".part").unlink(missing_ok=True)
    if known:
        write_json(folder / SOURCE_NAME, {"model": entry.name, "files": list(known.values())})


@dataclass(frozen=True)
class _Expected:
    """What a file must be, and who says so (for messages and ``source.json``)."""

    sha256: str | None
    size_bytes: int | None
    vouched_by: str
    # "registry", "hub", "first download" (trust on first use) or "nothing" (first download).
    kind: str


def _expected(weight: WeightFile, record: dict | None, source: Path) -> _Expected:
    """The registry's pin, else the hub's published hash, else the first download's record."""
    if weight.sha256 is not None:
        return _Expected(weight.sha256.lower(), weight.size_bytes, "unflat's registry", "registry")
    published = hub_digest(weight.urls)
    if published is not None:
        size = weight.size_bytes or published.size_bytes
        where = f"the Hugging Face hub ({published.url})"
        return _Expected(published.sha256, size, where, "hub")
    if record is not None:
        size = weight.size_bytes or record["size_bytes"]
        where = f"the first download (recorded in {source})"
        return _Expected(record["sha256"], size, where, "first download")
    return _Expected(None, weight.size_bytes, "unflat's registry", "nothing")


def _obtain(
    entry: ModelEntry, weight: WeightFile, folder: Path, record: dict | None, progress: bool
) -> dict:
    """Download ``weight`` (or check the copy put there by hand); return its record."""
    path = folder / weight.filename
    expected = _expected(weight, record, folder / SOURCE_NAME)
    if path.is_file():
        size, digest = _check_hand_placed(entry, weight, path, expected)
        url = None
    else:
        got = download(
            weight.urls,
            path,
            expected.size_bytes,
            expected.sha256,
            progress=progress,
            vouched_by=expected.vouched_by,
            mismatch_hint=_replaced_hint(entry, folder, expected),
        )
        size, digest, url = got.size_bytes, got.sha256, got.url
    return {
        "filename": weight.filename,
        "url": url,
        "size_bytes": size,
        "sha256": digest,
        "checked_against": expected.kind,
    }


def _replaced_hint(entry: ModelEntry, folder: Path, expected: _Expected) -> str:
    """What to do when a file does not match what ``expected`` says it must be."""
    if expected.kind == "first download":
        return (
            f"the source now serves a different file than at the first download; if its "
            f"publisher replaced it on purpose, delete {folder / SOURCE_NAME} and run "
            f"`unflat models fetch {entry.name} --force`"
        )
    return (
        "the file was damaged or altered on the way and was not kept; run the same command "
        "again, or fetch it from another network"
    )


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


def _check_hand_placed(
    entry: ModelEntry, weight: WeightFile, path: Path, expected: _Expected
) -> tuple[int, str]:
    """Size and sha256 of a file put in the cache by hand, after checking it like a download."""
    size = path.stat().st_size
    bad = None
    digest = ""
    if expected.size_bytes is not None and size != expected.size_bytes:
        bad = f"it has {size} bytes, but {expected.vouched_by} gives {expected.size_bytes}"
    else:
        digest = file_sha256(path)
        if expected.sha256 is not None and digest != expected.sha256:
            bad = f"its sha256 differs from the one {expected.vouched_by} gives"
    if bad:
        hint = f"delete it and run `unflat models fetch {entry.name}`"
        if expected.kind == "first download":
            hint = (
                f"if its publisher replaced it on purpose, delete {path.parent / SOURCE_NAME} "
                f"and run `unflat models fetch {entry.name}` again; otherwise {hint}"
            )
        raise WeightsError(f"{path} is not the published {weight.filename}: {bad}", hint)
    return size, digest


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
        with warnings.catch_warnings():
            # torch warns on stderr about a pickle protocol other than its own default, then
            # reads the file (or refuses it: our error says so) all the same.
            warnings.filterwarnings("ignore", "Detected pickle protocol", UserWarning)
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
        return WeightsError(f"{path} is empty (0 bytes)", _file_hint(path))
    # torch.save writes a zip archive ("PK"); older files are a pickle (protocol byte 0x80).
    if head == b"PK" or head[:1] == b"\x80":
        return WeightsError(
            f"{path} is a damaged PyTorch checkpoint: it could not be read to its end",
            _file_hint(path),
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
    """A cached safetensors copy of a user's checkpoint, keyed by its path and file identity."""
    resolved = checkpoint.resolve()
    identity = "|".join(map(str, _identity(checkpoint)))
    root = cache_dir() / CONVERTED_DIR
    folder = root / hashlib.sha256(identity.encode()).hexdigest()[:16]
    target = folder / SAFETENSORS_NAME
    if target.is_file():
        return target
    state = read_checkpoint(checkpoint)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _save_safetensors(state, target, {"source": str(checkpoint)})
        del state
        record = {
            "source": str(resolved),
            "identity": identity,
            SAFETENSORS_KEY: _made_record(target),
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
    verify_cached(file)
    state = _read_state(file)
    model = _build(config, builder)
    _load_strict(model, state, file, str(config.get("architecture")))
    model = model.to(device=device, dtype=dtype).eval().requires_grad_(False)
    # Where the weights came from, for messages about what the model then produces.
    model.unflat_weights = weights_label(file)
    return model


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
    return WeightsError(f"{file} is not a readable safetensors file: {why}", _file_hint(file))


def _unreadable_file(path: Path, problem: OSError) -> WeightsError:
    """A weights file the system will not let us read (permissions, a vanished disk)."""
    return WeightsError(
        f"cannot read {path}: {problem.strerror or type(problem).__name__}",
        "check that the file exists and that you may read it",
    )


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
            # a key from a damaged file may hold a newline: quoted, it keeps the message one line
            names = [key if key.isprintable() else repr(key) for key in keys[:3]]
            shown = ", ".join(names) + (", ..." if len(keys) > 3 else "")
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
    """The sha256 of a model's weights file.

    Accepts a registry name (its cached safetensors), a model folder or a file. A file unflat
    made is checked against its record (``verify_cached``); any other file's hash is kept in
    ``cache_dir()/hashes/`` (never beside the file), keyed by its path and checked against its
    size, times, inode and device, so a multi-gigabyte file is hashed once, not on every run.
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
    recorded = verify_cached(path)
    return recorded if recorded is not None else _remembered_hash(path)


# ---------------------------------------------------------------------------------------------
# Integrity of cached files

# sha256 of the files hashed in this process, by identity: a file is hashed again only when its
# size, times, inode or device change.
_DIGESTS: dict[tuple[str, int, int, int, int, int], str] = {}


def _identity(path: Path) -> tuple[str, int, int, int, int, int]:
    """Resolved path, size, mtime, ctime, inode and device: what changes when a file does.

    The ctime is in it because tools that restore an mtime (``touch -r``, ``cp -p``) cannot
    restore the ctime.
    """
    stat = path.stat()
    resolved = str(path.resolve())
    return (resolved, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, stat.st_dev)


def _digest(path: Path) -> str:
    """The sha256 of ``path``, hashed at most once per process per identity."""
    identity = _identity(path)
    digest = _DIGESTS.get(identity)
    if digest is None:
        digest = _DIGESTS[identity] = file_sha256(path)
    return digest


def _made_record(path: Path) -> dict[str, object]:
    """The ``source.json`` record of a file unflat just wrote: size and sha256."""
    return {"size_bytes": path.stat().st_size, "sha256": _digest(path)}


def _in_cache(path: Path) -> bool:
    return path.resolve().is_relative_to(cache_dir().resolve())


def _read_source(folder: Path, strict: bool) -> dict:
    """``folder``'s ``source.json`` as a dict; {} if absent (or unreadable and not ``strict``)."""
    source = folder / SOURCE_NAME
    try:
        record = json.loads(source.read_text(encoding="utf-8"))
        if not isinstance(record, dict):
            raise ValueError("not a JSON object")
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        if not strict:
            return {}
        raise WeightsError(
            f"{source} is damaged ({type(error).__name__}), so the weights beside it cannot be "
            "checked",
            _repair_hint(folder / SAFETENSORS_NAME, {}),
        ) from None
    return record


def _valid_record(record: object) -> dict | None:
    """``record`` if it holds a well-formed size and sha256, else None."""
    if not isinstance(record, dict):
        return None
    size, digest = record.get("size_bytes"), record.get("sha256")
    if not isinstance(size, int) or not isinstance(digest, str) or not _SHA256.fullmatch(digest):
        return None
    return record


def _download_records(folder: Path) -> dict[str, dict]:
    """The recorded size and sha256 of each downloaded file, by file name (tolerant)."""
    files = _read_source(folder, strict=False).get("files")
    records = {}
    for record in files if isinstance(files, list) else []:
        if _valid_record(record) and isinstance(record.get("filename"), str):
            records[record["filename"]] = record
    return records


def verify_cached(file: str | os.PathLike[str]) -> str | None:
    """Check a ``model.safetensors`` unflat made against the sha256 recorded when it was made.

    Hashing costs about 1 s per GB (loading the file costs several times that), so it is done
    on every first use in a process, and again if the file's size, times or inode change: a
    byte flipped on disk is caught before the weights are used. A cache made before hashes were
    recorded is trusted once and recorded. Returns the sha256, or None for a file without a
    record outside the cache (a user's own weights).
    """
    file = Path(file)
    if file.name != SAFETENSORS_NAME or not file.is_file():
        return None
    ours = _in_cache(file)
    if not ours and not (file.parent / SOURCE_NAME).is_file():
        return None
    record = _read_source(file.parent, strict=ours)
    made = _valid_record(record.get(SAFETENSORS_KEY))
    if made is None:
        if not ours:
            return None  # someone else's source.json: nothing of ours to check against
        digest = _digest(file)
        with contextlib.suppress(OSError, OutputError):
            write_json(file.parent / SOURCE_NAME, {**record, SAFETENSORS_KEY: _made_record(file)})
        return digest
    size = file.stat().st_size
    if size != made["size_bytes"]:
        why = f"it has {size} bytes, but {made['size_bytes']} were recorded when it was made"
        raise WeightsError(f"{file} is damaged: {why}", _repair_hint(file, record))
    digest = _digest(file)
    if digest != made["sha256"]:
        raise WeightsError(
            f"{file} is damaged: its sha256 differs from the one recorded when it was made",
            _repair_hint(file, record),
        )
    return digest


def _registry_folder(file: Path) -> str | None:
    """The model name when ``file`` is a registry model's cached ``model.safetensors``."""
    folder = file.parent
    if folder.parent.resolve() == cache_dir().resolve():
        entry = registry.find_entry(folder.name)
        if entry is not None and entry.bundled is None:
            return entry.name
    return None


def _repair_hint(file: Path, record: dict) -> str:
    """How to replace a damaged file unflat made (``record`` is its folder's source.json)."""
    if (name := _registry_folder(file)) is not None:
        return f"download it again: `unflat models fetch {name} --force`"
    if file.parent.parent.resolve() == (cache_dir() / CONVERTED_DIR).resolve():
        source = record.get("source", "your checkpoint")
        return f"delete {file.parent}; the next run converts {source} again"
    model = record.get("model")
    if isinstance(model, str) and registry.find_entry(model) is not None:
        return f"copy the folder again, or download it with `unflat models fetch {model} --force`"
    return "copy the folder again from a good copy"


def _file_hint(file: Path) -> str:
    """How to replace an unreadable weights file: fetch it again if unflat fetched it."""
    name = _registry_folder(file)
    if name is not None and file.name == SAFETENSORS_NAME:
        return f"download it again: `unflat models fetch {name} --force`"
    if name is not None:
        return f"delete it and run `unflat models fetch {name}`"
    return "download or save the weights again, or pass other weights"


def _remembered_hash(path: Path) -> str:
    """The sha256 of a file unflat did not make, remembered in ``cache_dir()/hashes/``."""
    identity = _identity(path)
    if identity in _DIGESTS:
        return _DIGESTS[identity]
    fields = ("path", "size", "mtime_ns", "ctime_ns", "inode", "device")
    key = dict(zip(fields, identity, strict=True))
    name = hashlib.sha256(identity[0].encode()).hexdigest()[:32]
    entry = cache_dir() / HASHES_DIR / f"{name}.json"
    try:
        cached = json.loads(entry.read_text(encoding="utf-8"))
        if {k: cached.get(k) for k in key} == key and _SHA256.fullmatch(str(cached["sha256"])):
            _DIGESTS[identity] = cached["sha256"]
            return cached["sha256"]
    except (OSError, ValueError, KeyError, AttributeError, TypeError):
        pass
    digest = _digest(path)
    # One entry per path, overwritten when the file changes; an unwritable cache just rehashes.
    with contextlib.suppress(OSError, OutputError):
        write_json(entry, {**key, "sha256": digest})
    return digest


def weights_label(file: str | os.PathLike[str]) -> str:
    """How messages name weights: the registry name of a cached model, the checkpoint a
    conversion came from, else the path."""
    file = Path(file)
    if (name := _registry_folder(file)) is not None:
        return name
    if _in_cache(file) and file.parent.parent.resolve() == (cache_dir() / CONVERTED_DIR).resolve():
        source = _read_source(file.parent, strict=False).get("source")
        if isinstance(source, str):
            return source
    return str(file)


# ---------------------------------------------------------------------------------------------
# What models produce


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


def _output_hint(weights: str | None, dtype: torch.dtype) -> str:
    named = weights is not None and not _looks_like_path(weights)
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
    "cache_dir",
    "check_finite",
    "fetch",
    "fetch_hint",
    "file_sha256",
    "is_cached",
    "load_model",
    "offline",
    "read_checkpoint",
    "resolve_weights",
    "verify_cached",
    "weights_id",
    "weights_label",
    "weights_path",
]
