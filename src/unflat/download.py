"""Resumable, verified downloads over plain ``urllib`` (no extra HTTP dependency).

A download streams to ``<dest>.part``, resumes that file with an HTTP ``Range`` request when it is
run again, checks size and sha256 when they are known, and only then renames the result into
place, so ``dest`` either does not exist or is complete.

Where the expected sha256 comes from is the caller's choice (``unflat.weights``: the registry,
else the source's own hash, else the record of the first download). ``hub_digest`` reads the
source's own hash from a Hugging Face hub: a ``HEAD`` on a ``.../resolve/<revision>/<file>`` URL
answers, for files kept in Git LFS, with the file's sha256 in ``X-Linked-Etag`` and its size in
``X-Linked-Size``, on the redirect to the storage host (which is therefore not followed).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

from unflat import __version__
from unflat.errors import WeightsError
from unflat.io.guard import error_phrase

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
    """The one-line instruction for fetching ``dest`` by hand.

    It ends in "run the same command again", which is right for every command that gets here:
    ``unflat models fetch`` and the commands that run a model all pick up a file put there.
    """
    source = urls[0] if urls else "the model's homepage"
    return f"fetch {source} by hand and save it as {dest}, then run the same command again"


@dataclass(frozen=True)
class Downloaded:
    """A file in place: where it came from, its size and sha256 (hashed once, while verifying)."""

    path: Path
    url: str
    size_bytes: int
    sha256: str


def download(
    urls: Sequence[str],
    dest: str | os.PathLike[str],
    expected_size: int | None = None,
    expected_sha256: str | None = None,
    progress: bool = True,
    timeout: float = CONNECT_TIMEOUT_S,
    *,
    vouched_by: str = "the expected value",
    mismatch_hint: str | None = None,
) -> Downloaded:
    """Download the first of ``urls`` that works to ``dest``.

    Raises ``WeightsError`` (saying which file to fetch by hand and where to put it) when offline,
    when every URL fails, or when the result does not match ``expected_size``/``expected_sha256``.
    ``vouched_by`` names where those values come from (for the message); ``mismatch_hint``
    replaces the manual-download hint when the last failure was a mismatch.
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
            digest = _verify(part, expected_size, expected_sha256, vouched_by)
        except _CorruptDownload as error:
            # A mismatching file is useless and must not be resumed later: drop it, try the next.
            part.unlink(missing_ok=True)
            reasons.append(f"{url}: {error}")
            hint = mismatch_hint or hint
            continue
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as error:
            # HTTPError is a URLError; socket timeouts and resets are OSErrors. The .part stays so
            # the next attempt (this mirror or a later run) resumes where this one stopped.
            reasons.append(f"{url}: {error_phrase(error)}")
            hint = manual_hint(urls, dest)
            continue
        size = part.stat().st_size
        os.replace(part, dest)
        return Downloaded(dest, url, size, digest)

    raise WeightsError(f"could not download {dest.name} ({reasons[-1]})", hint)


# ---------------------------------------------------------------------------------------------
# The source's own hash (Hugging Face hub)


@dataclass(frozen=True)
class Published:
    """What a source itself says about a file: its sha256 and, when given, its size."""

    url: str
    sha256: str
    size_bytes: int | None


_SHA256 = re.compile(r"[0-9a-f]{64}")
_MAX_HOPS = 5


def is_hub_url(url: str) -> bool:
    """True for a Hugging Face hub file URL (``<endpoint>/<repo>/resolve/<revision>/<path>``).

    Judged by the path's shape, not the host, so mirrors and ``HF_ENDPOINT``-style hubs count.
    """
    parts = urllib.parse.urlsplit(url)
    return parts.scheme in ("http", "https") and "/resolve/" in parts.path


def hub_digest(urls: Sequence[str], timeout: float = CONNECT_TIMEOUT_S) -> Published | None:
    """The sha256 (and size) the first hub URL of ``urls`` publishes, or None.

    None when no URL is a hub URL, when the hub cannot be reached, or when the file is not in
    Git LFS (small git files carry a sha1 ``ETag``, which is not a sha256 and is ignored).
    Never raises for network trouble: the download that follows reports that.
    """
    if offline():
        return None
    for url in urls:
        if not is_hub_url(url):
            continue
        try:
            headers = _head_without_redirect(url, timeout)
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError):
            continue
        digest = _normalise_etag(headers.get("X-Linked-Etag") or headers.get("ETag") or "")
        if digest is None:
            continue
        size = headers.get("X-Linked-Size", "")
        return Published(url, digest, int(size) if size.isdigit() else None)
    return None


def _normalise_etag(value: str) -> str | None:
    # 'W/"abc..."' or '"abc..."' -> 'abc...'; only a 64-hex value is a sha256.
    value = value.strip().removeprefix("W/").strip('"').lower()
    return value if _SHA256.fullmatch(value) else None


class _StopRedirects(urllib.request.HTTPRedirectHandler):
    """Hand every redirect back as an ``HTTPError``: its headers are the ones we want."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _head_without_redirect(url: str, timeout: float) -> Message:
    """The headers of a ``HEAD`` on ``url``, following only same-host redirects.

    The hub answers a file URL with a redirect to its storage host and puts the file's hash on
    that redirect; a renamed repository answers with a relative redirect on the hub itself.
    """
    opener = urllib.request.build_opener(_StopRedirects)
    for _ in range(_MAX_HOPS):
        request = urllib.request.Request(
            url,
            method="HEAD",
            headers={"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"},
        )
        try:
            with opener.open(request, timeout=timeout) as response:
                return response.headers
        except urllib.error.HTTPError as error:
            error.close()
            location = error.headers.get("Location")
            if error.code not in (301, 302, 303, 307, 308) or not location:
                raise
            if "X-Linked-Etag" in error.headers or urllib.parse.urlsplit(location).netloc:
                return error.headers
            url = urllib.parse.urljoin(url, location)
    raise ValueError(f"too many redirects from {url}")


class _CorruptDownload(Exception):
    """The bytes arrived but are not the expected file."""


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


def _verify(
    part: Path, expected_size: int | None, expected_sha256: str | None, vouched_by: str
) -> str:
    """The sha256 of ``part``, after checking it (and its size) against the expected values."""
    size = part.stat().st_size
    if expected_size is not None and size != expected_size:
        raise _CorruptDownload(f"{size} bytes, but {vouched_by} gives {expected_size}")
    actual = file_sha256(part)
    if expected_sha256 is not None and actual.lower() != expected_sha256.lower():
        raise _CorruptDownload(f"sha256 {actual}, but {vouched_by} gives {expected_sha256}")
    return actual


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
