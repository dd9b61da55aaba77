"""``build_model(config)``: every architecture unflat knows, selected by ``config["architecture"]``.

A dict holding only ``"architecture"`` builds the published full-size model; the fixtures'
``config.json`` files use the same schema with smaller shapes.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from unflat.errors import ConfigError


def _depth_pro(config: dict) -> nn.Module:
    from unflat.depth.depth_pro import build_depth_pro

    return build_depth_pro(config)


def _sharp(config: dict) -> nn.Module:
    from unflat.splat.sharp import build_sharp

    return build_sharp(config)


def _vssflow(config: dict) -> nn.Module:
    from unflat.sound.vssflow.model import build_vssflow

    return build_vssflow(config)


BUILDERS: dict[str, Callable[[dict], nn.Module]] = {
    "depth_pro": _depth_pro,
    "sharp": _sharp,
    "vssflow": _vssflow,
}

SUPPORTED = frozenset(BUILDERS)


def build_model(config: dict) -> nn.Module:
    """Build the architecture named by ``config["architecture"]`` with random weights."""
    if not isinstance(config, dict) or "architecture" not in config:
        raise ConfigError(
            "a model config needs an 'architecture' key",
            f"use one of {sorted(BUILDERS)}, e.g. {{'architecture': 'depth_pro'}}",
        )
    name = config["architecture"]
    if name not in BUILDERS:
        raise ConfigError(
            f"unknown architecture {name!r}", f"supported architectures: {sorted(BUILDERS)}"
        )
    return BUILDERS[name](config)
