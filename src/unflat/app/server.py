"""Starting the web app: Gradio on 127.0.0.1 (unless a host or a share link is asked for)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from unflat.app.jobs import Workspace
from unflat.app.viewer import HEADERS, PREFIX, Viewers, body
from unflat.errors import ConfigError

HOST = "127.0.0.1"
INSTALL_HINT = "pip install 'unflat[app]' (Gradio), then run unflat app again"


def _gradio() -> Any:
    # no usage statistics sent from the user's machine
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        import gradio
    except ImportError:
        raise ConfigError(
            "the web app needs Gradio, which is not installed", INSTALL_HINT
        ) from None
    return gradio


def check_port(port: int | None) -> None:
    if port is not None and not 1 <= port <= 65535:
        raise ConfigError(f"--port {port} is not a port", hint="give 1 to 65535, or leave it out")


def _add_viewer_route(server_app: Any, viewers: Viewers) -> None:
    from fastapi import Response

    def viewer_file(token: str, name: str = "") -> Response:
        resource = viewers.lookup(token, name)
        if resource is None:
            return Response(status_code=404)
        return Response(body(resource), media_type=resource.content_type, headers=HEADERS)

    server_app.add_api_route(PREFIX + "/{token}/{name}", viewer_file, methods=["GET"])
    server_app.add_api_route(PREFIX + "/{token}/", viewer_file, methods=["GET"])


def start(
    port: int | None = None,
    host: str | None = None,
    share: bool = False,
    workspace: Path | None = None,
) -> tuple[Any, str, Path]:
    """Start the app in the background: the Gradio page, the address to open and the folder
    the results go to."""
    check_port(port)
    gradio = _gradio()
    from unflat.app.ui import build

    space, viewers = Workspace(workspace), Viewers()
    page = build(space, viewers)
    _, local_url, share_url = page.launch(
        server_name=host or HOST, server_port=port, share=share, prevent_thread_lock=True,
        allowed_paths=[str(space.root)], quiet=True, theme=gradio.themes.Soft(),
    )  # fmt: skip
    _add_viewer_route(page.server_app, viewers)
    return page, share_url or local_url, space.root


def serve(port: int | None = None, host: str | None = None, share: bool = False) -> None:
    """Run the app until Ctrl-C; the page's address is the last line printed."""
    page, url, results = start(port, host, share)
    print(f"results go to {results}; Ctrl-C stops the app", file=sys.stderr)
    print(url, flush=True)
    try:
        page.block_thread()
    finally:
        page.close()
