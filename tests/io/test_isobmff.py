"""ISOBMFF boxes: a HEIF file built from items reads back as built; damaged tables are refused."""

from __future__ import annotations

import struct

import pytest

from unflat.io.isobmff import (
    NewItem,
    build_heif,
    item_data,
    iter_boxes,
    make_box,
    make_full_box,
    make_uuid_box,
    read_heif_layout,
)

UUID = bytes(range(16))


def test_boxes_are_size_type_payload() -> None:
    assert make_box(b"free", b"ab") == b"\x00\x00\x00\x0afreeab"
    assert make_full_box(b"pitm", 0, 0, b"\x00\x01") == b"\x00\x00\x00\x0epitm" + bytes(4) + b"\0\1"
    uuid = make_uuid_box(UUID, b"x")
    assert len(uuid) == 8 + 16 + 1
    (box,) = iter_boxes(uuid)
    assert (box.kind, box.uuid, uuid[box.payload : box.end]) == (b"uuid", UUID, b"x")


def test_items_properties_and_groups_read_back_as_built() -> None:
    shared = make_full_box(b"ispe", 0, 0, struct.pack(">II", 64, 48))
    own = make_uuid_box(UUID, b"\x00\x00\x00\x07")
    crop = make_box(b"clap", bytes(32))
    items = [
        NewItem(b"hvc1", [(make_box(b"hvcC", b"L"), True), (shared, False), (own, False)], b"left"),
        NewItem(b"hvc1", [(make_box(b"hvcC", b"R"), True), (shared, False), (crop, True)], b"r!"),
    ]
    data = build_heif(items, groups=((b"ster", (0, 1)),))
    assert [box.kind for box in iter_boxes(data)] == [b"ftyp", b"meta", b"mdat"]
    layout = read_heif_layout(data)
    assert layout.primary == 1
    assert sorted(layout.items) == [1, 2]
    left, right = layout.items[1], layout.items[2]
    assert (left.item_type, left.hidden) == (b"hvc1", False)
    assert [(p.raw, essential) for p, essential in left.properties] == items[0].properties
    assert [(p.raw, essential) for p, essential in right.properties] == items[1].properties
    assert item_data(data, left) == b"left" and item_data(data, right) == b"r!"
    assert left.property(b"uuid", UUID).payload == b"\x00\x00\x00\x07"
    assert right.property(b"uuid", UUID) is None
    (group,) = layout.groups
    assert (group.kind, group.group_id, group.entities) == (b"ster", 3, (1, 2))
    # The shared ispe is stored once: five distinct properties, not six.
    ipco = data.find(b"ipco") - 4
    assert (
        len(list(iter_boxes(data, ipco + 8, ipco + struct.unpack_from(">I", data, ipco)[0]))) == 5
    )


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[:-3],  # mdat cut short
        lambda data: data[:40],  # meta cut short
        lambda data: data.replace(b"pitm", b"pitX"),  # no primary item
        lambda data: data[:24] + struct.pack(">I", 10**6) + data[28:],  # meta's size lies
        lambda data: data.replace(b"iloc", b"iloX"),  # no item locations
    ],
)
def test_damaged_files_raise_value_error(damage) -> None:
    data = build_heif([NewItem(b"hvc1", [(make_box(b"hvcC", b"x"), True)], b"data")])
    assert [box.start for box in iter_boxes(data)][1] == 24  # meta starts after a 24-byte ftyp
    with pytest.raises(ValueError):
        layout = read_heif_layout(damage(data))
        item_data(damage(data), layout.items[layout.primary])
