"""``unflat view``: a scene file in the browser (orbit, fly, measure, screenshot, VR)."""

from __future__ import annotations

import sys
import webbrowser
from pathlib import Path
from typing import Annotated

import typer

from unflat.cli.app import app

ViewScene = Annotated[Path, typer.Argument(help="A scene: .ply (3DGS / SHARP), .splat or .spz.")]
Port = Annotated[
    int | None, typer.Option("--port", help="Port on 127.0.0.1 (default: a free one).")
]
Open = Annotated[bool, typer.Option("--open", help="Open the page in the default browser.")]


@app.command()
def view(scene: ViewScene, port: Port = None, open_browser: Open = False) -> int:
    """Show a Gaussian scene in the browser, from the photo's own camera.

    Serves the scene and its page on 127.0.0.1 only, behind a random token in the address;
    the address is the last line printed. Orbit, fly (WASD), reset, measure distances in metres,
    save screenshots, and "Enter VR" on a WebXR headset. Ctrl-C stops it.
    """
    from unflat.pipelines.view import ViewPipeline

    server, config = ViewPipeline.from_options(port=port)(scene)
    if config["note"]:
        print(f"note: {config['note']}", file=sys.stderr)
    camera = "the photo's camera" if config["camera_source"] == "photo" else "a default camera"
    print(f"{config['gaussians']:,} Gaussians from {camera}; Ctrl-C stops the server", flush=True)
    print(server.url, flush=True)
    if open_browser:
        webbrowser.open(server.url)
    with server:
        server.serve_forever()
    return 0
