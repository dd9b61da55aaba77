"""Shared test helpers: where ``../shared`` is, and skipping cleanly when it is absent."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def shared_path(*parts: str) -> Path:
    """A path under ``../shared``; skips the test when it is not there."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: these tests need the project's shared/ folder beside it")
    return path


@pytest.fixture
def fixtures_dir() -> Path:
    return shared_path("fixtures")


def interruptible() -> None:
    """``preexec_fn`` for a child that a test interrupts with SIGINT: Ctrl-C as in a terminal.

    A shell without job control starts background jobs with SIGINT ignored, and children
    inherit that (Python then never raises KeyboardInterrupt); the Ctrl-C tests must not
    depend on how the test run itself was started.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
