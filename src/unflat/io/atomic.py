"""Writes that never leave a half-written file behind.

A writer gets a temporary path beside the target; only when it finishes without an exception is
the file renamed into place (``os.replace`` is atomic on one filesystem, so readers see the old
file or the whole new one, never a part).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from unflat.errors import OutputError

_PERMISSION_HINT = "choose an output folder you can write to, or fix its permissions"


def ensure_output_dir(path: str | os.PathLike[str]) -> Path:
    """Create the folder ``path`` (with parents) if needed and check that we can write in it."""
    directory = Path(path).expanduser()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except FileExistsError as error:
        # mkdir(exist_ok=True) still raises when the name is taken by a file
        raise OutputError(
            f"cannot use {directory} as an output folder: a file with that name exists",
            hint="pick another output path or move the file away",
        ) from error
    except NotADirectoryError as error:
        raise OutputError(
            f"cannot create output folder {directory}: part of its path is a file",
            hint="pick another output path",
        ) from error
    except PermissionError as error:
        raise OutputError(
            f"cannot create output folder {directory}: permission denied", hint=_PERMISSION_HINT
        ) from error
    except OSError as error:
        raise OutputError(
            f"cannot create output folder {directory}: {error.strerror or error}",
            hint=_PERMISSION_HINT,
        ) from error
    # access() also reports a read-only filesystem; root passes it, which matches what root can do
    if not os.access(directory, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write in output folder {directory}", hint=_PERMISSION_HINT)
    return directory


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` if the block succeeds.

    The temporary name ends with the target's suffix, so writers that choose the format from the
    extension (OpenCV, Pillow, ``np.save``) behave as for the target. On any exception the
    temporary file is removed and the exception propagates (``OSError`` as ``OutputError``).
    With ``overwrite=False`` an existing target is an ``OutputError``, not silently replaced.
    """
    target = Path(path).expanduser()
    if target.is_dir():
        raise OutputError(f"cannot write {target}: it is a folder", hint="give a file name")
    if not overwrite and target.exists():
        raise OutputError(f"{target} already exists", hint="pass --overwrite to replace it")
    directory = ensure_output_dir(target.parent)
    # A hidden name that keeps the real suffix last; the random part avoids clashes between
    # concurrent runs writing the same target.
    temporary = directory / f".{target.name}.{secrets.token_hex(4)}.tmp{target.suffix}"
    try:
        # O_EXCL: never reuse someone else's file; mode 0o666 lets the umask decide, unlike
        # tempfile.mkstemp whose 0o600 would survive the rename and surprise the user.
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        os.close(descriptor)
    except PermissionError as error:
        raise OutputError(
            f"cannot write {target}: permission denied", hint=_PERMISSION_HINT
        ) from error
    except OSError as error:
        raise OutputError(
            f"cannot write {target}: {error.strerror or error}", hint=_PERMISSION_HINT
        ) from error

    try:
        yield temporary
        os.replace(temporary, target)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        if isinstance(error, OSError):
            raise OutputError(
                f"could not write {target}: {error.strerror or error}",
                hint="check free disk space and the permissions of the output folder",
            ) from error
        raise


def _non_finite_path(data: object, path: str = "the value") -> str | None:
    """Where in ``data`` the first NaN or infinity is, as ``the value['a'][2]``; None if nowhere."""
    if isinstance(data, float):
        return None if math.isfinite(data) else path
    if isinstance(data, dict):
        items = list(data.items())
    elif isinstance(data, list | tuple):
        items = list(enumerate(data))
    else:
        return None
    for key, value in items:
        if (found := _non_finite_path(value, f"{path}[{key!r}]")) is not None:
            return found
    return None


def write_json(
    path: str | os.PathLike[str],
    data: object,
    *,
    indent: int | None = 2,
    trailing_newline: bool = True,
    overwrite: bool = True,
) -> Path:
    """Write ``data`` as JSON to ``path`` atomically (see :func:`atomic_write`); return the path.

    ``json.dumps(data, indent=indent)``, plus a final newline unless ``trailing_newline`` is
    False, encoded as UTF-8 (the text is ASCII anyway: ``json.dumps`` escapes the rest).
    """
    try:
        text = json.dumps(data, indent=indent, allow_nan=False) + ("\n" if trailing_newline else "")
    except ValueError:
        # NaN is not JSON: a sidecar holding it would break every reader of the file.
        raise OutputError(
            f"cannot write {path}: {_non_finite_path(data) or 'a value'} is NaN or infinite",
            "a computation failed silently; this is a bug in unflat, please report it",
        ) from None
    target = Path(path).expanduser()
    with atomic_write(target, overwrite=overwrite) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return target
