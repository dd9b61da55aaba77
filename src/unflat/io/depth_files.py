"""Depth maps on disk: ``.npy``/``.npz`` (exact), 16-bit PNG (millimetres), PFM, TIFF, EXR.

In memory depth is always ``float32`` metres; pixels without a valid depth are NaN after
loading. The file conventions are those of the datasets we test on: 16-bit PNG stores
``round(metres * scale)`` with 0 = invalid (NYU: scale 1000, i.e. millimetres; KITTI: 256).

Two readers: :func:`load_depth` applies those conventions (or the ``scale`` given), for
datasets and code that knows its files; :func:`read_depth` reads a depth map a user handed
over (``unflat splat --depth``) in the units they name, or guesses them (see
:func:`guess_depth_units`) and says what it assumed. Both check every file before decoding
it: damage is an ``InputError`` (:func:`unflat.io.guard.decoding`), and the size a header
declares is checked against :mod:`unflat.io.limits` before anything is allocated.
"""

from __future__ import annotations

import math
import os
import re
import struct
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import cv2
import numpy as np
from PIL import Image, ImageMode, UnidentifiedImageError

from unflat.errors import ConfigError, InputError, OutputError
from unflat.io.atomic import atomic_write
from unflat.io.guard import decoding
from unflat.io.limits import check_limit
from unflat.io.png import check_png
from unflat.io.quiet import opencv_decode, quiet_decoders

# Decoders' own messages off stderr: our InputError says what is wrong, once.
quiet_decoders()

#: Units per metre of a 16-bit depth PNG unless told otherwise (millimetres, as NYU Depth v2).
PNG_DEPTH_SCALE = 1000.0
#: Depth range shown by previews, as in Apple's depth_pro CLI: nearer than 10 cm or farther than
#: 250 m would only stretch the colour scale.
PREVIEW_RANGE_M = (0.1, 250.0)
DEPTH_SUFFIXES = (".npy", ".npz", ".png", ".pfm", ".tif", ".tiff", ".exr")
#: Units ``read_depth`` knows by name, in stored units per metre; also "auto" and "inverse".
NAMED_UNITS = {"m": 1.0, "cm": 100.0, "mm": 1000.0}
#: Median depths (metres) a photo's depth map can have: from a close-up to a distant landscape.
#: A guess of units that puts the median outside is refused rather than used.
PLAUSIBLE_MEDIAN_M = (0.01, 1000.0)

_DAMAGED = "the file is damaged or incomplete; write or copy it again"
_SAVE_FLOATS = "save the depth map as float32 metres, e.g. np.save(path, depth.astype('float32'))"


@dataclass(frozen=True)
class DepthFile:
    """A depth map read by :func:`read_depth`: ``float32 [H,W]`` metres (NaN = no depth).

    ``units`` says how the stored values were read ("millimetres", "1/256 m", "inverse
    metres"); ``assumed`` is a one-line account of a guess (empty when the units were given).
    """

    metres: np.ndarray
    units: str
    assumed: str = ""


def save_depth_npy(path: str | os.PathLike[str], depth: np.ndarray) -> Path:
    """Write depth (metres) as a ``float32`` ``.npy`` file, exactly, NaN/inf included."""
    array = _as_depth(depth).astype(np.float32)
    with atomic_write(path) as temporary, open(temporary, "wb") as handle:
        np.save(handle, array, allow_pickle=False)
    return Path(path)


def save_depth_png16(
    path: str | os.PathLike[str], depth: np.ndarray, scale: float = PNG_DEPTH_SCALE
) -> Path:
    """Write depth as a 16-bit PNG of ``round(metres * scale)`` (millimetres by default).

    Non-finite, zero and negative depths become 0 (the "invalid" value every reader knows);
    positive depths that would round to 0 become 1, so they stay valid. The format cannot hold
    more than ``65535 / scale`` metres (65.535 m in millimetres): farther depths, the sky
    included, are clipped to it. Use :func:`save_depth_npy` when that matters.
    """
    array = _as_depth(depth).astype(np.float64)
    valid = np.isfinite(array) & (array > 0)
    units = np.zeros(array.shape, dtype=np.uint16)
    units[valid] = np.clip(np.rint(array[valid] * scale), 1, 65535).astype(np.uint16)
    _write_encoded(path, ".png", units)
    return Path(path)


def load_depth(path: str | os.PathLike[str], scale: float | None = None) -> np.ndarray:
    """Read a depth map as ``float32 [H,W]`` metres; invalid pixels (PNG 0) come back as NaN.

    ``scale`` is the stored units per metre: by default 1000 for integer data (16-bit PNG or
    TIFF, integer arrays: millimetres, 0 = invalid) and 1 for floats (``.npy``, ``.npz``,
    ``.pfm``, float TIFF, ``.exr``), which hold metres. KITTI PNGs need ``scale=256``.
    """
    source = Path(path).expanduser()
    stored = _read_stored(source)
    if scale is None:
        scale = PNG_DEPTH_SCALE if np.issubdtype(stored.dtype, np.integer) else 1.0
    return _require_depth(_to_metres(stored, scale), source)


def read_depth(path: str | os.PathLike[str], units: str | float = "auto") -> DepthFile:
    """Read a depth map given by a user, in ``units``: "m", "cm", "mm", a number of stored
    units per metre (256 for KITTI PNGs), "inverse" (values are 1/metres) or "auto".

    "auto" guesses with :func:`guess_depth_units` and refuses a disparity map rather than
    reading it as metres. Raises ``InputError`` for damaged files and unusable values.
    """
    source = Path(path).expanduser()
    units = parse_depth_units(units)
    stored = _read_stored(source)
    assumed = ""
    if units == "auto":
        units, assumed = guess_depth_units(stored, source)
    if units == "inverse":
        with np.errstate(divide="ignore"):
            metres = _to_metres(stored, 1.0)
            np.reciprocal(metres, out=metres)
        name = "inverse metres"
    else:
        metres = _to_metres(stored, float(units))
        name = _units_name(float(units))
    return DepthFile(_require_depth(metres, source), name, assumed)


def parse_depth_units(units: str | float) -> str | float:
    """``units`` as "auto", "inverse" or stored units per metre; ``ConfigError`` otherwise."""
    given = units
    if isinstance(units, str):
        text = units.strip().lower()
        if text in {"auto", "inverse"}:
            return text
        if text in NAMED_UNITS:
            return NAMED_UNITS[text]
        try:
            units = float(text)
        except ValueError:
            units = math.nan
    if not (math.isfinite(units) and units > 0):
        raise ConfigError(
            f"unknown depth units {given!r}",
            hint="use auto, m, cm, mm, inverse, or the stored units per metre (e.g. 256)",
        )
    return float(units)


def _units_name(per_metre: float) -> str:
    names = {1.0: "metres", 100.0: "centimetres", 1000.0: "millimetres"}
    return names.get(per_metre, f"1/{per_metre:g} m")


def _to_metres(stored: np.ndarray, per_metre: float) -> np.ndarray:
    """``stored / per_metre`` as a new ``float32`` array; integer 0 (no depth) becomes NaN.
    Values past float32's range become infinite: no depth, as an infinity in the file."""
    with np.errstate(over="ignore"):
        metres = stored.astype(np.float32, copy=True)
    if np.issubdtype(stored.dtype, np.integer):
        metres[stored == 0] = np.nan
    if per_metre != 1.0:
        metres /= np.float32(per_metre)
    return metres


def _require_depth(metres: np.ndarray, source: Path) -> np.ndarray:
    """``metres``, unless not one value in it is a depth (finite and > 0)."""
    with np.errstate(invalid="ignore"):
        if not np.any(np.isfinite(metres) & (metres > 0)):
            raise InputError(
                f"{source} holds no depth: every value is NaN, infinite, zero or negative",
                hint="give the depth map itself, in metres",
            )
    return metres


def inverse_depth_colormap(
    depth: np.ndarray, percentiles: tuple[float, float] = (1.0, 99.0)
) -> np.ndarray:
    """Colour inverse depth with the turbo map as ``uint8 [H,W,3]`` RGB: near red, far blue.

    Like Apple's depth_pro CLI, depth is first clipped to :data:`PREVIEW_RANGE_M` and inverted
    (which spreads the near range, where the detail is); Apple then stretches min to max, we
    stretch between the given percentiles of inverse depth so a few stray pixels do not wash
    the picture out (``(0, 100)`` reproduces Apple). Invalid pixels are black.
    """
    array = _as_depth(depth).astype(np.float64)
    valid = np.isfinite(array) & (array > 0)
    normalised = np.zeros(array.shape, dtype=np.float64)
    if valid.any():
        inverse = 1.0 / np.clip(array[valid], *PREVIEW_RANGE_M)
        low, high = np.percentile(inverse, percentiles)
        if high > low:
            normalised[valid] = np.clip((inverse - low) / (high - low), 0.0, 1.0)
    index = np.rint(normalised * 255.0).astype(np.uint8)
    rgb = cv2.applyColorMap(index, cv2.COLORMAP_TURBO)[:, :, ::-1].copy()
    rgb[~valid] = 0
    return rgb


def save_inverse_depth_preview(
    path: str | os.PathLike[str],
    depth: np.ndarray,
    percentiles: tuple[float, float] = (1.0, 99.0),
) -> Path:
    """Write :func:`inverse_depth_colormap` of ``depth`` as a PNG or JPEG (by extension)."""
    suffix = Path(path).suffix.lower()
    if suffix not in {".png", ".jpg", ".jpeg"}:
        raise OutputError(f"cannot write a preview as {Path(path).name}", hint="use .png or .jpg")
    rgb = inverse_depth_colormap(depth, percentiles)
    _write_encoded(path, suffix, rgb[:, :, ::-1].copy())
    return Path(path)


def read_pfm(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a PFM file as ``float32 [H,W]`` (``Pf``) or ``[H,W,3]`` (``PF``), top row first.

    The sign of the scale line gives the byte order; its magnitude is returned unapplied, as
    every dataset we read (Middlebury, SceneFlow) stores 1.
    """
    source = Path(path).expanduser()
    _check_readable(source)
    with open(source, "rb") as handle:
        head = handle.read(256)
        # Header: identifier, width height, scale; separated by any whitespace (some writers
        # put width and height on separate lines).
        match = re.match(rb"(P[Ff])\s+(\d{1,9})\s+(\d{1,9})\s+([-+0-9.eE]{1,40})\s", head)
        if match is None:
            raise InputError(f"{source} is not a PFM file (bad header)", hint="check the file")
        channels = 3 if match.group(1) == b"PF" else 1
        width, height = int(match.group(2)), int(match.group(3))
        try:
            scale = float(match.group(4))
        except ValueError as error:
            raise InputError(f"{source} has a bad PFM scale", hint="check the file") from error
        _check_size(source, width, height, 4 * channels)
        count = width * height * channels
        present = source.stat().st_size - match.end()
        if present < 4 * count:  # before reading: read(n) would set n bytes aside first
            raise InputError(
                f"{source} is truncated ({present} of {4 * count} data bytes)",
                hint="the file is incomplete; copy or export it again",
            )
        handle.seek(match.end())
        body = handle.read(4 * count)
    byte_order = "<" if scale < 0 else ">"
    values = np.frombuffer(body, dtype=f"{byte_order}f4", count=count).astype(np.float32)
    shape = (height, width, 3) if channels == 3 else (height, width)
    # PFM stores the bottom row first.
    return np.ascontiguousarray(np.flipud(values.reshape(shape)))


def write_pfm(path: str | os.PathLike[str], array: np.ndarray) -> Path:
    """Write ``float32 [H,W]`` or ``[H,W,3]`` as a little-endian PFM (bottom row first)."""
    values = np.asarray(array, dtype=np.float32)
    if values.ndim == 2:
        identifier = b"Pf"
    elif values.ndim == 3 and values.shape[2] == 3:
        identifier = b"PF"
    else:
        raise ValueError(f"write_pfm expects [H,W] or [H,W,3], got {values.shape}")
    height, width = values.shape[:2]
    header = identifier + b"\n%d %d\n-1.0\n" % (width, height)
    body = np.ascontiguousarray(np.flipud(values)).astype("<f4").tobytes()
    with atomic_write(path) as temporary:
        temporary.write_bytes(header + body)
    return Path(path)


def _as_depth(depth: np.ndarray) -> np.ndarray:
    array = np.asarray(depth)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]  # [1,H,W] as models return it
    if array.ndim != 2:
        raise ValueError(f"depth must be [H,W], got shape {array.shape}")
    return array


def _write_encoded(path: str | os.PathLike[str], suffix: str, array: np.ndarray) -> None:
    # imencode + our own write, rather than imwrite: it goes through atomic_write, works with
    # non-ASCII paths on Windows, and fails loudly instead of returning False.
    parameters = [cv2.IMWRITE_JPEG_QUALITY, 95] if suffix in {".jpg", ".jpeg"} else []
    ok, encoded = cv2.imencode(suffix, array, parameters)
    if not ok:
        raise OutputError(f"could not encode {Path(path).name}", hint="use .png or .jpg")
    with atomic_write(path) as temporary:
        temporary.write_bytes(encoded.tobytes())


def _check_readable(source: Path) -> None:
    if not source.exists():
        raise InputError(f"{source} does not exist", hint="check the path and its spelling")
    if source.is_dir():
        raise InputError(f"{source} is a folder, not a depth file", hint="give a file")
    if source.stat().st_size == 0:
        raise InputError(f"{source} is empty (0 bytes)", hint="the file was not fully written")
    if not os.access(source, os.R_OK):
        raise InputError(f"cannot read {source}: permission denied", hint="check its permissions")


# --- reading the stored array: checked before it is allocated --------------------------------


def _read_stored(source: Path) -> np.ndarray:
    """The depth file's array as stored, ``[H,W]`` of integers or floats, checked."""
    suffix = source.suffix.lower()
    if suffix not in DEPTH_SUFFIXES:
        raise InputError(
            f"{source} is not a depth file we know",
            hint="use one of " + ", ".join(DEPTH_SUFFIXES),
        )
    _check_readable(source)
    if suffix == ".npy":
        stored = _load_npy(source)
    elif suffix == ".npz":
        stored = _load_npz(source)
    elif suffix == ".pfm":
        stored = read_pfm(source)
    else:
        stored = _load_image(source, suffix)
    return _squeeze_depth(stored, source)


def _check_size(source: Path, width: int, height: int, bytes_per_pixel: int) -> None:
    """Refuse an empty map, or one past the pixel or decoded-bytes limit, from its header."""
    if width <= 0 or height <= 0:
        raise InputError(
            f"{source} holds an empty depth map ({width}x{height})", hint="write the map again"
        )
    check_limit(source, f"depth pixels ({width}x{height})", width * height, "max_pixels")
    check_limit(
        source, "bytes of depth data", width * height * bytes_per_pixel, "max_decoded_bytes"
    )


def _check_declared(
    source: Path, shape: tuple[int, ...], dtype: np.dtype, available: int | None
) -> None:
    """Refuse what a ``.npy`` header declares before reading it: no numbers, nothing, too much
    for the limits, or more bytes than the file holds."""
    if dtype.hasobject or dtype.fields is not None or dtype.kind not in "iuf":
        raise InputError(f"{source} holds {dtype} values, not depth numbers", hint=_SAVE_FLOATS)
    if not shape or 0 in shape:
        raise InputError(f"{source} holds an empty array (shape {shape})", hint=_SAVE_FLOATS)
    count = math.prod(shape)
    check_limit(source, f"depth values (shape {shape})", count, "max_pixels")
    check_limit(source, "bytes of depth data", count * dtype.itemsize, "max_decoded_bytes")
    if available is not None and available < count * dtype.itemsize:
        raise InputError(
            f"{source} is truncated ({max(0, available):,} of {count * dtype.itemsize:,} "
            "data bytes)",
            hint=_DAMAGED,
        )


def _npy_header(source: Path, stream: IO[bytes], size: int | None) -> None:
    """Read and check the ``.npy`` header at the start of ``stream`` (``size`` bytes long)."""
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
    else:  # 2.0 and 3.0 differ from 1.0 only in the length field (and 3.0's text encoding)
        shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
    available = None if size is None else size - stream.tell()
    _check_declared(source, tuple(shape), np.dtype(dtype), available)


def _load_npy(source: Path) -> np.ndarray:
    # numpy warns on stderr about a header it had to parse twice (written by Python 2, or
    # damaged), then reads it or raises all the same.
    with decoding(source, "depth map (.npy)", hint=_DAMAGED), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with open(source, "rb") as stream:
            _npy_header(source, stream, source.stat().st_size)
        return np.load(source, allow_pickle=False)


def _load_npz(source: Path) -> np.ndarray:
    # zipfile raises RuntimeError for a member flagged as encrypted, NotImplementedError (a
    # RuntimeError) for an unknown compression method: both are a damaged archive here.
    with (
        decoding(source, "depth archive (.npz)", hint=_DAMAGED, extra=(RuntimeError,)),
        zipfile.ZipFile(source) as archive,
        warnings.catch_warnings(),  # numpy's about a header parsed twice, as for .npy
    ):
        warnings.simplefilter("ignore")
        arrays = {name.removesuffix(".npy"): name for name in archive.namelist()}
        # Apple's depth_pro CLI writes the key "depth"; a single array needs no name.
        if not arrays:
            raise InputError(f"{source} holds no arrays", hint=_SAVE_FLOATS)
        if "depth" in arrays:
            member = archive.getinfo(arrays["depth"])
        elif len(arrays) == 1:
            member = archive.getinfo(next(iter(arrays.values())))
        else:
            raise InputError(
                f"{source} holds {len(arrays)} arrays ({', '.join(sorted(arrays)[:5])}) and "
                "none is named 'depth'",
                hint="save the depth map under the key 'depth'",
            )
        with archive.open(member) as stream:
            _npy_header(source, stream, member.file_size)
        # The member is read again from its start; zipfile checks its CRC at the end.
        with archive.open(member) as stream:
            return np.lib.format.read_array(stream, allow_pickle=False)


# Pillow modes that hold depth as stored: 16-bit and 32-bit integers, 32-bit floats.
_DEPTH_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I", "F"})


def _load_image(source: Path, suffix: str) -> np.ndarray:
    """A 16-bit or float PNG/TIFF (Pillow, which never pads a short file) or EXR (OpenCV)."""
    what = f"depth image ({suffix})"
    if suffix == ".exr":
        with decoding(source, what, hint=_DAMAGED):
            size = _exr_size(source)
        _check_size(source, *size, 16)  # up to four float32 channels
        # OpenCV keeps its EXR decoder off unless this is set (it reads it on first use); the
        # user asked for this file, so allow it for this process.
        os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")
    else:
        # Pillow warns on stderr about damaged tags; pixels that cannot be read raise instead.
        with decoding(source, what, hint=_DAMAGED), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stored = _load_with_pillow(source)
        if stored is not None:
            return stored
    # OpenCV for what Pillow does not hold as depth: EXR, 16-bit colour, float64 TIFF, 8 bits.
    with decoding(source, what, hint=_DAMAGED):
        # OpenCV's own messages stay off stderr; the InputError below says it once.
        stored = opencv_decode(source)
    if stored is None:
        if suffix == ".exr":
            raise InputError(
                f"cannot read {source}: this OpenCV build has no OpenEXR support, or the file "
                "is damaged",
                hint="convert it to .npy or .pfm",
            )
        raise InputError(f"{source} is not a valid {what} (it could not be decoded)", _DAMAGED)
    if stored.dtype == np.uint8:
        raise InputError(
            f"{source} is an 8-bit image, which cannot hold metric depth (a preview?)",
            hint="use the 16-bit PNG, .npy or .pfm depth file",
        )
    return stored


def _load_with_pillow(source: Path) -> np.ndarray | None:
    """The PNG/TIFF's depth array after checking its header; None when Pillow cannot hold it."""
    try:
        image = Image.open(source)
    except Image.DecompressionBombError as error:
        # Pillow refuses a header past twice its own pixel limit before ours is checked.
        said = re.search(r"\(([0-9]+) pixels\)", str(error))
        declared = int(said[1]) if said else 2 * (Image.MAX_IMAGE_PIXELS or 0) + 1
        check_limit(source, "depth pixels (its header)", declared, "max_pixels")
        raise InputError(f"{source} is too large to open ({error})", hint=_DAMAGED) from None
    except UnidentifiedImageError:
        with open(source, "rb") as handle:
            if handle.read(8) == b"\x89PNG\r\n\x1a\n":  # Pillow reads every valid PNG
                raise ValueError("its header could not be read") from None
        return None  # a TIFF layout only OpenCV knows, or damage: OpenCV tells
    with image:
        try:
            layout = ImageMode.getmode(image.mode)
            per_pixel = len(layout.bands) * np.dtype(layout.typestr).itemsize
        except KeyError:
            per_pixel = 16
        if any(";16" in str(tile[3]) for tile in image.tile if len(tile) > 3):
            per_pixel = max(per_pixel, 8)  # 16-bit colour: OpenCV decodes 2 bytes a sample
        _check_size(source, *image.size, per_pixel)
        if image.format == "PNG":
            check_png(source)  # Pillow would fill a short PNG with zeros
        if image.mode not in _DEPTH_MODES:
            return None
        image.load()
        return np.array(image)


def _exr_size(source: Path) -> tuple[int, int]:
    """Width and height from an OpenEXR header's ``dataWindow``, before OpenCV decodes it."""
    with open(source, "rb") as handle:
        head = handle.read(1 << 16)
    if head[:4] != b"v/1\x01":
        raise ValueError("no OpenEXR signature")
    position = 8
    while head[position : position + 1] not in (b"", b"\x00"):
        name_end = head.index(b"\x00", position)
        type_end = head.index(b"\x00", name_end + 1)
        (length,) = struct.unpack("<i", head[type_end + 1 : type_end + 5])
        value = head[type_end + 5 : type_end + 5 + length]
        if head[position:name_end] == b"dataWindow":
            left, top, right, bottom = struct.unpack("<4i", value[:16])
            return right - left + 1, bottom - top + 1
        position = type_end + 5 + length
    raise ValueError("the header has no dataWindow")


def _squeeze_depth(stored: np.ndarray, source: Path) -> np.ndarray:
    array = np.asarray(stored)
    if array.ndim == 3 and 1 in (array.shape[0], array.shape[2]):
        array = array.reshape(array.shape[:2] if array.shape[2] == 1 else array.shape[1:])
    if array.ndim != 2:
        raise InputError(
            f"{source} holds an array of shape {array.shape}, not a depth map [H,W]",
            hint="save one channel of depth in metres",
        )
    if array.size == 0:
        raise InputError(f"{source} holds an empty depth map {array.shape}", hint=_SAVE_FLOATS)
    if array.dtype.kind not in "iuf":
        raise InputError(f"{source} holds {array.dtype} values, not depth", hint=_SAVE_FLOATS)
    return array


# --- guessing the units of a depth map ---------------------------------------------------------
#
# Scale (millimetres or metres) cannot be seen in the geometry: a scene a thousand times larger
# photographed with the same focal length gives the same picture, so the focal length does not
# tell either; only plausible distances and the way values are stored do. Disparity (and any
# inverse depth) can be seen: a plane in the scene is a plane in 1/depth over the image (for any
# focal length), so over a flat patch depth values are curved and disparity values are
# affine. Patch by patch, whichever of the values or their inverses an affine function fits
# clearly better casts a vote; a map is called depth or disparity only when the votes are many
# and lopsided. Curved objects, edges and sensor noise fit neither well and do not vote.

#: (long side in pixels, patch side) of the scales the votes are counted at.
_VOTE_SCALES = ((200, 7), (160, 7), (120, 5))
#: A patch votes when one fit is this many times better than the other, and the better one
#: leaves under 2 % of the values unexplained (a smooth surface, not an edge or noise).
_CLEAR_RATIO, _SMOOTH = 2.0, 0.02
#: Votes needed, and how many times the other side's, to decide.
_MIN_VOTES, _LOPSIDED = 30, 4.0


def guess_depth_units(stored: np.ndarray, source: Path) -> tuple[str | float, str]:
    """The units of a depth map nobody named: stored units per metre, and why.

    Refuses a map that looks like disparity or inverse depth, and a guess that would put the
    median depth outside :data:`PLAUSIBLE_MEDIAN_M`. Integer maps are millimetres (the common
    convention: NYU, phone depth PNGs, ``unflat depth``'s ``.depth_mm.png``); float maps of
    whole numbers with a median of 100 or more are millimetres too (a sensor's values saved as
    floats); other floats are metres, unless the median is over 1000 (a kilometre: no photo's
    scene), which is millimetres.
    """
    sample = _valid_sample(stored)
    if sample.size == 0:
        raise InputError(
            f"{source} holds no depth: every value is NaN, infinite, zero or negative",
            hint="give the depth map itself, in metres",
        )
    depth_votes, disparity_votes = _surface_votes(stored)
    if disparity_votes >= _MIN_VOTES and disparity_votes >= _LOPSIDED * depth_votes:
        raise InputError(
            f"{source} looks like disparity or inverse depth, not depth: over flat surfaces "
            f"it varies as 1/distance does ({disparity_votes} patches against {depth_votes})",
            hint="give depth in metres: stereo disparity d in pixels is focal_px x baseline_m / d "
            "metres; pass --depth-units inverse if the values are 1/metres, or --depth-units m to "
            "use them as they are",
        )
    median = float(np.median(sample))
    integer = np.issubdtype(stored.dtype, np.integer)
    if integer:
        per_metre, why = 1000.0, f"{stored.dtype.itemsize * 8}-bit whole numbers"
    elif median >= 100 and bool(np.all(sample == np.round(sample))):
        per_metre, why = 1000.0, "whole numbers"
    elif median > PLAUSIBLE_MEDIAN_M[1]:
        per_metre, why = 1000.0, "too far for metres"
    else:
        per_metre, why = 1.0, "floating-point values"
    metres = median / per_metre
    name = _units_name(per_metre)
    low, high = PLAUSIBLE_MEDIAN_M
    if not low <= metres <= high:
        raise InputError(
            f"{source}: read as {name} ({why}), its median depth would be {metres:.3g} m",
            hint="pass --depth-units with the stored units (m, cm, mm, inverse, or units per "
            "metre such as 256)",
        )
    shown = f"median {median:.4g}" + (f" = {metres:.3g} m" if per_metre != 1.0 else " m")
    caution = "; far for a photo: pass --depth-units mm if these are millimetres"
    return per_metre, f"depth read as {name} ({why}, {shown}" + (
        f"{caution})" if per_metre == 1.0 and metres > 100 else ")"
    )


def _valid_sample(stored: np.ndarray, most: int = 1 << 20) -> np.ndarray:
    """Up to ``most`` of the finite, positive values, evenly spread over the map."""
    flat = stored.reshape(-1)[:: max(1, stored.size // most)]
    with np.errstate(invalid="ignore"):
        return flat[np.isfinite(flat) & (flat > 0)].astype(np.float64)


def _surface_votes(stored: np.ndarray) -> tuple[int, int]:
    """Patches whose values an affine function fits clearly better through 1/value (depth)
    and through the values themselves (disparity), summed over :data:`_VOTE_SCALES`."""
    values = _shrink(stored, _VOTE_SCALES[0][0])
    depth_votes = disparity_votes = 0
    for side, patch in _VOTE_SCALES:
        small = _shrink(values, side)
        valid = np.isfinite(small)
        if valid.sum() < patch * patch:
            continue
        small = small / np.median(small[valid])  # values near 1: the sums keep their precision
        with np.errstate(divide="ignore", invalid="ignore"):
            direct = _affine_misfit(small, valid, patch)
            inverse = _affine_misfit(1.0 / np.where(valid, small, 1.0), valid, patch)
            ratio = np.maximum(direct, 1e-4) / np.maximum(inverse, 1e-4)
            smooth = np.minimum(direct, inverse) < _SMOOTH
        depth_votes += int(np.count_nonzero(smooth & (ratio > _CLEAR_RATIO)))
        disparity_votes += int(np.count_nonzero(smooth & (ratio < 1.0 / _CLEAR_RATIO)))
    return depth_votes, disparity_votes


def _shrink(stored: np.ndarray, side: int) -> np.ndarray:
    """``stored`` area-averaged to ``side`` pixels on its long side, NaN where any averaged
    value was not a depth (so the averages never mix valid and invalid pixels)."""
    with np.errstate(over="ignore", invalid="ignore"):  # past float32: infinite, no depth
        values = stored.astype(np.float32)
        valid = np.isfinite(values) & (values > 0)
    values[~valid] = 0.0
    height, width = values.shape
    if max(height, width) > side:
        step = max(height, width) / side
        size = (max(1, round(width / step)), max(1, round(height / step)))
        values = cv2.resize(values, size, interpolation=cv2.INTER_AREA)
        share = cv2.resize(valid.astype(np.float32), size, interpolation=cv2.INTER_AREA)
        valid = share > 0.999
        values = values / np.maximum(share, 1e-6)
    return np.where(valid, values, np.nan).astype(np.float64)


def _affine_misfit(values: np.ndarray, valid: np.ndarray, patch: int) -> np.ndarray:
    """Per pixel, the RMS misfit of the best plane ``a + b x + c y`` through the ``patch`` x
    ``patch`` values around it, relative to their mean (NaN where any is invalid)."""
    values = np.where(valid, values, 0.0)
    rows, columns = np.mgrid[0 : values.shape[0], 0 : values.shape[1]].astype(np.float64)

    def box(array: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(array, -1, (patch, patch), normalize=False,
                             borderType=cv2.BORDER_CONSTANT)  # fmt: skip

    count = box(valid.astype(np.float64))
    total, squares = box(values), box(values * values)
    along_x = box(values * columns) - columns * total
    along_y = box(values * rows) - rows * total
    spread = count * (patch * patch - 1) / 12.0  # sum of squared offsets from the centre
    with np.errstate(divide="ignore", invalid="ignore"):
        misfit = squares - total * total / count - (along_x**2 + along_y**2) / spread
        relative = np.sqrt(np.maximum(misfit, 0.0) / count) / np.abs(total / count)
    return np.where(count > patch * patch - 0.5, relative, np.nan)
