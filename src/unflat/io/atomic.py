"""Writes that never leave a half-written file behind, and locks between concurrent runs.

A writer gets a temporary path beside the target; only when it finishes without an exception is
the file renamed into place (``os.replace`` is atomic on one filesystem, so readers see the old
file or the whole new one, never a part).

A process killed mid-write (kill -9, power loss) cannot remove its temporary file, so the
temporary name carries the writer's process id and a tag of its machine:
``.NAME.HOST-PID-RANDOM.tmp.SUFFIX``. :func:`remove_stale_files` removes those whose writer is
gone (batches call it on their output folders before starting). :func:`hold` is a lock on a
file that the operating system releases when its holder dies, so it never goes stale.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import re
import secrets
import socket
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

from unflat.errors import OutputError

try:  # POSIX; Windows locks through msvcrt instead
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

_PERMISSION_HINT = "choose an output folder you can write to, or fix its permissions"
#: The suffix of the lock files :func:`hold` creates.
LOCK_SUFFIX = ".unflat-lock"
#: A temporary file or lock untouched for this long is stale whoever wrote it: its writer is on
#: another machine (or in another container) whose processes we cannot see, and writers touch
#: their file as they write.
STALE_AFTER_S = 24 * 3600
# host tag, pid and random part; both are optional in names written before they were added
_TEMPORARY = re.compile(
    r"^\..+\.(?:(?P<host>[0-9a-f]{4})-(?P<pid>\d+)-)?[0-9a-f]{8}\.tmp(\.[^.]*)?$"
)
# flock's answers on a filesystem that has no locks
_NO_LOCKS = frozenset({errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS})
# The temporary files this process has open: a process id reused after a kill (pid 1 in a
# container) must not make a dead writer's file look like one of ours.
_OWN_TEMPORARIES: set[Path] = set()


def _host_tag() -> str:
    """Four hex digits naming this machine, so that its process ids are only checked here."""
    return f"{zlib.crc32(socket.gethostname().encode()) & 0xFFFF:04x}"


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
    # A hidden name that keeps the real suffix last; the writer's machine and process id let a
    # later run tell a dead writer's leftover from a live one; the random part avoids clashes
    # between concurrent writers of the same target.
    writer = f"{_host_tag()}-{os.getpid()}-{secrets.token_hex(4)}"
    temporary = directory / f".{target.name}.{writer}.tmp{target.suffix}"
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

    _OWN_TEMPORARIES.add(temporary)
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
    finally:
        _OWN_TEMPORARIES.discard(temporary)


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


def remove_stale_files(directory: str | os.PathLike[str]) -> list[Path]:
    """Remove the leftovers of killed runs in ``directory`` (not its subfolders); return them.

    A temporary file of :func:`atomic_write` is stale when its writer's process is gone (the
    name says which process on which machine), or, for writers we cannot check (another
    machine, Windows, names without a process id), when it has not been touched for
    :data:`STALE_AFTER_S`. A lock file of :func:`hold` is stale when nobody holds it.
    """
    folder = Path(directory)
    removed: list[Path] = []
    try:
        entries = [path for path in folder.iterdir() if path.name.startswith(".")]
    except OSError:
        return removed  # an unreadable folder is reported by whatever writes in it
    for path in entries:
        if path.name.endswith(LOCK_SUFFIX):
            with hold(path, wait=False) as held:  # taking a free lock removes its file
                if held:
                    removed.append(path)
            continue
        match = _TEMPORARY.match(path.name)
        if match is None or not _temporary_is_stale(path, match["host"], match["pid"]):
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed


def _temporary_is_stale(path: Path, host: str | None, pid: str | None) -> bool:
    if path in _OWN_TEMPORARIES:
        return False
    if host == _host_tag() and pid is not None and sys.platform != "win32":
        return not _process_alive(int(pid))
    try:
        return time.time() - path.stat().st_mtime > STALE_AFTER_S
    except FileNotFoundError:
        return False


def _process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (POSIX only: signal 0 checks, sends nothing).

    Our own id counts as dead: a temporary file of ours that is not in ``_OWN_TEMPORARIES`` was
    left by an earlier process that had the same id.
    """
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists and belongs to another user
    except OverflowError:
        return False
    return True


@contextlib.contextmanager
def hold(path: str | os.PathLike[str], *, wait: bool) -> Iterator[bool]:
    """Hold the lock file ``path`` during the block; yield whether it is held.

    Another process (or another open of the file in this one) holding it gives False at once,
    or, with ``wait``, blocks until it is released. The operating system releases the lock when
    its holder dies, so a killed run never leaves a lock that blocks the next one; the file is
    removed on release. Creating the file fails as :class:`OutputError` (e.g. a full disk).
    """
    lock = Path(path)
    descriptor = _acquire(lock, wait)
    if descriptor is None:
        yield False
        return
    try:
        yield True
    finally:
        _release(lock, descriptor)


def _acquire(lock: Path, wait: bool) -> int | None:
    while True:
        try:
            descriptor = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as error:
            raise OutputError(
                f"cannot create the lock file {lock}: {error.strerror or error}",
                hint="check free disk space and the permissions of the output folder",
            ) from error
        try:
            if not _lock_descriptor(descriptor, wait):
                os.close(descriptor)
                return None
            # The holder we waited for removed the file as it released it: the lock we got is
            # on a file nobody else will open again, so start over with the current one.
            if _same_file(descriptor, lock):
                _note_holder(descriptor)
                return descriptor
        except BaseException:
            os.close(descriptor)
            raise
        os.close(descriptor)


def _lock_descriptor(descriptor: int, wait: bool) -> bool:
    if fcntl is not None:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            return False
        except OSError as error:
            # A filesystem without locks (some network and FUSE mounts): go on unlocked, as
            # before locks existed, rather than refuse to work there at all.
            if error.errno in _NO_LOCKS:
                return True
            raise
        return True
    import msvcrt  # pragma: no cover - Windows

    while True:  # pragma: no cover - Windows
        try:
            msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            if not wait:
                return False
            time.sleep(0.2)


def _same_file(descriptor: int, path: Path) -> bool:
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(descriptor)
    return (held.st_dev, held.st_ino) == (on_disk.st_dev, on_disk.st_ino)


def _note_holder(descriptor: int) -> None:
    """Write who holds the lock, for a person wondering why an item waits (best effort)."""
    with contextlib.suppress(OSError):
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()} {socket.gethostname()}\n".encode())


def _release(lock: Path, descriptor: int) -> None:
    if fcntl is not None:
        # Remove while still holding it, so nobody locks the old file after we let go.
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()
        os.close(descriptor)
        return
    os.close(descriptor)  # pragma: no cover - Windows cannot remove an open file
    with contextlib.suppress(OSError):  # pragma: no cover - another process opened it
        lock.unlink()
