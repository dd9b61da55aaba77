"""PNG's chunks: the checks Pillow does not make, and the pixels alone for OpenCV.

A PNG is a signature and a run of chunks (length, four-letter kind, body, CRC-32 of kind and
body). The critical ones (``IHDR``, ``PLTE``, ``IDAT``, ``IEND``) hold the picture; the rest
(colour profile, gamma, text, background, time...) only describe it.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from unflat.errors import InputError

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CRITICAL = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND"})
_DAMAGED = "the file is damaged or incomplete; export or download it again"
# Adam7 passes: first column, first row, column step, row step.
_ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


@dataclass(frozen=True)
class Chunk:
    """One chunk: its kind, where it starts and ends in the file (CRC included), its body."""

    kind: bytes
    start: int
    end: int
    body: memoryview
    checksum_ok: bool


def chunks(data: bytes) -> Iterator[Chunk]:
    """The chunks of ``data`` after the signature, up to ``IEND`` or where the file is cut."""
    position = len(SIGNATURE)
    while position + 12 <= len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        body_end = position + 8 + length
        if body_end + 4 > len(data):
            return  # cut short: the decoder reports a truncated file
        kind = data[position + 4 : position + 8]
        checksum = int.from_bytes(data[body_end : body_end + 4], "big")
        ok = zlib.crc32(data[position + 4 : body_end]) == checksum
        yield Chunk(kind, position, body_end + 4, memoryview(data)[position + 8 : body_end], ok)
        if kind == b"IEND":
            return
        position = body_end + 4


def critical_only(data: bytes) -> bytes:
    """``data`` with only the chunks that hold the picture. A decoder then has nothing to warn
    about in the chunks that describe it (libpng prints such warnings on stderr, whatever the
    caller wants: OpenCV leaves libpng's default warning handler in place)."""
    kept = [data[chunk.start : chunk.end] for chunk in chunks(data) if chunk.kind in CRITICAL]
    return SIGNATURE + b"".join(kept)


def check_png(source: Path) -> None:
    """Refuse a PNG with a wrong chunk checksum or less pixel data than its header declares.

    Pillow checks neither: it skips the CRC of pixel chunks (a flipped bit can decode to other
    pixels), and when the compressed stream ends early it fills the missing rows with black.
    """
    header, pixels = b"", []
    for chunk in chunks(source.read_bytes()):
        if not chunk.checksum_ok:
            name = chunk.kind.decode("ascii", "replace")
            raise InputError(
                f"{source} is damaged: the checksum of its {name} chunk does not match",
                hint=_DAMAGED,
            )
        if chunk.kind == b"IHDR":
            header = bytes(chunk.body)
        elif chunk.kind == b"IDAT":
            pixels.append(chunk.body)
    if len(header) == 13 and pixels:
        expected = _raw_size(header)
        found = _inflated_size(pixels, expected)
        if found < expected:
            raise InputError(
                f"{source} is truncated: its pixel data holds {found:,} of the {expected:,} "
                "bytes its header declares",
                hint=_DAMAGED + " (a short PNG is never padded)",
            )


def _raw_size(header: bytes) -> int:
    """Bytes of filtered scanlines a PNG header declares (each row: filter byte + samples)."""
    width, height = int.from_bytes(header[0:4], "big"), int.from_bytes(header[4:8], "big")
    bits = header[8] * _CHANNELS.get(header[9], 4)
    passes = _ADAM7 if header[12] == 1 else ((0, 0, 1, 1),)
    total = 0
    for column, row, column_step, row_step in passes:
        columns = max(0, -(-(width - column) // column_step))
        rows = max(0, -(-(height - row) // row_step))
        if columns:
            total += rows * (1 + -(-columns * bits // 8))
    return total


def _inflated_size(pieces: list[memoryview], limit: int) -> int:
    """How many bytes the zlib stream in ``pieces`` inflates to, counting no further than
    ``limit`` and holding at most 1 MiB of it at a time (damage: what came before the error)."""
    stream, found = zlib.decompressobj(), 0
    try:
        for piece in pieces:
            pending = bytes(piece)
            while pending and found < limit:
                found += len(stream.decompress(pending, 1 << 20))
                pending = stream.unconsumed_tail
            if found >= limit or stream.eof:
                break
    except zlib.error:
        pass  # the decoder reports the damage itself, with its own words
    return found if found < limit else limit


__all__ = ["CRITICAL", "SIGNATURE", "Chunk", "check_png", "chunks", "critical_only"]
