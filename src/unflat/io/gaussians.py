"""Gaussian splat files: 3DGS / SHARP ``.ply``, antimatter15 ``.splat`` and Niantic ``.spz``.

Every format stores what a viewer displays, so colours go to disk as sRGB (viewers show the DC
colour as is) and come back as the linear RGB of :class:`~unflat.types.Gaussians`. In memory the
axes are always OpenCV (x right, y down, z forward); ``axes="opengl"`` writes x right, y up,
z backward for viewers that want y up. See ``docs/splat-files.md`` for the conventions.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from unflat.colour import colour_to_sh_dc, linear_to_srgb, sh_dc_to_colour, srgb_to_linear
from unflat.errors import InputError, OutputError
from unflat.io.atomic import atomic_write
from unflat.types import Gaussians

Axes = Literal["opencv", "opengl"]
ColorSpace = Literal["srgb", "linear"]

SUFFIXES = (".ply", ".splat", ".spz")

# SHARP's PLY codes its colour space as one byte; 0 is what its writer uses for sRGB.
_SHARP_COLOR_CODES = {"srgb": 0, "linear": 1}
_SHARP_VERSION = (1, 5, 0)
_SPZ_MAGIC = 0x5053474E  # "NGSP" little endian
_SPZ_COLOR_SCALE = 0.15  # spz keeps DC colours a little outside [0, 1] representable
_SPLAT_RECORD = 32

_PLY_TYPES = {
    "char": "i1",
    "int8": "i1",
    "uchar": "u1",
    "uint8": "u1",
    "short": "i2",
    "int16": "i2",
    "ushort": "u2",
    "uint16": "u2",
    "int": "i4",
    "int32": "i4",
    "uint": "u4",
    "uint32": "u4",
    "float": "f4",
    "float32": "f4",
    "double": "f8",
    "float64": "f8",
}
_GAUSSIAN_PROPERTIES = ("x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity")
_GAUSSIAN_PROPERTIES += ("scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3")
_SUFFIX_HINT = "save as .ply (3DGS / SHARP), .splat or .spz"


# --- axes -------------------------------------------------------------------------------------


def _check_axes(axes: str) -> None:
    if axes not in ("opencv", "opengl"):
        raise ValueError(f"axes must be 'opencv' or 'opengl', not {axes!r}")


def _flip_axes(means: np.ndarray, quats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV <-> OpenGL: F = diag(1, -1, -1) is its own inverse.

    Positions become F p. For rotations F R F has the same covariance as F R (F commutes with the
    diagonal scale matrix) and is a plain sign flip of the quaternion's y and z.
    """
    flip = np.array([1.0, -1.0, -1.0])
    return means * flip, quats * np.array([1.0, 1.0, -1.0, -1.0])


# --- validation -------------------------------------------------------------------------------


def _arrays(gaussians: Gaussians, path: Path) -> dict[str, np.ndarray]:
    """float64 numpy copies of the fields, refusing scenes no format can hold."""
    gaussians.validate(values=False)  # bad values are counted below, per Gaussian
    count = len(gaussians)
    if count == 0:
        raise OutputError(
            f"cannot write {path}: the scene has no Gaussians",
            hint="check the filters that produced it (depth range, opacity threshold)",
        )
    bad = gaussians.nonfinite()
    if bad.any():
        raise OutputError(
            f"cannot write {path}: {int(bad.sum())} of {count} Gaussians have NaN or infinite "
            "values",
            hint="drop them first, or fix the step that produced them",
        )
    fields = {
        name: getattr(gaussians, name).detach().cpu().double().numpy()
        for name in ("means", "scales", "quats", "colors", "opacities")
    }
    norms = np.linalg.norm(fields["quats"], axis=1, keepdims=True)
    identity = np.array([1.0, 0.0, 0.0, 0.0])
    fields["quats"] = np.where(norms > 0, fields["quats"] / np.maximum(norms, 1e-30), identity)
    return fields


def _to_gaussians(
    means: np.ndarray,
    scales: np.ndarray,
    quats: np.ndarray,
    colors: np.ndarray,
    opacities: np.ndarray,
    path: Path,
) -> Gaussians:
    """Check what a file gave us and wrap it as float32 tensors."""
    count = means.shape[0]
    if count == 0:
        raise InputError(
            f"{path} contains no Gaussians", hint="re-export the scene; empty scenes are refused"
        )
    arrays = (means, scales, quats, colors, opacities)
    bad = Gaussians(
        *(torch.from_numpy(np.asarray(a, dtype=np.float64)) for a in arrays)
    ).nonfinite()
    if bad.any():
        raise InputError(
            f"{path} has {int(bad.sum())} of {count} Gaussians with NaN or infinite values",
            hint="the file is damaged or was written by a broken exporter; re-export it",
        )
    norms = np.linalg.norm(quats, axis=1, keepdims=True)
    quats = np.where(norms > 0, quats / np.maximum(norms, 1e-30), np.array([1.0, 0, 0, 0]))

    def tensor(values: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))

    return Gaussians(
        means=tensor(means),
        scales=tensor(scales),
        quats=tensor(quats),
        colors=tensor(colors),
        opacities=tensor(opacities),
    )


def _read_bytes(path: str | os.PathLike[str]) -> tuple[Path, bytes]:
    path = Path(path).expanduser()
    if not path.exists():
        raise InputError(f"{path} does not exist", hint="check the file name")
    if path.is_dir():
        raise InputError(f"{path} is a folder, not a splat file", hint="give a file name")
    try:
        return path, path.read_bytes()
    except OSError as error:
        raise InputError(
            f"cannot read {path}: {error.strerror or error}", hint="check its permissions"
        ) from error


def _logit(probabilities: np.ndarray) -> np.ndarray:
    # An opacity of exactly 0 or 1 has no finite logit; 1e-7 keeps it finite in float32.
    clipped = np.clip(probabilities, 1e-7, 1.0 - 1e-7)
    return np.log(clipped) - np.log1p(-clipped)


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * logits))  # no overflow warning for large |logits|


def _log_scales(scales: np.ndarray) -> np.ndarray:
    # A zero scale (a flat Gaussian) would be log 0; the floor keeps the file finite.
    return np.log(np.maximum(scales, 1e-30))


# --- PLY --------------------------------------------------------------------------------------


def _parse_ply_header(data: bytes, path: Path) -> tuple[str, list[dict[str, Any]], list[str], int]:
    """(format, elements, comments, body offset) of a PLY file."""
    if not data.startswith(b"ply"):
        raise InputError(f"{path} is not a PLY file", hint="it does not start with 'ply'")
    end = data.find(b"end_header")
    if end < 0:
        raise InputError(f"{path} has no complete PLY header", hint="the file is truncated")
    newline = data.find(b"\n", end)
    if newline < 0:
        raise InputError(f"{path} has no complete PLY header", hint="the file is truncated")
    lines = data[:end].decode("ascii", errors="replace").splitlines()
    file_format = ""
    elements: list[dict[str, Any]] = []
    comments: list[str] = []
    for line in lines[1:]:
        words = line.split()
        if not words:
            continue
        if words[0] == "format" and len(words) >= 2:
            file_format = words[1]
        elif words[0] in ("comment", "obj_info"):
            comments.append(line.partition(" ")[2].strip())
        elif words[0] == "element" and len(words) == 3 and words[2].isdigit():
            elements.append({"name": words[1], "count": int(words[2]), "properties": []})
        elif words[0] == "property" and elements and len(words) >= 3:
            if words[1] == "list":
                elements[-1]["properties"].append((words[-1], None))
            elif words[1] in _PLY_TYPES:
                elements[-1]["properties"].append((words[2], _PLY_TYPES[words[1]]))
            else:
                raise InputError(f"{path}: unknown PLY property type {words[1]!r}")
        else:
            raise InputError(f"{path}: cannot read the PLY header line {line!r}")
    return file_format, elements, comments, newline + 1


def _read_ply_elements(
    data: bytes, path: Path
) -> tuple[dict[str, np.ndarray], list[str], list[str]]:
    """Every element up to the first one with list properties, as structured arrays."""
    file_format, elements, comments, offset = _parse_ply_header(data, path)
    vertex = next((element for element in elements if element["name"] == "vertex"), None)
    names = [] if vertex is None else [name for name, _ in vertex["properties"]]
    missing = [name for name in _GAUSSIAN_PROPERTIES if name not in names]
    if missing:
        raise InputError(
            f"{path} is a PLY file but not a Gaussian splat file (no {', '.join(missing[:4])}"
            + (" ..." if len(missing) > 4 else "")
            + ")",
            hint="a point cloud or mesh PLY has no Gaussians; give a 3DGS or SHARP .ply",
        )
    endian = {"binary_little_endian": "<", "binary_big_endian": ">"}.get(file_format)
    if endian is None:
        raise InputError(
            f"{path} is a PLY file in {file_format or 'an unknown'} format; only binary PLY "
            "splats are read",
            hint="convert it to binary little endian (every splat tool writes that)",
        )
    arrays: dict[str, np.ndarray] = {}
    for element in elements:
        if any(kind is None for _, kind in element["properties"]):
            if "vertex" not in arrays:
                raise InputError(
                    f"{path}: list properties before the Gaussians are not supported",
                    hint="re-export the splat without faces",
                )
            break  # trailing mesh data: the Gaussians are already read
        dtype = np.dtype([(name, endian + kind) for name, kind in element["properties"]])
        size = dtype.itemsize * element["count"]
        if offset + size > len(data):
            raise InputError(
                f"{path} is truncated: element {element['name']!r} needs {size} bytes, "
                f"{max(len(data) - offset, 0)} are left",
                hint="the download or copy was cut short; fetch the file again",
            )
        arrays[element["name"]] = np.frombuffer(
            data, dtype=dtype, count=element["count"], offset=offset
        )
        offset += size
    return arrays, comments, [element["name"] for element in elements]


def _unflat_comment(comments: list[str]) -> dict[str, str]:
    """Our own ``comment unflat key=value ...`` header line, if the file has one."""
    for comment in comments:
        words = comment.split()
        if words and words[0] == "unflat":
            return dict(word.split("=", 1) for word in words[1:] if "=" in word)
    return {}


def load_ply_with_metadata(
    path: str | os.PathLike[str], axes: Axes | None = None
) -> tuple[Gaussians, dict[str, Any]]:
    """Read a 3DGS or SHARP PLY; the metadata says which layout and holds SHARP's camera data.

    ``axes=None`` trusts the file (our header comment, else OpenCV); give ``"opengl"`` to undo a
    y-up export made elsewhere.
    """
    path, data = _read_bytes(path)
    arrays, comments, element_names = _read_ply_elements(data, path)
    vertex = arrays["vertex"]
    ours = _unflat_comment(comments)
    sharp = "color_space" in arrays or "intrinsic" in arrays
    metadata: dict[str, Any] = {"layout": "sharp" if sharp else "3dgs", "elements": element_names}
    color_space = ours.get("color_space", "srgb")
    if "color_space" in arrays:
        code = int(arrays["color_space"]["color_space"][0])
        color_space = "linear" if code == _SHARP_COLOR_CODES["linear"] else "srgb"
    if axes is None:
        axes = "opengl" if ours.get("axes") == "opengl" else "opencv"
    _check_axes(axes)
    metadata |= {"color_space": color_space, "axes": axes}
    for name in ("extrinsic", "intrinsic", "image_size", "frame", "disparity", "version"):
        if name in arrays:
            values = np.asarray(arrays[name][name])
            metadata[name] = values.reshape(4, 4) if values.size == 16 else values
            if name == "intrinsic" and values.size == 9:
                metadata[name] = values.reshape(3, 3)

    def columns(*names: str) -> np.ndarray:
        return np.stack([vertex[name].astype(np.float64) for name in names], axis=1)

    means = columns("x", "y", "z")
    quats = columns("rot_0", "rot_1", "rot_2", "rot_3")
    if axes == "opengl":
        means, quats = _flip_axes(means, quats)
    shown = sh_dc_to_colour(columns("f_dc_0", "f_dc_1", "f_dc_2"))
    colors = srgb_to_linear(shown) if color_space == "srgb" else shown
    with np.errstate(over="ignore"):
        scales = np.exp(columns("scale_0", "scale_1", "scale_2"))
    opacities = _sigmoid(vertex["opacity"].astype(np.float64))
    return _to_gaussians(means, scales, quats, colors, opacities, path), metadata


def load_ply(path: str | os.PathLike[str], axes: Axes | None = None) -> Gaussians:
    """Read a 3DGS or SHARP Gaussian PLY (OpenCV axes, linear colours in memory)."""
    return load_ply_with_metadata(path, axes=axes)[0]


def _sharp_elements(
    means: np.ndarray,
    count: int,
    color_space: ColorSpace,
    focal_px: float | None,
    image_size: tuple[int, int] | None,
    intrinsics: Any,
) -> list[tuple[str, str, np.ndarray]]:
    """SHARP's extra elements, in its writer's order: (name, PLY type, values)."""
    extras: list[tuple[str, str, np.ndarray]] = [("extrinsic", "float", np.eye(4).reshape(-1))]
    if intrinsics is not None or focal_px is not None:
        if image_size is None:
            raise ValueError("SHARP's layout needs image_size=(width, height) with intrinsics")
        width, height = image_size
        if intrinsics is None:
            intrinsics = [[focal_px, 0, width / 2], [0, focal_px, height / 2], [0, 0, 1]]
        matrix = np.asarray(intrinsics, dtype=np.float64).reshape(3, 3)
        extras.append(("intrinsic", "float", matrix.reshape(-1)))
    if image_size is not None:
        extras.append(("image_size", "uint", np.asarray(image_size).reshape(2)))
    extras.append(("frame", "int", np.array([1, count])))
    # SHARP's viewers size their depth range from the 10% and 90% disparity quantiles.
    depth = means[:, 2]
    disparity = 1.0 / depth[depth > 0]
    quantiles = np.quantile(disparity, [0.1, 0.9]) if disparity.size else np.zeros(2)
    extras.append(("disparity", "float", quantiles))
    extras.append(("color_space", "uchar", np.array([_SHARP_COLOR_CODES[color_space]])))
    extras.append(("version", "uchar", np.array(_SHARP_VERSION)))
    return extras


def save_ply(
    path: str | os.PathLike[str],
    gaussians: Gaussians,
    axes: Axes = "opencv",
    color_space: ColorSpace = "srgb",
    sh_degree: int = 0,
    layout: Literal["3dgs", "sharp"] = "3dgs",
    focal_px: float | None = None,
    image_size: tuple[int, int] | None = None,
    intrinsics: Any = None,
    overwrite: bool = True,
) -> Path:
    """Write a binary little-endian Gaussian PLY in the 3DGS or SHARP layout.

    ``color_space`` is what ``f_dc`` holds: sRGB by default because viewers show it as is.
    ``sh_degree`` > 0 adds zero ``f_rest_*`` for viewers that insist on them (3DGS layout).
    ``focal_px`` or ``intrinsics`` (3x3) with ``image_size=(width, height)`` go into SHARP's
    camera elements.
    """
    _check_axes(axes)
    if color_space not in _SHARP_COLOR_CODES:
        raise ValueError(f"color_space must be 'srgb' or 'linear', not {color_space!r}")
    if layout not in ("3dgs", "sharp"):
        raise ValueError(f"layout must be '3dgs' or 'sharp', not {layout!r}")
    if sh_degree not in (0, 1, 2, 3):
        raise ValueError(f"sh_degree must be 0 to 3, not {sh_degree}")
    target = Path(path).expanduser()
    fields = _arrays(gaussians, target)
    count = len(fields["means"])
    means, quats = fields["means"], fields["quats"]
    if axes == "opengl":
        means, quats = _flip_axes(means, quats)
    shown = linear_to_srgb(fields["colors"]) if color_space == "srgb" else fields["colors"]
    columns: list[tuple[str, np.ndarray]] = [("x", means[:, 0]), ("y", means[:, 1])]
    columns.append(("z", means[:, 2]))
    if layout == "3dgs":
        # Many viewers (and the original 3DGS loader) expect normals, even unused ones.
        columns += [(name, np.zeros(count)) for name in ("nx", "ny", "nz")]
    columns += [(f"f_dc_{i}", colour_to_sh_dc(shown[:, i])) for i in range(3)]
    if layout == "3dgs":
        rest = 3 * ((sh_degree + 1) ** 2 - 1)
        columns += [(f"f_rest_{i}", np.zeros(count)) for i in range(rest)]
    columns.append(("opacity", _logit(fields["opacities"])))
    log_scales = _log_scales(fields["scales"])
    columns += [(f"scale_{i}", log_scales[:, i]) for i in range(3)]
    columns += [(f"rot_{i}", quats[:, i]) for i in range(4)]

    vertex = np.empty(count, dtype=[(name, "<f4") for name, _ in columns])
    for name, values in columns:
        vertex[name] = values
    header = ["ply", "format binary_little_endian 1.0"]
    # Our settings ride in a comment so load_ply can undo them; PLY readers skip comments.
    header.append(f"comment unflat axes={axes} color_space={color_space} layout={layout}")
    header.append(f"element vertex {count}")
    header += [f"property float {name}" for name, _ in columns]
    extras = []
    if layout == "sharp":
        extras = _sharp_elements(means, count, color_space, focal_px, image_size, intrinsics)
    numpy_types = {"float": "<f4", "uint": "<u4", "int": "<i4", "uchar": "u1"}
    for name, kind, values in extras:
        header += [f"element {name} {len(values)}", f"property {kind} {name}"]
    header.append("end_header")
    with atomic_write(target, overwrite=overwrite) as temporary, open(temporary, "wb") as file:
        file.write(("\n".join(header) + "\n").encode("ascii"))
        file.write(vertex.tobytes())
        for _, kind, values in extras:
            file.write(np.asarray(values).astype(numpy_types[kind]).tobytes())
    return target


# --- .splat -----------------------------------------------------------------------------------


def save_splat(
    path: str | os.PathLike[str],
    gaussians: Gaussians,
    axes: Axes = "opencv",
    overwrite: bool = True,
) -> Path:
    """Write antimatter15's ``.splat``: 32 bytes a Gaussian, biggest and most opaque first.

    The order is the one antimatter15's converter uses (descending volume x opacity), so
    viewers that stream the file show the important Gaussians first.
    """
    _check_axes(axes)
    target = Path(path).expanduser()
    fields = _arrays(gaussians, target)
    means, quats = fields["means"], fields["quats"]
    if axes == "opengl":
        means, quats = _flip_axes(means, quats)
    order = np.argsort(-np.prod(fields["scales"], axis=1) * fields["opacities"], kind="stable")
    count = len(order)
    records = np.empty(
        count,
        dtype=[("position", "<f4", 3), ("scale", "<f4", 3), ("rgba", "u1", 4), ("rot", "u1", 4)],
    )
    records["position"] = means[order]
    records["scale"] = fields["scales"][order]
    rgba = np.concatenate([linear_to_srgb(fields["colors"]), fields["opacities"][:, None]], axis=1)
    records["rgba"] = np.clip(np.round(rgba[order] * 255.0), 0, 255)
    records["rot"] = np.clip(np.round(quats[order] * 128.0 + 128.0), 0, 255)
    with atomic_write(target, overwrite=overwrite) as temporary:
        temporary.write_bytes(records.tobytes())
    return target


def load_splat(path: str | os.PathLike[str], axes: Axes = "opencv") -> Gaussians:
    """Read antimatter15's ``.splat``; ``axes`` is the convention it was written in."""
    _check_axes(axes)
    path, data = _read_bytes(path)
    if len(data) % _SPLAT_RECORD:
        raise InputError(
            f"{path} is not a whole .splat file: {len(data)} bytes is not a multiple of 32",
            hint="the file is truncated or not a .splat; fetch it again",
        )
    records = np.frombuffer(
        data,
        dtype=[("position", "<f4", 3), ("scale", "<f4", 3), ("rgba", "u1", 4), ("rot", "u1", 4)],
    )
    means = records["position"].astype(np.float64)
    quats = (records["rot"].astype(np.float64) - 128.0) / 128.0
    if axes == "opengl":
        means, quats = _flip_axes(means, quats)
    rgba = records["rgba"].astype(np.float64) / 255.0
    scales = records["scale"].astype(np.float64)
    return _to_gaussians(means, scales, quats, srgb_to_linear(rgba[:, :3]), rgba[:, 3], path)


# --- .spz -------------------------------------------------------------------------------------


def _sh_dimension(degree: int) -> int:
    return (degree + 1) ** 2 - 1


def save_spz(
    path: str | os.PathLike[str],
    gaussians: Gaussians,
    sh_degree: int = 0,
    antialiased: bool = False,
    overwrite: bool = True,
) -> Path:
    """Write Niantic's ``.spz`` version 2 (gzip) in its own RUB axes (x right, y up, z back).

    Positions are 24-bit fixed point with 12 fractional bits (0.24 mm steps, +-2 km range).
    """
    if sh_degree not in (0, 1, 2, 3):
        raise ValueError(f"sh_degree must be 0 to 3, not {sh_degree}")
    target = Path(path).expanduser()
    fields = _arrays(gaussians, target)
    count = len(fields["means"])
    # spz's reference frame is RUB, which is our OpenGL flip of OpenCV.
    means, quats = _flip_axes(fields["means"], fields["quats"])
    fractional_bits = 12
    fixed = np.round(means * (1 << fractional_bits)).astype(np.int64)
    if np.abs(fixed).max() >= 1 << 23:
        raise OutputError(
            f"cannot write {target}: positions beyond +-2048 m do not fit .spz's fixed point",
            hint="save as .ply or .splat, or rescale the scene",
        )
    positions = (fixed.reshape(-1, 1) >> np.array([0, 8, 16])) & 0xFF
    alphas = np.round(fields["opacities"] * 255.0)
    dc = colour_to_sh_dc(linear_to_srgb(fields["colors"]))
    colors = np.round(dc * (_SPZ_COLOR_SCALE * 255.0) + 0.5 * 255.0)
    scales = np.round((_log_scales(fields["scales"]) + 10.0) * 16.0)
    # Version 2 keeps x, y, z of the unit quaternion with w >= 0 and rebuilds w from them.
    quats = np.where(quats[:, :1] < 0, -quats, quats)
    rotations = np.round(quats[:, 1:] * 127.5 + 127.5)
    rest = np.full(count * _sh_dimension(sh_degree) * 3, 128)  # 128 is a zero coefficient
    header = struct.pack(
        "<IIIBBBB", _SPZ_MAGIC, 2, count, sh_degree, fractional_bits, int(antialiased), 0
    )
    body = b"".join(
        np.clip(values, 0, 255).astype(np.uint8).tobytes()
        for values in (positions, alphas, colors, scales, rotations, rest)
    )
    with atomic_write(target, overwrite=overwrite) as temporary:
        temporary.write_bytes(gzip.compress(header + body, mtime=0))
    return target


def _unpack_smallest_three(packed: np.ndarray) -> np.ndarray:
    """Version 3 rotations: largest component's index in 2 bits, the others as sign + 9 bits."""
    words = packed.astype(np.uint32) @ np.array([1, 1 << 8, 1 << 16, 1 << 24], dtype=np.uint32)
    largest = (words >> 30).astype(np.int64)
    xyzw = np.zeros((len(words), 4))
    remaining = words.copy()
    mask = (1 << 9) - 1
    for index in range(3, -1, -1):
        here = largest != index
        magnitude = (remaining & mask).astype(np.float64) / mask * np.sqrt(0.5)
        negative = ((remaining >> 9) & 1).astype(bool)
        xyzw[here, index] = np.where(negative, -magnitude, magnitude)[here]
        remaining = np.where(here, remaining >> 10, remaining)
    rows = np.arange(len(words))
    xyzw[rows, largest] = np.sqrt(np.maximum(0.0, 1.0 - np.sum(xyzw**2, axis=1)))
    return xyzw


def load_spz(path: str | os.PathLike[str]) -> Gaussians:
    """Read Niantic's ``.spz`` (versions 2 and 3) into OpenCV axes; higher SH bands are dropped."""
    path, compressed = _read_bytes(path)
    try:
        data = gzip.decompress(compressed)
    except (OSError, EOFError, zlib.error) as error:
        raise InputError(
            f"{path} is not a readable .spz file: {error}",
            hint="the file is truncated or not gzip-compressed spz; fetch it again",
        ) from error
    if len(data) < 16 or struct.unpack_from("<I", data)[0] != _SPZ_MAGIC:
        raise InputError(f"{path} is not a .spz file (no NGSP header)", hint=_SUFFIX_HINT)
    _, version, count, sh_degree, fractional_bits, flags, _ = struct.unpack_from("<IIIBBBB", data)
    if version not in (2, 3):
        raise InputError(
            f"{path} is .spz version {version}; versions 2 and 3 are read",
            hint="re-save it with a current spz tool",
        )
    if flags & 0x2:
        raise InputError(
            f"{path} uses .spz extensions, which are not supported",
            hint="re-save it without extensions (no SH quantisation options)",
        )
    if sh_degree > 3:
        raise InputError(f"{path} has spherical harmonics of degree {sh_degree}; 3 is the most")
    rotation_bytes = 4 if version >= 3 else 3
    sizes = [9 * count, count, 3 * count, 3 * count, rotation_bytes * count]
    sizes.append(_sh_dimension(sh_degree) * 3 * count)
    if 16 + sum(sizes) > len(data):
        raise InputError(
            f"{path} is truncated: {count} Gaussians need {16 + sum(sizes)} bytes, "
            f"it has {len(data)}",
            hint="the download or copy was cut short; fetch the file again",
        )
    parts, offset = [], 16
    for size in sizes:
        parts.append(np.frombuffer(data, dtype=np.uint8, count=size, offset=offset))
        offset += size
    positions, alphas, colors, scales, rotations, _ = parts
    raw = positions.reshape(-1, 3).astype(np.int64) @ np.array([1, 1 << 8, 1 << 16])
    raw = np.where(raw & 0x800000, raw - (1 << 24), raw)  # sign extension of 24-bit values
    means = raw.reshape(count, 3) / float(1 << fractional_bits)
    if version >= 3:
        xyzw = _unpack_smallest_three(rotations.reshape(count, 4))
    else:
        xyz = rotations.reshape(count, 3).astype(np.float64) / 127.5 - 1.0
        w = np.sqrt(np.maximum(0.0, 1.0 - np.sum(xyz**2, axis=1, keepdims=True)))
        xyzw = np.concatenate([xyz, w], axis=1)
    quats = xyzw[:, [3, 0, 1, 2]]
    means, quats = _flip_axes(means, quats)  # RUB -> OpenCV
    dc = (colors.reshape(count, 3) / 255.0 - 0.5) / _SPZ_COLOR_SCALE
    colors_linear = srgb_to_linear(sh_dc_to_colour(dc))
    scales_linear = np.exp(scales.reshape(count, 3) / 16.0 - 10.0)
    opacities = alphas.astype(np.float64) / 255.0
    return _to_gaussians(means, scales_linear, quats, colors_linear, opacities, path)


# --- by suffix --------------------------------------------------------------------------------

_SAVERS: dict[str, Callable[..., Path]] = {".ply": save_ply, ".splat": save_splat, ".spz": save_spz}
_LOADERS: dict[str, Callable[..., Gaussians]] = {
    ".ply": load_ply,
    ".splat": load_splat,
    ".spz": load_spz,
}


def load_gaussians(path: str | os.PathLike[str], **options: Any) -> Gaussians:
    """Read a Gaussian scene from ``.ply``, ``.splat`` or ``.spz``, chosen by the suffix.

    ``axes`` applies to ``.ply`` and ``.splat``; ``.spz`` defines its own and ignores it.
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".spz":
        options.pop("axes", None)
    if suffix not in _LOADERS:
        raise InputError(
            f"{path}: unknown Gaussian splat suffix {suffix or '(none)'!r}",
            hint="give a .ply (3DGS / SHARP), .splat or .spz file",
        )
    return _LOADERS[suffix](path, **options)


def save_gaussians(path: str | os.PathLike[str], gaussians: Gaussians, **options: Any) -> Path:
    """Write a Gaussian scene as ``.ply``, ``.splat`` or ``.spz``, chosen by the suffix.

    ``axes`` applies to ``.ply`` and ``.splat``; ``.spz`` defines its own and ignores it.
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".spz":
        options.pop("axes", None)
    if suffix not in _SAVERS:
        raise OutputError(
            f"{path}: unknown Gaussian splat suffix {suffix or '(none)'!r}", hint=_SUFFIX_HINT
        )
    return _SAVERS[suffix](path, gaussians, **options)
