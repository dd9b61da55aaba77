"""Gaussian scenes and point clouds: ``load_gaussians`` on damaged 3DGS and SHARP ``.ply``,
``.splat`` and ``.spz`` (versions 2 and 3, damaged inside the gzip too), ``read_ply_points`` on a
point-cloud ``.ply``.

A file reads as finite float32 Gaussians of the count it declares (scales not negative), or
is refused. Moved here from ``tests/io/test_gaussians_fuzz.py``, which keeps its entry points.
"""

from __future__ import annotations

import gzip
import re
import struct
from pathlib import Path

import numpy as np
import torch

from tests.fuzz.engine import Seed, gzip_view, whole
from unflat.io.gaussians import load_gaussians, save_gaussians
from unflat.io.pointcloud import read_ply_points, save_ply_points
from unflat.types import Gaussians

POINTS = "points.ply"


def scene(count: int, seed: int) -> Gaussians:
    generator = torch.Generator().manual_seed(seed)
    quats = torch.randn(count, 4, generator=generator)
    return Gaussians(
        means=torch.rand(count, 3, generator=generator) * 4 - 2,
        scales=torch.exp(torch.rand(count, 3, generator=generator) * -4 - 1),
        quats=quats / quats.norm(dim=1, keepdim=True),
        colors=torch.rand(count, 3, generator=generator),
        opacities=torch.rand(count, generator=generator) * 0.9 + 0.05,
    )


def spz_v3(count: int) -> bytes:
    """A hand-packed version 3 ``.spz`` (our writer makes version 2), decompressed."""
    header = struct.pack("<IIIBBBB", 0x5053474E, 3, count, 1, 12, 0, 0)
    rng = np.random.default_rng(count)
    body = rng.integers(0, 256, size=count * (9 + 1 + 3 + 3 + 4 + 9), dtype=np.uint8)
    return header + body.tobytes()


def ply_header(data: bytes) -> int:
    end = data.find(b"end_header")
    return len(data) if end < 0 else end + len(b"end_header\n")


def seed_files(folder: Path) -> dict[str, bytes]:
    """Valid files of every kind the readers take, small enough to read in a millisecond."""
    folder.mkdir(parents=True, exist_ok=True)
    gaussians = scene(6, seed=1)
    files = {
        "3dgs.ply": save_gaussians(folder / "a.ply", gaussians, sh_degree=1),
        "sharp.ply": save_gaussians(
            folder / "b.ply", gaussians, layout="sharp", focal_px=50.0, image_size=(64, 48)
        ),
        "scene.splat": save_gaussians(folder / "c.splat", gaussians),
        "scene.spz": save_gaussians(folder / "d.spz", gaussians),
        POINTS: save_ply_points(
            folder / "e.ply",
            np.arange(15, dtype=np.float32).reshape(5, 3),
            np.arange(15, dtype=np.uint8).reshape(5, 3),
        ),
    }
    valid = {name: path.read_bytes() for name, path in files.items()}
    valid["v3.spz"] = gzip.compress(spz_v3(5), mtime=0)
    return valid


def seeds(folder: Path) -> list[Seed]:
    """The seed files with their views: PLY text headers, ``.spz`` inside its gzip."""
    views = {
        ".ply": (whole(ply_header, text=True),),
        ".splat": (whole(),),
        # the gzip's inside twice: most damage should reach the parser behind it
        ".spz": (whole(), gzip_view(16), gzip_view(16)),
    }
    return [
        Seed(name, data, views["." + name.rsplit(".", 1)[1]])
        for name, data in sorted(seed_files(folder).items())
    ]


def declared_count(name: str, data: bytes) -> int:
    if name.endswith(".splat"):
        return len(data) // 32
    if name.endswith(".spz"):
        return struct.unpack_from("<I", gzip.decompress(data), 8)[0]
    match = re.search(rb"\nelement vertex ([0-9]+)", data)
    assert match is not None
    return int(match.group(1))


def check_gaussians(name: str, data: bytes, path: Path) -> None:
    gaussians = load_gaussians(path)
    count = declared_count(name, data)
    assert len(gaussians) == count > 0
    for field, width in (("means", 3), ("scales", 3), ("quats", 4), ("colors", 3)):
        tensor = getattr(gaussians, field)
        assert tensor.dtype == torch.float32 and tuple(tensor.shape) == (count, width)
        assert bool(torch.isfinite(tensor).all()), field
    assert bool(torch.isfinite(gaussians.opacities).all())
    assert bool((gaussians.scales >= 0).all())


def check_points(name: str, data: bytes, path: Path) -> None:
    points, colors = read_ply_points(path)
    count = declared_count(name, data)
    assert points.dtype == np.float32 and points.shape == (count, 3)
    assert colors is None or colors.shape == (count, 3)


def read(path: Path) -> None:
    """The point cloud through ``read_ply_points``, every other file through ``load_gaussians``."""
    check = check_points if path.name == POINTS else check_gaussians
    check(path.name, path.read_bytes(), path)
