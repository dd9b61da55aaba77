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
- **Size**: images under :data:`MIN_SIDE` pixels on a side or over :data:`MAX_PIXELS` pixels are
  refused, the latter from the header before anything is decoded.
"""

from __future__ import annotations

import math
import os
import struct
import warnings
import zlib
from pathlib import Path

import cv2
import numpy as np
import pillow_heif
from PIL import Image, UnidentifiedImageError

from unflat.errors import InputError, OutputError
from unflat.io.atomic import atomic_write
from unflat.types import Photo

# HEIC/HEIF through Pillow's normal open(); registering twice is harmless.
pillow_heif.register_heif_opener()

#: Smallest accepted side in pixels: below this no depth or face model sees anything useful.
MIN_SIDE = 16
#: Largest accepted image in pixels (150 MP): above the biggest phone and most camera sensors
#: (a 100 MP medium-format frame fits), below what would need tens of GB in the models' float32.
MAX_PIXELS = 150_000_000
#: EXIF 35 mm-equivalent focal lengths outside this range (mm) are treated as missing: shorter
#: than a full-frame fisheye or longer than the longest superzoom (3000 mm) means a broken tag.
FOCAL_35MM_RANGE = (4.0, 5000.0)

_EXIF_IFD = 0x8769
_TAG_ORIENTATION = 0x0112
_TAG_FOCAL_35MM = 0xA405
# What ImageOps.exif_transpose does for each orientation; we apply it to the decoded array so
# the OpenCV path for 16-bit colour files gets exactly the same treatment.
_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# Everything Pillow and its plugins raise for a file that is not a valid image; a truncated file
# fails with OSError because ImageFile.LOAD_TRUNCATED_IMAGES stays False (we never set it).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error)


def focal_px_from_35mm(focal_35mm: float, width: int, height: int) -> float:
    """Focal length in pixels from a 35 mm-equivalent focal length in millimetres.

    The equivalence is defined on the diagonal (CIPA DC-008; the 36x24 mm frame's diagonal is
    43.27 mm), which is also what Apple's depth_pro ``load_rgb`` uses (``fpx_from_f35``), so
    focal lengths from our reader match the published model's. A width-based formula
    (``f/36*W``) disagrees with it whenever the aspect ratio is not 3:2.
    """
    return float(focal_35mm * math.hypot(width, height) / math.hypot(36.0, 24.0))


def read_photo(path: str | os.PathLike[str]) -> Photo:
    """Read an image file as an upright RGB :class:`Photo` with the EXIF focal length if any.

    Supports JPEG, PNG (8/16-bit, greyscale, palette, alpha), HEIC/HEIF, TIFF (incl. 16-bit),
    WebP, BMP and GIF; see the module docstring for how alpha, 16-bit, CMYK and animations are
    handled. Raises :class:`InputError` with a hint for anything unusable.
    """
    source = Path(path).expanduser()
    _check_file(source)
    notes: list[str] = []
    try:
        # Only Pillow's bomb warning is silenced: our own MAX_PIXELS check below is the limit.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(source)
    except Image.DecompressionBombError as error:
        raise _too_large(source, None) from error
    except UnidentifiedImageError as error:
        raise InputError(
            f"{source} is not an image we can read",
            hint="use a JPEG, PNG, HEIC, TIFF, WebP or BMP file",
        ) from error
    except _DECODE_ERRORS as error:
        raise _corrupt(source, error) from error

    with image:
        width, height = image.size
        # The header gives the size before any pixel is decoded, so huge files cost nothing.
        if width * height > MAX_PIXELS:
            raise _too_large(source, (width, height))
        if min(width, height) < MIN_SIDE:
            raise InputError(
                f"{source} is too small ({width}x{height} pixels)",
                hint=f"use an image at least {MIN_SIDE} pixels on each side",
            )
        # Before anything that may decode (PNG's getexif loads the image): the tile list that
        # tells 16-bit colour apart is gone after loading.
        wide_colour = _is_16bit_colour(image)
        file_format, mode = image.format, image.mode
        try:
            # Counting frames and reading EXIF can already decode, so they fail like decoding.
            frames = int(getattr(image, "n_frames", 1) or 1)
            if frames > 1:
                # No seek: open() already sits on the first frame, or for HEIF on the primary
                # image, which is not always index 0.
                notes.append(f"first of {frames} frames used")
            exif = image.getexif()
            orientation = _exif_int(exif.get(_TAG_ORIENTATION))
            focal_35mm = _focal_35mm(exif)
            rgb = _decode_rgb(image, source, wide_colour, notes)
        except Image.DecompressionBombError as error:
            raise _too_large(source, (width, height)) from error
        except _DECODE_ERRORS as error:
            raise _corrupt(source, error) from error

    transpose = _ORIENTATION_TRANSPOSE.get(orientation or 1)
    if transpose is not None:
        rgb = np.asarray(Image.fromarray(rgb).transpose(transpose))
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)

    # stored_size is (width, height) as in the file, before orientation
    metadata: dict = {"format": file_format, "mode": mode, "stored_size": (width, height)}
    if orientation and orientation != 1:
        metadata["exif_orientation"] = orientation
    focal_px = None
    if focal_35mm is not None:
        metadata["focal_35mm"] = focal_35mm
        # The diagonal does not change under rotation, but use the upright size for clarity.
        focal_px = focal_px_from_35mm(focal_35mm, rgb.shape[1], rgb.shape[0])
    if notes:
        metadata["note"] = "; ".join(notes)
    return Photo(rgb=rgb, focal_px=focal_px, source=source, metadata=metadata)


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


def _decode_rgb(
    image: Image.Image, source: Path, wide_colour: bool, notes: list[str]
) -> np.ndarray:
    """Decode the current frame to ``uint8 [H,W,3]`` (before orientation)."""
    if wide_colour:
        # Pillow keeps only the high byte of 16-bit colour samples; OpenCV gives all 16 bits.
        decoded = cv2.imdecode(np.fromfile(source, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
        if (
            decoded is not None
            and decoded.dtype == np.uint16
            and decoded.ndim == 3
            and decoded.shape[2] in (3, 4)
            and decoded.shape[1::-1] == image.size
        ):
            if decoded.shape[2] == 4:
                notes.append("alpha channel dropped")
            return _scale_to_uint8(decoded[:, :, 2::-1])  # BGR(A) -> RGB
    image.load()
    mode = image.mode
    if mode in {"RGBA", "LA", "PA", "RGBa", "La"} or (mode == "P" and "transparency" in image.info):
        notes.append("alpha channel dropped")
    if mode.startswith("I;16") or mode in {"I", "F"}:
        grey = np.asarray(image)
        if mode == "F":
            # Float greyscale TIFFs are usually in [0, 1]; anything else is clipped there.
            grey = np.clip(np.nan_to_num(grey, nan=0.0), 0.0, 1.0) * 65535.0
        return np.repeat(_scale_to_uint8(grey)[:, :, None], 3, axis=2)
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


def _scale_to_uint8(values: np.ndarray) -> np.ndarray:
    """Scale 16-bit samples to 8 bits by ``round(v * 255 / 65535)``, i.e. ``round(v / 257)``."""
    wide = np.clip(values.astype(np.float64), 0.0, 65535.0)
    return np.rint(wide / 257.0).astype(np.uint8)


def _exif_int(value: object) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _focal_35mm(exif: Image.Exif) -> float | None:
    """``FocalLengthIn35mmFilm`` from the Exif IFD (or IFD0, where some writers put it)."""
    try:
        value = exif.get_ifd(_EXIF_IFD).get(_TAG_FOCAL_35MM, exif.get(_TAG_FOCAL_35MM))
    except _DECODE_ERRORS:
        return None  # a broken Exif block must not make a readable photo unreadable
    try:
        focal = float(value[0] if isinstance(value, (tuple, list)) else value)
    except (TypeError, ValueError, ZeroDivisionError, IndexError):
        return None
    low, high = FOCAL_35MM_RANGE
    return focal if math.isfinite(focal) and low <= focal <= high else None


def _too_large(source: Path, size: tuple[int, int] | None) -> InputError:
    shown = f" ({size[0]}x{size[1]} = {size[0] * size[1] / 1e6:.0f} MP)" if size else ""
    return InputError(
        f"{source} is too large{shown}; the limit is {MAX_PIXELS / 1e6:.0f} megapixels",
        hint="downscale it first, e.g. to 4000 pixels on the long side",
    )


def _corrupt(source: Path, error: BaseException) -> InputError:
    detail = str(error).strip() or type(error).__name__
    return InputError(
        f"{source} could not be decoded ({detail})",
        hint="the file is damaged or incomplete; re-export or re-download it",
    )
