"""Photos: ``read_photo`` on damaged JPEG (EXIF, progressive, CMYK), PNG (8/16-bit, palette,
alpha), TIFF (8/16-bit, multi-page), GIF, WebP, BMP and HEIC files."""

from __future__ import annotations

import contextlib
import io
import math
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from tests.fuzz.engine import Seed, View, png_headers, png_pixels, whole
from unflat.io.images import MIN_SIDE, read_photo
from unflat.io.limits import current_limits

WIDTH, HEIGHT = 40, 32


def picture(width: int = WIDTH, height: int = HEIGHT, seed: int = 0) -> np.ndarray:
    """A gradient with noise, so encoders have detail to keep (``uint8 [H,W,3]``)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 // width, y * 255 // height, (x + y) * 127 // (width + height)], -1)
    return np.clip(base + rng.integers(-20, 20, base.shape), 0, 255).astype(np.uint8)


def encoded(image: Image.Image, format: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=format, **options)
    return out.getvalue()


def jpeg_header(data: bytes) -> int:
    """Bytes before the first scan (markers, EXIF, tables, frame header)."""
    start = data.find(b"\xff\xda")
    return start + 2 if start > 0 else min(len(data), 512)


def png_views() -> tuple[View, ...]:
    return (whole(lambda data: 33), png_headers(), png_pixels())


def _exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate
    exif.get_ifd(0x8769)[0xA405] = 26  # FocalLengthIn35mmFilm
    return exif


def seeds(folder: Path) -> list[Seed]:
    """Valid images of every format and layout the reader takes."""
    rgb = Image.fromarray(picture())
    wide = (picture(seed=1).astype(np.uint16) * 257)[:, :, ::-1]  # BGR for OpenCV
    jpeg = (whole(jpeg_header),)
    small = (whole(lambda data: min(len(data), 128)),)
    found = [
        Seed("exif.jpg", encoded(rgb, "JPEG", exif=_exif(), quality=90), jpeg),
        Seed("progressive.jpg", encoded(rgb, "JPEG", progressive=True), jpeg),
        Seed("cmyk.jpg", encoded(rgb.convert("CMYK"), "JPEG"), jpeg),
        Seed("rgb.png", encoded(rgb, "PNG"), png_views()),
        Seed("rgba.png", encoded(rgb.convert("RGBA"), "PNG"), png_views()),
        Seed("palette.png", encoded(rgb.quantize(16), "PNG", transparency=0), png_views()),
        Seed("grey16.png", cv2.imencode(".png", wide[:, :, 0])[1].tobytes(), png_views()),
        Seed("rgb16.png", cv2.imencode(".png", wide)[1].tobytes(), png_views()),
        Seed("rgb.tif", encoded(rgb, "TIFF"), small),
        Seed("rgb16.tif", cv2.imencode(".tif", wide)[1].tobytes(), small),
        Seed("pages.tif", encoded(rgb, "TIFF", save_all=True, append_images=[rgb]), small),
        Seed("anim.gif", encoded(rgb, "GIF", save_all=True, append_images=[rgb.rotate(90)]), small),
        Seed("photo.webp", encoded(rgb, "WEBP", quality=80), small),
        Seed("photo.bmp", encoded(rgb, "BMP"), small),
    ]
    # a libheif without an encoder: HEIC is fuzzed where it has one
    with contextlib.suppress(KeyError, OSError, ValueError):
        found.append(Seed("photo.heic", encoded(rgb, "HEIF", quality=50), small))
    return found


def read(path: Path) -> None:
    """``read_photo`` gives an upright uint8 RGB picture within the limits, or refuses."""
    photo = read_photo(path)
    rgb = photo.rgb
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3, rgb.shape
    assert min(rgb.shape[:2]) >= MIN_SIDE, rgb.shape
    assert rgb.shape[0] * rgb.shape[1] <= current_limits().max_pixels, rgb.shape
    assert photo.focal_px is None or (math.isfinite(photo.focal_px) and photo.focal_px > 0)
