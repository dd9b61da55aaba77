"""User-facing errors: each says what went wrong and what to do about it.

The CLI prints ``UnflatError`` as one line and exits with code 2; anything else is a bug.
"""

from __future__ import annotations


class UnflatError(Exception):
    """A failure the user can fix; ``hint`` tells them how."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class InputError(UnflatError):
    """An input file is missing, unreadable or of a kind we cannot use."""


class OutputError(UnflatError):
    """An output location cannot be written."""


class WeightsError(UnflatError):
    """Model weights are missing, corrupt or do not match the architecture."""


class ConfigError(UnflatError):
    """A model config or option value is invalid."""


class DeviceError(UnflatError):
    """The requested device or precision is unavailable."""


def format_error(error: UnflatError) -> str:
    """The one line a user sees for ``error``: ``error: what went wrong — what to do``."""
    # A path or message with a newline in it must not break the one-line promise.
    line = f"error: {error.message}"
    if error.hint:
        line += f" — {error.hint}"
    return " ".join(line.splitlines())
