"""What the decoders themselves print is kept off stderr (io.quiet): for a damaged file the
user sees our one line, and a photo read despite a harmless flaw prints nothing."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

import unflat
from tests.io.damaged_images import encode, png_chunks, png_from_chunks
from unflat.errors import InputError
from unflat.io.images import read_photo


def _tiff_with(data: bytes, tag: int, value: int) -> bytes:
    """A little-endian TIFF with the SHORT or LONG value of ``tag`` in its first IFD set."""
    ifd = struct.unpack_from("<I", data, 4)[0]
    (count,) = struct.unpack_from("<H", data, ifd)
    changed = bytearray(data)
    for entry in range(ifd + 2, ifd + 2 + 12 * count, 12):
        found, kind = struct.unpack_from("<HH", data, entry)
        if found == tag:
            struct.pack_into("<H" if kind == 3 else "<I", changed, entry + 8, value)
            return bytes(changed)
    raise AssertionError(f"no tag {tag}")


def lzw_tiff_damaged() -> bytes:
    """An LZW TIFF whose compressed strip is scrambled: libtiff meets codes not in its table."""
    data = bytearray(encode("TIFF", compression="tiff_lzw"))
    for offset in range(40, 400, 7):  # the strip starts at byte 8, the IFD is at the end
        data[offset] ^= 0x5A
    return bytes(data)


def _chunk(kind: bytes, body: bytes) -> tuple[bytes, bytes, bytes]:
    return kind, body, struct.pack(">I", zlib.crc32(kind + body))


# Descriptive chunks libpng warns about (through OpenCV, which reads 16-bit colour PNGs).
FLAWED_CHUNKS = {
    "bKGD of the wrong length": _chunk(b"bKGD", b"\0"),
    "iCCP too short": _chunk(b"iCCP", b"x\0\0" + zlib.compress(b"garbage")),
    "sRGB intent 9": _chunk(b"sRGB", b"\x09"),
    "tIME of month 0": _chunk(b"tIME", bytes(7)),
    "zTXt too short": _chunk(b"zTXt", b"k\0\0garbage"),
}


def _damaged_tiffs() -> dict[str, bytes]:
    return {
        "lzw strip scrambled": lzw_tiff_damaged(),  # libtiff: "Using code not yet in table"
        # Pillow logs "More samples per pixel than can be decoded" before it refuses
        "samples per pixel 9999": _tiff_with(encode("TIFF"), 277, 9999),
    }


@pytest.mark.parametrize("name", ["lzw strip scrambled", "samples per pixel 9999"])
def test_a_damaged_tiff_is_our_error_alone(
    tmp_path: Path, name: str, capfd: pytest.CaptureFixture
) -> None:
    path = tmp_path / "damaged.tif"
    path.write_bytes(_damaged_tiffs()[name])
    with pytest.raises(InputError, match="is not a valid TIFF image"):
        read_photo(path)
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize("name", sorted(FLAWED_CHUNKS))
def test_a_16bit_png_with_a_flawed_descriptive_chunk_reads_silently_and_whole(
    tmp_path: Path, name: str, capfd: pytest.CaptureFixture
) -> None:
    # 16-bit values whose low byte changes the 8-bit result (Pillow would keep the high byte)
    wide = np.random.default_rng(0).integers(0, 65536, (24, 32, 3), dtype=np.uint16)
    clean = cv2.imencode(".png", wide)[1].tobytes()
    chunks = png_chunks(clean)
    path = tmp_path / "flawed.png"
    path.write_bytes(png_from_chunks([chunks[0], FLAWED_CHUNKS[name], *chunks[1:]]))
    photo = read_photo(path)
    assert capfd.readouterr().err == ""
    # every one of the 16 bits read, as from the clean file (OpenCV, not Pillow's high byte)
    expected = np.round(wide[:, :, ::-1].astype(np.float64) / 257).astype(np.uint8)
    assert np.any(expected != wide[:, :, ::-1] >> 8)
    np.testing.assert_array_equal(photo.rgb, expected)


@pytest.mark.parametrize("name", ["lzw strip scrambled", "samples per pixel 9999"])
def test_the_command_line_shows_one_line_for_a_damaged_tiff(tmp_path: Path, name: str) -> None:
    """``unflat animate`` reads the portrait before any model work: its error is the whole of
    stderr. Before: libtiff's ``tempfile.tif: Using code not yet in table.`` and Pillow's
    logged ``More samples per pixel than can be decoded: 9999`` came first. A process of its
    own, as a user runs it: pytest's log capture would hide what Python prints for Pillow."""
    path = tmp_path / "portrait.tif"
    path.write_bytes(_damaged_tiffs()[name])
    output = tmp_path / "animated.mp4"
    command = [sys.executable, "-m", "unflat", "animate", str(path), "--motion", "idle"]
    environment = {**os.environ, "PYTHONPATH": str(Path(unflat.__file__).parents[1])}
    done = subprocess.run(
        [*command, "-o", str(output)], capture_output=True, text=True, env=environment
    )
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {path} is not a valid TIFF image"), lines
    assert not output.exists()


def _npy_python2(values: np.ndarray) -> bytes:
    """A ``.npy`` as Python 2 wrote it: long integers in the shape (``16L``)."""
    shape = ", ".join(f"{side}L" for side in values.shape)
    text = f"{{'descr': '<f4', 'fortran_order': False, 'shape': ({shape}), }}"
    text += " " * (63 - (10 + len(text)) % 64) + "\n"
    header = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1")
    return header + values.astype("<f4").tobytes()


def test_depth_files_numpy_warns_about_are_read_silently(
    tmp_path: Path, capfd: pytest.CaptureFixture
) -> None:
    """numpy's warnings (a Python 2 header parsed twice; float64 past float32's range) no
    longer reach stderr: the values read as before, those past float32 as no depth."""
    from unflat.io.depth_files import load_depth, read_depth

    values = np.full((16, 16), 2.0)
    old = tmp_path / "python2.npy"
    old.write_bytes(_npy_python2(values))
    huge = tmp_path / "huge.npy"
    values[0, 0] = 1e300
    np.save(huge, values)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # as a user sees them: printed, here raised
        np.testing.assert_array_equal(load_depth(old), np.full((16, 16), 2.0, np.float32))
        for reader in (load_depth, read_depth):
            depth = reader(huge)
            metres = getattr(depth, "metres", depth)
            assert not np.isfinite(metres[0, 0]) and np.all(metres.ravel()[1:] == 2.0)
    assert capfd.readouterr().err == ""
