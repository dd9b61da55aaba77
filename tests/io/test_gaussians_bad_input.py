"""Damaged and hostile splat files: SHARP metadata, float32 overflow, counts and bombs."""

from __future__ import annotations

import gzip
import struct
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.io.test_gaussians import random_scene
from unflat.errors import InputError
from unflat.io.gaussians import (
    load_gaussians,
    load_ply,
    load_ply_with_metadata,
    load_spz,
    save_gaussians,
    save_ply,
    save_splat,
    save_spz,
)
from unflat.io.limits import use_limits


def sharp_ply(tmp_path: Path, count: int = 5) -> bytes:
    path = save_ply(
        tmp_path / "sharp.ply",
        random_scene(count),
        layout="sharp",
        focal_px=50,
        image_size=(64, 48),
    )
    return path.read_bytes()


def split(data: bytes) -> tuple[bytes, bytes]:
    header, body = data.split(b"end_header\n", 1)
    return header + b"end_header\n", body


def metadata_of(tmp_path: Path, data: bytes) -> dict:
    path = tmp_path / "edited.ply"
    path.write_bytes(data)
    gaussians, metadata = load_ply_with_metadata(path)
    assert len(gaussians) == 5 and bool(torch.isfinite(gaussians.means).all())
    return metadata


# --- SHARP metadata ---------------------------------------------------------------------------


def test_sharp_metadata_is_read_when_intact(tmp_path: Path) -> None:
    metadata = metadata_of(tmp_path, sharp_ply(tmp_path))
    assert metadata["layout"] == "sharp" and "note" not in metadata
    assert metadata["intrinsic"][0, 0] == 50 and metadata["image_size"].tolist() == [64, 48]


def test_a_metadata_element_with_zero_rows_is_left_out_with_a_note(tmp_path: Path) -> None:
    header, body = split(sharp_ply(tmp_path))
    # color_space is the second to last element: its one byte goes, and so does its row
    data = (
        header.replace(b"element color_space 1", b"element color_space 0") + body[:-4] + body[-3:]
    )
    metadata = metadata_of(tmp_path, data)
    assert metadata["color_space"] == "srgb"
    assert "color_space element has 0 values, not 1; it is ignored" in metadata["note"]
    header, body = split(sharp_ply(tmp_path))
    # intrinsic without rows: no camera, and the note says so
    start = 5 * 14 * 4 + 16 * 4
    data = header.replace(b"element intrinsic 9", b"element intrinsic 0")
    metadata = metadata_of(tmp_path, data + body[:start] + body[start + 36 :])
    assert "intrinsic" not in metadata and "no usable intrinsic and image_size" in metadata["note"]


def test_a_renamed_metadata_property_is_still_read(tmp_path: Path) -> None:
    data = sharp_ply(tmp_path)
    for old, new in (
        (b"uchar color_space", b"uchar colour_space"),
        (b"uint image_size\n", b"uint image_sizf\n"),
    ):
        metadata = metadata_of(tmp_path, data.replace(b"property " + old, b"property " + new))
        assert "is named" in metadata["note"] and "its value is used" in metadata["note"]
        assert metadata["image_size"].tolist() == [64, 48]


def test_missing_metadata_elements_fall_back_quietly(tmp_path: Path) -> None:
    header, body = split(sharp_ply(tmp_path))
    start = 5 * 14 * 4 + 16 * 4  # after the Gaussians and the extrinsic
    data = header.replace(b"element intrinsic 9\nproperty float intrinsic\n", b"")
    data = data.replace(b"element color_space 1\nproperty uchar color_space\n", b"")
    body = body[:start] + body[start + 36 : -4] + body[-3:]
    metadata = metadata_of(tmp_path, data + body)
    # SHARP's loader assumes sRGB without the element, and there is no camera without K
    assert metadata["color_space"] == "srgb" and "intrinsic" not in metadata
    assert "intrinsic and image_size" in metadata["note"]


@pytest.mark.parametrize(
    ("element", "offset", "value", "words"),
    [
        ("intrinsic", 64, np.float32(np.nan), "intrinsic element holds NaN"),
        ("intrinsic", 64, np.float32(-50.0), "focal length <= 0"),
        ("image_size", 64 + 36, np.uint32(0), "image_size element is [0, 48]"),
        ("image_size", 64 + 36, np.uint32(4_000_000_000), "image_size element is [4000000000"),
        ("extrinsic", 12, np.float32(2.0), "extrinsic is not the identity"),
    ],
)
def test_implausible_metadata_values_are_noted(
    tmp_path: Path, element: str, offset: int, value: np.generic, words: str
) -> None:
    header, body = split(sharp_ply(tmp_path))
    edited = bytearray(body)
    start = 5 * 14 * 4 + offset
    edited[start : start + 4] = value.tobytes()
    metadata = metadata_of(tmp_path, header + bytes(edited))
    assert words in metadata["note"]
    if element != "extrinsic":
        assert element not in metadata


def test_an_unknown_colour_code_reads_as_srgb_with_a_note(tmp_path: Path) -> None:
    data = sharp_ply(tmp_path)
    metadata = metadata_of(tmp_path, data[:-4] + b"\x07" + data[-3:])
    assert metadata["color_space"] == "srgb" and "color_space code 7 is unknown" in metadata["note"]


def test_a_property_named_twice_is_refused(tmp_path: Path) -> None:
    data = save_ply(tmp_path / "a.ply", random_scene(5), sh_degree=1).read_bytes()
    # one flipped bit: '4' (0x34) becomes '5' (0x35)
    damaged = data.replace(b"property float f_rest_4\n", b"property float f_rest_5\n", 1)
    (tmp_path / "b.ply").write_bytes(damaged)
    with pytest.raises(InputError, match="declares 'f_rest_5' twice in 'vertex'"):
        load_ply(tmp_path / "b.ply")


def test_a_wrong_count_in_the_header_is_refused(tmp_path: Path) -> None:
    data = save_ply(tmp_path / "a.ply", random_scene(5)).read_bytes()
    (tmp_path / "b.ply").write_bytes(data.replace(b"element vertex 5", b"element vertex 4"))
    with pytest.raises(InputError, match="bytes after its last element"):
        load_ply(tmp_path / "b.ply")


def test_a_big_endian_ply_is_read(tmp_path: Path) -> None:
    scene = random_scene(5)
    header, body = split(save_ply(tmp_path / "a.ply", scene).read_bytes())
    swapped = np.frombuffer(body, "<f4").astype(">f4").tobytes()
    (tmp_path / "b.ply").write_bytes(header.replace(b"little", b"big") + swapped)
    torch.testing.assert_close(load_ply(tmp_path / "b.ply").means, scene.means)


# --- values ---------------------------------------------------------------------------------


def test_values_beyond_float32_are_refused_naming_the_property(tmp_path: Path) -> None:
    scene = random_scene(5)
    header, body = split(save_ply(tmp_path / "a.ply", scene).read_bytes())
    # a 3DGS PLY of doubles: x = 1e300 fits float64 but not float32
    doubles = np.frombuffer(body, "<f4").astype("<f8")
    doubles[17 * 2] = 1e300  # Gaussian 2's x
    (tmp_path / "b.ply").write_bytes(
        header.replace(b"property float", b"property double") + doubles.tobytes()
    )
    with pytest.raises(
        InputError, match=r"1 of 5 Gaussians with values beyond float32's range"
    ) as caught:
        load_ply(tmp_path / "b.ply")
    assert "Gaussian 2, in x" in caught.value.message
    # a log scale of 100 is finite, its exp (2.7e43) is not in float32
    floats = np.frombuffer(body, "<f4").copy()
    floats[17 * 3 + 10] = 100.0  # Gaussian 3's scale_0 (x y z nx ny nz f_dc*3 opacity scale_0)
    (tmp_path / "c.ply").write_bytes(header + floats.tobytes())
    with pytest.raises(InputError, match="Gaussian 3, in scale_0"):
        load_ply(tmp_path / "c.ply")


def test_negative_splat_scales_are_refused(tmp_path: Path) -> None:
    data = bytearray(save_splat(tmp_path / "a.splat", random_scene(5)).read_bytes())
    data[32 * 3 + 16 : 32 * 3 + 20] = np.float32(-0.01).tobytes()  # Gaussian 3's scale y
    (tmp_path / "b.splat").write_bytes(bytes(data))
    with pytest.raises(InputError, match="1 of 5 Gaussians with a negative scale") as caught:
        load_gaussians(tmp_path / "b.splat")
    assert "Gaussian 3" in caught.value.message


# --- counts and bombs -----------------------------------------------------------------------


def test_declared_counts_are_checked_before_reading(tmp_path: Path) -> None:
    data = save_ply(tmp_path / "a.ply", random_scene(5)).read_bytes()
    (tmp_path / "b.ply").write_bytes(data.replace(b"element vertex 5", b"element vertex 20000000"))
    with pytest.raises(
        InputError, match="holds 20,000,000 Gaussians; the limit is 10,000,000"
    ) as caught:
        load_ply(tmp_path / "b.ply")
    assert "--max-gaussians 20000000" in caught.value.hint
    scene = random_scene(20)
    for name in ("c.ply", "c.splat", "c.spz"):
        path = save_gaussians(tmp_path / name, scene)
        with use_limits(max_gaussians=19), pytest.raises(InputError, match="holds 20 Gaussians"):
            load_gaussians(path)
        with use_limits(max_gaussians=20):
            assert len(load_gaussians(path)) == 20


def spz_stream(count: int, payload: int) -> bytes:
    """A gzip ``.spz`` of ``count`` Gaussians (version 2, degree 0) with ``payload`` zero bytes."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
    parts = [compressor.compress(struct.pack("<IIIBBBB", 0x5053474E, 2, count, 0, 12, 0, 0))]
    chunk = bytes(1 << 24)
    for start in range(0, payload, len(chunk)):
        parts.append(compressor.compress(memoryview(chunk)[: min(len(chunk), payload - start)]))
    return b"".join(parts) + compressor.flush()


def test_a_spz_bomb_is_refused_before_it_is_inflated(tmp_path: Path) -> None:
    # The file: 20M Gaussians (380 MB inflated, 8.9 GB as float64) in about 1.6 MB here.
    path = tmp_path / "bomb.spz"
    path.write_bytes(spz_stream(20_000_000, 20_000_000 * 19))
    tracemalloc.start()
    try:
        with pytest.raises(InputError, match="holds 20,000,000 Gaussians; the limit is 10,000,000"):
            load_spz(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20  # the 1 MiB read buffer, not the payload


def test_spz_data_must_be_the_size_its_count_implies(tmp_path: Path) -> None:
    # 1000 Gaussians declared (19 kB) in front of 50 MB: inflated no further than 19 kB + 1
    path = tmp_path / "long.spz"
    path.write_bytes(spz_stream(1000, 50_000_000))
    tracemalloc.start()
    try:
        with pytest.raises(InputError, match="holds more data than its header's 1000 Gaussians"):
            load_spz(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20
    (tmp_path / "short.spz").write_bytes(spz_stream(1000, 1000 * 19 - 1))
    with pytest.raises(
        InputError, match="truncated: 1000 Gaussians need 19016 bytes, it has 19015"
    ):
        load_spz(tmp_path / "short.spz")


def test_spz_gzip_damage_is_refused(tmp_path: Path) -> None:
    data = save_spz(tmp_path / "a.spz", random_scene(50)).read_bytes()
    (tmp_path / "cut.spz").write_bytes(data[:-4])  # the gzip trailer's length is gone
    with pytest.raises(InputError, match="compressed data ends early"):
        load_spz(tmp_path / "cut.spz")
    crc = bytearray(data)
    crc[-8] ^= 0xFF  # the CRC32 of the inflated data
    (tmp_path / "crc.spz").write_bytes(bytes(crc))
    with pytest.raises(InputError, match=r"not a valid \.spz file \(.*incorrect data check"):
        load_spz(tmp_path / "crc.spz")
    inner = gzip.decompress(data)
    # two gzip members and zero padding, as gzip itself reads them
    (tmp_path / "two.spz").write_bytes(
        gzip.compress(inner[:100]) + gzip.compress(inner[100:]) + bytes(8)
    )
    assert len(load_spz(tmp_path / "two.spz")) == 50
    (tmp_path / "junk.spz").write_bytes(data + b"junk")
    with pytest.raises(InputError, match=r"not a valid \.spz file"):
        load_spz(tmp_path / "junk.spz")


@pytest.mark.parametrize(
    ("offset", "value", "words"),
    [
        (4, 4, "version 4"),
        (12, 4, "degree 4"),
        (13, 40, "40 fractional bits"),
        (14, 2, "extensions"),
        (0, 0, "no NGSP header"),
    ],
)
def test_spz_header_damage_is_refused(tmp_path: Path, offset: int, value: int, words: str) -> None:
    inner = bytearray(gzip.decompress(save_spz(tmp_path / "a.spz", random_scene(5)).read_bytes()))
    inner[offset] = value
    (tmp_path / "b.spz").write_bytes(gzip.compress(bytes(inner)))
    with pytest.raises(InputError, match=words):
        load_spz(tmp_path / "b.spz")
