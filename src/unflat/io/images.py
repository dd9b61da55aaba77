"""Photos in, photos out: any common image file to an upright ``uint8`` RGB :class:`Photo`.

Decisions, in one place:

- **Orientation**: the EXIF Orientation tag is applied, so ``Photo.rgb`` is what a viewer shows.
  HEIF files come from libheif already rotated (pillow-heif resets the tag to 1), so nothing is
  applied twice.
- **Alpha** is dropped, not composited: the colour under transparent pixels is whatever the
  file stored, but painting them white would invent a white wall that a depth model would place
  at some depth, which is no more true and harder to notice. ``metadata["note"]`` says so.
- **16-bit** images are scaled to 8 bits (``round(v * 255 / 65535)``), never clipped.
- **CMYK** and other colour modes are converted to RGB by Pillow (no ICC colour management).
- **Animations and multi-page files**: the first frame is used and ``metadata["note"]`` says so.
- **Focal length** comes only from EXIF ``FocalLengthIn35mmFilm`` (see :func:`focal_px_from_35mm`);
  without it ``focal_px`` is None and the depth model estimates the field of view.
- **Size**: images under :data:`MIN_SIDE` pixels on a side are refused; so are images over the
  pixel limit or whose pixels would take more than the decoded-bytes limit
  (:mod:`unflat.io.limits`, ``--max-pixels`` / ``--max-decoded-bytes``), from the header, before
  anything is decoded. Decoding then takes memory in proportion to those bytes.
- **Damage**: every step that reads the file (opening, frame count, decoding, mode conversion)
  runs under :func:`unflat.io.guard.decoding`, so a damaged file is an ``InputError`` naming it.
  A JPEG whose image data stops early is refused even when it ends with an end marker (the
  decoder would fill the rest with grey). A damaged EXIF block only loses the EXIF: the photo is
  read without orientation or focal length and ``metadata["note"]`` says so.
"""

from __future__ import annotations

import io
import math
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pillow_heif
from PIL import Image, ImageMode, UnidentifiedImageError

from unflat.errors import InputError, OutputError
from unflat.io.atomic import atomic_write
from unflat.io.guard import DECODE_ERRORS, decoding, error_phrase
from unflat.io.limits import OPTIONS, Limits, check_limit, current_limits
from unflat.io.png import check_png
from unflat.io.quiet import opencv_decode, quiet_decoders
from unflat.types import Photo

# HEIC/HEIF through Pillow's normal open(); registering twice is harmless.
pillow_heif.register_heif_opener()
# Decoders' own messages off stderr: our InputError says what is wrong, once.
quiet_decoders()

#: Smallest accepted side in pixels: below this no depth or face model sees anything useful.
MIN_SIDE = 16
#: The default pixel limit (150 MP): above the biggest phone and most camera sensors (a 100 MP
#: medium-format frame fits), below what would need tens of GB in the models' float32. The
#: limit in force is ``current_limits().max_pixels`` (``--max-pixels``).
MAX_PIXELS = Limits().max_pixels
#: EXIF 35 mm-equivalent focal lengths outside this range (mm) are treated as missing: shorter
#: than a full-frame fisheye or longer than the longest superzoom (3000 mm) means a broken tag.
FOCAL_35MM_RANGE = (4.0, 5000.0)

_EXIF_IFD = 0x8769
_TAG_ORIENTATION = 0x0112
_TAG_FOCAL_35MM = 0xA405
# What ImageOps.exif_transpose does for each orientation, done on the decoded array (numpy views,
# so a rotation costs one copy of the RGB pixels, not three).
_ORIENT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
    8: lambda a: np.rot90(a, 1),
}
# Pixels scaled from 16 to 8 bits per block, so the float working copy stays small.
_BLOCK_SAMPLES = 1 << 16
# The first bytes of each format we read, to tell a damaged header from a file of another kind.
_MAGIC = (
    (b"\xff\xd8\xff", "JPEG image"),
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"GIF8", "GIF image"),
    (b"II*\x00", "TIFF image"),
    (b"MM\x00*", "TIFF image"),
    (b"BM", "BMP image"),
)
_DAMAGED = "the file is damaged or incomplete; export or download it again"


def focal_px_from_35mm(focal_35mm: float, width: int, height: int) -> float:
    """Focal length in pixels from a 35 mm-equivalent focal length in millimetres.

    The equivalence is defined on the diagonal (CIPA DC-008; the 36x24 mm frame's diagonal is
    43.27 mm), which is also what Apple's depth_pro ``load_rgb`` uses (``fpx_from_f35``), so
    focal lengths from our reader match the published model's. A width-based formula
    (``f/36*W``) disagrees with it whenever the aspect ratio is not 3:2.
    """
    return float(focal_35mm * math.hypot(width, height) / math.hypot(36.0, 24.0))


@dataclass
class _Decoded:
    """What :func:`_decode_file` read: pixels before orientation, and the header facts."""

    rgb: np.ndarray
    orientation: int | None
    focal_35mm: float | None
    file_format: str | None
    mode: str
    size: tuple[int, int]


def read_photo(path: str | os.PathLike[str]) -> Photo:
    """Read an image file as an upright RGB :class:`Photo` with the EXIF focal length if any.

    Supports JPEG, PNG (8/16-bit, greyscale, palette, alpha), HEIC/HEIF, TIFF (incl. 16-bit),
    WebP, BMP and GIF; see the module docstring for how alpha, 16-bit, CMYK, animations, limits
    and damage are handled. Raises :class:`InputError` with a hint for anything unusable.
    """
    source = Path(path).expanduser()
    _check_file(source)
    notes: list[str] = []
    try:
        # Pillow warns about damaged metadata on stderr; we say it once, in the photo's note.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            decoded = _decode_file(source, notes)
    except Image.DecompressionBombError:
        # Pillow's own guard, for sizes past its limit that our header check did not see.
        raise _too_large(source, None) from None
    notes.extend(_warning_notes(caught))

    rgb = decoded.rgb
    if decoded.orientation in _ORIENT:
        rgb = _ORIENT[decoded.orientation](rgb)
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)

    # stored_size is (width, height) as in the file, before orientation
    metadata: dict = {
        "format": decoded.file_format,
        "mode": decoded.mode,
        "stored_size": decoded.size,
    }
    if decoded.orientation and decoded.orientation != 1:
        metadata["exif_orientation"] = decoded.orientation
    focal_px = None
    if decoded.focal_35mm is not None:
        metadata["focal_35mm"] = decoded.focal_35mm
        # The diagonal does not change under rotation, but use the upright size for clarity.
        focal_px = focal_px_from_35mm(decoded.focal_35mm, rgb.shape[1], rgb.shape[0])
    if notes:
        metadata["note"] = "; ".join(notes)
    return Photo(rgb=rgb, focal_px=focal_px, source=source, metadata=metadata)


def _decode_file(source: Path, notes: list[str]) -> _Decoded:
    """Open, check and decode ``source``; every library error becomes ``InputError``."""
    image = _open(source)
    # pillow-heif raises RuntimeError for whatever libheif refuses (a damaged or oversized box)
    libheif = (RuntimeError,) if image.format == "HEIF" else ()
    with image, decoding(source, f"{image.format or 'image'} image", _DAMAGED, extra=libheif):
        size = image.size
        file_format, mode = image.format, image.mode
        # Before anything that may decode (PNG's getexif loads the image): the tile list that
        # tells 16-bit colour apart is gone after loading.
        wide_colour = _check_header(source, image)
        if file_format in {"JPEG", "MPO"}:
            _check_jpeg_complete(source, size)
        elif file_format == "PNG":
            check_png(source)
        frames = int(getattr(image, "n_frames", 1) or 1)
        if frames > 1:
            # No seek: open() already sits on the first frame, or for HEIF on the primary
            # image, which is not always index 0.
            notes.append(f"first of {frames} frames used")
        rgb = _decode_rgb(image, source, wide_colour, notes)
        orientation, focal_35mm = _read_exif(image, notes)
    return _Decoded(rgb, orientation, focal_35mm, file_format, mode, size)


def save_rgb(path: str | os.PathLike[str], rgb: np.ndarray, quality: int = 95) -> Path:
    """Write a ``uint8 [H,W,3]`` RGB image atomically; the format follows the file extension."""
    array = np.asarray(rgb)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"save_rgb expects uint8 [H,W,3], got {array.dtype} {array.shape}")
    target = Path(path)
    with atomic_write(target) as temporary:
        options = (
            {"quality": quality} if target.suffix.lower() in {".jpg", ".jpeg", ".webp"} else {}
        )
        try:
            Image.fromarray(array).save(temporary, **options)
        except (KeyError, ValueError) as error:
            # Pillow raises these for an extension it has no writer for
            raise OutputError(
                f"cannot write an image as {target.name}", hint="use .png, .jpg or .webp"
            ) from error
    return target


def _check_file(source: Path) -> None:
    if not source.exists():
        raise InputError(f"{source} does not exist", hint="check the path and its spelling")
    if source.is_dir():
        raise InputError(f"{source} is a folder, not an image", hint="give an image file")
    try:
        size = source.stat().st_size
    except OSError as error:
        raise InputError(
            f"cannot read {source}: {error.strerror}", hint="check its permissions"
        ) from error
    if size == 0:
        raise InputError(f"{source} is empty (0 bytes)", hint="the file was not fully copied")
    if not os.access(source, os.R_OK):
        raise InputError(f"cannot read {source}: permission denied", hint="check its permissions")


def _open(source: Path) -> Image.Image:
    """``Image.open`` (the header only); a damaged header of a known format says so."""
    with decoding(source, "image", hint=_DAMAGED):
        kind = _sniff(source)
    libheif = (RuntimeError,) if kind == "HEIF image" else ()  # as in _decode_file
    with decoding(source, kind or "image", hint=_DAMAGED, extra=libheif):
        try:
            return Image.open(source)
        except UnidentifiedImageError:
            if kind is None:
                raise InputError(
                    f"{source} is not an image we can read",
                    hint="use a JPEG, PNG, HEIC, TIFF, WebP or BMP file",
                ) from None
            raise InputError(
                f"{source} is not a valid {kind} (its header could not be read)", hint=_DAMAGED
            ) from None


def _sniff(source: Path) -> str | None:
    """The format ``source``'s first bytes announce, or None."""
    with open(source, "rb") as handle:
        head = handle.read(16)
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP image"
    if head[4:8] == b"ftyp":
        return "HEIF image"
    return None


def _check_header(source: Path, image: Image.Image) -> bool:
    """Refuse sizes outside the limits from the header alone; True for 16-bit colour."""
    width, height = image.size
    if width * height > current_limits().max_pixels:
        raise _too_large(source, (width, height))
    if min(width, height) < MIN_SIDE:
        raise InputError(
            f"{source} is too small ({width}x{height} pixels)",
            hint=f"use an image at least {MIN_SIDE} pixels on each side",
        )
    wide_colour = _is_16bit_colour(image)
    bands, sample_bytes = _layout(image.mode)
    if wide_colour:
        sample_bytes = 2
    check_limit(
        source,
        f"bytes once decoded ({width}x{height}, {bands} x {8 * sample_bytes}-bit)",
        width * height * bands * sample_bytes,
        "max_decoded_bytes",
    )
    return wide_colour


def _layout(mode: str) -> tuple[int, int]:
    """Bands and bytes per sample of a Pillow mode (4 bytes for a mode Pillow does not list)."""
    try:
        described = ImageMode.getmode(mode)
    except KeyError:
        return max(1, len(mode.split(";")[0])), 4
    return len(described.bands), max(1, np.dtype(described.typestr).itemsize)


def _decode_rgb(
    image: Image.Image, source: Path, wide_colour: bool, notes: list[str]
) -> np.ndarray:
    """Decode the current frame to ``uint8 [H,W,3]`` (before orientation)."""
    # Pillow decodes first, for every file: it reports damage as exceptions (OpenCV prints it
    # on stderr and returns None), and it never pads a short PNG, GIF, TIFF, BMP or WebP.
    image.load()
    mode = image.mode
    if mode in {"RGBA", "LA", "PA", "RGBa", "La"} or (mode == "P" and "transparency" in image.info):
        notes.append("alpha channel dropped")
    if wide_colour:
        # Pillow keeps only the high byte of 16-bit colour samples; OpenCV gives all 16 bits.
        decoded = opencv_decode(source)
        if (
            decoded is not None
            and decoded.dtype == np.uint16
            and decoded.ndim == 3
            and decoded.shape[2] in (3, 4)
            and decoded.shape[1::-1] == image.size
        ):
            return _scale_to_uint8(decoded[:, :, 2::-1])  # BGR(A) -> RGB
    if mode.startswith("I;16") or mode in {"I", "F"}:
        grey = _scale_to_uint8(np.asarray(image), unit_floats=mode == "F")
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode == "P":
        # via RGBA so a palette with transparency does not warn; alpha is dropped next
        image = image.convert("RGBA")
    if mode == "CMYK":
        notes.append("CMYK converted to RGB without colour management")
    return np.asarray(image.convert("RGB"))


def _is_16bit_colour(image: Image.Image) -> bool:
    """True for PNG/TIFF colour images stored with 16 bits per sample."""
    if image.mode not in {"RGB", "RGBA"} or image.format not in {"PNG", "TIFF"}:
        return False
    return any(";16" in str(tile[3]) for tile in getattr(image, "tile", []) if len(tile) > 3)


def _scale_to_uint8(values: np.ndarray, unit_floats: bool = False) -> np.ndarray:
    """Scale 16-bit samples to 8 bits by ``round(v * 255 / 65535)``, i.e. ``round(v / 257)``.

    Values outside 0..65535 are clipped. ``unit_floats``: float samples in [0, 1] (float
    greyscale TIFFs), NaN as 0. Works through blocks of rows, so the memory it needs beyond
    the input is the ``uint8`` result and one small float block.
    """
    scaled = np.empty(values.shape, dtype=np.uint8)
    rows = max(1, _BLOCK_SAMPLES // max(1, values[:1].size))
    for start in range(0, values.shape[0], rows):
        block = values[start : start + rows].astype(np.float64)
        if unit_floats:
            block = np.clip(np.nan_to_num(block, nan=0.0), 0.0, 1.0) * 65535.0
        scaled[start : start + rows] = np.rint(np.clip(block, 0.0, 65535.0) / 257.0)
    return scaled


def _read_exif(image: Image.Image, notes: list[str]) -> tuple[int | None, float | None]:
    """EXIF orientation and 35 mm focal length; a damaged block loses only these, and says so."""
    try:
        exif = image.getexif()
        orientation = _exif_int(exif.get(_TAG_ORIENTATION))
    except DECODE_ERRORS as error:
        notes.append(
            f"EXIF block unreadable ({error_phrase(error)}): orientation and focal length not used"
        )
        return None, None
    if orientation is not None and orientation not in range(1, 9):
        notes.append(f"EXIF orientation {orientation} is not 1-8 and was ignored")
        orientation = None
    return orientation, _focal_35mm(exif)


def _exif_int(value: object) -> int | None:
    try:
        return int(value) if value is not None else None  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        return None


def _focal_35mm(exif: Image.Exif) -> float | None:
    """``FocalLengthIn35mmFilm`` from the Exif IFD (or IFD0, where some writers put it)."""
    try:
        value = exif.get_ifd(_EXIF_IFD).get(_TAG_FOCAL_35MM, exif.get(_TAG_FOCAL_35MM))
    except DECODE_ERRORS:
        return None  # a broken Exif block must not make a readable photo unreadable
    try:
        focal = float(value[0] if isinstance(value, (tuple, list)) else value)
    except (TypeError, ValueError, ZeroDivisionError, IndexError, OverflowError):
        return None
    low, high = FOCAL_35MM_RANGE
    return focal if math.isfinite(focal) and low <= focal <= high else None


def _warning_notes(caught: list[warnings.WarningMessage]) -> list[str]:
    """Pillow's warnings about damaged metadata, as at most two short notes."""
    texts: list[str] = []
    for warning in caught:
        if issubclass(warning.category, Image.DecompressionBombWarning):
            continue  # our own limits decide what is too large
        text = error_phrase(Exception(str(warning.message)))
        if text not in texts:
            texts.append(text)
    return [f"damaged metadata ignored ({text})" for text in texts[:2]]


def _too_large(source: Path, size: tuple[int, int] | None) -> InputError:
    shown, more = "", ""
    if size is not None:
        shown = f" ({size[0]}x{size[1]} = {size[0] * size[1] / 1e6:.0f} MP)"
        more = (
            f", or pass {OPTIONS['max_pixels']} {size[0] * size[1]} if the machine has the memory"
        )
    limit = current_limits().max_pixels
    return InputError(
        f"{source} is too large{shown}; the limit is {limit / 1e6:.0f} megapixels",
        hint="downscale it first, e.g. to 4000 pixels on the long side" + more,
    )


# --- JPEG: is every scan's data there? -------------------------------------------------------
#
# libjpeg, and so Pillow and OpenCV, fill the rest of a scan with grey when its data stops at a
# marker (a cut file with an end marker added, or a header that claims more rows than the data
# holds), and only warn, which both libraries drop. The markers tell which scans exist; whether
# each scan's data is complete shows in one extra decode at 1/8 size: the same file with
# filler bytes put at the end of every scan decodes identically when every scan was complete
# (libjpeg skips bytes before a marker), and differently when a scan ran short (the filler is
# then read as image data instead of the grey).

_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_PROGRESSIVE = frozenset({0xC2, 0xC6, 0xCA, 0xCE})
# The end of a scan's entropy-coded data: 0xFF followed by neither a stuffed 0x00, a restart
# marker (which belongs to the scan) nor another 0xFF (a fill byte before the marker).
_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
# Filler with no 0xFF byte, so it can never read as a marker.
_FILLER = bytes((i * 73 + 41) % 255 for i in range(256))


@dataclass
class _JpegLayout:
    """Frame components and scans of a JPEG: ``scans`` holds (components, Ss, Se, Al)."""

    components: tuple[int, ...]
    progressive: bool
    scans: list[tuple[tuple[int, ...], int, int, int]]
    scan_ends: list[int]


def _check_jpeg_complete(source: Path, size: tuple[int, int]) -> None:
    """Refuse a JPEG whose scans stop early (libjpeg would pad it with grey, silently)."""
    data = source.read_bytes()
    layout = _jpeg_layout(data)
    if layout is None:
        return  # no end marker or unreadable markers: the decoder itself reports those
    missing = _missing_scans(layout)
    if missing or not _same_draft(data, layout.scan_ends, size):
        raise InputError(
            f"{source} is truncated: its image data stops before the picture is complete"
            + (f" ({missing})" if missing else ""),
            hint=_DAMAGED + " (a cut JPEG is never padded with grey)",
        )


def _jpeg_layout(data: bytes) -> _JpegLayout | None:
    """The JPEG's frame and scans up to its end marker; None without one or when malformed."""
    layout = _JpegLayout((), False, [], [])
    position = 2  # after SOI
    try:
        while position < len(data):
            if data[position] != 0xFF:
                return None
            while data[position] == 0xFF:  # fill bytes
                position += 1
            marker = data[position]
            position += 1
            if marker == 0xD9:  # EOI
                return layout if layout.scans else None
            if marker == 0x01 or 0xD0 <= marker <= 0xD7:
                continue  # markers without a length
            length = int.from_bytes(data[position : position + 2], "big")
            segment = data[position + 2 : position + length]
            if length < 2 or len(segment) != length - 2:
                return None
            position += length
            if marker in _SOF_MARKERS:
                count = segment[5]
                layout.components = tuple(segment[6 + 3 * i] for i in range(count))
                layout.progressive = marker in _PROGRESSIVE
            elif marker == 0xDA:
                count = segment[0]
                ids = tuple(segment[1 + 2 * i] for i in range(count))
                start, stop, approximation = segment[1 + 2 * count : 4 + 2 * count]
                layout.scans.append((ids, start, stop, approximation & 0x0F))
                found = _SCAN_END.search(data, position)
                if found is None:
                    return None  # the data runs to the end of the file: truncated
                end = found.start()
                while end > position and data[end - 1] == 0xFF:
                    end -= 1
                layout.scan_ends.append(end)
                position = end
    except (IndexError, ValueError):
        return None
    return None


def _missing_scans(layout: _JpegLayout) -> str | None:
    """Which image data no scan carries: a component, or (progressive) the final bits."""
    if not layout.progressive:
        seen = {component for ids, *_ in layout.scans for component in ids}
        lost = [c for c in layout.components if c not in seen]
        return f"{len(lost)} of {len(layout.components)} components have no scan" if lost else None
    # Progressive: every coefficient of every component must reach its last bit (Al = 0).
    finished: dict[int, set[int]] = {c: set() for c in layout.components}
    for ids, start, stop, approximation in layout.scans:
        if approximation == 0:
            for component in ids:
                finished.setdefault(component, set()).update(range(start, stop + 1))
    short = [c for c in layout.components if len(finished[c]) < 64]
    return f"the progressive scans of {len(short)} components stop early" if short else None


def _same_draft(data: bytes, scan_ends: list[int], size: tuple[int, int]) -> bool:
    """True when filler after every scan leaves the 1/8-size decode unchanged."""
    pieces, last = [], 0
    for end in scan_ends:
        pieces += [data[last:end], _FILLER]
        last = end
    pieces.append(data[last:])
    spliced = b"".join(pieces)
    small = (max(1, -(-size[0] // 8)), max(1, -(-size[1] // 8)))
    return np.array_equal(_draft(data, small), _draft(spliced, small))


def _draft(data: bytes, small: tuple[int, int]) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        image.draft(image.mode, small)
        image.load()
        return np.asarray(image)
