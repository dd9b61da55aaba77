"""The scene viewer of ``unflat view``, served from the app's own address.

The viewer's page may only be framed by its own origin (``frame-ancestors 'self'``), so the app
serves it itself, under ``/unflat-view/TOKEN/NAME``: each scene gets the table of files that
:class:`~unflat.pipelines.view.ViewPipeline` builds for ``unflat view`` (the page, the scene
record, the one scene file) behind its own random token, and nothing else is reachable.
"""

from __future__ import annotations

import gzip
import threading
from pathlib import Path

from unflat.io.serve import CONTENT_SECURITY_POLICY, Resource, TokenServer
from unflat.pipelines.view import ViewPipeline

PREFIX = "/unflat-view"


class Viewers:
    """The scenes the app shows, by token; ``add`` gives the page's address for one more."""

    def __init__(self) -> None:
        self._servers: dict[str, TokenServer] = {}
        self._lock = threading.Lock()

    def add(self, scene: Path) -> str:
        """The viewer's address (a path on the app's server) for the scene file ``scene``."""
        server, _ = ViewPipeline()(scene)
        server.close()  # only its table of files and token are used: the app serves them
        with self._lock:
            self._servers[server.token] = server
        return f"{PREFIX}/{server.token}/"

    def lookup(self, token: str, name: str) -> Resource | None:
        """The file ``name`` of the scene behind ``token``, else None."""
        with self._lock:
            server = self._servers.get(token)
        return None if server is None else server.lookup(f"/{token}/{name}")


def body(resource: Resource) -> bytes:
    """The bytes of ``resource`` as sent (inflated: the app's server compresses on its own)."""
    if resource.path is not None:
        return resource.path.read_bytes()
    content = resource.content or b""
    return gzip.decompress(content) if resource.gzipped else content


HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
}
