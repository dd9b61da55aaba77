"""The one place where a library's exception about a damaged file becomes an ``InputError``.

Every reader wraps its decoding in ``decoding(source, "a PNG image")``: whatever Pillow, NumPy,
PyAV, zipfile or our own parsers raise for bytes that are not what they claim (``ValueError``,
``TypeError`` from a header missing a field, ``BadZipFile``, ``struct.error``, a tokenizer error
from a ``.npy`` header, ``UnicodeDecodeError`` in metadata, ``MemoryError`` from a lying size)
leaves as one line that names the file, and the traceback never reaches the user. Errors that
are already ``UnflatError`` pass through unchanged; programming errors that no file can cause
(``NameError``, ``AttributeError`` on our own objects) are not caught, so bugs stay visible.
"""

from __future__ import annotations

import contextlib
import os
import struct
import tokenize
import urllib.error
import zipfile
import zlib
from collections.abc import Iterator

from unflat.errors import InputError, UnflatError

# What libraries raise for malformed bytes. OSError covers truncated reads and PyAV's
# FFmpeg errors (they subclass it); SyntaxError and TokenError come from np.load parsing a
# .npy header; RecursionError from deeply nested containers.
DECODE_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    TypeError,
    OSError,
    EOFError,
    IndexError,
    KeyError,
    OverflowError,
    ZeroDivisionError,
    RecursionError,
    SyntaxError,
    UnicodeError,
    struct.error,
    zlib.error,
    zipfile.BadZipFile,
    tokenize.TokenError,
)


@contextlib.contextmanager
def decoding(
    source: str | os.PathLike[str],
    what: str,
    hint: str = "the file is damaged or incomplete; export or download it again",
    extra: tuple[type[BaseException], ...] = (),
) -> Iterator[None]:
    """Turn any decoding failure inside the block into ``InputError("SOURCE is not a valid WHAT")``.

    ``what`` reads after "a valid": ``"PNG image"``, ``"depth map (.npz)"``. ``extra`` adds
    exception types particular to one library.
    """
    try:
        yield
    except UnflatError:
        raise
    except MemoryError:
        raise InputError(
            f"{source} declares more data than this machine can hold as a {what}",
            "the file is probably damaged; if it is genuine, convert it to a smaller one",
        ) from None
    except (*DECODE_ERRORS, *extra) as error:
        raise InputError(f"{source} is not a valid {what} ({error_phrase(error)})", hint) from None


def error_phrase(error: BaseException) -> str:
    """A library exception as a short, single-line phrase (its first line, else its type); a
    web request's failure as its status (``HTTP 404 Not Found``) or its cause (``timed out``,
    ``[Errno 111] Connection refused``)."""
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        # the cause itself, not "<urlopen error ...>" around it
        reason = error.reason
        return error_phrase(reason) if isinstance(reason, BaseException) else _first_line(reason)
    if isinstance(error, TimeoutError):
        return "timed out"  # socket timeouts say so; a bare TimeoutError() says nothing
    if isinstance(error, tokenize.TokenError | SyntaxError) and error.args:
        # Parser errors carry (message, position): the position means nothing to a user.
        error = type(error)(error.args[0])
    return _first_line(error) or type(error).__name__


def _first_line(value: object) -> str:
    """The first line of ``str(value)``, cut to 120 characters."""
    text = str(value).strip()
    first = text.splitlines()[0].strip() if text else ""
    return first if len(first) <= 120 else first[:117] + "..."


__all__ = ["DECODE_ERRORS", "decoding", "error_phrase"]
