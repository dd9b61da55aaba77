"""``unflat view``: one scene file in the browser, from a local server behind a random token.

The scene is read once here with the same readers as ``unflat render`` (a missing or damaged
file fails now, with their message, not later in the browser), which also gives the photo's
camera (``NAME.scene.json`` or a SHARP PLY; else ``unflat render``'s default camera) and the
axes the file is stored in. The page (``unflat/assets/viewer``, built from ``web/viewer``)
loads the scene file as it is on disk and ``scene.json`` for the rest.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from unflat.errors import ConfigError, InputError
from unflat.io.serve import Resource, TokenServer, file_resource
from unflat.splat.outputs import default_camera, load_scene, read_sidecar
from unflat.types import Camera, Gaussians

# the page's own files: name -> (content type, stored gzip-compressed)
PAGE_FILES = {
    "index.html": ("text/html; charset=utf-8", False),
    "viewer.css": ("text/css; charset=utf-8", False),
    "viewer.js": ("text/javascript; charset=utf-8", True),
    "THIRD_PARTY.txt": ("text/plain; charset=utf-8", False),
}
BUILD_HINT = "reinstall unflat; from a source checkout: cd web/viewer && npm ci && npm run build"


@functools.cache
def page_resources() -> dict[str, Resource]:
    """The built page (``unflat/assets/viewer``), read into memory once."""
    folder = resources.files("unflat") / "assets" / "viewer"
    served = {}
    for name, (content_type, gzipped) in PAGE_FILES.items():
        stored = folder / (name + ".gz" if gzipped else name)
        if not stored.is_file():
            raise ConfigError(f"the viewer's page is not installed ({name} is missing)", BUILD_HINT)
        served[name] = Resource(content_type, content=stored.read_bytes(), gzipped=gzipped)
    return served


def stored_axes(path: Path, metadata: dict[str, Any]) -> str:
    """The axes the file itself is stored in, which the page must undo."""
    suffix = path.suffix.lower()
    if suffix == ".spz":
        return "opengl"  # spz is x right, y up, z back by definition
    if suffix == ".ply":
        return str(metadata.get("axes", "opencv"))
    record, _ = read_sidecar(path)  # a .splat: its sidecar's axes when it names this file
    named = record.get("scene") == path.name and record.get("axes") in ("opencv", "opengl")
    return str(record["axes"]) if named else "opencv"


def median_depth(gaussians: Gaussians) -> float:
    """The median z of the Gaussians in front of the camera (where orbiting turns about)."""
    z = gaussians.means[:, 2]
    ahead = z[z > 0]
    return float(torch.median(ahead)) if len(ahead) else 1.0


def render_eps2d(metadata: dict) -> float:
    """The low-pass (pixels²) the scene was made for, by ``unflat render``'s rule."""
    if "render_eps2d" in metadata:
        return float(metadata["render_eps2d"])
    return 0.0 if metadata.get("layout") == "sharp" else 0.3


def scene_config(path: Path, gaussians: Gaussians, camera: Camera | None, metadata: dict) -> dict:
    """What the page needs besides the scene file: its camera, axes and a few facts."""
    camera = camera or default_camera()
    K = camera.K.tolist()
    intrinsics = dict(fx=K[0][0], fy=K[1][1], cx=K[0][2], cy=K[1][2])
    intrinsics |= dict(width=camera.width, height=camera.height)
    return {
        "name": path.stem,
        "scene": "scene" + path.suffix.lower(),
        "file_type": path.suffix.lower().lstrip("."),
        "axes": stored_axes(path, metadata),
        "camera": intrinsics,
        "camera_source": "photo" if metadata.get("camera_known") else "default",
        "median_depth": median_depth(gaussians),
        "eps2d": render_eps2d(metadata),
        "gaussians": int(gaussians.means.shape[0]),
        "note": metadata.get("note"),
    }


@dataclass(frozen=True)
class ViewPipeline:
    """Serves one scene file and its page; ``port=0`` takes a free port."""

    port: int = 0

    @classmethod
    def from_options(cls, port: int | None = None) -> ViewPipeline:
        if port is not None and not 0 <= port <= 65535:
            raise ConfigError(
                f"--port {port} is not a port", hint="give 1 to 65535, or leave it out"
            )
        return cls(port=port or 0)

    def __call__(self, scene_path: str | Path) -> tuple[TokenServer, dict]:
        """A server ready to run (``serve_forever`` or ``start``) and the page's scene record."""
        given = Path(scene_path).expanduser()
        if given.is_dir():
            raise InputError(f"{given} is a folder", hint="give a .ply, .splat or .spz scene file")
        page = page_resources()
        gaussians, camera, metadata = load_scene(given)
        metadata["camera_known"] = camera is not None
        config = scene_config(given, gaussians, camera, metadata)
        served = dict(page)
        served["scene.json"] = Resource("application/json", content=json.dumps(config).encode())
        # file_resource pins the file now: a link swapped later does not change what is served
        served[config["scene"]] = file_resource(given, "application/octet-stream")
        return TokenServer(served, port=self.port), config
