"""The PLY header parser and element reader shared by the splat and point-cloud readers."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from unflat.errors import InputError
from unflat.io import ply
from unflat.io.limits import use_limits

HEADER = (
    b"ply\nformat binary_little_endian 1.0\ncomment made by a test\n"
    b"element vertex 2\nproperty float x\nproperty uchar flag\n"
    b"element face 1\nproperty list uchar int vertex_indices\nend_header\n"
)


def parse(data: bytes) -> ply.Header:
    return ply.read_header(io.BytesIO(data), "test.ply")


def test_a_header_with_elements_lists_and_comments() -> None:
    header = parse(HEADER + b"\0" * 64)
    assert header.format == "binary_little_endian" and header.endian == "<"
    assert header.comments == ("made by a test",)
    vertex, face = header.elements
    assert (vertex.name, vertex.count, vertex.names) == ("vertex", 2, ("x", "flag"))
    assert vertex.dtype("<").itemsize == 5 and not vertex.has_lists and face.has_lists
    assert header.size == len(HEADER)


def test_crlf_lines_and_big_endian() -> None:
    data = HEADER.replace(b"\n", b"\r\n").replace(b"little", b"big")
    header = parse(data)
    assert header.endian == ">" and header.size == len(data)
    assert header.element("vertex").names == ("x", "flag")


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        (b"property uchar flag", b"property uchar x", "declares 'x' twice in 'vertex'"),
        (b"element face 1", b"element vertex 1", "declares element 'vertex' twice"),
        (b"property float x", b"property half x", "unknown property type"),
        (b"property float x", b"property float", "unknown property type"),
        (b"property list uchar int", b"property list uchar", "unknown property type"),
        (b"element vertex 2", b"element vertex -2", "cannot be read"),
        (b"element vertex 2", b"element vertex 2e9", "cannot be read"),
        (b"element vertex 2", b"element vertex 99999999999999999999", "cannot be read"),
        (b"property float x", b"property float \xe9x", "non-ASCII bytes"),
        (b"format binary_little_endian 1.0", b"format binary_middle_endian 1.0", "cannot be read"),
        (b"comment made by a test", b"format ascii 1.0", "second format line"),
        (b"comment made by a test", b"colour red", "cannot be read"),
    ],
)
def test_damaged_header_lines_are_named(old: bytes, new: bytes, words: str) -> None:
    with pytest.raises(InputError, match=words) as caught:
        parse(HEADER.replace(old, new))
    assert "PLY header line" in caught.value.message and "\n" not in str(caught.value)


def test_headers_that_are_not_whole() -> None:
    with pytest.raises(InputError, match="no PLY format line"):
        parse(HEADER.replace(b"format binary_little_endian 1.0\n", b""))
    with pytest.raises(InputError, match="cannot be read"):
        parse(b"ply\nformat ascii 1.0\nproperty float x\nend_header\n")
    with pytest.raises(InputError, match="not a PLY file"):
        parse(b"plyx\n" + HEADER[4:])
    # end_header with no newline after it: the data cannot start anywhere
    with pytest.raises(InputError, match="truncated"):
        parse(HEADER[:-1])
    # an end_header inside a comment is not the end of the header
    with pytest.raises(InputError, match="truncated"):
        parse(b"ply\nformat ascii 1.0\ncomment end_header\n")
    # a header of endless comments is not searched beyond 1 MiB
    long = b"ply\nformat ascii 1.0\n" + b"comment " + b"x" * ply.HEADER_LIMIT + b"\n"
    with pytest.raises(InputError, match="no end_header in 1 MiB"):
        parse(long)


def test_non_ascii_comments_are_kept() -> None:
    header = parse(HEADER.replace(b"made by a test", "made by Zoë".encode()))
    assert header.comments[0].startswith("made by Zo")


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "test.ply"
    path.write_bytes(data)
    return path


def read(path: Path) -> dict[str, np.ndarray]:
    with open(path, "rb") as file:
        header = ply.read_header(file, path)
        return ply.read_elements(file, header, path, ply.file_size(file))


def test_read_elements_stops_at_list_data(tmp_path: Path) -> None:
    body = np.array([(1.5, 7), (2.5, 8)], dtype=[("x", "<f4"), ("flag", "u1")]).tobytes()
    arrays = read(write(tmp_path, HEADER + body + b"\x03\0\0\0\0\1\0\0\0\2\0\0\0"))
    assert list(arrays) == ["vertex"]
    assert arrays["vertex"]["x"].tolist() == [1.5, 2.5] and arrays["vertex"]["flag"].tolist() == [
        7,
        8,
    ]


def test_sizes_are_checked_before_reading(tmp_path: Path) -> None:
    fixed = HEADER.split(b"element face")[0] + b"end_header\n"
    with pytest.raises(InputError, match=r"truncated: element 'vertex' ends at byte"):
        read(write(tmp_path, fixed + b"\0" * 9))
    with pytest.raises(InputError, match="4 bytes after its last element"):
        read(write(tmp_path, fixed + b"\0" * 14))
    # a header declaring 10^18 rows of a small file: refused by size, nothing allocated
    huge = fixed.replace(b"element vertex 2", b"element vertex 1000000000000000000")
    with pytest.raises(InputError, match="bytes of PLY data; the limit is"):
        read(write(tmp_path, huge + b"\0" * 10))
    with use_limits(max_decoded_bytes=5), pytest.raises(InputError, match="--max-decoded-bytes"):
        read(write(tmp_path, fixed + b"\0" * 10))
