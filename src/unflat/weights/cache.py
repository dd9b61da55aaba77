"""Where weights live: the cache folder's layout, and what names a model versus a path.

Weights are cached under ``cache_dir()/<name>/`` in the fixtures' layout (``config.json`` +
``model.safetensors``, with ``source.json`` recording where they came from), so a cached model
folder is itself a valid ``--weights`` argument.
"""

from __future__ import annotations

import os
from pathlib import Path

from unflat import registry
from unflat.download import manual_hint
from unflat.registry import get_entry

SAFETENSORS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
SOURCE_NAME = "source.json"
# The key of source.json that records the model.safetensors made from the downloads.
SAFETENSORS_KEY = "safetensors"
HASHES_DIR = "hashes"
CONVERTED_DIR = "converted"
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")


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


def looks_like_path(text: str) -> bool:
    """True when ``text`` names a file or folder rather than a registry model."""
    suffixes = (".safetensors", *CHECKPOINT_SUFFIXES)
    return os.sep in text or "/" in text or Path(text).suffix in suffixes


__all__ = [
    "CHECKPOINT_SUFFIXES",
    "CONFIG_NAME",
    "CONVERTED_DIR",
    "HASHES_DIR",
    "SAFETENSORS_KEY",
    "SAFETENSORS_NAME",
    "SOURCE_NAME",
    "cache_dir",
    "fetch_hint",
    "is_cached",
    "looks_like_path",
    "weights_path",
]
