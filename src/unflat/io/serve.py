"""A local web server for a fixed set of files, behind a random token: what ``unflat view`` runs.

Nothing is looked up on disk from a request. The server holds a table of names (``index.html``,
``scene.ply`` ...) and the bytes or the one file each stands for, fixed when it starts; a request
is answered only when its raw path is exactly ``/TOKEN/NAME`` for a name in that table. The path
is never percent-decoded, joined to a folder or normalised, so ``..``, ``%2e%2e``, double encoding,
backslashes, absolute paths and symlinks have nothing to act on: they are just names that are not
in the table (404). It binds 127.0.0.1 only, answers GET and HEAD only, checks the ``Host``
header (a page of another site cannot reach it through DNS rebinding) and sends headers that keep
the token out of referrers and the page off the network (``Content-Security-Policy``).
"""

from __future__ import annotations

import errno
import gzip
import hmac
import secrets
import shutil
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from unflat.errors import ConfigError, InputError

HOST = "127.0.0.1"
# The page may load only its own files (and Spark's worker, which it builds from a data: URL),
# and talk to no one else.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob: data:; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self' data: blob:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)


@dataclass(frozen=True)
class Resource:
    """One served name: bytes held in memory, or a file read at each request.

    ``gzipped``: ``content`` is gzip data, sent with ``Content-Encoding: gzip`` (inflated for a
    client that does not accept it).
    """

    content_type: str
    content: bytes | None = None
    path: Path | None = None
    gzipped: bool = False


class TokenServer:
    """Serve ``resources`` at ``http://127.0.0.1:PORT/TOKEN/NAME``; ``port=0`` picks a free one."""

    def __init__(self, resources: Mapping[str, Resource], port: int = 0) -> None:
        self.token = secrets.token_urlsafe(24)  # 192 random bits
        self.resources = dict(resources)
        self.routes = {f"/{self.token}/{name}": item for name, item in self.resources.items()}
        self.routes[f"/{self.token}/"] = self.resources["index.html"]
        handler = type("Handler", (_Handler,), {"owner": self})
        try:
            self.httpd = ThreadingHTTPServer((HOST, port), handler)
        except OSError as error:
            raise _bind_error(error, port) from error
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.hosts = {f"{HOST}:{self.port}", f"localhost:{self.port}"}
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The page's address, token included."""
        return f"http://{HOST}:{self.port}/{self.token}/"

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.2)

    def start(self) -> TokenServer:
        """Serve from a background thread (tests, notebooks); ``close()`` stops it."""
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join()
        self.httpd.server_close()

    def __enter__(self) -> TokenServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def lookup(self, raw_path: str) -> Resource | None:
        """The resource of a request's raw path (its query string ignored), else None."""
        path = raw_path.split("?", 1)[0].split("#", 1)[0]
        prefix = f"/{self.token}/"
        # the token is compared in constant time, so its characters cannot be guessed one by one
        if not hmac.compare_digest(path[: len(prefix)].encode(), prefix.encode()):
            return None
        return self.routes.get(path)


def _bind_error(error: OSError, port: int) -> ConfigError:
    if error.errno == errno.EADDRINUSE:
        return ConfigError(
            f"port {port} on {HOST} is in use",
            hint="pick another with --port, or leave --port out to take a free one",
        )
    if error.errno in (errno.EACCES, errno.EPERM):
        return ConfigError(
            f"port {port} on {HOST} cannot be opened without privileges",
            hint="use a port above 1023, or leave --port out to take a free one",
        )
    return ConfigError(
        f"cannot listen on {HOST}:{port} ({error.strerror})", hint="try another --port"
    )


class _Handler(BaseHTTPRequestHandler):
    owner: TokenServer
    server_version = "unflat"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the terminal shows the page's address, not a line per request."""

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _refuse(self, status: HTTPStatus) -> None:
        body = f"{status.value} {status.phrase}\n".encode()
        self.send_response(status)
        self._common_headers("text/plain; charset=utf-8", len(body))
        if status == HTTPStatus.METHOD_NOT_ALLOWED:
            self.send_header("Allow", "GET, HEAD")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    # any other method is answered the same way
    def do_POST(self) -> None:
        self._refuse(HTTPStatus.METHOD_NOT_ALLOWED)

    do_PUT = do_DELETE = do_OPTIONS = do_PATCH = do_TRACE = do_CONNECT = do_POST

    def _common_headers(self, content_type: str, length: int) -> None:
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.send_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)

    def _answer(self, send_body: bool) -> None:
        if self.headers.get("Host", "") not in self.owner.hosts:
            self._refuse(HTTPStatus.MISDIRECTED_REQUEST)
            return
        resource = self.owner.lookup(self.path)
        if resource is None:
            self._refuse(HTTPStatus.NOT_FOUND)
            return
        try:
            self._send(resource, send_body)
        except (ConnectionError, TimeoutError):
            pass  # the browser went away mid-transfer (a reload): nothing to tell anyone
        except OSError:
            self.close_connection = True  # the file went away under us; the request fails

    def _send(self, resource: Resource, send_body: bool) -> None:
        accepts_gzip = "gzip" in self.headers.get("Accept-Encoding", "")
        if resource.path is not None:
            with resource.path.open("rb") as file:
                size = file.seek(0, 2)
                file.seek(0)
                self.send_response(HTTPStatus.OK)
                self._common_headers(resource.content_type, size)
                self.end_headers()
                if send_body:
                    shutil.copyfileobj(file, self.wfile, 1 << 20)
            return
        body = resource.content or b""
        encoded = resource.gzipped and accepts_gzip
        if resource.gzipped and not accepts_gzip:
            body = gzip.decompress(body)
        self.send_response(HTTPStatus.OK)
        self._common_headers(resource.content_type, len(body))
        if encoded:
            self.send_header("Content-Encoding", "gzip")
        self.end_headers()
        if send_body:
            self.wfile.write(body)


def file_resource(path: Path, content_type: str) -> Resource:
    """A file served as it is on disk, read at each request; it must be a regular file now.

    A symbolic link is resolved now: replacing the link later does not change what is served.
    """
    if not path.is_file():
        raise InputError(f"{path} is not a file", hint="give the path of a scene file")
    return Resource(content_type=content_type, path=path.resolve(strict=True))
