"""Downloads against a loopback HTTP server: full, resumed, corrupt, refused and offline."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from unflat.download import download, file_sha256, offline
from unflat.errors import WeightsError

PAYLOAD = os.urandom(3 * (1 << 20) + 12345)  # more than one 1 MiB read, not a multiple of it
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _RangeHandler(BaseHTTPRequestHandler):
    """Serves ``server.payload`` at /file, honouring ``Range: bytes=N-`` unless told not to."""

    server: _Server

    def do_GET(self) -> None:
        server = self.server
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

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _RangeHandler)
        self.seen_ranges: list[str | None] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/file"


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
    assert result == dest
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
    assert f"fetch {url} by hand and save it as {dest}" in line
    assert "--weights PATH" in line
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
