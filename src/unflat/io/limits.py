"""The one resource-limit policy: how much a single input may make unflat decode or allocate.

A small file can describe a huge thing (a 369 KB ``.spz`` of 20M Gaussians, a PNG that inflates to
gigabytes, a 1 MB ten-hour video). Readers check the size a file *declares* against these limits
before decoding it, and refuse with ``InputError`` naming the ``--max-...`` option that allows
more. The limits in force are a context variable: the CLI sets them from its options with
``use_limits``, Python callers may do the same, and readers ask ``current_limits()``.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from unflat.errors import InputError


@dataclass(frozen=True)
class Limits:
    """Upper bounds for one input. Defaults fit a 24 GB machine with room for the models."""

    # Decoded image pixels (150 MP: a 15000x10000 panorama); a header beyond it is refused.
    max_pixels: int = 150_000_000
    # Gaussians in one scene file: 10M at 59 floats each is about 2.4 GB (SHARP makes 1.2M).
    max_gaussians: int = 10_000_000
    # Seconds of video or audio read from one file (one hour).
    max_seconds: float = 3600.0
    # Frames of video decoded from one file (an hour at 60 fps).
    max_frames: int = 216_000
    # Bytes one decoded array may take (depth maps, decompressed payloads): 4 GiB.
    max_decoded_bytes: int = 4 * 1024**3


# The CLI option that raises each limit, for the hint. Every command accepts them. (Not
# --max-seconds/--max-frames: animate and eval use those to read only the start of a video.)
OPTIONS = {
    "max_pixels": "--max-pixels",
    "max_gaussians": "--max-gaussians",
    "max_seconds": "--max-duration",
    "max_frames": "--max-video-frames",
    "max_decoded_bytes": "--max-decoded-bytes",
}

_CURRENT: ContextVar[Limits] = ContextVar("unflat_limits", default=Limits())  # noqa: B039


def current_limits() -> Limits:
    """The limits in force here (the defaults unless a caller set others with ``use_limits``)."""
    return _CURRENT.get()


@contextlib.contextmanager
def use_limits(**overrides: float | None) -> Iterator[Limits]:
    """Run a block under the current limits with ``overrides`` (None keeps a limit as it is)."""
    chosen = {name: value for name, value in overrides.items() if value is not None}
    unknown = sorted(set(chosen) - set(OPTIONS))
    if unknown:
        raise TypeError(f"unknown limits {unknown}; known: {sorted(OPTIONS)}")
    for name, value in chosen.items():
        if value <= 0:
            raise InputError(f"{OPTIONS[name]} must be positive, got {value:g}", "e.g. the default")
    limits = dataclasses.replace(current_limits(), **chosen)
    token = _CURRENT.set(limits)
    try:
        yield limits
    finally:
        _CURRENT.reset(token)


def check_limit(source: object, what: str, amount: float, limit: str) -> None:
    """Refuse ``source`` when it declares ``amount`` of ``what`` beyond the limit named ``limit``.

    ``what`` is a plural noun ("Gaussians", "pixels", "seconds of video").
    """
    allowed = getattr(current_limits(), limit)
    if amount > allowed:
        raise InputError(
            f"{source} holds {_number(amount)} {what}; the limit is {_number(allowed)}",
            f"pass {OPTIONS[limit]} {_number(amount, plain=True)} (or more) if the file is "
            "genuine and the machine has the memory",
        )


def _number(value: float, plain: bool = False) -> str:
    if float(value).is_integer():
        return f"{int(value)}" if plain else f"{int(value):,}"
    return f"{value:g}"


__all__ = ["OPTIONS", "Limits", "check_limit", "current_limits", "use_limits"]
