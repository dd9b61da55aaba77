"""Damaged and hostile image files, made in memory for the reader tests (and fuzzing seeds).

Each builder returns the bytes of one file; :data:`DAMAGED` names every kind that
``read_photo`` must refuse with ``InputError``, with the suffix the file is saved under.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable

import cv2
import numpy as np
from PIL import Image


def picture(height: int = 96, width: int = 128) -> np.ndarray:
    """A smooth gradient with noise: compresses like a photo, so cuts land in image data."""
    rows, cols = np.mgrid[0:height, 0:width]
    rgb = np.stack([cols * 2, rows * 2, (rows + cols)], axis=-1) % 256
    noise = np.random.default_rng(7).integers(0, 40, rgb.shape)
    return np.clip(rgb + noise, 0, 255).astype(np.uint8)


def encode(fmt: str, array: np.ndarray | None = None, **options: object) -> bytes:
    """``array`` (default :func:`picture`) saved by Pillow as ``fmt``."""
    buffer = io.BytesIO()
    Image.fromarray(picture() if array is None else array).save(buffer, fmt, **options)
    return buffer.getvalue()


# --- TIFF ------------------------------------------------------------------------------------


def _ifd(entries: dict[int, tuple[int, int]], data_offset: int, next_ifd: int) -> bytes:
    """A little-endian IFD of SHORT/LONG tags; tag 273 (StripOffsets) points at the pixels."""
    out = struct.pack("<H", len(entries))
    for tag in sorted(entries):
        kind, value = entries[tag]
        value = data_offset if tag == 273 else value
        packed = struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
        out += struct.pack("<HHI", tag, kind, 1) + packed
    return out + struct.pack("<I", next_ifd)


def tiff(pages_without: tuple[tuple[int, ...], ...] = ((),), side: int = 32) -> bytes:
    """A greyscale TIFF with one page per entry, each lacking the tags listed (256 = width,
    257 = height, 258 = bits per sample ...); all pages share one strip of pixels."""
    full = {
        256: (3, side), 257: (3, side), 258: (3, 8), 259: (3, 1), 262: (3, 1),
        273: (4, 0), 277: (3, 1), 278: (3, side), 279: (4, side * side),
    }  # fmt: skip
    pages = [{t: v for t, v in full.items() if t not in lacking} for lacking in pages_without]
    offsets, position = [], 8
    for page in pages:
        offsets.append(position)
        position += 2 + 12 * len(page) + 4
    body = b"".join(
        _ifd(page, position, offsets[i + 1] if i + 1 < len(pages) else 0)
        for i, page in enumerate(pages)
    )
    pixels = bytes((i * 7) % 256 for i in range(side * side))
    return b"II*\x00" + struct.pack("<I", 8) + body + pixels


# --- PNG -------------------------------------------------------------------------------------


def png_chunks(data: bytes) -> list[tuple[bytes, bytes, bytes]]:
    """(type, payload, stored CRC) of every chunk of a PNG."""
    chunks, position = [], 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        payload = data[position + 8 : position + 8 + length]
        chunks.append((kind, payload, data[position + 8 + length : position + 12 + length]))
        position += 12 + length
    return chunks


def png_from_chunks(chunks: list[tuple[bytes, bytes, bytes | None]]) -> bytes:
    """A PNG of these chunks; a CRC of None is computed, bytes are written as given."""
    out = b"\x89PNG\r\n\x1a\n"
    for kind, payload, crc in chunks:
        if crc is None:
            crc = struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
        out += struct.pack(">I", len(payload)) + kind + payload + crc
    return out


def png_bad_crc(chunk: bytes, data: bytes | None = None) -> bytes:
    """A PNG (``data``, else a new one) whose ``chunk`` (b"IHDR", b"IDAT", ...) has a wrong CRC."""
    chunks = [
        (kind, payload, b"\x00\x00\x00\x00" if kind == chunk else crc)
        for kind, payload, crc in png_chunks(data or encode("PNG"))
    ]
    return png_from_chunks(chunks)  # type: ignore[arg-type]


def png_flipped_idat_bit() -> bytes:
    """A PNG with one bit of its compressed pixels flipped (the CRC still the old one)."""
    chunks = png_chunks(encode("PNG"))
    payload = next(c for c in chunks if c[0] == b"IDAT")[1]
    middle = len(payload) // 2
    flipped = payload[:middle] + bytes([payload[middle] ^ 0x10]) + payload[middle + 1 :]
    return png_from_chunks([(k, flipped if k == b"IDAT" else p, c) for k, p, c in chunks])


def png_header(
    width: int, height: int, bit_depth: int = 8, colour: int = 2, rows: int = 0
) -> bytes:
    """A PNG that declares a size and format but holds pixel data for ``rows`` rows only."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    chunks: list[tuple[bytes, bytes, bytes | None]] = [(b"IHDR", header, None)]
    if rows:
        channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
        row = b"\x00" + bytes(width * channels * bit_depth // 8)
        chunks.append((b"IDAT", zlib.compress(row * rows), None))
    return png_from_chunks([*chunks, (b"IEND", b"", None)])


# --- JPEG ------------------------------------------------------------------------------------


def jpeg_cut_with_end_marker(fraction: float = 0.5, **options: object) -> bytes:
    """A JPEG cut at ``fraction`` of its length with an end marker added (libjpeg pads it)."""
    whole = encode("JPEG", **options)
    return whole[: int(len(whole) * fraction)] + b"\xff\xd9"


def jpeg_claiming(width: int, height: int, **options: object) -> bytes:
    """A small JPEG whose frame header is rewritten to claim ``width`` x ``height``."""
    data = bytearray(encode("JPEG", **options))
    position = 2
    while data[position + 1] not in (0xC0, 0xC1, 0xC2):
        position += 2 + struct.unpack(">H", data[position + 2 : position + 4])[0]
    data[position + 5 : position + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def jpeg_with_segment(marker: int, payload: bytes) -> bytes:
    """A valid JPEG with one extra segment (APP1 = 0xE1 for EXIF, APP2 = 0xE2 for ICC)."""
    whole = encode("JPEG")
    return whole[:2] + struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload + whole[2:]


def exif_block(*entries: tuple[int, int, int, bytes]) -> bytes:
    """An ``Exif\\0\\0`` APP1 payload whose IFD0 holds (tag, type, count, 4 value bytes)."""
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        ifd += struct.pack("<HHI", tag, kind, count) + value
    return b"Exif\x00\x00II*\x00" + struct.pack("<I", 8) + ifd + b"\x00" * 4


def cut(data: bytes, fraction: float = 0.5) -> bytes:
    return data[: int(len(data) * fraction)]


def png16(channels: int = 3, height: int = 96, width: int = 128) -> bytes:
    """A 16-bit colour PNG (Pillow cannot write one; OpenCV can)."""
    wide = np.repeat(picture(height, width)[:, :, :1].astype(np.uint16) * 257, channels, axis=2)
    ok, encoded = cv2.imencode(".png", wide)
    assert ok
    return encoded.tobytes()


#: Every damaged file ``read_photo`` refuses: name -> (suffix, builder).
DAMAGED: dict[str, tuple[str, Callable[[], bytes]]] = {
    "tiff first page without width": (".tif", lambda: tiff(((256,),))),
    "tiff first page without size": (".tif", lambda: tiff(((256, 257),))),
    "tiff second page without size": (".tif", lambda: tiff(((), (256, 257)))),
    "tiff second page without width": (".tif", lambda: tiff(((), (256,)))),
    "tiff strip past the end": (".tif", lambda: cut(tiff(), 0.6)),
    "tiff deflate cut": (".tif", lambda: cut(encode("TIFF", compression="tiff_deflate"))),
    "tiff header only": (".tif", lambda: b"II*\x00" + struct.pack("<I", 8)),
    "png cut": (".png", lambda: cut(encode("PNG"))),
    "png cut with IEND": (".png", lambda: cut(encode("PNG")) + encode("PNG")[-12:]),
    "png bad IHDR crc": (".png", lambda: png_bad_crc(b"IHDR")),
    "png bad IDAT crc": (".png", lambda: png_bad_crc(b"IDAT")),
    "png flipped IDAT bit": (".png", png_flipped_idat_bit),
    "png header without pixels": (".png", lambda: png_header(64, 64)),
    "png pixel stream ending early": (".png", lambda: png_header(64, 64, rows=2)),
    "png 16-bit colour cut": (".png", lambda: cut(png16())),
    "png 16-bit colour bad IDAT crc": (".png", lambda: png_bad_crc(b"IDAT", png16())),
    "jpeg cut": (".jpg", lambda: cut(encode("JPEG"))),
    "jpeg cut with end marker": (".jpg", jpeg_cut_with_end_marker),
    "jpeg 99% with end marker": (".jpg", lambda: jpeg_cut_with_end_marker(0.99)),
    "jpeg progressive cut with end marker": (
        ".jpg",
        lambda: jpeg_cut_with_end_marker(0.5, progressive=True),
    ),
    "jpeg claiming 12000x12000": (".jpg", lambda: jpeg_claiming(12000, 12000)),
    "jpeg progressive claiming 4000x4000": (
        ".jpg",
        lambda: jpeg_claiming(4000, 4000, progressive=True),
    ),
    "jpeg claiming more rows": (".jpg", lambda: jpeg_claiming(128, 120)),
    "jpeg header only": (".jpg", lambda: encode("JPEG")[:200]),
    "webp cut": (".webp", lambda: cut(encode("WEBP"))),
    "webp lossless cut": (".webp", lambda: cut(encode("WEBP", lossless=True))),
    "gif cut": (".gif", lambda: cut(encode("GIF"))),
    "gif cut with trailer": (".gif", lambda: cut(encode("GIF")) + b";"),
    "bmp cut": (".bmp", lambda: cut(encode("BMP"))),
    "bmp header only": (".bmp", lambda: encode("BMP")[:54]),
    "heic cut": (".heic", lambda: cut(encode("HEIF"))),
}


def png_interlaced(rgb: np.ndarray) -> bytes:
    """An Adam7-interlaced 8-bit RGB PNG of ``rgb`` (neither Pillow nor OpenCV writes one)."""
    height, width = rgb.shape[:2]
    passes = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2))
    raw = b""
    for column, row, column_step, row_step in (*passes, (0, 1, 1, 2)):
        sub = rgb[row::row_step, column::column_step]
        if sub.size:
            raw += b"".join(b"\x00" + line.tobytes() for line in sub)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 1)
    chunks = [(b"IHDR", header, None), (b"IDAT", zlib.compress(raw), None), (b"IEND", b"", None)]
    return png_from_chunks(chunks)  # type: ignore[arg-type]
