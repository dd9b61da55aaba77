"""The one model table: every architecture unflat can build and every model whose weights it knows.

Each model registers itself beside its code, as timm keeps pretrained configs beside the nets:
``register_architecture`` (a name, the config dataclass with model fields only, and the builder)
and ``register_model`` (a ``ModelEntry``: the architecture config, the weight files with their
sources or the packaged asset, and the licence). The table fills itself on first use by importing
the modules in ``MODEL_MODULES`` and any ``unflat.models`` entry point, so a plug-in package adds
models without unflat importing it by name; ``build_model``, ``weights.load_model`` and
``unflat models`` all read this table.

The registry sits in the bottom layer: it imports the model modules only through ``importlib``,
so no capability depends on another through it.
"""

from __future__ import annotations

import difflib
import importlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata, resources
from pathlib import Path
from typing import TYPE_CHECKING

from unflat.errors import ConfigError, WeightsError

if TYPE_CHECKING:  # torch loads with the first model, not with `unflat --help`
    from torch import nn

# The modules whose import registers unflat's own models (beside each model's code).
MODEL_MODULES = (
    "unflat.depth.depth_pro",
    "unflat.splat.sharp.model",
    "unflat.sound.vssflow.model",
    "unflat.sound.vssflow.vae",
    "unflat.sound.vssflow.hifigan",
    "unflat.sound.vssflow.features",
    "unflat.sound.vssflow.rawnet",
    "unflat.nn.clip_vit",
    "unflat.face.nets",
    "unflat.face.liveportrait.model",
    "unflat.face.fewshot.model",
)
# Other installed packages register theirs through this entry-point group.
ENTRY_POINT_GROUP = "unflat.models"

APPLE_RESEARCH_LICENCE = "Apple Machine Learning Research Model License (research only)"
APPLE_RESEARCH_SUMMARY = (
    "Apple Machine Learning Research Model License: the weights may be used, copied and modified "
    "for non-commercial scientific research and academic development only. Commercial use, and "
    "use in products or services, is not permitted. The accompanying code is under the Apple "
    "Sample Code License. This is a summary, not legal advice: the licence text governs."
)


def apple_research_terms(licence_url: str) -> dict[str, object]:
    """The ``ModelEntry`` licence fields of weights Apple releases for research only."""
    return {
        "licence": APPLE_RESEARCH_LICENCE,
        "licence_url": licence_url,
        "licence_summary": APPLE_RESEARCH_SUMMARY,
        "commercial_use": False,
    }


@dataclass(frozen=True)
class WeightFile:
    """One released file; ``size_bytes``/``sha256`` are verified only when known (never guessed)."""

    filename: str
    urls: tuple[str, ...]
    size_bytes: int | None = None
    sha256: str | None = None
    # Only for display before the exact size is known.
    approx_bytes: int | None = None
    # Prepended to every key when several files are merged into one state dict.
    prefix: str = ""


@dataclass(frozen=True)
class ModelEntry:
    """A model with weights: what to build, where the weights come from, and under what licence."""

    name: str
    task: str
    architecture: dict = field(hash=False)
    description: str
    files: tuple[WeightFile, ...]
    licence: str
    licence_url: str
    licence_summary: str
    commercial_use: bool
    homepage: str
    paper: str
    # False until this release can build the architecture (used when the table cannot say).
    available: bool = True
    # Weights that ship inside the package: the folder under ``unflat/`` holding ``files``.
    bundled: str | None = None

    @property
    def research_only(self) -> bool:
        return not self.commercial_use

    @property
    def size_bytes(self) -> int | None:
        """Total download size, exact or approximate; None when unknown."""
        sizes = [f.size_bytes or f.approx_bytes for f in self.files]
        if self.bundled is not None:
            paths = bundled_files(self)
            sizes = [path.stat().st_size if path.is_file() else None for path in paths]
        return None if any(s is None for s in sizes) else sum(sizes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Architecture:
    """A buildable network: its config dataclass (model fields only) and its builder."""

    name: str
    build: Callable[[dict], nn.Module]
    # None for fixed-shape nets (the bundled face models take no config).
    config: type | None = None
    module: str = ""


_ARCHITECTURES: dict[str, Architecture] = {}
_MODELS: dict[str, ModelEntry] = {}
_discovered = False


def register_architecture(
    name: str, build: Callable[[dict], nn.Module], config: type | None = None
) -> Architecture:
    """Make ``build_model({"architecture": name, ...})`` build with ``build``."""
    entry = Architecture(name, build, config, getattr(build, "__module__", ""))
    known = _ARCHITECTURES.get(name)
    if known is not None and (known.module, known.build.__qualname__) != (
        entry.module,
        build.__qualname__,
    ):
        raise ValueError(f"architecture {name!r} is already registered by {known.module}")
    _ARCHITECTURES[name] = entry
    return entry


def register_model(entry: ModelEntry, overwrite: bool = False) -> ModelEntry:
    """Add ``entry`` to the table (``overwrite`` to replace a different one of the same name)."""
    known = _MODELS.get(entry.name)
    if known is not None and known != entry and not overwrite:
        raise ValueError(f"model {entry.name!r} is already registered")
    _MODELS[entry.name] = entry
    return entry


def _discover() -> None:
    """Import the modules that register models, once."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    for module in MODEL_MODULES:
        importlib.import_module(module)
    for point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            point.load()
        except Exception as error:  # a broken plug-in must not break unflat's own models
            warnings.warn(f"unflat model plug-in {point.value} failed: {error}", stacklevel=2)


def architectures() -> dict[str, Architecture]:
    """Every buildable architecture by name."""
    _discover()
    return dict(_ARCHITECTURES)


def build_model(config: dict) -> nn.Module:
    """Build the architecture named by ``config["architecture"]`` with random weights.

    A dict holding only ``"architecture"`` builds the published full-size model; the fixtures'
    ``config.json`` files use the same schema with smaller shapes.
    """
    known = architectures()
    if not isinstance(config, dict) or "architecture" not in config:
        raise ConfigError(
            "a model config needs an 'architecture' key",
            f"use one of {sorted(known)}, e.g. {{'architecture': 'depth_pro'}}",
        )
    name = config["architecture"]
    if not isinstance(name, str) or name not in known:  # a list there is not hashable
        raise ConfigError(
            f"unknown architecture {name!r}", f"supported architectures: {sorted(known)}"
        )
    return known[name].build(config)


def _normalise(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def list_entries() -> list[ModelEntry]:
    """Every registered model, sorted by name."""
    _discover()
    return [_MODELS[name] for name in sorted(_MODELS)]


def find_entry(name: str) -> ModelEntry | None:
    """The entry for ``name`` (any case, ``_`` for ``-``), or None."""
    _discover()
    return _MODELS.get(_normalise(name))


def get_entry(name: str) -> ModelEntry:
    """The entry for ``name`` (``depth_pro`` and ``Depth-Pro`` also find ``depth-pro``)."""
    entry = find_entry(name)
    if entry is not None:
        return entry
    known = sorted(_MODELS)
    close = difflib.get_close_matches(_normalise(name), known, n=1, cutoff=0.5)
    hint = f"did you mean {close[0]!r}? " if close else ""
    hint += f"known models: {', '.join(known)} (see `unflat models list`)"
    raise WeightsError(f"unknown model {name!r}", hint)


def architecture_available(entry: ModelEntry) -> bool:
    """Whether this release can build ``entry``'s architecture."""
    return entry.available and entry.architecture["architecture"] in architectures()


def bundled_files(entry: ModelEntry) -> list[Path]:
    """Where a bundled model's files are inside the installed package."""
    if entry.bundled is None:
        raise ValueError(f"{entry.name} is downloaded, not bundled")
    folder = resources.files("unflat").joinpath(*entry.bundled.split("/"))
    return [Path(str(folder.joinpath(file.filename))) for file in entry.files]


__all__ = [
    "APPLE_RESEARCH_LICENCE",
    "APPLE_RESEARCH_SUMMARY",
    "ENTRY_POINT_GROUP",
    "MODEL_MODULES",
    "Architecture",
    "ModelEntry",
    "WeightFile",
    "apple_research_terms",
    "architecture_available",
    "architectures",
    "build_model",
    "bundled_files",
    "find_entry",
    "get_entry",
    "list_entries",
    "register_architecture",
    "register_model",
]
