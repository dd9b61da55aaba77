"""ISO base media file format (ISO/IEC 14496-12) boxes, the container of HEIF/HEIC images.

Just enough to take HEIF files apart and put them together again: :func:`iter_boxes` walks a
box list, :func:`read_heif_layout` reads a HEIF file's items (type, properties in association
order, where the coded data lies) and entity groups, and :func:`make_box` /
:func:`make_full_box` / :func:`make_uuid_box` write boxes. The pixels are never touched: the
HEVC coding is libheif's (through pillow-heif). Malformed bytes raise ``ValueError``; readers of
user files wrap the call in :func:`unflat.io.guard.decoding`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

#: Item properties that transform the image (crop, rotation, mirror). HEIF requires every
#: descriptive property of an item to come before these in its association list.
TRANSFORMATIVE = frozenset({b"clap", b"irot", b"imir"})


@dataclass(frozen=True)
class Box:
    """One box of ``data``: ``kind`` (its four-character code), where it starts, where its
    payload starts (after the header and, for ``uuid`` boxes, the 16-byte ``uuid``) and ends."""

    kind: bytes
    start: int
    payload: int
    end: int
    uuid: bytes | None = None


@dataclass(frozen=True)
class Property:
    """An item property box: its kind, ``uuid`` (for ``uuid`` boxes), payload and whole bytes."""

    kind: bytes
    uuid: bytes | None
    payload: bytes
    raw: bytes


@dataclass
class HeifItem:
    """An item of a HEIF file: its type (``hvc1``, ``grid``, ``Exif`` ...), whether it is hidden,
    its properties as ``(property, essential)`` in association order, and its data extents
    (offsets and lengths: in the file for construction method 0, in ``idat`` for 1)."""

    item_id: int
    item_type: bytes
    hidden: bool = False
    properties: list[tuple[Property, bool]] = field(default_factory=list)
    extents: list[tuple[int, int]] = field(default_factory=list)
    construction_method: int = 0

    def property(self, kind: bytes, uuid: bytes | None = None) -> Property | None:
        """The first property of ``kind`` (and ``uuid``), or None."""
        for prop, _ in self.properties:
            if prop.kind == kind and (uuid is None or prop.uuid == uuid):
                return prop
        return None


@dataclass(frozen=True)
class EntityGroup:
    """An entity group of ``grpl`` (``ster`` for a stereo pair: left first, then right)."""

    kind: bytes
    group_id: int
    entities: tuple[int, ...]


@dataclass
class HeifLayout:
    """The primary item, every item by id, and the entity groups of a HEIF file."""

    primary: int
    items: dict[int, HeifItem]
    groups: list[EntityGroup]


def iter_boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[Box]:
    """The boxes lying one after another in ``data[start:end]``."""
    end = len(data) if end is None else end
    position = start
    while position < end:
        if end - position < 8:
            raise ValueError(f"{end - position} stray bytes after the last box")
        size, kind = struct.unpack_from(">I4s", data, position)
        header = 8
        if size == 1:
            if end - position < 16:
                raise ValueError(f"box {kind!r} at byte {position} is cut short")
            (size,) = struct.unpack_from(">Q", data, position + 8)
            header = 16
        elif size == 0:  # "to the end of the enclosing container"
            size = end - position
        uuid = None
        if kind == b"uuid":
            uuid = bytes(data[position + header : position + header + 16])
            header += 16
        if size < header or position + size > end:
            raise ValueError(f"box {kind!r} at byte {position} claims {size} bytes")
        yield Box(kind, position, position + header, position + size, uuid)
        position += size


def children(data: bytes, box: Box, skip: int = 0) -> list[Box]:
    """The boxes inside ``box``, after ``skip`` bytes of its own fields."""
    return list(iter_boxes(data, box.payload + skip, box.end))


def make_box(kind: bytes, payload: bytes) -> bytes:
    """A box of ``kind`` around ``payload``."""
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def make_full_box(kind: bytes, version: int, flags: int, payload: bytes) -> bytes:
    """A full box (one version byte and 24 bits of flags before ``payload``)."""
    return make_box(kind, struct.pack(">I", (version << 24) | flags) + payload)


def make_uuid_box(uuid: bytes, payload: bytes) -> bytes:
    """A ``uuid`` box: a box type of one's own, named by 16 bytes."""
    if len(uuid) != 16:
        raise ValueError("a uuid box type has 16 bytes")
    return make_box(b"uuid", uuid + payload)


class _Reader:
    """Big-endian fields from ``data[start:end]``, refusing to read past ``end``."""

    def __init__(self, data: bytes, start: int, end: int) -> None:
        self.data, self.position, self.end = data, start, end

    def take(self, count: int) -> bytes:
        if count < 0 or self.position + count > self.end:
            raise ValueError("a box is shorter than its fields")
        value = self.data[self.position : self.position + count]
        self.position += count
        return bytes(value)

    def number(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big") if size else 0

    def version_flags(self) -> tuple[int, int]:
        word = self.number(4)
        return word >> 24, word & 0xFFFFFF

    def text(self) -> bytes:
        stop = self.data.find(b"\0", self.position, self.end)
        if stop < 0:
            raise ValueError("a string without its terminating zero")
        return self.take(stop - self.position + 1)[:-1]


def read_heif_layout(data: bytes) -> HeifLayout:
    """The items, properties and entity groups of the HEIF file ``data``."""
    top = list(iter_boxes(data))
    meta = _only(top, b"meta")
    tables = {box.kind: box for box in children(data, meta, skip=4)}
    for kind in (b"pitm", b"iinf", b"iloc"):
        if kind not in tables:
            raise ValueError(f"the meta box has no {kind.decode()} box")
    items = _item_infos(data, tables[b"iinf"])
    pitm = _Reader(data, tables[b"pitm"].payload, tables[b"pitm"].end)
    version, _ = pitm.version_flags()
    primary = pitm.number(2 if version == 0 else 4)
    if b"iprp" in tables:
        _associate(data, tables[b"iprp"], items)
    _locate(data, tables[b"iloc"], items)
    groups = _groups(data, tables[b"grpl"]) if b"grpl" in tables else []
    if primary not in items:
        raise ValueError(f"the primary item {primary} does not exist")
    return HeifLayout(primary=primary, items=items, groups=groups)


def _only(boxes: list[Box], kind: bytes) -> Box:
    found = [box for box in boxes if box.kind == kind]
    if len(found) != 1:
        raise ValueError(f"expected one {kind.decode()} box, found {len(found)}")
    return found[0]


def _item_infos(data: bytes, iinf: Box) -> dict[int, HeifItem]:
    reader = _Reader(data, iinf.payload, iinf.end)
    version, _ = reader.version_flags()
    count = reader.number(2 if version == 0 else 4)
    entries = list(iter_boxes(data, reader.position, iinf.end))
    if len(entries) != count:
        raise ValueError(f"iinf lists {count} items but holds {len(entries)}")
    items: dict[int, HeifItem] = {}
    for entry in entries:
        fields = _Reader(data, entry.payload, entry.end)
        entry_version, flags = fields.version_flags()
        if entry.kind != b"infe" or entry_version not in (2, 3):
            raise ValueError(f"unsupported item entry {entry.kind!r} version {entry_version}")
        item_id = fields.number(2 if entry_version == 2 else 4)
        fields.number(2)  # item_protection_index
        items[item_id] = HeifItem(item_id, fields.take(4), hidden=bool(flags & 1))
    return items


def _associate(data: bytes, iprp: Box, items: dict[int, HeifItem]) -> None:
    boxes = children(data, iprp)
    properties = [
        Property(
            box.kind, box.uuid, bytes(data[box.payload : box.end]), bytes(data[box.start : box.end])
        )
        for box in children(data, _only(boxes, b"ipco"))
    ]
    for ipma in (box for box in boxes if box.kind == b"ipma"):
        reader = _Reader(data, ipma.payload, ipma.end)
        version, flags = reader.version_flags()
        for _ in range(reader.number(4)):
            item_id = reader.number(2 if version == 0 else 4)
            for _ in range(reader.number(1)):
                value = reader.number(2 if flags & 1 else 1)
                essential, index = divmod(value, 0x8000 if flags & 1 else 0x80)
                if index == 0:  # "no property"
                    continue
                if index > len(properties):
                    raise ValueError(f"ipma names property {index} of {len(properties)}")
                if item_id in items:  # entity groups can have properties too; not kept
                    items[item_id].properties.append((properties[index - 1], bool(essential)))


def _locate(data: bytes, iloc: Box, items: dict[int, HeifItem]) -> None:
    reader = _Reader(data, iloc.payload, iloc.end)
    version, _ = reader.version_flags()
    if version > 2:
        raise ValueError(f"iloc version {version}")
    sizes = reader.number(2)
    offset_size, length_size, base_size = sizes >> 12, (sizes >> 8) & 15, (sizes >> 4) & 15
    index_size = sizes & 15 if version else 0
    for _ in range(reader.number(2 if version < 2 else 4)):
        item_id = reader.number(2 if version < 2 else 4)
        method = reader.number(2) & 15 if version else 0
        reference = reader.number(2)
        base = reader.number(base_size)
        extents = []
        for _ in range(reader.number(2)):
            reader.number(index_size)
            offset, length = reader.number(offset_size), reader.number(length_size)
            extents.append((base + offset, length))
        if item_id in items:
            if reference != 0:
                raise ValueError(f"item {item_id} lies in another file")
            items[item_id].extents, items[item_id].construction_method = extents, method


def item_data(data: bytes, item: HeifItem) -> bytes:
    """The coded bytes of ``item`` (stored in the file itself), its extents joined."""
    if item.construction_method != 0:
        raise ValueError(
            f"item {item.item_id} is stored by construction method {item.construction_method}"
        )
    for offset, length in item.extents:
        if length == 0 or offset + length > len(data):
            raise ValueError(f"item {item.item_id} lies outside the file")
    return b"".join(data[offset : offset + length] for offset, length in item.extents)


def _groups(data: bytes, grpl: Box) -> list[EntityGroup]:
    groups = []
    for box in children(data, grpl):
        reader = _Reader(data, box.payload, box.end)
        reader.version_flags()
        group_id = reader.number(4)
        entities = tuple(reader.number(4) for _ in range(reader.number(4)))
        groups.append(EntityGroup(box.kind, group_id, entities))
    return groups


@dataclass
class NewItem:
    """An image item to write: its type, its properties (whole boxes, with their essential
    flags, in association order) and its coded data."""

    item_type: bytes
    properties: list[tuple[bytes, bool]]
    data: bytes


def build_heif(
    items: list[NewItem],
    groups: tuple[tuple[bytes, tuple[int, ...]], ...] = (),
    brands: tuple[bytes, ...] = (b"heic", b"mif1", b"heic"),
) -> bytes:
    """A HEIF file of ``items`` (ids 1, 2 ...; the first is the primary image) and entity
    ``groups`` (``(kind, item indexes)``, ids after the items'), coded data in one ``mdat``.

    Identical property boxes are stored once. ``brands`` is the major brand, then the
    compatible ones.
    """
    self_contained = make_full_box(b"url ", 0, 1, b"")  # the data is in this file
    tables = [
        make_full_box(b"hdlr", 0, 0, struct.pack(">I4s12x", 0, b"pict") + b"\0"),
        make_box(b"dinf", make_full_box(b"dref", 0, 0, struct.pack(">I", 1) + self_contained)),
        make_full_box(b"pitm", 0, 0, struct.pack(">H", 1)),
        make_full_box(b"iinf", 0, 0, struct.pack(">H", len(items)) + _item_entries(items)),
        make_box(b"iprp", _properties(items)),
    ]
    if groups:
        tables.append(make_box(b"grpl", _group_boxes(groups, first_id=len(items) + 1)))
    ftyp = make_box(b"ftyp", brands[0] + struct.pack(">I", 0) + b"".join(brands[1:]))
    # iloc comes last in meta: its size does not depend on the offsets it holds.
    iloc_size = 12 + 4 + len(items) * 14
    meta_size = 12 + sum(len(table) for table in tables) + iloc_size
    offset = len(ftyp) + meta_size + 8  # the first byte of mdat's payload
    if offset + sum(len(item.data) for item in items) >= 2**32:
        raise ValueError("the items do not fit 32-bit offsets")
    iloc = struct.pack(">HH", 0x4400, len(items))  # 4-byte offsets and lengths, no base
    for item_id, item in enumerate(items, start=1):
        iloc += struct.pack(">HHHII", item_id, 0, 1, offset, len(item.data))
        offset += len(item.data)
    tables.append(make_full_box(b"iloc", 0, 0, iloc))
    meta = make_full_box(b"meta", 0, 0, b"".join(tables))
    assert len(meta) == meta_size, "iloc_size above is out of step with the iloc written"
    return ftyp + meta + make_box(b"mdat", b"".join(item.data for item in items))


def _item_entries(items: list[NewItem]) -> bytes:
    return b"".join(
        make_full_box(b"infe", 2, 0, struct.pack(">HH4s", item_id, 0, item.item_type) + b"\0")
        for item_id, item in enumerate(items, start=1)
    )


def _properties(items: list[NewItem]) -> bytes:
    """``ipco`` with each distinct property once, and ``ipma`` associating them."""
    properties: list[bytes] = []
    ipma = struct.pack(">I", len(items))
    for item_id, item in enumerate(items, start=1):
        ipma += struct.pack(">HB", item_id, len(item.properties))
        for raw, essential in item.properties:
            if raw not in properties:
                properties.append(raw)
            ipma += bytes([(0x80 if essential else 0) | (properties.index(raw) + 1)])
    if len(properties) > 127:
        raise ValueError("more than 127 distinct properties")  # 7-bit indexes above
    return make_box(b"ipco", b"".join(properties)) + make_full_box(b"ipma", 0, 0, ipma)


def _group_boxes(groups: tuple[tuple[bytes, tuple[int, ...]], ...], first_id: int) -> bytes:
    boxes = b""
    for group_id, (kind, members) in enumerate(groups, start=first_id):
        entities = struct.pack(f">{len(members)}I", *(member + 1 for member in members))
        boxes += make_full_box(kind, 0, 0, struct.pack(">II", group_id, len(members)) + entities)
    return boxes
