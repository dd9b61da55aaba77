"""The one reader of PLY headers and fixed-size PLY elements (Gaussian splats, point clouds).

A PLY file is an ASCII header (``ply``, ``format ...``, ``element NAME COUNT``, ``property TYPE
NAME`` and ``property list COUNT_TYPE ITEM_TYPE NAME``, ``comment``, ``end_header``) followed by
the elements' rows. Everything a header can get wrong is refused here as an ``InputError`` that
names the line: no ``end_header`` in the first MiB, non-ASCII bytes outside comments, unknown
formats and types, an element or a property declared twice (a flipped bit turns ``f_rest_4``
into ``f_rest_5``), a property before any element. :func:`read_elements` then checks every
declared size against the file's real size and the decoded-bytes limit *before* reading, so a
header that lies about its counts costs nothing.
"""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from unflat.errors import InputError
from unflat.io.limits import check_limit

# Property types by both of their spec names.
TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1",
    "short": "i2", "int16": "i2", "ushort": "u2", "uint16": "u2",
    "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}  # fmt: skip
FORMATS = {"binary_little_endian": "<", "binary_big_endian": ">", "ascii": ""}
# Real headers are a few KiB (a 3DGS file with SH degree 3 has 62 properties); a file with no
# end_header in its first MiB is not a PLY we can use, and reading further could be gigabytes.
HEADER_LIMIT = 1 << 20
_COUNT = re.compile(r"[0-9]{1,19}")
_HEADER_HINT = "the header is damaged; export or download the file again"


@dataclass(frozen=True)
class Element:
    """One ``element`` of the header: its rows and its ``(name, numpy type)`` properties.

    A list property has the type None: its rows have no fixed size.
    """

    name: str
    count: int
    properties: tuple[tuple[str, str | None], ...]

    @property
    def has_lists(self) -> bool:
        return any(kind is None for _, kind in self.properties)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.properties)

    def dtype(self, endian: str) -> np.dtype:
        """The structured type of one row (fixed-size elements only)."""
        return np.dtype([(name, endian + str(kind)) for name, kind in self.properties])


@dataclass(frozen=True)
class Header:
    """A parsed PLY header; ``size`` is its length in bytes, where the data begins."""

    format: str
    elements: tuple[Element, ...]
    comments: tuple[str, ...]
    size: int

    @property
    def endian(self) -> str:
        """``<`` or ``>`` for binary files, ``""`` for ASCII."""
        return FORMATS[self.format]

    def element(self, name: str) -> Element | None:
        return next((element for element in self.elements if element.name == name), None)


def read_header(file: BinaryIO, source: object) -> Header:
    """Read and parse the header at the start of ``file`` (left positioned after it)."""
    raw = file.read(HEADER_LIMIT)
    if not raw.startswith(b"ply") or raw[3:4] not in (b"\n", b"\r"):
        raise InputError(f"{source} is not a PLY file", hint="it does not start with 'ply'")
    end = re.search(rb"\nend_header[ \t]*\r?\n", raw)
    if end is None:
        why = "the file is truncated" if len(raw) < HEADER_LIMIT else "no end_header in 1 MiB"
        raise InputError(f"{source} has no complete PLY header", hint=why)
    header = parse_header(raw[: end.start()], source, end.end())
    file.seek(header.size)
    return header


def parse_header(text: bytes, source: object, size: int) -> Header:
    """Parse the header lines before ``end_header`` (``text`` starts with ``ply``)."""
    file_format = ""
    elements: list[Element] = []
    properties: list[tuple[str, str | None]] = []
    comments: list[str] = []
    # sets, not scans of the lists: a 1 MiB header can declare 70,000 names
    element_names: set[str] = set()
    property_names: set[str] = set()

    def close() -> None:
        if elements:
            last = elements[-1]
            elements[-1] = Element(last.name, last.count, tuple(properties))

    for number, raw_line in enumerate(text.split(b"\n")[1:], start=2):
        line = raw_line.decode("ascii", errors="replace").rstrip("\r")
        words = line.split()
        if not words:
            continue
        if words[0] in ("comment", "obj_info"):
            comments.append(line.partition(" ")[2].strip())  # comments may hold any bytes
            continue
        if not raw_line.isascii():
            raise _bad_line(source, number, line, "has non-ASCII bytes")
        if words[0] == "format" and len(words) == 3 and words[1] in FORMATS:
            if file_format:
                raise _bad_line(source, number, line, "is a second format line")
            file_format = words[1]
        elif words[0] == "element" and len(words) == 3 and _COUNT.fullmatch(words[2]):
            if words[1] in element_names:
                raise _bad_line(source, number, line, f"declares element {words[1]!r} twice")
            close()
            elements.append(Element(words[1], int(words[2]), ()))
            element_names.add(words[1])
            properties, property_names = [], set()
        elif words[0] == "property" and elements:
            name, kind = _property(words, source, number, line)
            if name in property_names:
                raise _bad_line(
                    source, number, line, f"declares {name!r} twice in {elements[-1].name!r}"
                )
            properties.append((name, kind))
            property_names.add(name)
        else:
            raise _bad_line(source, number, line, "cannot be read")
    close()
    if not file_format:
        raise InputError(f"{source} has no PLY format line", hint=_HEADER_HINT)
    return Header(file_format, tuple(elements), tuple(comments), size)


def _property(words: list[str], source: object, number: int, line: str) -> tuple[str, str | None]:
    if len(words) == 3 and words[1] in TYPES:
        return words[2], TYPES[words[1]]
    if len(words) == 5 and words[1] == "list" and words[2] in TYPES and words[3] in TYPES:
        return words[4], None
    raise _bad_line(source, number, line, "has an unknown property type or form")


def _bad_line(source: object, number: int, line: str, why: str) -> InputError:
    shown = line if len(line) <= 60 else line[:57] + "..."
    return InputError(f"{source}: PLY header line {number} {why}: {shown!r}", hint=_HEADER_HINT)


def read_elements(
    file: BinaryIO, header: Header, source: object, file_size: int
) -> dict[str, np.ndarray]:
    """The binary elements up to the first one with list properties, as structured arrays.

    Sizes are checked before anything is read: the declared rows must fit in the file (else it
    is truncated), their bytes within ``max_decoded_bytes``, and when every element has a fixed
    size the file must end where they do (extra bytes mean a count in the header is wrong).
    """
    fixed: list[Element] = []
    for element in header.elements:
        if element.has_lists:
            break
        fixed.append(element)
    sizes = [element.dtype(header.endian).itemsize * element.count for element in fixed]
    ends = list(itertools.accumulate(sizes))
    needed, available = sum(sizes), max(file_size - header.size, 0)
    check_limit(source, "bytes of PLY data", needed, "max_decoded_bytes")
    if needed > available:
        cut = next(i for i, end in enumerate(ends) if end > available)
        raise InputError(
            f"{source} is truncated: element {fixed[cut].name!r} ends at byte "
            f"{header.size + ends[cut]} of the data, the file has {file_size} bytes",
            hint="the download or copy was cut short; fetch the file again",
        )
    if len(fixed) == len(header.elements) and needed < available:
        raise InputError(
            f"{source} has {available - needed} bytes after its last element: the counts in "
            "its header do not match its data",
            hint=_HEADER_HINT,
        )
    arrays: dict[str, np.ndarray] = {}
    for element, size in zip(fixed, sizes, strict=True):
        if not element.properties:
            continue  # rows of nothing: no data, and numpy has no type for them
        data = file.read(size)
        if len(data) != size:  # the file shrank while we read it
            raise InputError(f"{source} is truncated", hint="fetch the file again")
        arrays[element.name] = np.frombuffer(data, dtype=element.dtype(header.endian))
    return arrays


def file_size(file: BinaryIO) -> int:
    """The size of an open file in bytes."""
    return os.fstat(file.fileno()).st_size


def open_binary(path: Path, what: str) -> BinaryIO:
    """Open ``path`` for reading, with the usual ``InputError`` when it cannot be."""
    if not path.exists():
        raise InputError(f"{path} does not exist", hint="check the file name")
    if path.is_dir():
        raise InputError(f"{path} is a folder, not {what}", hint="give a file name")
    try:
        return open(path, "rb")
    except OSError as error:
        raise InputError(
            f"cannot read {path}: {error.strerror or error}", hint="check its permissions"
        ) from error


__all__ = ["Element", "Header", "file_size", "open_binary", "parse_header", "read_elements"]
