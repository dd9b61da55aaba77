"""Gaussian splat files: 3DGS / SHARP ``.ply``, antimatter15 ``.splat`` and Niantic ``.spz``.

Every format stores what a viewer displays, so colours go to disk as sRGB (viewers show the DC
colour as is) and come back as the linear RGB of :class:`~unflat.types.Gaussians`. In memory the
axes are always OpenCV (x right, y down, z forward); ``axes="opengl"`` writes x right, y up,
z backward for viewers that want y up. See ``docs/splat-files.md`` for the conventions.

Readers trust nothing in a file: the Gaussian count a file declares is checked against
``max_gaussians`` (:mod:`unflat.io.limits`) before its data is read or decompressed, every
decoding error becomes an ``InputError`` (:mod:`unflat.io.guard`), and values are checked
finite after the conversion to float32, naming the property at fault.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np
import torch

from unflat.colour import colour_to_sh_dc, linear_to_srgb, sh_dc_to_colour, srgb_to_linear
from unflat.errors import InputError, OutputError
from unflat.io import ply
from unflat.io.atomic import atomic_write
from unflat.io.guard import decoding
from unflat.io.limits import check_limit, current_limits
from unflat.types import Gaussians

Axes = Literal["opencv", "opengl"]
ColorSpace = Literal["srgb", "linear"]

SUFFIXES = (".ply", ".splat", ".spz")

# SHARP's PLY codes its colour space as one byte; 0 is what its writer uses for sRGB.
_SHARP_COLOR_CODES = {"srgb": 0, "linear": 1}
_SHARP_VERSION = (1, 5, 0)
# SHARP's single-property elements after the Gaussians, and how many values each holds.
_SHARP_SIZES = {
    "extrinsic": 16,
    "intrinsic": 9,
    "image_size": 2,
    "frame": 2,
    "disparity": 2,
    "color_space": 1,
    "version": 3,
}
_SPZ_MAGIC = 0x5053474E  # "NGSP" little endian
_SPZ_HEADER = struct.Struct("<IIIBBBB")
_SPZ_COLOR_SCALE = 0.15  # spz keeps DC colours a little outside [0, 1] representable
_SPLAT_RECORD = 32
_SPLAT_DTYPE = np.dtype(
    [("position", "<f4", 3), ("scale", "<f4", 3), ("rgba", "u1", 4), ("rot", "u1", 4)]
)

_GAUSSIAN_PROPERTIES = ("x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity")
_GAUSSIAN_PROPERTIES += ("scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3")
_SUFFIX_HINT = "save as .ply (3DGS / SHARP), .splat or .spz"
_DAMAGED_HINT = "the file is damaged or was written by a broken exporter; re-export it"
_FIELDS = ("means", "scales", "quats", "colors", "opacities")
# What each field is called in a file, column by column, for messages that name the culprit.
Columns = dict[str, tuple[str, ...]]
_PLY_COLUMNS: Columns = {
    "means": ("x", "y", "z"),
    "scales": ("scale_0", "scale_1", "scale_2"),
    "quats": ("rot_0", "rot_1", "rot_2", "rot_3"),
    "colors": ("f_dc_0", "f_dc_1", "f_dc_2"),
    "opacities": ("opacity",),
}
_SPLAT_COLUMNS: Columns = {
    "means": ("position x", "position y", "position z"),
    "scales": ("scale x", "scale y", "scale z"),
    "quats": ("rotation",) * 4,
    "colors": ("colour",) * 3,
    "opacities": ("alpha",),
}
_SPZ_COLUMNS: Columns = {
    "means": ("position",) * 3,
    "scales": ("scale",) * 3,
    "quats": ("rotation",) * 4,
    "colors": ("colour",) * 3,
    "opacities": ("alpha",),
}


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


def _unit_quaternions(quats: np.ndarray) -> np.ndarray:
    """Quaternions of length 1 (zero ones become the identity).

    Dividing by the largest component first keeps the norm finite for any finite input.
    """
    largest = np.abs(quats).max(axis=1, keepdims=True)
    scaled = quats / np.where(largest > 0, largest, 1.0)
    norms = np.linalg.norm(scaled, axis=1, keepdims=True)
    identity = np.array([1.0, 0.0, 0.0, 0.0])
    return np.where(largest > 0, scaled / np.maximum(norms, 1.0), identity)


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
    fields = {name: getattr(gaussians, name).detach().cpu().double().numpy() for name in _FIELDS}
    fields["quats"] = _unit_quaternions(fields["quats"])
    return fields


def _refuse_nonfinite(
    fields: dict[str, np.ndarray], path: Path, columns: Columns, what: str
) -> None:
    """``InputError`` counting the Gaussians with a non-finite value and naming the first one."""
    count = len(fields["means"])
    finite = {name: np.isfinite(fields[name].reshape(count, -1)) for name in _FIELDS}
    bad = np.zeros(count, dtype=bool)
    for values in finite.values():
        bad |= ~values.all(axis=1)
    if not bad.any():
        return
    row = int(np.argmax(bad))
    name = next(name for name in _FIELDS if not finite[name][row].all())
    column = columns[name][int(np.argmin(finite[name][row]))]
    raise InputError(
        f"{path} has {int(bad.sum())} of {count} Gaussians with {what} (the first is "
        f"Gaussian {row}, in {column})",
        hint=_DAMAGED_HINT,
    )


def _to_gaussians(fields: dict[str, np.ndarray], path: Path, columns: Columns) -> Gaussians:
    """Check what a file gave us (float64 arrays) and wrap it as float32 tensors.

    Values are checked twice: as read (NaN, infinity) and after the conversion to float32,
    where a value that fits float64 (a log scale of 100, a double of 1e300) becomes infinite.
    """
    count = len(fields["means"])
    if count == 0:
        raise InputError(
            f"{path} contains no Gaussians", hint="re-export the scene; empty scenes are refused"
        )
    _refuse_nonfinite(fields, path, columns, "NaN or infinite values")
    fields = fields | {"quats": _unit_quaternions(fields["quats"])}
    with np.errstate(over="ignore", invalid="ignore"):
        single = {name: np.ascontiguousarray(fields[name], dtype=np.float32) for name in _FIELDS}
    _refuse_nonfinite(single, path, columns, "values beyond float32's range (3.4e38)")
    return Gaussians(**{name: torch.from_numpy(values) for name, values in single.items()})


def _open(path: str | os.PathLike[str]) -> tuple[Path, BinaryIO]:
    source = Path(path).expanduser()
    return source, ply.open_binary(source, "a splat file")


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


def _read_ply(path: Path, file: BinaryIO) -> tuple[ply.Header, dict[str, np.ndarray]]:
    """The header and fixed-size elements of a Gaussian PLY, its count checked before reading."""
    header = ply.read_header(file, path)
    vertex = header.element("vertex")
    names = () if vertex is None else vertex.names
    missing = [name for name in _GAUSSIAN_PROPERTIES if name not in names]
    if vertex is None or missing:
        raise InputError(
            f"{path} is a PLY file but not a Gaussian splat file (no {', '.join(missing[:4])}"
            + (" ..." if len(missing) > 4 else "")
            + ")",
            hint="a point cloud or mesh PLY has no Gaussians; give a 3DGS or SHARP .ply",
        )
    if not header.endian:
        raise InputError(
            f"{path} is a PLY file in ASCII format; only binary PLY splats are read",
            hint="convert it to binary little endian (every splat tool writes that)",
        )
    if vertex.has_lists:
        raise InputError(
            f"{path}: the Gaussians have list properties, which no splat format uses",
            hint="re-export the splat without faces",
        )
    check_limit(path, "Gaussians", vertex.count, "max_gaussians")
    arrays = ply.read_elements(file, header, path, ply.file_size(file))
    if "vertex" not in arrays:
        raise InputError(
            f"{path}: list properties before the Gaussians are not supported",
            hint="re-export the splat without faces",
        )
    return header, arrays


def _unflat_comment(comments: tuple[str, ...], notes: list[str]) -> dict[str, str]:
    """Our own ``comment unflat key=value ...`` header line, if the file has one."""
    for comment in comments:
        words = comment.split()
        if words and words[0] == "unflat":
            settings = dict(word.split("=", 1) for word in words[1:] if "=" in word)
            allowed = {"axes": ("opencv", "opengl"), "color_space": ("srgb", "linear")}
            for key, values in allowed.items():
                if key in settings and settings[key] not in values:
                    notes.append(f"its header says {key}={settings[key]}; read as {values[0]}")
                    settings[key] = values[0]
            return settings
    return {}


def _sharp_values(
    element: ply.Element, arrays: dict[str, np.ndarray], notes: list[str]
) -> np.ndarray | None:
    """The float64 values of one SHARP metadata element, or None (with a note) when unusable."""
    name, size = element.name, _SHARP_SIZES[element.name]
    why = None
    if len(element.properties) != 1 or element.has_lists:
        why = f"has {len(element.properties)} properties, not one number"
    elif name not in arrays:
        why = "comes after list data"
    elif element.count != size:
        why = f"has {element.count} values, not {size}"
    if why is None:
        values = arrays[name][element.names[0]].astype(np.float64)
        if np.isfinite(values).all():
            if element.names[0] != name:
                notes.append(
                    f"its {name} element's property is named {element.names[0]!r}; "
                    "its value is used"
                )
            return values
        why = "holds NaN or infinite values"
    notes.append(f"its {name} element {why}; it is ignored")
    return None


def _sharp_metadata(
    header: ply.Header, arrays: dict[str, np.ndarray], notes: list[str]
) -> dict[str, Any]:
    """SHARP's camera and colour elements, each checked; damaged ones are left out with a note.

    All of them are optional (a 3DGS PLY has none), so damage costs the camera record or falls
    back to sRGB colours, never the scene.
    """
    found = {
        element.name: _sharp_values(element, arrays, notes)
        for element in header.elements
        if element.name in _SHARP_SIZES
    }
    values = {name: array for name, array in found.items() if array is not None}
    metadata: dict[str, Any] = {}
    if "intrinsic" in values:
        K = values["intrinsic"].reshape(3, 3)
        if K[0, 0] > 0 and K[1, 1] > 0:
            metadata["intrinsic"] = K
        else:
            notes.append("its intrinsic element has a focal length <= 0; it is ignored")
    if "image_size" in values:
        size = values["image_size"]
        pixels = current_limits().max_pixels
        if (size > 0).all() and (size == np.round(size)).all() and size.prod() <= pixels:
            metadata["image_size"] = size.astype(np.int64)
        else:
            shown = ", ".join(
                f"{value:.0f}" if value == int(value) else f"{value:g}" for value in size
            )
            notes.append(f"its image_size element is [{shown}]; it is ignored")
    if ("intrinsic" in metadata) != ("image_size" in metadata):
        notes.append("it has no usable intrinsic and image_size pair, so no camera")
    if "extrinsic" in values:
        metadata["extrinsic"] = values["extrinsic"].reshape(4, 4)
        if not np.allclose(metadata["extrinsic"], np.eye(4), atol=1e-6):
            notes.append("its extrinsic is not the identity; the scene is shown from the origin")
    for name in ("frame", "disparity", "version"):
        if name in values:
            metadata[name] = values[name]
    vertex = arrays["vertex"]
    if "frame" in metadata and metadata["frame"][1] != len(vertex):
        notes.append(
            f"its frame element says {metadata['frame'][1]:g} Gaussians, it has {len(vertex)}"
        )
    if "color_space" in found:
        code = values.get("color_space", np.array([0.0]))[0]
        if code not in _SHARP_COLOR_CODES.values():
            notes.append(f"its color_space code {code:g} is unknown; read as sRGB (0)")
        metadata["color_space"] = "linear" if code == _SHARP_COLOR_CODES["linear"] else "srgb"
    return metadata


def _ply_fields(vertex: np.ndarray, color_space: str, axes: str) -> dict[str, np.ndarray]:
    """The Gaussians of a PLY's vertex rows as float64 arrays (OpenCV axes, linear colours)."""

    def columns(*names: str) -> np.ndarray:
        return np.stack([vertex[name].astype(np.float64) for name in names], axis=1)

    means = columns("x", "y", "z")
    quats = columns("rot_0", "rot_1", "rot_2", "rot_3")
    if axes == "opengl":
        means, quats = _flip_axes(means, quats)
    shown = sh_dc_to_colour(columns("f_dc_0", "f_dc_1", "f_dc_2"))
    colors = srgb_to_linear(shown) if color_space == "srgb" else shown
    scales = np.exp(columns("scale_0", "scale_1", "scale_2"))
    opacities = _sigmoid(vertex["opacity"].astype(np.float64))
    return dict(means=means, scales=scales, quats=quats, colors=colors, opacities=opacities)


def load_ply_with_metadata(
    path: str | os.PathLike[str], axes: Axes | None = None
) -> tuple[Gaussians, dict[str, Any]]:
    """Read a 3DGS or SHARP PLY; the metadata says which layout and holds SHARP's camera data.

    ``axes=None`` trusts the file (our header comment, else OpenCV); give ``"opengl"`` to undo a
    y-up export made elsewhere. Damaged optional metadata is left out and ``metadata["note"]``
    says what was ignored.
    """
    if axes is not None:
        _check_axes(axes)
    source, file = _open(path)
    # values are checked after the conversions, so numpy's warnings about them are noise
    with file, decoding(source, "Gaussian splat file (.ply)"), np.errstate(all="ignore"):
        header, arrays = _read_ply(source, file)
        notes: list[str] = []
        ours = _unflat_comment(header.comments, notes)
        sharp = _sharp_metadata(header, arrays, notes)
        layout = "sharp" if any(e.name in _SHARP_SIZES for e in header.elements) else "3dgs"
        metadata: dict[str, Any] = {"layout": layout}
        metadata["elements"] = [element.name for element in header.elements]
        metadata["color_space"] = sharp.pop("color_space", ours.get("color_space", "srgb"))
        metadata["axes"] = axes or ours.get("axes", "opencv")
        metadata |= sharp
        fields = _ply_fields(arrays["vertex"], metadata["color_space"], metadata["axes"])
        gaussians = _to_gaussians(fields, source, _PLY_COLUMNS)
    if notes:
        metadata["note"] = f"{source.name}: " + "; ".join(notes)
    return gaussians, metadata


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
    """Read antimatter15's ``.splat``; ``axes`` is the convention it was written in.

    The count is the file size over 32, checked against ``max_gaussians`` before reading.
    Scales are standard deviations, so a negative one is damage and refused.
    """
    _check_axes(axes)
    source, file = _open(path)
    # values are checked after the conversions, so numpy's warnings about them are noise
    with file, decoding(source, ".splat file"), np.errstate(all="ignore"):
        size = ply.file_size(file)
        if size % _SPLAT_RECORD:
            raise InputError(
                f"{source} is not a whole .splat file: {size} bytes is not a multiple of 32",
                hint="the file is truncated or not a .splat; fetch it again",
            )
        check_limit(source, "Gaussians", size // _SPLAT_RECORD, "max_gaussians")
        records = np.frombuffer(file.read(size), dtype=_SPLAT_DTYPE)
        means = records["position"].astype(np.float64)
        quats = (records["rot"].astype(np.float64) - 128.0) / 128.0
        if axes == "opengl":
            means, quats = _flip_axes(means, quats)
        rgba = records["rgba"].astype(np.float64) / 255.0
        scales = records["scale"].astype(np.float64)
        negative = (scales < 0).any(axis=1)
        if negative.any():
            raise InputError(
                f"{source} has {int(negative.sum())} of {len(records)} Gaussians with a negative "
                f"scale (the first is Gaussian {int(np.argmax(negative))}); .splat scales are "
                "standard deviations",
                hint=_DAMAGED_HINT,
            )
        fields = dict(means=means, scales=scales, quats=quats, opacities=rgba[:, 3])
        fields["colors"] = srgb_to_linear(rgba[:, :3])
        return _to_gaussians(fields, source, _SPLAT_COLUMNS)


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


class _Inflater:
    """Gzip decompression of an open file, ``read(size)`` bytes at a time.

    Nothing is decompressed beyond what is asked for, so a small file that inflates to gigabytes
    costs only what the caller decided to accept. Concatenated gzip members (and the zero
    padding some tools append) are read as one stream, like :mod:`gzip` does; zlib checks each
    member's CRC and length when it reaches the member's end.
    """

    def __init__(self, file: BinaryIO, chunk: int = 1 << 20) -> None:
        self.file, self.chunk = file, chunk
        self.inflater = zlib.decompressobj(wbits=31)  # 31: gzip wrapper
        self.pending = b""  # compressed bytes read but not yet given to the inflater

    def read(self, size: int) -> bytes:
        """Up to ``size`` decompressed bytes; fewer only at the end of the stream."""
        parts: list[bytes] = []
        wanted = size
        while wanted > 0:
            if self.inflater.eof and not self._next_member():
                break
            data, self.pending = self.inflater.unconsumed_tail or self.pending, b""
            # with all input given, zlib may still hold output back for want of room
            piece = b"" if data else self.inflater.decompress(b"", wanted)
            if not data and not piece:
                data = self.file.read(self.chunk)
                if not data:
                    raise InputError(
                        f"{self.file.name} is truncated: its compressed data ends early",
                        hint="the download or copy was cut short; fetch the file again",
                    )
            if data:
                piece = self.inflater.decompress(data, wanted)
            parts.append(piece)
            wanted -= len(piece)
        return b"".join(parts)

    def _next_member(self) -> bool:
        """Start the next gzip member after the current one; False at the end of the file."""
        rest = self.inflater.unused_data  # at a member's end the input left over is here
        while True:
            rest = rest.lstrip(b"\0")
            if rest:
                break
            rest = self.file.read(self.chunk)
            if not rest:
                return False
        self.inflater = zlib.decompressobj(wbits=31)
        self.pending = rest
        return True


def _spz_header(header: bytes, source: Path) -> tuple[int, int, int, int, list[int]]:
    """(version, count, SH degree, fractional bits, array sizes) of a ``.spz`` header."""
    if len(header) < _SPZ_HEADER.size or _SPZ_HEADER.unpack(header)[0] != _SPZ_MAGIC:
        raise InputError(f"{source} is not a .spz file (no NGSP header)", hint=_SUFFIX_HINT)
    _, version, count, sh_degree, fractional_bits, flags, _ = _SPZ_HEADER.unpack(header)
    if version not in (2, 3):
        raise InputError(
            f"{source} is .spz version {version}; versions 2 and 3 are read",
            hint="re-save it with a current spz tool",
        )
    if flags & 0x2:
        raise InputError(
            f"{source} uses .spz extensions, which are not supported",
            hint="re-save it without extensions (no SH quantisation options)",
        )
    if sh_degree > 3:
        raise InputError(
            f"{source} has spherical harmonics of degree {sh_degree}; 3 is the most",
            hint="the header is damaged or from a newer spz; re-save it with SH degree 3 or less",
        )
    if fractional_bits > 24:
        raise InputError(
            f"{source} declares {fractional_bits} fractional bits for 24-bit positions",
            hint="the header is damaged; fetch the file again",
        )
    rotation_bytes = 4 if version >= 3 else 3
    sizes = [9 * count, count, 3 * count, 3 * count, rotation_bytes * count]
    sizes.append(_sh_dimension(sh_degree) * 3 * count)
    return version, count, sh_degree, fractional_bits, sizes


def _read_spz(source: Path, file: BinaryIO) -> tuple[int, int, int, list[np.ndarray]]:
    """(version, count, fractional bits, arrays) of a ``.spz``, its count checked first.

    The decompressed size must be exactly what the header's count implies: the payload is
    inflated only up to that size, and anything beyond it is refused.
    """
    stream = _Inflater(file)
    version, count, _, fractional_bits, sizes = _spz_header(stream.read(16), source)
    check_limit(source, "Gaussians", count, "max_gaussians")
    check_limit(source, "bytes of decompressed .spz data", 16 + sum(sizes), "max_decoded_bytes")
    body = stream.read(sum(sizes))
    if len(body) < sum(sizes):
        raise InputError(
            f"{source} is truncated: {count} Gaussians need {16 + sum(sizes)} bytes, "
            f"it has {16 + len(body)}",
            hint="the download or copy was cut short; fetch the file again",
        )
    if stream.read(1):
        raise InputError(
            f"{source} holds more data than its header's {count} Gaussians",
            hint="the header is damaged; fetch the file again",
        )
    parts, offset = [], 0
    for size in sizes:
        parts.append(np.frombuffer(body, dtype=np.uint8, count=size, offset=offset))
        offset += size
    return version, count, fractional_bits, parts


def load_spz(path: str | os.PathLike[str]) -> Gaussians:
    """Read Niantic's ``.spz`` (versions 2 and 3) into OpenCV axes; higher SH bands are dropped."""
    source, file = _open(path)
    # values are checked after the conversions, so numpy's warnings about them are noise
    with file, decoding(source, ".spz file"), np.errstate(all="ignore"):
        version, count, fractional_bits, parts = _read_spz(source, file)
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
        means, quats = _flip_axes(means, xyzw[:, [3, 0, 1, 2]])  # RUB -> OpenCV
        dc = (colors.reshape(count, 3) / 255.0 - 0.5) / _SPZ_COLOR_SCALE
        fields = dict(means=means, quats=quats, colors=srgb_to_linear(sh_dc_to_colour(dc)))
        fields["scales"] = np.exp(scales.reshape(count, 3) / 16.0 - 10.0)
        fields["opacities"] = alphas.astype(np.float64) / 255.0
        return _to_gaussians(fields, source, _SPZ_COLUMNS)


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
