"""The one mutation engine: damage a valid file the ways files get damaged, as hypothesis data.

A :class:`Mutation` is a seed file, an optional *view* (the part of the file to damage: the whole
file, the data inside its gzip, one member of its zip, a PNG's inflated pixel data, its JSON) and
one to four *operations* applied in turn inside that view:

- flipped bits and bytes set to edge values (0x00, 0xff, 0x7f, 0x80, a digit, a space),
- truncation, deleted chunks, duplicated chunks, inserted junk and format tokens,
- integer fields overwritten with extremes (0, -1, the largest and smallest of 1, 2, 4 and 8
  bytes, both byte orders), floats with NaN, infinities and float32's edges,
- in a text header (PLY, PFM, the dict of a ``.npy``): a number replaced by an extreme, a header
  line duplicated, dropped or swapped,
- in JSON (configs, a safetensors header): a value replaced by an extreme or a value of another
  type, a key dropped or added, a list grown, a deep nesting.

Every parameter is a plain integer drawn by hypothesis and read modulo the length of what it
lands on, so a failing case shrinks (fewer operations, smaller offsets) and replays exactly;
``repr(mutation)`` says what was done in words, for the notes of a failure.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from hypothesis import strategies as st

# --- values that break parsers ----------------------------------------------------------------

BYTE_EDGES = (0x00, 0xFF, 0x7F, 0x80, 0x01, ord("9"), ord(" "), ord("\n"))
FLOAT_EDGES = (float("nan"), float("inf"), -float("inf"), 3.4e38, -3.4e38, 1e30, -1.0, 0.0, 1e-45)
# Numbers written into text headers: zero, negatives, the edges of 32 and 64 bits, beyond.
TEXT_NUMBERS = (
    b"0", b"-1", b"1", b"2147483647", b"2147483648", b"4294967296", b"9223372036854775808",
    b"100000", b"1" + b"0" * 30, b"1e308", b"nan", b"inf", b"-0", b"0.5", b"",
)  # fmt: skip
# Words written over words of text headers: PLY types and formats, .npy dict keys and dtypes.
TOKENS = (
    b"double", b"uchar", b"int", b"list uchar int", b"half", b"vertex", b"face", b"property",
    b"binary_big_endian", b"ascii", b"end_header", b"descr", b"shape", b"fortran_order",
    b"True", b"'|O'", b"'<U9'", b"'<c16'", b"'V8'", b"PF", b"Pf", b"x",
)  # fmt: skip
JUNK = (
    b"\n", b"\r\n", b"\0", b"\xff\xfe", b"\xff" * 8, b"\0" * 64, b"end_header\n", b"PK\x03\x04",
    b"IEND\xaeB`\x82", b"\xff\xd9", b"\xff\xd8\xff", b"{", b'"', b"\x80", b"\xed\xa0\x80",
)  # fmt: skip
JSON_VALUES: tuple[object, ...] = (
    0, -1, 1, 2**31, 2**63, 2**64, 10**400, 1e308, -1e308, float("nan"), float("inf"), 0.5,
    None, True, False, "", "x" * 1000, "\udcff", [], [0], [[]], {}, {"a": 1},
)  # fmt: skip


def int_edges(width: int) -> tuple[int, ...]:
    """Unsigned bit patterns of the edges of a ``width``-byte integer (both signs)."""
    bits = 8 * width
    top = 1 << bits
    values = (0, 1, top - 1, (top >> 1) - 1, top >> 1, (top >> 1) + 1, top - 2, 0x100, 0x10000)
    return tuple(sorted({value % top for value in values}))


# --- operations on bytes ----------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    """One operation: ``kind`` with integer parameters read modulo what they land on.

    ``header`` confines the offset to the view's header (its text, or its first bytes).
    """

    kind: str
    at: int = 0
    size: int = 0
    value: int = 0
    header: bool = False

    def apply(self, data: bytes, header: int) -> bytes:
        span = header if self.header and header > 0 else len(data)
        return _APPLY[self.kind](self, data, span)

    def __repr__(self) -> str:
        where = " (header)" if self.header else ""
        return f"{self.kind}(at={self.at}, size={self.size}, value={self.value}){where}"


def _offset(op: Op, span: int) -> int:
    return op.at % span if span > 0 else 0


def _flip(op: Op, data: bytes, span: int) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    out[_offset(op, min(span, len(out)))] ^= 1 << (op.value % 8)
    return bytes(out)


def _set_byte(op: Op, data: bytes, span: int) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    out[_offset(op, min(span, len(out)))] = BYTE_EDGES[op.value % len(BYTE_EDGES)]
    return bytes(out)


def _truncate(op: Op, data: bytes, span: int) -> bytes:
    return data[: _offset(op, len(data))]


def _insert(op: Op, data: bytes, span: int) -> bytes:
    at = _offset(op, min(span, len(data)) + 1)
    junk = JUNK[op.value % len(JUNK)] * max(1, op.size % 64)
    return data[:at] + junk + data[at:]


def _delete(op: Op, data: bytes, span: int) -> bytes:
    at = _offset(op, min(span, len(data)))
    return data[:at] + data[at + 1 + op.size % 4096 :]


def _duplicate(op: Op, data: bytes, span: int) -> bytes:
    at = _offset(op, min(span, len(data)))
    chunk = data[at : at + 1 + op.size % 4096]
    to = op.value % (len(data) + 1)
    return data[:to] + chunk + data[to:]


def _integer(op: Op, data: bytes, span: int) -> bytes:
    width = (1, 2, 4, 8)[op.size % 4]
    if len(data) < width:
        return data
    at = _offset(op, max(1, min(span, len(data)) - width + 1))
    edges = int_edges(width)
    order = "little" if op.value % 2 == 0 else "big"
    value = edges[(op.value // 2) % len(edges)].to_bytes(width, order)
    return data[:at] + value + data[at + width :]


def _float(op: Op, data: bytes, span: int) -> bytes:
    width = 4 if op.size % 2 == 0 else 8
    if len(data) < width:
        return data
    at = _offset(op, max(1, min(span, len(data)) - width + 1))
    number = FLOAT_EDGES[op.value % len(FLOAT_EDGES)]
    packed = struct.pack("<f" if width == 4 else "<d", number)
    return data[:at] + packed + data[at + width :]


_NUMBER = re.compile(rb"-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")


def _text_number(op: Op, data: bytes, span: int) -> bytes:
    """Replace one decimal number in the first ``span`` bytes with an extreme."""
    found = list(_NUMBER.finditer(data, 0, span))
    if not found:
        return _flip(op, data, span)
    match = found[op.at % len(found)]
    number = TEXT_NUMBERS[op.value % len(TEXT_NUMBERS)]
    return data[: match.start()] + number + data[match.end() :]


_WORD = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")


def _token(op: Op, data: bytes, span: int) -> bytes:
    """Replace one word in the first ``span`` bytes with another of the headers' words."""
    found = list(_WORD.finditer(data, 0, span))
    if not found:
        return _flip(op, data, span)
    match = found[op.at % len(found)]
    return data[: match.start()] + TOKENS[op.value % len(TOKENS)] + data[match.end() :]


def _line(op: Op, data: bytes, span: int) -> bytes:
    """Duplicate, drop or swap lines of the first ``span`` bytes (a text header)."""
    head, tail = data[:span], data[span:]
    lines = head.split(b"\n")
    if len(lines) < 2:
        return _flip(op, data, span)
    index, other = op.at % len(lines), op.size % len(lines)
    choice = op.value % 3
    if choice == 0:
        lines.insert(index, lines[index])
    elif choice == 1:
        del lines[index]
    else:
        lines[index], lines[other] = lines[other], lines[index]
    return b"\n".join(lines) + tail


_APPLY: dict[str, Callable[[Op, bytes, int], bytes]] = {
    "flip": _flip,
    "set_byte": _set_byte,
    "truncate": _truncate,
    "insert": _insert,
    "delete": _delete,
    "duplicate": _duplicate,
    "integer": _integer,
    "float": _float,
    "text_number": _text_number,
    "token": _token,
    "line": _line,
}
BYTE_KINDS = ("flip", "set_byte", "truncate", "insert", "delete", "duplicate", "integer", "float")
TEXT_KINDS = ("text_number", "token", "line")


# --- operations on JSON -----------------------------------------------------------------------


@dataclass(frozen=True)
class JsonOp:
    """Replace, drop, add or nest at the ``at``-th place of a JSON document (read modulo)."""

    kind: str
    at: int = 0
    value: int = 0

    def apply(self, document: object) -> object:
        places = _places(document)
        path = places[self.at % len(places)]
        if self.kind == "replace":
            return _set(document, path, JSON_VALUES[self.value % len(JSON_VALUES)])
        if self.kind == "nest":
            # a marker that dump_json writes as that many nested lists (json.dumps would recurse)
            return _set(document, path, f"{_DEEP}{(10, 100, 5000, 100_000)[self.value % 4]}")
        if self.kind == "drop":
            if path:
                del _get(document, path[:-1])[path[-1]]  # type: ignore[attr-defined]
            return document
        parent = _get(document, path)
        if self.kind == "add" and isinstance(parent, dict):
            parent[f"unknown_{self.value % 7}"] = JSON_VALUES[self.value % len(JSON_VALUES)]
        elif self.kind == "grow" and isinstance(parent, list):
            parent.extend(parent[:1] * (1 + self.value % 5))
        return document

    def __repr__(self) -> str:
        return f"json.{self.kind}(at={self.at}, value={self.value})"


def _places(document: object, path: tuple = ()) -> list[tuple]:
    found = [path]
    if isinstance(document, dict):
        for key, value in document.items():
            found.extend(_places(value, (*path, key)))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found.extend(_places(value, (*path, index)))
    return found


def _get(document: object, path: tuple) -> object:
    for key in path:
        document = document[key]  # type: ignore[index]
    return document


def _set(document: object, path: tuple, value: object) -> object:
    if not path:
        return value
    _get(document, path[:-1])[path[-1]] = value  # type: ignore[index]
    return document


JSON_KINDS = ("replace", "drop", "add", "grow", "nest")


_DEEP = "__nested_lists_"


def dump_json(document: object) -> bytes:
    """JSON as Python writes it (NaN and Infinity included), the nesting markers expanded."""
    text = json.dumps(document)
    return re.sub(
        rf'"{_DEEP}([0-9]+)"', lambda m: "[" * int(m[1]) + "0" + "]" * int(m[1]), text
    ).encode()


# --- views: the part of a file a mutation damages ---------------------------------------------


@dataclass(frozen=True)
class View:
    """How to take a part out of a file (``unwrap``) and put a damaged part back (``wrap``).

    ``header`` is the length of the part's header, where header operations land (0: none);
    ``text`` says the header is text (numbers and lines to damage); ``json`` that the part is a
    JSON document (so JSON operations apply).
    """

    name: str
    unwrap: Callable[[bytes], bytes]
    wrap: Callable[[bytes, bytes], bytes]  # (original file, damaged part) -> file
    header: Callable[[bytes], int] = lambda part: 0
    text: bool = False
    json: bool = False

    def __repr__(self) -> str:
        return self.name


def whole(header: Callable[[bytes], int] = lambda data: 0, text: bool = False) -> View:
    """The file itself (its header as ``header`` measures it)."""
    return View("file", lambda data: data, lambda data, part: part, header, text)


def json_file() -> View:
    return View("json", lambda data: data, lambda data, part: part, len, text=True, json=True)


def gzip_view(header: int = 0) -> View:
    """The data inside a gzip file, compressed again after damage (so it reaches the parser)."""
    return View(
        "inside gzip",
        gzip.decompress,
        lambda data, part: gzip.compress(part, mtime=0),
        lambda part: header,
    )


def zip_member(
    name: str, header: Callable[[bytes], int] = lambda data: 0, text: bool = False
) -> View:
    """One member of a zip archive (``name``, or the one ending in ``/name``), stored again with
    a correct CRC so that zip's check passes and the damage reaches the member's reader."""

    def chosen(archive: zipfile.ZipFile) -> str:
        names = archive.namelist()
        return next(n for n in names if n == name or n.endswith("/" + name))

    def unwrap(data: bytes) -> bytes:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return archive.read(chosen(archive))

    def wrap(data: bytes, part: bytes) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
            member = chosen(source)
            for info in source.infolist():
                body = part if info.filename == member else source.read(info.filename)
                target.writestr(info, body)
        return out.getvalue()

    return View(f"zip member {name}", unwrap, wrap, header, text)


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """A PNG's chunks as (type, body), ignoring CRCs; stops at the end of the bytes."""
    chunks, at = [], 8
    while at + 8 <= len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        chunks.append((data[at + 4 : at + 8], data[at + 8 : at + 8 + length]))
        at += 12 + length
    return chunks


def png_file(chunks: list[tuple[bytes, bytes]]) -> bytes:
    """A PNG from (type, body) chunks with correct lengths and CRCs."""
    out = [b"\x89PNG\r\n\x1a\n"]
    for kind, body in chunks:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        out.append(struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc))
    return b"".join(out)


def png_pixels() -> View:
    """A PNG's inflated pixel data (filter bytes and scanlines), deflated into one IDAT again."""

    def unwrap(data: bytes) -> bytes:
        return zlib.decompress(b"".join(body for kind, body in png_chunks(data) if kind == b"IDAT"))

    def wrap(data: bytes, part: bytes) -> bytes:
        chunks = [chunk for chunk in png_chunks(data) if chunk[0] != b"IDAT"]
        at = next(i for i, chunk in enumerate(chunks) if chunk[0] == b"IEND")
        return png_file([*chunks[:at], (b"IDAT", zlib.compress(part)), *chunks[at:]])

    return View("png pixel data", unwrap, wrap)


def png_headers() -> View:
    """A PNG's chunks (IHDR first) with every CRC made right again after the damage."""

    def wrap(data: bytes, part: bytes) -> bytes:
        return png_file(png_chunks(part)) if part.startswith(data[:8]) else part

    return View("png chunks, CRCs fixed", lambda data: data, wrap, lambda data: 33)


def safetensors_header() -> View:
    """A safetensors file's JSON header, written back with its new length."""

    def unwrap(data: bytes) -> bytes:
        (size,) = struct.unpack("<Q", data[:8])
        return data[8 : 8 + size]

    def wrap(data: bytes, part: bytes) -> bytes:
        (size,) = struct.unpack("<Q", data[:8])
        return struct.pack("<Q", len(part)) + part + data[8 + size :]

    return View("safetensors header", unwrap, wrap, len, text=True, json=True)


# --- seeds and mutations ----------------------------------------------------------------------


@dataclass(frozen=True)
class Seed:
    """A valid file: its name (with the suffix the readers go by), bytes and views."""

    name: str
    data: bytes = field(repr=False)
    views: tuple[View, ...] = ()

    @property
    def suffix(self) -> str:
        return "." + self.name.rsplit(".", 1)[-1] if "." in self.name else ""

    def all_views(self) -> tuple[View, ...]:
        return self.views or (whole(),)


@dataclass(frozen=True)
class Mutation:
    """A seed, the view damaged and the operations done there; ``bytes`` gives the file."""

    seed: Seed
    view: View
    ops: tuple[Op | JsonOp, ...]

    def bytes(self) -> bytes:
        part = self.view.unwrap(self.seed.data)
        header = self.view.header(part)
        for op in self.ops:
            if isinstance(op, JsonOp):
                try:
                    document = json.loads(part)
                except (ValueError, RecursionError):
                    continue  # an earlier operation broke the JSON (or nested it past Python's)
                part = dump_json(op.apply(document))
            else:
                part = op.apply(part, header)
        return self.view.wrap(self.seed.data, part)

    def __repr__(self) -> str:
        return f"{self.seed.name}, {self.view!r}: " + "; ".join(map(repr, self.ops))

    def _repr_pretty_(self, printer: object, cycle: bool) -> None:
        """What hypothesis prints for a failing case: the words, not the seed's bytes."""
        printer.text(repr(self))  # type: ignore[attr-defined]


# Offsets as hypothesis draws them: small ones (a header's) often, any other up to 16 MiB.
_POSITIONS = st.integers(0, (1 << 24) - 1)
_SMALL = st.integers(0, 255)


def byte_ops(header: bool, text: bool) -> st.SearchStrategy[Op]:
    """Any byte operation; header ones only where the view has a header, text ones for text."""
    kinds = BYTE_KINDS + (TEXT_KINDS if text else ())
    return st.builds(
        Op,
        kind=st.sampled_from(kinds),
        at=_POSITIONS,
        size=st.one_of(_SMALL, _POSITIONS),
        value=_SMALL,
        header=st.booleans() if header else st.just(False),
    )


def json_ops() -> st.SearchStrategy[JsonOp]:
    return st.builds(JsonOp, kind=st.sampled_from(JSON_KINDS), at=_POSITIONS, value=_SMALL)


@st.composite
def mutations(draw: st.DrawFn, seeds: list[Seed]) -> Mutation:
    """One to four operations on one view of one of ``seeds``."""
    seed = draw(st.sampled_from(seeds))
    view = draw(st.sampled_from(seed.all_views()))
    header = view.header(view.unwrap(seed.data)) > 0
    ops: st.SearchStrategy[Op | JsonOp] = byte_ops(header, view.text)
    if view.json:
        # JSON views get mostly structural damage: byte damage mostly stops at the JSON parser.
        ops = st.one_of(json_ops(), json_ops(), ops)
    return Mutation(seed, view, tuple(draw(st.lists(ops, min_size=1, max_size=4))))
