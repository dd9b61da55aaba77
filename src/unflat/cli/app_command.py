"""``unflat app``: the web app (Gradio), one tab per job, on this machine."""

from __future__ import annotations

from typing import Annotated

import typer

from unflat.cli.app import app

Port = Annotated[
    int | None, typer.Option("--port", help="Port (default: the first free one from 7860).")
]
Host = Annotated[
    str | None,
    typer.Option("--host", help="Address to bind, e.g. 0.0.0.0 for the LAN (default 127.0.0.1)."),
]
Share = Annotated[
    bool, typer.Option("--share", help="Also make a public link through Gradio's share servers.")
]


@app.command("app")
def app_command(port: Port = None, host: Host = None, share: Share = False) -> None:
    """A web app in the browser: depth, scenes, animation, dubbing and the living photo.

    Needs the extra `pip install 'unflat[app]'` (Gradio). Binds 127.0.0.1 only, unless --host
    or --share says otherwise; the page's address is the last line printed. Ctrl-C stops it.
    """
    from unflat.app.server import serve

    serve(port=port, host=host, share=share)
