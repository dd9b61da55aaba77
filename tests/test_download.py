"""Downloads against a loopback HTTP server: full, resumed, corrupt, refused and offline, and the
sha256 a Hugging Face hub publishes for a file (a loopback server answering as the hub does)."""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from unflat.download import download, file_sha256, hub_digest, is_hub_url, offline
from unflat.errors import WeightsError
from unflat.io.guard import error_phrase

PAYLOAD = os.urandom(3 * (1 << 20) + 12345)  # more than one 1 MiB read, not a multiple of it
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


HUB_FILE = "/org/model/resolve/main/file"


class _RangeHandler(BaseHTTPRequestHandler):
    """Serves ``server.payload`` at /file, honouring ``Range: bytes=N-`` unless told not to.

    Hub paths answer as huggingface.co does: ``/org/model/resolve/main/file`` redirects to the
    storage host (here /file) and carries the LFS sha256 in ``X-Linked-Etag`` and the size in
    ``X-Linked-Size``; ``/old/model/...`` (a renamed repository) redirects relatively to it;
    ``.../small.txt`` is a plain git file whose ``ETag`` is a git sha1.
    """

    server: _Server

    def do_HEAD(self) -> None:
        self.server.heads.append(self.path)
        if not self._hub():
            self.send_error(405)

    def _hub(self) -> bool:
        """Answer a hub path (redirect or plain git file); False for any other path."""
        if self.path.startswith("/old/model/resolve/main/"):
            self.send_response(307)
            self.send_header("Location", self.path.replace("/old/", "/org/", 1))
        elif self.path == HUB_FILE:
            self.send_response(302)
            self.send_header("Location", self.server.url)
            self.send_header("X-Linked-Etag", f'"{self.server.hub_sha}"')
            self.send_header("X-Linked-Size", str(len(self.server.payload)))
            self.send_header("ETag", '"not-the-file-hash"')
        elif self.path == "/org/model/resolve/main/small.txt":
            self.send_response(200)
            self.send_header("ETag", '"' + "a" * 40 + '"')
        else:
            return False
        self.send_header("Content-Length", "0")
        self.end_headers()
        return True

    def do_GET(self) -> None:
        server = self.server
        if self._hub():
            return
        server.seen_ranges.append(self.headers.get("Range"))
        if self.path != "/file":
            self.send_error(404)
            return
        data = server.payload
        wanted = self.headers.get("Range")
        if wanted and server.ranges:
            start = int(wanted.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            body = data[start:]
        else:
            self.send_response(200)
            body = data
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if server.cut_after is not None:
            # Promise the whole body, send part of it, hang up: a dropped connection.
            self.wfile.write(body[: server.cut_after])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass


class _Server(ThreadingHTTPServer):
    payload: bytes = PAYLOAD
    ranges: bool = True
    cut_after: int | None = None
    hub_sha: str = PAYLOAD_SHA

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _RangeHandler)
        self.seen_ranges: list[str | None] = []
        self.heads: list[str] = []

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def url(self) -> str:
        return f"{self.base}/file"


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that tries to reach beyond 127.0.0.1."""
    real = socket.create_connection

    def guarded(address, *args, **kwargs):
        assert address[0] in ("127.0.0.1", "localhost"), f"test tried to reach {address}"
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)
    monkeypatch.delenv("UNFLAT_OFFLINE", raising=False)


@pytest.fixture
def server() -> Iterator[_Server]:
    httpd = _Server()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _part(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def test_full_download_verifies_and_renames(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "sub" / "model.pt"
    result = download([server.url], dest, len(PAYLOAD), PAYLOAD_SHA, progress=False, timeout=5)
    assert result.path == dest and result.url == server.url
    assert (result.size_bytes, result.sha256) == (len(PAYLOAD), PAYLOAD_SHA)
    assert dest.read_bytes() == PAYLOAD
    assert not _part(dest).exists()
    assert server.seen_ranges == [None]


def test_progress_bar_does_not_disturb_the_bytes(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "model.pt"
    download([server.url], dest, progress=True, timeout=5)
    assert file_sha256(dest) == PAYLOAD_SHA


def test_resumes_from_a_partial_file_with_a_range_request(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "model.pt"
    have = 1_000_003
    _part(dest).write_bytes(PAYLOAD[:have])
    download([server.url], dest, len(PAYLOAD), PAYLOAD_SHA, progress=False, timeout=5)
    assert server.seen_ranges == [f"bytes={have}-"]
    assert dest.read_bytes() == PAYLOAD


def test_server_without_range_support_restarts_from_zero(server: _Server, tmp_path: Path) -> None:
    server.ranges = False
    dest = tmp_path / "model.pt"
    _part(dest).write_bytes(b"stale bytes that must not stay in front")
    download([server.url], dest, None, PAYLOAD_SHA, progress=False, timeout=5)
    assert dest.read_bytes() == PAYLOAD


def test_complete_part_answered_with_416_is_kept(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "model.pt"
    _part(dest).write_bytes(PAYLOAD)
    download([server.url], dest, None, None, progress=False, timeout=5)
    assert dest.read_bytes() == PAYLOAD
    assert server.seen_ranges == [f"bytes={len(PAYLOAD)}-"]


def test_dropped_connection_keeps_the_part_and_the_next_run_resumes(
    server: _Server, tmp_path: Path
) -> None:
    dest = tmp_path / "model.pt"
    server.cut_after = 1 << 20
    with pytest.raises(WeightsError):
        download([server.url], dest, len(PAYLOAD), PAYLOAD_SHA, progress=False, timeout=5)
    assert not dest.exists()
    assert _part(dest).stat().st_size == 1 << 20

    server.cut_after = None
    download([server.url], dest, len(PAYLOAD), PAYLOAD_SHA, progress=False, timeout=5)
    assert server.seen_ranges[-1] == f"bytes={1 << 20}-"
    assert dest.read_bytes() == PAYLOAD


def test_sha256_mismatch_raises_and_leaves_no_file(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "model.pt"
    with pytest.raises(WeightsError, match="sha256") as caught:
        download([server.url], dest, None, "0" * 64, progress=False, timeout=5)
    assert not dest.exists()
    assert not _part(dest).exists()
    assert str(dest) in str(caught.value)


def test_mismatch_says_who_vouched_for_the_hash(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "model.pt"
    with pytest.raises(WeightsError) as caught:
        download(
            [server.url],
            dest,
            None,
            "0" * 64,
            progress=False,
            timeout=5,
            vouched_by="the test's hub",
            mismatch_hint="it was altered on the way",
        )
    assert f"sha256 {PAYLOAD_SHA}, but the test's hub gives {'0' * 64}" in caught.value.message
    assert caught.value.hint == "it was altered on the way"
    assert not dest.exists() and not _part(dest).exists()


def test_size_mismatch_raises_and_leaves_no_file(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "model.pt"
    with pytest.raises(WeightsError, match="size"):
        download([server.url], dest, len(PAYLOAD) + 1, None, progress=False, timeout=5)
    assert not dest.exists()
    assert not _part(dest).exists()


def test_falls_back_to_the_next_url(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "model.pt"
    missing = server.url.replace("/file", "/missing")
    download([missing, server.url], dest, None, PAYLOAD_SHA, progress=False, timeout=5)
    assert dest.read_bytes() == PAYLOAD


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_connection_refused_names_the_url_and_the_path(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_unused_port()}/depth_pro.pt"
    dest = tmp_path / "models" / "depth-pro" / "depth_pro.pt"
    with pytest.raises(WeightsError) as caught:
        download([url], dest, progress=False, timeout=5)
    line = str(caught.value)
    assert "\n" not in line
    assert f"could not download {dest.name}" in line
    assert f"fetch {url} by hand and save it as {dest}, then run the same command again" in line
    # Every command that downloads (`unflat models fetch` too) picks up a file put there; not
    # every command takes --weights, so the hint does not offer it.
    assert "--weights" not in line
    assert not dest.exists()


def test_offline_mode_never_touches_the_network(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("network used in offline mode")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setenv("UNFLAT_OFFLINE", "1")
    assert offline()
    dest = tmp_path / "model.pt"
    url = "https://example.invalid/model.pt"
    with pytest.raises(WeightsError, match="UNFLAT_OFFLINE") as caught:
        download([url], dest, progress=False)
    assert url in str(caught.value) and str(dest) in str(caught.value)


def test_file_sha256_streams_large_files(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    path.write_bytes(PAYLOAD)
    assert file_sha256(path) == PAYLOAD_SHA


# ---------------------------------------------------------------------------------------------
# The hub's own hash


def test_is_hub_url_judges_the_path_shape() -> None:
    assert is_hub_url("https://huggingface.co/apple/DepthPro/resolve/main/depth_pro.pt")
    assert is_hub_url("http://127.0.0.1:8000/org/model/resolve/v1.0/sub/file.bin")
    assert not is_hub_url("https://ml-site.cdn-apple.com/models/depth-pro/depth_pro.pt")
    assert not is_hub_url("ftp://huggingface.co/apple/DepthPro/resolve/main/depth_pro.pt")


def test_hub_digest_reads_the_lfs_sha256_from_the_redirect(server: _Server) -> None:
    published = hub_digest([server.url, server.base + HUB_FILE], timeout=5)
    assert published is not None
    assert (published.sha256, published.size_bytes) == (PAYLOAD_SHA, len(PAYLOAD))
    assert published.url == server.base + HUB_FILE
    # Only the hub URL was asked, once, and the redirect to the storage host was not followed.
    assert server.heads == [HUB_FILE] and server.seen_ranges == []


def test_hub_digest_follows_a_renamed_repository(server: _Server) -> None:
    published = hub_digest([server.base + "/old/model/resolve/main/file"], timeout=5)
    assert published is not None and published.sha256 == PAYLOAD_SHA
    assert server.heads == ["/old/model/resolve/main/file", HUB_FILE]


def test_hub_digest_ignores_git_sha1_etags_and_unreachable_hubs(server: _Server) -> None:
    assert hub_digest([server.base + "/org/model/resolve/main/small.txt"], timeout=5) is None
    dead = f"http://127.0.0.1:{_unused_port()}/org/model/resolve/main/file"
    assert hub_digest([dead], timeout=5) is None
    assert hub_digest([server.url], timeout=5) is None  # not a hub URL: not asked
    assert server.heads == ["/org/model/resolve/main/small.txt"]


def test_hub_digest_asks_nothing_offline(server: _Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNFLAT_OFFLINE", "1")
    assert hub_digest([server.base + HUB_FILE], timeout=5) is None
    assert server.heads == []


def test_download_through_the_hub_redirect(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "model.pt"
    result = download([server.base + HUB_FILE], dest, None, PAYLOAD_SHA, progress=False, timeout=5)
    assert dest.read_bytes() == PAYLOAD and result.sha256 == PAYLOAD_SHA


@pytest.mark.parametrize(
    ("error", "phrase"),
    [
        (urllib.error.HTTPError("u", 404, "Not Found", Message(), None), "HTTP 404 Not Found"),
        (urllib.error.URLError(ConnectionRefusedError(111, "Connection refused")),
         "[Errno 111] Connection refused"),
        (urllib.error.URLError(TimeoutError("timed out")), "timed out"),
        (urllib.error.URLError("unknown url type: ftp2"), "unknown url type: ftp2"),
        (TimeoutError(), "timed out"),
        (http.client.RemoteDisconnected("Remote end closed connection without response"),
         "Remote end closed connection without response"),
        (ValueError("first line\nsecond line"), "first line"),
        (OSError(), "OSError"),
    ],
)  # fmt: skip
def test_a_failed_request_is_one_short_phrase(error: BaseException, phrase: str) -> None:
    """The download's reasons come from the one phrase maker the readers use (io.guard)."""
    assert error_phrase(error) == phrase
