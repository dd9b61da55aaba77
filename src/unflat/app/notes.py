"""The ``note:`` lines a job prints (:func:`unflat.progress.note`), caught for the page.

Jobs run in Gradio's worker threads, several at once; ``sys.stderr`` is one for the process.
So stderr is wrapped once by a stream that still writes everything to the real one (the
terminal keeps its log) and also keeps what each job's thread wrote, for that job alone.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from typing import Any, TextIO

_LOCK = threading.Lock()


class _PerThread:
    """stderr, plus a copy of what the threads that asked for one write."""

    def __init__(self, real: TextIO) -> None:
        self.real = real
        self.copies: dict[int, list[str]] = {}

    def write(self, text: str) -> int:
        copy = self.copies.get(threading.get_ident())
        if copy is not None:
            copy.append(text)
        return self.real.write(text)

    def flush(self) -> None:
        self.real.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@contextlib.contextmanager
def caught_notes() -> Iterator[list[str]]:
    """Inside: the ``note:`` messages this thread prints are added to the list yielded."""
    with _LOCK:
        if not isinstance(sys.stderr, _PerThread):
            sys.stderr = _PerThread(sys.stderr)  # type: ignore[assignment]
        stream = sys.stderr
    ident = threading.get_ident()
    stream.copies[ident] = written = []
    notes: list[str] = []
    try:
        yield notes
    finally:
        stream.copies.pop(ident, None)
        lines = "".join(written).splitlines()
        notes += [line.removeprefix("note: ") for line in lines if line.startswith("note: ")]
