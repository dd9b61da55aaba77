"""Depth files (``--depth``) that are damaged, hostile or empty: one InputError each, and the
size a header declares refused before anything is allocated."""

from __future__ import annotations

import io
import struct
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from unflat.errors import InputError
from unflat.io.depth_files import load_depth, read_depth, write_pfm
from unflat.io.limits import use_limits


def _depth(height: int = 24, width: int = 32) -> np.ndarray:
    """Metres, between 2 and 3, that do not compress (so a cut lands in the data)."""
    return np.random.default_rng(5).uniform(2.0, 3.0, (height, width)).astype(np.float32)


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _npy_declaring(shape: tuple[int, ...], dtype: str = "<f4", body: bytes = b"") -> bytes:
    """A .npy whose header declares ``shape`` over ``body`` (none of the data, by default)."""
    header = repr({"descr": dtype, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + body


def _npz(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _npz_bad_crc() -> bytes:
    """An .npz whose member's bytes changed after its CRC was written (stored, so no zlib)."""
    data = bytearray(_npz(depth=_depth()))
    data[len(data) // 3] ^= 0x01  # inside the array data of the one member
    return bytes(data)


def _npz_member(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("depth.npy", data)
    return buffer.getvalue()


def _png16(array: np.ndarray) -> bytes:
    return cv2.imencode(".png", array.astype(np.uint16))[1].tobytes()


def _png16_short_stream() -> bytes:
    """A 16-bit PNG whose pixel stream ends, properly, after 2 of its 64 rows."""
    header = struct.pack(">IIBBBBB", 64, 64, 16, 0, 0, 0, 0)
    rows = (b"\x00" + b"\x07\xd0" * 64) * 2

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
        return struct.pack(">I", len(payload)) + kind + payload + crc

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _tiff_float(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array.astype(np.float32), mode="F").save(buffer, "TIFF")
    return buffer.getvalue()


def _exr_claiming(width: int, height: int) -> bytes:
    """An OpenEXR header whose dataWindow declares ``width`` x ``height``, and no pixels."""

    def attribute(name: bytes, kind: bytes, value: bytes) -> bytes:
        return name + b"\x00" + kind + b"\x00" + struct.pack("<i", len(value)) + value

    window = struct.pack("<4i", 0, 0, width - 1, height - 1)
    header = attribute(b"dataWindow", b"box2i", window) + attribute(
        b"displayWindow", b"box2i", window
    )
    return b"v/1\x01" + struct.pack("<I", 2) + header + b"\x00"


def _pfm_claiming(width: int, height: int) -> bytes:
    return b"Pf\n%d %d\n-1.0\n" % (width, height) + bytes(64)


#: name -> (file name, builder, words the message holds)
DAMAGED: dict[str, tuple[str, Callable[[], bytes], tuple[str, ...]]] = {
    "npz bad crc": ("d.npz", _npz_bad_crc, ("not a valid depth archive", "CRC")),
    "npz cut": ("d.npz", lambda: _npz(depth=_depth())[:300], ("not a valid depth archive",)),
    "npz not a zip": ("d.npz", lambda: b"PK\x03\x04 not really", ("not a valid",)),
    "npz empty zip": ("d.npz", lambda: _npz(), ("holds no arrays",)),
    "npz several arrays": ("d.npz", lambda: _npz(a=_depth(), b=_depth()), ("none is named",)),
    "npz member not npy": ("d.npz", lambda: _npz_member(b"hello"), ("not a valid",)),
    "npz member declaring 100000x100000": (
        "d.npz",
        lambda: _npz_member(_npy_declaring((100_000, 100_000))),
        ("10,000,000,000 depth values", "--max-pixels"),
    ),
    "npy header unparsable": (
        "d.npy",
        lambda: b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f4',  ",
        ("not a valid depth map (.npy)",),
    ),
    "npy header with code": (
        "d.npy",
        lambda: _npy_declaring((2, 2), "__import__('os').getcwd()"),
        ("not a valid depth map (.npy)",),
    ),
    "npy not numpy": ("d.npy", lambda: b"not numpy at all", ("magic string",)),
    "npy 0x0": ("d.npy", lambda: _npy(np.zeros((0, 0), np.float32)), ("empty",)),
    "npy 0x5": ("d.npy", lambda: _npy(np.zeros((0, 5), np.float32)), ("empty",)),
    "npy declaring 100000x100000": (
        "d.npy",
        lambda: _npy_declaring((100_000, 100_000)),
        ("10,000,000,000 depth values", "the limit is 150,000,000"),
    ),
    "npy declaring 10000x10000 over 64 bytes": (
        "d.npy",
        lambda: _npy_declaring((10_000, 10_000), body=bytes(64)),
        ("truncated", "64 of 400,000,000 data bytes"),
    ),
    "npy cut": ("d.npy", lambda: _npy(_depth())[:-100], ("truncated",)),
    "npy objects": (
        "d.npy",
        lambda: _npy(np.array([[1.0, None]], dtype=object)),
        ("object values, not depth",),
    ),
    "npy strings": ("d.npy", lambda: _npy(np.array([["1.5", "2"]])), ("values, not depth",)),
    "npy complex": ("d.npy", lambda: _npy(np.ones((4, 4), np.complex64)), ("complex64",)),
    "npy booleans": ("d.npy", lambda: _npy(np.ones((4, 4), bool)), ("bool values",)),
    "npy records": (
        "d.npy",
        lambda: _npy(np.zeros((4, 4), [("z", "<f4"), ("c", "<f4")])),
        ("not depth",),
    ),
    "npy all NaN": ("d.npy", lambda: _npy(np.full((8, 8), np.nan, np.float32)), ("no depth",)),
    "npy all inf": ("d.npy", lambda: _npy(np.full((8, 8), np.inf, np.float32)), ("no depth",)),
    "npy all negative": ("d.npy", lambda: _npy(-_depth()), ("no depth",)),
    "png all zero": ("d.png", lambda: _png16(np.zeros((8, 8))), ("no depth",)),
    "png cut": ("d.png", lambda: _png16(_depth() * 1000)[:600], ("not a valid depth image",)),
    "png stream ending early": ("d.png", _png16_short_stream, ("truncated", "of the")),
    "png bad crc": (
        "d.png",
        lambda: (lambda d: d[:-20] + bytes([d[-20] ^ 1]) + d[-19:])(_png16(_depth() * 1000)),
        ("checksum",),
    ),
    "png 0 columns": ("d.png", lambda: _png16(_depth())[:16] + bytes(13), ("not a valid",)),
    "tiff cut": ("d.tif", lambda: _tiff_float(_depth())[:200], ("not a valid depth image",)),
    "tiff garbage after its header": (
        "d.tif",
        lambda: _tiff_float(_depth())[:8] + b"garbage!" * 30,
        ("not a valid depth image",),
    ),
    "exr garbage": ("d.exr", lambda: b"v/1\x01" + bytes(100), ("not a valid depth image",)),
    "exr claiming 100000x100000": (
        "d.exr",
        lambda: _exr_claiming(100_000, 100_000),
        ("depth pixels (100000x100000)", "--max-pixels"),
    ),
    "pfm 0x0": ("d.pfm", lambda: _pfm_claiming(0, 0), ("empty depth map (0x0)",)),
    "pfm claiming 100000x100000": (
        "d.pfm",
        lambda: _pfm_claiming(100_000, 100_000),
        ("10,000,000,000", "--max-pixels"),
    ),
    "pfm claiming 10000x10000": (
        "d.pfm",
        lambda: _pfm_claiming(10_000, 10_000),
        ("truncated", "of 400000000 data bytes"),
    ),
    "pfm absurd digits": ("d.pfm", lambda: b"Pf\n" + b"9" * 5000 + b" 1\n-1\n", ("bad header",)),
}


@pytest.mark.parametrize("name", sorted(DAMAGED))
@pytest.mark.parametrize("reader", [load_depth, read_depth])
def test_every_damaged_depth_file_is_one_input_error(
    tmp_path: Path, name: str, reader: Callable, capfd: pytest.CaptureFixture
) -> None:
    file_name, build, words = DAMAGED[name]
    path = tmp_path / file_name
    path.write_bytes(build())
    with pytest.raises(InputError) as caught:
        reader(path)
    message = caught.value.message
    assert message.startswith(str(path)) and "\n" not in message, message
    assert caught.value.hint, message
    for word in words:
        assert word in str(caught.value), str(caught.value)
    assert capfd.readouterr().err == ""  # no library's own messages besides ours


@pytest.mark.parametrize(
    ("file_name", "data"),
    [
        ("d.npy", _npy_declaring((100_000, 100_000))),
        ("d.npy", _npy_declaring((12_000, 12_000), body=bytes(64))),
        ("d.npz", _npz_member(_npy_declaring((100_000, 100_000)))),
        ("d.pfm", _pfm_claiming(12_000, 12_000)),
        ("d.exr", _exr_claiming(100_000, 100_000)),
    ],
)
def test_declared_sizes_are_refused_before_allocating(
    tmp_path: Path, file_name: str, data: bytes
) -> None:
    path = tmp_path / file_name
    path.write_bytes(data)
    tracemalloc.start()
    try:
        with pytest.raises(InputError):
            load_depth(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4_000_000  # not the 576 MB to 40 GB the headers declare


def test_limits_in_force_decide(tmp_path: Path) -> None:
    path = tmp_path / "d.npy"
    np.save(path, _depth(100, 100))
    with use_limits(max_pixels=5_000), pytest.raises(InputError, match="--max-pixels 10000"):
        load_depth(path)
    with use_limits(max_decoded_bytes=10_000), pytest.raises(InputError, match="40,000 bytes"):
        load_depth(path)
    assert load_depth(path).shape == (100, 100)


def test_tiny_valid_maps_still_read(tmp_path: Path) -> None:
    np.save(tmp_path / "one.npy", np.array([[2.5]], np.float32))
    assert load_depth(tmp_path / "one.npy").tolist() == [[2.5]]
    write_pfm(tmp_path / "row.pfm", np.array([[1.0, 2.0, 3.0]], np.float32))
    assert read_depth(tmp_path / "row.pfm").metres.tolist() == [[1.0, 2.0, 3.0]]
