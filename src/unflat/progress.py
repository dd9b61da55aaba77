"""The one progress protocol: long work reports ``(stage, done, total)`` to a callable.

A pipeline or capability takes ``progress: Progress | None``; the CLI passes a bar that draws
one line per stage, the web app a Gradio progress, a batch worker nothing. ``total`` is None
when the amount of work is not known in advance.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

Progress = Callable[[str, int, "int | None"], None]


def report(progress: Progress | None, stage: str, done: int, total: int | None) -> None:
    """Tell ``progress`` (if any) that ``done`` of ``total`` steps of ``stage`` are finished."""
    if progress is not None:
        progress(stage, done, total)


def counted(
    items: Iterable[T], progress: Progress | None, stage: str, total: int | None = None
) -> Iterator[T]:
    """Yield ``items``, reporting each one finished under ``stage``."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    report(progress, stage, 0, total)
    for done, item in enumerate(items, start=1):
        yield item
        report(progress, stage, done, total)


def prefixed(progress: Progress | None, prefix: str) -> Progress | None:
    """``progress`` with ``prefix`` before every stage's name: a batch names the photo, e.g.
    ``photo.jpg: Depth Pro``, when the work inside reports as ``Depth Pro``."""
    if progress is None:
        return None
    return lambda stage, done, total: progress(prefix + stage, done, total)


def note(message: str) -> None:
    """Tell the user something they should know about the result (one line on stderr)."""
    import sys

    print(f"note: {message}", file=sys.stderr)
