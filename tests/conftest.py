"""Shared test helpers: where ``../shared`` is, and skipping cleanly when it is absent."""

from __future__ import annotations

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
