"""Resumable, verified downloads over plain ``urllib`` (no extra HTTP dependency).

A download streams to ``<dest>.part``, resumes that file with an HTTP ``Range`` request when it is
run again, checks size and sha256 when they are known, and only then renames the result into
place, so ``dest`` either does not exist or is complete.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from unflat import __version__
from unflat.errors import WeightsError

CONNECT_TIMEOUT_S = 15.0
CHUNK_BYTES = 1 << 20
_USER_AGENT = f"unflat/{__version__} (+https://github.com/unflat)"


def offline() -> bool:
    """True when ``UNFLAT_OFFLINE`` forbids any network access."""
    return os.environ.get("UNFLAT_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The hex sha256 of a file, read in chunks so multi-gigabyte files need little memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def manual_hint(urls: Sequence[str], dest: Path) -> str:
    """The one-line instruction for fetching ``dest`` by hand."""
    source = urls[0] if urls else "the model's homepage"
    return f"fetch {source} by hand and save it as {dest}, or pass --weights PATH"


def download(
    urls: Sequence[str],
    dest: str | os.PathLike[str],
    expected_size: int | None = None,
    expected_sha256: str | None = None,
    progress: bool = True,
    timeout: float = CONNECT_TIMEOUT_S,
) -> Path:
    """Download the first of ``urls`` that works to ``dest`` and return ``dest``.

    Raises ``WeightsError`` (saying which file to fetch by hand and where to put it) when offline,
    when every URL fails, or when the result does not match ``expected_size``/``expected_sha256``.
    """
    dest = Path(dest)
    part = dest.with_suffix(dest.suffix + ".part")
    hint = manual_hint(urls, dest)
    if offline():
        raise WeightsError(f"{dest.name} is not downloaded and UNFLAT_OFFLINE is set", hint)
    if not urls:
        raise WeightsError(f"no download source is known for {dest.name}", hint)
    dest.parent.mkdir(parents=True, exist_ok=True)

    reasons: list[str] = []
    for url in urls:
        try:
            _fetch_to_part(url, part, expected_size, progress, timeout)
            _verify(part, expected_size, expected_sha256)
        except _CorruptDownload as error:
            # A mismatching file is useless and must not be resumed later: drop it, try the next.
            part.unlink(missing_ok=True)
            reasons.append(f"{url}: {error}")
            continue
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as error:
            # HTTPError is a URLError; socket timeouts and resets are OSErrors. The .part stays so
            # the next attempt (this mirror or a later run) resumes where this one stopped.
            reasons.append(f"{url}: {_describe(error)}")
            continue
        os.replace(part, dest)
        return dest

    raise WeightsError(f"could not download {dest.name} ({reasons[-1]})", hint)


class _CorruptDownload(Exception):
    """The bytes arrived but are not the expected file."""


def _describe(error: BaseException) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return str(error.reason)
    if isinstance(error, TimeoutError):
        return "timed out"
    return str(error) or type(error).__name__


def _fetch_to_part(
    url: str, part: Path, expected_size: int | None, progress: bool, timeout: float
) -> None:
    """Stream ``url`` into ``part``, resuming from its current length when the server allows."""
    have = part.stat().st_size if part.exists() else 0
    if expected_size is not None and have > expected_size:
        part.unlink()
        have = 0
    if expected_size is not None and have == expected_size:
        return  # a previous run got every byte but stopped before verifying

    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code != 416 or not have:
            raise
        # The offset is at or past the end of the remote file: complete if the lengths agree,
        # otherwise the part belongs to some other file and we start over.
        remote = error.headers.get("Content-Range", "")
        error.close()
        if remote.endswith(f"/{have}"):
            return
        part.unlink()
        _fetch_to_part(url, part, expected_size, progress, timeout)
        return

    with response:
        status = getattr(response, "status", 200)
        if have and status == 206:
            start = _content_range_start(response.headers.get("Content-Range"))
            if start != have:
                raise _CorruptDownload(f"server resumed at byte {start}, not {have}")
            mode = "ab"
        else:
            # 200 means the server ignored Range and sends the whole file: start over.
            have = 0
            mode = "wb"
        length = response.headers.get("Content-Length")
        total = have + int(length) if length and length.isdigit() else expected_size

        with open(part, mode) as handle, _Progress(part.stem, total, have, progress) as bar:
            while chunk := response.read(CHUNK_BYTES):
                handle.write(chunk)
                bar.advance(len(chunk))

    if total is not None and part.stat().st_size < total:
        # A connection that closes early is a network failure; keep the part for resuming.
        raise OSError(f"connection closed after {part.stat().st_size} of {total} bytes")


def _content_range_start(value: str | None) -> int | None:
    # "bytes 100-199/200" -> 100
    if not value or not value.startswith("bytes "):
        return None
    try:
        return int(value[6:].split("-", 1)[0])
    except ValueError:
        return None


def _verify(part: Path, expected_size: int | None, expected_sha256: str | None) -> None:
    size = part.stat().st_size
    if expected_size is not None and size != expected_size:
        raise _CorruptDownload(f"size {size} bytes, expected {expected_size}")
    if expected_sha256 is not None:
        actual = file_sha256(part)
        if actual.lower() != expected_sha256.lower():
            raise _CorruptDownload(f"sha256 {actual}, expected {expected_sha256}")


class _Progress:
    """A rich progress bar on stderr (bytes, speed, ETA), or nothing when disabled."""

    def __init__(self, label: str, total: int | None, done: int, enabled: bool) -> None:
        self._bar = None
        self._task = None
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(file=sys.stderr),
            transient=False,
        )
        self._task = self._bar.add_task(label, total=total, completed=done)

    def __enter__(self) -> _Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def advance(self, count: int) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, count)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
