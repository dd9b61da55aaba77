"""Depth to 3D points and coloured point clouds as binary PLY.

Points are in the OpenCV camera frame (x right, y down, z forward, metres); pixel ``(u, v)`` is
sampled at its centre ``(u + 0.5, v + 0.5)``, unflat's one convention
(:mod:`unflat.geometry.unproject`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from unflat.errors import InputError
from unflat.geometry.unproject import unproject
from unflat.io.atomic import atomic_write

# PLY property types we read, by either of their spec names.
_PLY_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1",
    "short": "i2", "int16": "i2", "ushort": "u2", "uint16": "u2",
    "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}  # fmt: skip
_PLY_ORDER = {"binary_little_endian": "<", "binary_big_endian": ">"}


def valid_depth_mask(depth: np.ndarray) -> np.ndarray:
    """The pixels :func:`depth_to_points` keeps: finite and positive depth.

    Index colours with it so they line up with the points: ``rgb[valid_depth_mask(depth)]``.
    """
    array = np.asarray(depth)
    return np.isfinite(array) & (array > 0)


def depth_to_points(depth: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Back-project a depth map ``[H,W]`` (metres) through intrinsics ``K`` to ``float32 [N,3]``.

    Only pixels with finite positive depth are kept, in row-major order; each is unprojected
    at its centre by :func:`unflat.geometry.unproject.unproject` (skew and non-square pixels
    are handled).
    """
    array = np.asarray(depth, dtype=np.float64)
    mask = valid_depth_mask(array)
    # invalid depths are zeroed first: inf or NaN times a ray would only make warnings
    points = unproject(np.where(mask, array, 0.0), K)
    return np.ascontiguousarray(points[mask], dtype=np.float32)


def save_ply_points(
    path: str | os.PathLike[str], points: np.ndarray, colors_uint8: np.ndarray | None = None
) -> Path:
    """Write points ``[N,3]`` (and ``uint8 [N,3]`` colours) as a binary little-endian PLY.

    Vertices carry ``x y z`` as float and, with colours, ``red green blue`` as uchar: the layout
    MeshLab, CloudCompare and Blender all open.
    """
    xyz = np.asarray(points)
    if xyz.ndim != 2 or xyz.shape[1] != 3:
        raise ValueError(f"points must be [N,3], got shape {xyz.shape}")
    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    if colors_uint8 is not None:
        rgb = np.asarray(colors_uint8)
        if rgb.shape != xyz.shape or rgb.dtype != np.uint8:
            raise ValueError(f"colors must be uint8 {xyz.shape}, got {rgb.dtype} {rgb.shape}")
        fields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
    vertices = np.empty(len(xyz), dtype=np.dtype(fields))
    vertices["x"], vertices["y"], vertices["z"] = xyz[:, 0], xyz[:, 1], xyz[:, 2]
    if colors_uint8 is not None:
        vertices["red"], vertices["green"], vertices["blue"] = rgb[:, 0], rgb[:, 1], rgb[:, 2]

    lines = ["ply", "format binary_little_endian 1.0", "comment written by unflat"]
    lines.append(f"element vertex {len(xyz)}")
    lines += [f"property {'float' if kind == '<f4' else 'uchar'} {name}" for name, kind in fields]
    lines.append("end_header")
    header = ("\n".join(lines) + "\n").encode("ascii")
    with atomic_write(path) as temporary:
        temporary.write_bytes(header + vertices.tobytes())
    return Path(path)


def read_ply_points(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray | None]:
    """Read the vertices of a binary PLY: ``float32 [N,3]`` points and ``uint8 [N,3]`` colours.

    Colours are None when the file has no ``red green blue``. The vertex element must come
    first (it does in every point cloud writer we know); later elements are ignored.
    """
    source = Path(path).expanduser()
    if not source.is_file():
        raise InputError(f"{source} does not exist", hint="check the path and its spelling")
    data = source.read_bytes()
    end = data.find(b"end_header")
    if not data.startswith(b"ply") or end < 0:
        raise InputError(f"{source} is not a PLY file", hint="give a .ply point cloud")
    newline = data.find(b"\n", end)
    header = data[:end].decode("ascii", errors="replace").splitlines()
    body = data[newline + 1 :]

    byte_order, count, fields, element = None, 0, [], None
    for line in header:
        words = line.split()
        if not words:
            continue
        if words[0] == "format":
            byte_order = _PLY_ORDER.get(words[1]) if len(words) > 1 else None
        elif words[0] == "element":
            element = words[1] if len(words) > 1 else None
            if element == "vertex" and len(words) > 2 and words[2].isdigit():
                count = int(words[2])
            elif element == "vertex" or not fields:
                raise _unreadable(source, f"bad or misplaced element line '{line}'")
        elif words[0] == "property" and element == "vertex":
            if words[1] == "list" or words[1] not in _PLY_TYPES:
                raise _unreadable(source, f"unsupported vertex property '{line}'")
            fields.append((words[2], _PLY_TYPES[words[1]]))
    if byte_order is None:
        raise _unreadable(source, "not a binary PLY")
    dtype = np.dtype([(name, byte_order + kind) for name, kind in fields])
    if len(body) < dtype.itemsize * count:
        raise InputError(
            f"{source} is truncated ({count} vertices declared)", hint="write it again"
        )
    vertices = np.frombuffer(body, dtype=dtype, count=count)
    names = set(dtype.names or ())
    if not {"x", "y", "z"} <= names:
        raise _unreadable(source, "no x y z vertex properties")
    points = np.stack([vertices["x"], vertices["y"], vertices["z"]], axis=1).astype(np.float32)
    colors = None
    if {"red", "green", "blue"} <= names:
        colors = np.stack([vertices["red"], vertices["green"], vertices["blue"]], axis=1).astype(
            np.uint8
        )
    return points, colors


def _unreadable(source: Path, why: str) -> InputError:
    return InputError(
        f"{source} is not a point cloud we can read: {why}",
        hint="export it as a binary PLY with x y z (and red green blue) vertex properties",
    )
