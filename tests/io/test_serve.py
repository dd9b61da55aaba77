"""The server of ``unflat view``: only its own names, only with the token, only on 127.0.0.1.

Each attempt is a raw HTTP request (a socket, so nothing normalises the path on the way) and the
status expected. ``UNFLAT_WRITE_DOCS=1`` writes the table of attempts and answers into
docs/viewer.md; otherwise the test checks that the table there is the one it produces.
"""

from __future__ import annotations

import gzip
import os
import socket
from pathlib import Path

import pytest

from unflat.errors import ConfigError, InputError
from unflat.io.serve import HOST, Resource, TokenServer, file_resource

DOC = Path(__file__).resolve().parents[2] / "docs" / "viewer.md"
BEGIN, END = "<!-- attempts: begin -->", "<!-- attempts: end -->"
SECRET = b"root:x:0:0:secret\n"
SCENE = b"ply\nformat binary_little_endian 1.0\n(scene bytes)\n"


def request(
    port: int, target: str, method: str = "GET", host: str | None = None
) -> tuple[int, bytes]:
    """Send one raw request; the status code and the body."""
    host = host or f"{HOST}:{port}"
    with socket.create_connection((HOST, port), timeout=10) as connection:
        connection.sendall(
            f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode(
                "latin-1"
            )
        )
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@pytest.fixture
def served(tmp_path):
    """A server of a page and one scene, beside a secret file, a symlink to it and a sidecar."""
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (tmp_path / "photo.ply").write_bytes(SCENE)
    (tmp_path / "photo.scene.json").write_text("{}")
    (tmp_path / "link.ply").symlink_to(tmp_path / "secret.txt")
    (tmp_path / "scene_link.ply").symlink_to(tmp_path / "photo.ply")
    resources = {
        "index.html": Resource("text/html", content=b"<!doctype html>page"),
        "scene.ply": file_resource(tmp_path / "scene_link.ply", "application/octet-stream"),
    }
    with TokenServer(resources).start() as server:
        yield server, tmp_path


def attempts() -> list[tuple[str, str, str, int]]:
    """(what is tried, method, request target, expected status).

    In the targets TOKEN stands for the token, TOKEM for it with its last character changed,
    WRONG for another string of its length, HALF for its first half, UPPER for it in upper
    case, PORT for the port and SECRET for the absolute path of a file beside the scene.
    """
    return [
        ("the page", "GET", "/TOKEN/", 200),
        ("the page by name", "GET", "/TOKEN/index.html", 200),
        ("the scene", "GET", "/TOKEN/scene.ply", 200),
        ("the scene, HEAD", "HEAD", "/TOKEN/scene.ply", 200),
        ("a query string is ignored", "GET", "/TOKEN/scene.ply?x=1", 200),
        ("no token: the root", "GET", "/", 404),
        ("no token: the page", "GET", "/index.html", 404),
        ("no token: the scene", "GET", "/scene.ply", 404),
        ("token in the query instead", "GET", "/?token=TOKEN", 404),
        ("a wrong token of the same length", "GET", "/WRONG/", 404),
        ("the token with one character changed", "GET", "/TOKEM/", 404),
        ("the token's first half", "GET", "/HALF/", 404),
        ("the token without the slash (a listing?)", "GET", "/TOKEN", 404),
        ("the token in upper case", "GET", "/UPPER/", 404),
        ("the scene under its own name", "GET", "/TOKEN/photo.ply", 404),
        ("the scene's sidecar beside it", "GET", "/TOKEN/photo.scene.json", 404),
        ("a file beside the scene", "GET", "/TOKEN/secret.txt", 404),
        ("a symlink beside the scene to a secret", "GET", "/TOKEN/link.ply", 404),
        ("`..` out of the token", "GET", "/TOKEN/../etc/passwd", 404),
        ("`..` back into the token", "GET", "/TOKEN/../TOKEN/index.html", 404),
        ("`.` segment", "GET", "/TOKEN/./index.html", 404),
        ("many `..`", "GET", "/TOKEN/" + "../" * 12 + "etc/passwd", 404),
        ("encoded `%2e%2e`", "GET", "/TOKEN/%2e%2e/%2e%2e/etc/passwd", 404),
        ("encoded slashes `..%2f`", "GET", "/TOKEN/..%2f..%2fetc%2fpasswd", 404),
        (
            "double-encoded `%252e%252e`",
            "GET",
            "/TOKEN/%252e%252e%252f%252e%252e%252fetc%252fpasswd",
            404,
        ),
        ("overlong UTF-8 dot `%c0%ae`", "GET", "/TOKEN/%c0%ae%c0%ae/etc/passwd", 404),
        ("backslashes `..\\`", "GET", "/TOKEN/..\\..\\etc\\passwd", 404),
        ("encoded backslashes `..%5c`", "GET", "/TOKEN/..%5c..%5cetc%5cpasswd", 404),
        ("an absolute path", "GET", "/etc/passwd", 404),
        ("an absolute path after the token", "GET", "/TOKEN//etc/passwd", 404),
        ("the secret file's absolute path", "GET", "/TOKEN/SECRET", 404),
        ("an absolute URL as the target", "GET", "http://127.0.0.1:PORT/TOKEN/../etc/passwd", 404),
        ("a NUL byte `%00`", "GET", "/TOKEN/index.html%00.ply", 404),
        ("a trailing slash on the scene", "GET", "/TOKEN/scene.ply/", 404),
        ("`*` (server-wide OPTIONS target)", "OPTIONS", "*", 405),
        ("a made-up method", "BREW", "/TOKEN/", 501),
        ("POST to the page", "POST", "/TOKEN/", 405),
        ("PUT a file", "PUT", "/TOKEN/new.txt", 405),
        ("DELETE the scene", "DELETE", "/TOKEN/scene.ply", 405),
    ]


def realise(target: str, server: TokenServer, folder: Path) -> str:
    """The raw request target that a target of :func:`attempts` stands for."""
    token = server.token
    changed = token[:-1] + ("B" if token[-1] != "B" else "C")
    names = {"TOKEM": changed, "TOKEN": token, "WRONG": "A" * len(token), "HALF": token[:16]}
    names |= {"UPPER": token.upper(), "PORT": str(server.port)}
    names["SECRET"] = str(folder / "secret.txt").lstrip("/")
    for name, value in names.items():
        target = target.replace(name, value)
    return target


def run_attempts(server: TokenServer, folder: Path) -> list[tuple[str, str, str, int, int]]:
    rows = []
    for what, method, target, expected in attempts():
        status, body = request(server.port, realise(target, server, folder), method)
        assert SECRET not in body, what
        rows.append((what, method, target, expected, status))
    return rows


def test_only_the_named_files_are_served(served):
    server, folder = served
    rows = run_attempts(server, folder)
    wrong = [
        (what, expected, status) for what, _, _, expected, status in rows if expected != status
    ]
    assert not wrong
    assert request(server.port, f"/{server.token}/scene.ply")[1] == SCENE
    status, _ = request(server.port, f"/{server.token}/", host="evil.example")
    assert status == 421  # a page elsewhere that rebinds its name to 127.0.0.1 gets nothing
    rows.append(("another site's Host header (DNS rebinding)", "GET", "/TOKEN/", 421, status))
    check_doc_table(rows)


def test_a_swapped_symlink_does_not_change_what_is_served(served):
    server, folder = served
    (folder / "scene_link.ply").unlink()
    (folder / "scene_link.ply").symlink_to(folder / "secret.txt")
    assert request(server.port, f"/{server.token}/scene.ply") == (200, SCENE)


def test_it_listens_on_loopback_only(served):
    server, _ = served
    assert server.httpd.server_address[0] == "127.0.0.1"
    other = outward_address()
    if other is None:
        pytest.skip("this machine has no address besides loopback")
    with pytest.raises(OSError):
        socket.create_connection((other, server.port), timeout=2).close()


def outward_address() -> str | None:
    """This machine's address on its default route (no packet is sent), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_tokens_differ_and_are_long(tmp_path):
    page = {"index.html": Resource("text/html", content=b"x")}
    with TokenServer(page) as first, TokenServer(page) as second:
        assert first.token != second.token
        assert len(first.token) >= 32  # 192 bits in URL-safe base64
        assert first.url == f"http://127.0.0.1:{first.port}/{first.token}/"


def test_a_port_in_use_is_a_config_error():
    page = {"index.html": Resource("text/html", content=b"x")}
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        with pytest.raises(ConfigError, match="is in use") as caught:
            TokenServer(page, port=taken.getsockname()[1])
    assert "--port" in caught.value.hint


def test_a_missing_or_folder_scene_is_refused(tmp_path):
    with pytest.raises(InputError, match="is not a file"):
        file_resource(tmp_path / "missing.ply", "application/octet-stream")
    with pytest.raises(InputError, match="is not a file"):
        file_resource(tmp_path, "application/octet-stream")


def test_gzip_pages_are_sent_encoded_or_inflated():
    script = Resource("text/javascript", content=gzip.compress(b"js!"), gzipped=True)
    page = {"index.html": Resource("text/html", content=b"x"), "viewer.js": script}
    with TokenServer(page).start() as server:
        # a client that does not say it takes gzip gets the plain bytes
        assert request(server.port, f"/{server.token}/viewer.js")[1] == b"js!"
        with socket.create_connection((HOST, server.port), timeout=10) as connection:
            connection.sendall(
                f"GET /{server.token}/viewer.js HTTP/1.1\r\nHost: {HOST}:{server.port}\r\n"
                "Accept-Encoding: gzip, br\r\nConnection: close\r\n\r\n".encode()
            )
            data = b""
            while chunk := connection.recv(65536):
                data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Content-Encoding: gzip" in head
    assert gzip.decompress(body) == b"js!"


def table(rows: list[tuple[str, str, str, int, int]]) -> str:
    lines = ["| attempt | request | expected | answer |", "|---|---|---|---|"]
    for what, method, target, expected, status in rows:
        shown = target.replace("|", "\\|").replace("`", "")
        lines.append(f"| {what} | `{method} {shown}` | {expected} | {status} |")
    return "\n".join(lines)


def check_doc_table(rows: list[tuple[str, str, str, int, int]]) -> None:
    produced = f"{BEGIN}\n{table(rows)}\n{END}"
    text = DOC.read_text(encoding="utf-8") if DOC.is_file() else ""
    if os.environ.get("UNFLAT_WRITE_DOCS") == "1":
        before, _, rest = text.partition(BEGIN)
        _, _, after = rest.partition(END)
        DOC.write_text(before + produced + after, encoding="utf-8")
        return
    assert produced in text, "docs/viewer.md's table is stale: rerun with UNFLAT_WRITE_DOCS=1"
