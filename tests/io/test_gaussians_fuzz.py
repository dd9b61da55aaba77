"""Seeded mutation fuzzing of the splat and point-cloud readers.

Valid files are made here (3DGS and SHARP ``.ply``, ``.splat``, ``.spz`` versions 2 and 3, a point
cloud ``.ply``), then damaged the ways files get damaged: flipped bits, truncation, header lines
duplicated, dropped or given other numbers, special floats written over values, bytes inserted,
and for ``.spz`` the same done to the decompressed data before compressing it again (so the
mutations reach the parser behind gzip). Reading a mutated file must either give finite float32
arrays of the count the file declares, or raise ``InputError``; any other exception fails.

``hypothesis`` is not in the project's environment, hence a plain seeded generator: the same
seed gives the same mutations, and a failure prints the seed and mutation to replay it. The test
runs a fixed budget (a few seconds); a longer run is one command:

    PYTHONPATH=src python -m tests.io.test_gaussians_fuzz 20000
"""

from __future__ import annotations

import collections
import gzip
import random
import re
import struct
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from unflat.errors import InputError
from unflat.io.gaussians import load_gaussians, save_gaussians
from unflat.io.limits import use_limits
from unflat.io.pointcloud import read_ply_points, save_ply_points
from unflat.types import Gaussians

SPECIAL_FLOATS = [np.nan, np.inf, -np.inf, 3.0e38, -1.0, 1.0e30, 0.0, 89.0, -89.0, 1e-45]


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


def seeds(folder: Path) -> dict[str, bytes]:
    """Valid files of every kind the readers take, small enough to read in a millisecond."""
    gaussians = scene(6, seed=1)
    files = {
        "3dgs.ply": save_gaussians(folder / "a.ply", gaussians, sh_degree=1),
        "sharp.ply": save_gaussians(
            folder / "b.ply", gaussians, layout="sharp", focal_px=50.0, image_size=(64, 48)
        ),
        "scene.splat": save_gaussians(folder / "c.splat", gaussians),
        "scene.spz": save_gaussians(folder / "d.spz", gaussians),
        "points.ply": save_ply_points(
            folder / "e.ply",
            np.arange(15, dtype=np.float32).reshape(5, 3),
            np.arange(15, dtype=np.uint8).reshape(5, 3),
        ),
    }
    valid = {name: path.read_bytes() for name, path in files.items()}
    valid["v3.spz"] = gzip.compress(spz_v3(5), mtime=0)
    return valid


# --- mutations --------------------------------------------------------------------------------


def _header_end(data: bytes) -> int:
    end = data.find(b"end_header")
    return len(data) if end < 0 else end + len(b"end_header\n")


def flip_bits(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    # Half the flips land in a PLY header, where one bit renames or recounts things.
    limit = _header_end(data) if data.startswith(b"ply") and rng.random() < 0.5 else len(out)
    for _ in range(rng.choice((1, 1, 2, 4, 16))):
        out[rng.randrange(max(limit, 1))] ^= 1 << rng.randrange(8)
    return bytes(out)


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data))]


def header_lines(data: bytes, rng: random.Random) -> bytes:
    """Duplicate, drop, swap or renumber a PLY header line."""
    end = _header_end(data)
    if not data.startswith(b"ply") or end >= len(data):
        return flip_bits(data, rng)
    lines = data[:end].split(b"\n")[:-1]
    index = rng.randrange(1, len(lines) - 1)
    choice = rng.randrange(5)
    if choice == 0:
        lines.insert(index, lines[index])
    elif choice == 1:
        del lines[index]
    elif choice == 2:
        other = rng.randrange(1, len(lines) - 1)
        lines[index], lines[other] = lines[other], lines[index]
    elif choice == 3:
        number = rng.choice([0, 1, 2, 5, 7, 2**31, 2**32 - 1, 2**40, 10**30, 20_000_000])
        lines[index] = re.sub(rb"[0-9]+$", str(number).encode(), lines[index])
    else:
        kind = rng.choice([b"double", b"uchar", b"int", b"list uchar int", b"float16", b"half"])
        lines[index] = re.sub(rb"^property \w+", b"property " + kind, lines[index])
    return b"\n".join(lines) + b"\n" + data[end:]


def special_floats(data: bytes, rng: random.Random) -> bytes:
    """Write NaN, infinities, float32 extremes and negatives over 4-byte values of the body."""
    out = bytearray(data)
    start = _header_end(data) if data.startswith(b"ply") else 0
    for _ in range(rng.choice((1, 3))):
        if len(out) - start < 4:
            break
        offset = start + 4 * rng.randrange((len(out) - start) // 4)
        out[offset : offset + 4] = np.float32(rng.choice(SPECIAL_FLOATS)).tobytes()
    return bytes(out)


def insert_bytes(data: bytes, rng: random.Random) -> bytes:
    offset = rng.randrange(len(data) + 1)
    junk = rng.choice(
        [b"\n", b"\r\n", b"\0", b"\xff\xfe", b"end_header\n", bytes(rng.randbytes(9))]
    )
    return data[:offset] + junk + data[offset:]


MUTATIONS: list[Callable[[bytes, random.Random], bytes]] = [
    flip_bits,
    truncate,
    header_lines,
    special_floats,
    insert_bytes,
]


def mutate(name: str, data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """One mutation of a valid file; ``.spz`` is mutated inside its gzip most of the time."""
    mutation = rng.choice(MUTATIONS)
    if name.endswith(".spz") and rng.random() < 0.7:
        inner = gzip.decompress(data)
        if mutation is header_lines:
            mutation = flip_bits
        # the header's 16 bytes (count, version, degree) get a third of the flips
        if rng.random() < 0.3:
            head = flip_bits(inner[:16], rng)
            return "spz header flip", gzip.compress(head + inner[16:], mtime=0)
        return f"spz inner {mutation.__name__}", gzip.compress(mutation(inner, rng), mtime=0)
    return mutation.__name__, mutation(data, rng)


# --- checks -----------------------------------------------------------------------------------


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


def run(total: int, seed: int = 0) -> collections.Counter[str]:
    """``total`` mutations from ``seed``; returns what happened, by outcome."""
    rng = random.Random(seed)
    outcomes: collections.Counter[str] = collections.Counter()
    with tempfile.TemporaryDirectory() as folder, use_limits(max_gaussians=100_000):
        valid = seeds(Path(folder))
        names = sorted(valid)
        for number in range(total):
            name = names[number % len(names)]
            how, data = mutate(name, valid[name], rng)
            path = Path(folder) / f"mutated_{name}"
            path.write_bytes(data)
            check = check_points if name == "points.ply" else check_gaussians
            try:
                check(name, data, path)
                outcomes["read"] += 1
            except InputError:
                outcomes["refused"] += 1
            except Exception as error:
                raise AssertionError(
                    f"mutation {number} (seed {seed}) of {name} by {how}: "
                    f"{type(error).__name__}: {error}"
                ) from error
    return outcomes


def test_mutated_splat_files_are_read_or_refused_cleanly() -> None:
    outcomes = run(1500, seed=15)
    assert outcomes["read"] + outcomes["refused"] == 1500
    # the mutations do reach both ends: some files survive, most are refused
    assert outcomes["read"] > 50 and outcomes["refused"] > 500


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    first = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    print(dict(run(count, seed=first)))
