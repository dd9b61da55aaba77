"""Depth maps on disk: ``.npy`` (exact), 16-bit PNG (millimetres), PFM, and colour previews.

In memory depth is always ``float32`` metres; pixels without a valid depth are NaN after
loading. The file conventions are those of the datasets we test on: 16-bit PNG stores
``round(metres * scale)`` with 0 = invalid (NYU: scale 1000, i.e. millimetres; KITTI: 256).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import cv2
import numpy as np

from unflat.errors import InputError, OutputError
from unflat.io.atomic import atomic_write

#: Units per metre of a 16-bit depth PNG unless told otherwise (millimetres, as NYU Depth v2).
PNG_DEPTH_SCALE = 1000.0
#: Depth range shown by previews, as in Apple's depth_pro CLI: nearer than 10 cm or farther than
#: 250 m would only stretch the colour scale.
PREVIEW_RANGE_M = (0.1, 250.0)
DEPTH_SUFFIXES = (".npy", ".npz", ".png", ".pfm", ".tif", ".tiff", ".exr")


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

    stored = _squeeze_depth(stored, source)
    if np.issubdtype(stored.dtype, np.integer):
        metres = stored.astype(np.float64) / (PNG_DEPTH_SCALE if scale is None else scale)
        metres[stored == 0] = np.nan
    elif np.issubdtype(stored.dtype, np.floating):
        metres = stored.astype(np.float64) / (1.0 if scale is None else scale)
    else:
        raise InputError(f"{source} holds {stored.dtype} values, not depth", hint="save floats")
    return metres.astype(np.float32)


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
    data = source.read_bytes()
    # Header: identifier, width height, scale; separated by any whitespace (some writers put
    # width and height on separate lines).
    match = re.match(rb"(P[Ff])\s+(\d+)\s+(\d+)\s+([-+0-9.eE]+)\s", data)
    if match is None:
        raise InputError(f"{source} is not a PFM file (bad header)", hint="check the file")
    channels = 3 if match.group(1) == b"PF" else 1
    width, height = int(match.group(2)), int(match.group(3))
    try:
        scale = float(match.group(4))
    except ValueError as error:
        raise InputError(f"{source} has a bad PFM scale", hint="check the file") from error
    byte_order = "<" if scale < 0 else ">"
    count = width * height * channels
    body = data[match.end() :]
    if len(body) < 4 * count:
        raise InputError(
            f"{source} is truncated ({len(body)} of {4 * count} data bytes)",
            hint="the file is incomplete; copy or export it again",
        )
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


def _load_npy(source: Path) -> np.ndarray:
    try:
        return np.load(source, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise InputError(
            f"{source} is not a valid .npy array ({error})", hint="save depth with np.save"
        ) from error


def _load_npz(source: Path) -> np.ndarray:
    try:
        with np.load(source, allow_pickle=False) as archive:
            # Apple's depth_pro CLI writes the key "depth"; a single array needs no name.
            if "depth" in archive.files:
                return archive["depth"]
            if len(archive.files) == 1:
                return archive[archive.files[0]]
            names = ", ".join(archive.files)
    except (ValueError, OSError, EOFError) as error:
        raise InputError(
            f"{source} is not a valid .npz archive ({error})", hint="save depth with np.savez"
        ) from error
    raise InputError(
        f"{source} holds several arrays ({names}) and none is named 'depth'",
        hint="save the depth map under the key 'depth'",
    )


def _load_image(source: Path, suffix: str) -> np.ndarray:
    if suffix == ".exr":
        # OpenCV keeps its EXR decoder off unless this is set (it reads it on first use); the
        # user asked for this file, so allow it for this process.
        os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")
    stored = cv2.imdecode(np.fromfile(source, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if stored is None:
        if suffix == ".exr":
            raise InputError(
                f"cannot read {source}: this OpenCV build has no OpenEXR support",
                hint="convert it to .npy or .pfm",
            )
        raise InputError(
            f"{source} could not be decoded",
            hint="the file is damaged or incomplete; write it again",
        )
    if stored.dtype == np.uint8:
        raise InputError(
            f"{source} is an 8-bit image, which cannot hold metric depth (a preview?)",
            hint="use the 16-bit PNG, .npy or .pfm depth file",
        )
    return stored


def _squeeze_depth(stored: np.ndarray, source: Path) -> np.ndarray:
    array = np.asarray(stored)
    if array.ndim == 3 and 1 in (array.shape[0], array.shape[2]):
        array = array.reshape(array.shape[:2] if array.shape[2] == 1 else array.shape[1:])
    if array.ndim != 2:
        raise InputError(
            f"{source} holds an array of shape {array.shape}, not a depth map [H,W]",
            hint="save one channel of depth in metres",
        )
    return array
