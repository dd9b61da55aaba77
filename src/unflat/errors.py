"""User-facing errors: each says what went wrong and what to do about it.

The CLI prints ``UnflatError`` as one line and exits with code 2; anything else is a bug.
"""

from __future__ import annotations

import re


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
    line = f"error: {one_line(error.message)}"
    if error.hint:
        line += f" — {one_line(error.hint)}"
    return line


# Characters that break a line or hide what follows: C0/C1 controls and DEL, the Unicode line
# and paragraph separators, and the bidirectional overrides that can make a file name read
# backwards.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def one_line(text: str) -> str:
    """``text`` with every control character shown as an escape (``\\n``, ``\\x1b``, ``\\u2028``).

    A file name may hold a newline or a terminal escape; printed as is, it would break the
    one-line promise or rewrite the user's screen. Escaped, the line still names the file.
    """
    return _CONTROL.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    character = match.group()
    if character in _NAMED:
        return _NAMED[character]
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
