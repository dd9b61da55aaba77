"""Integrity of the files unflat keeps: sha256 records, checked on use, and the hashes of users'
files remembered in the cache.

``source.json`` records the sha256 of each download and of the ``model.safetensors`` made
from them, which is checked again (once per process) whenever the file is used. Every file
unflat keeps for itself, hashes of users' files included, lives under ``cache_dir()``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from pathlib import Path

from unflat import registry
from unflat.download import file_sha256
from unflat.errors import OutputError, WeightsError
from unflat.io.atomic import write_json
from unflat.registry import get_entry
from unflat.weights.cache import (
    CONVERTED_DIR,
    HASHES_DIR,
    SAFETENSORS_KEY,
    SAFETENSORS_NAME,
    SOURCE_NAME,
    cache_dir,
    fetch_hint,
    looks_like_path,
    weights_path,
)

_SHA256 = re.compile(r"[0-9a-f]{64}")


# sha256 of the files hashed in this process, by identity: a file is hashed again only when its
# size, times, inode or device change.
_DIGESTS: dict[tuple[str, int, int, int, int, int], str] = {}


def file_identity(path: Path) -> tuple[str, int, int, int, int, int]:
    """Resolved path, size, mtime, ctime, inode and device: what changes when a file does.

    The ctime is in it because tools that restore an mtime (``touch -r``, ``cp -p``) cannot
    restore the ctime.
    """
    stat = path.stat()
    resolved = str(path.resolve())
    return (resolved, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, stat.st_dev)


def _digest(path: Path) -> str:
    """The sha256 of ``path``, hashed at most once per process per identity."""
    identity = file_identity(path)
    digest = _DIGESTS.get(identity)
    if digest is None:
        digest = _DIGESTS[identity] = file_sha256(path)
    return digest


def made_record(path: Path) -> dict[str, object]:
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


def download_records(folder: Path) -> dict[str, dict]:
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
            write_json(file.parent / SOURCE_NAME, {**record, SAFETENSORS_KEY: made_record(file)})
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


def file_hint(file: Path) -> str:
    """How to replace an unreadable weights file: fetch it again if unflat fetched it."""
    name = _registry_folder(file)
    if name is not None and file.name == SAFETENSORS_NAME:
        return f"download it again: `unflat models fetch {name} --force`"
    if name is not None:
        return f"delete it and run `unflat models fetch {name}`"
    return "download or save the weights again, or pass other weights"


def _remembered_hash(path: Path) -> str:
    """The sha256 of a file unflat did not make, remembered in ``cache_dir()/hashes/``."""
    identity = file_identity(path)
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


def weights_id(path_or_name: str | os.PathLike[str]) -> str:
    """The sha256 of a model's weights file.

    Accepts a registry name (its cached safetensors), a model folder or a file. A file unflat
    made is checked against its record (``verify_cached``); any other file's hash is kept in
    ``cache_dir()/hashes/`` (never beside the file), keyed by its path and checked against its
    size, times, inode and device, so a multi-gigabyte file is hashed once, not on every run.
    """
    text = os.fspath(path_or_name)
    path = Path(text).expanduser()
    if not path.exists() and not looks_like_path(text):
        path = weights_path(text)
        if not path.is_file():
            raise WeightsError(f"{get_entry(text).name} is not downloaded yet", fetch_hint(text))
    if path.is_dir():
        path = path / SAFETENSORS_NAME
    if not path.is_file():
        raise WeightsError(f"weights file {path} does not exist", "pass an existing weights file")
    recorded = verify_cached(path)
    return recorded if recorded is not None else _remembered_hash(path)


__all__ = [
    "download_records",
    "file_hint",
    "file_identity",
    "made_record",
    "verify_cached",
    "weights_id",
    "weights_label",
]
