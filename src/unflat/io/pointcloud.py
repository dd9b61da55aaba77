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
from unflat.io import ply
from unflat.io.atomic import atomic_write
from unflat.io.guard import decoding


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

    Colours are None when the file has no ``red green blue``. Elements after the first one with
    list properties (a mesh's faces) are not read, so the vertices must come before them. The
    header is parsed by :mod:`unflat.io.ply` (every damage refused with ``InputError``) and the
    vertex bytes are checked against the file size and ``max_decoded_bytes`` before reading.
    Values are returned as stored, NaN included (organised point clouds mark holes with it).
    """
    source = Path(path).expanduser()
    with ply.open_binary(source, "a point cloud") as file, decoding(source, "PLY point cloud"):
        header = ply.read_header(file, source)
        if not header.endian:
            raise _unreadable(source, "not a binary PLY")
        vertex = header.element("vertex")
        if vertex is None or not {"x", "y", "z"} <= set(vertex.names):
            raise _unreadable(source, "no x y z vertex properties")
        if vertex.has_lists:
            raise _unreadable(source, "list properties in the vertices")
        vertices = ply.read_elements(file, header, source, ply.file_size(file)).get("vertex")
        if vertices is None:
            raise _unreadable(source, "the vertices come after list data")
        with np.errstate(over="ignore", invalid="ignore"):
            points = np.stack([vertices[axis] for axis in "xyz"], axis=1).astype(np.float32)
        colors = None
        if {"red", "green", "blue"} <= set(vertex.names):
            colors = np.stack([vertices[name] for name in ("red", "green", "blue")], axis=1)
            colors = colors.astype(np.uint8)
    return points, colors


def _unreadable(source: Path, why: str) -> InputError:
    return InputError(
        f"{source} is not a point cloud we can read: {why}",
        hint="export it as a binary PLY with x y z (and red green blue) vertex properties",
    )
