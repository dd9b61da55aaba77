"""The one JSON writer: the same bytes the hand-written writes produced, written atomically."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from unflat.errors import OutputError
from unflat.io.atomic import write_json

DATA = {"name": "café", "values": [1, 2.5, None], "nested": {"ok": True}}


def test_bytes_match_the_hand_written_forms(tmp_path: Path) -> None:
    path = write_json(tmp_path / "a.json", DATA)
    assert path.read_bytes() == (json.dumps(DATA, indent=2) + "\n").encode()
    write_json(tmp_path / "b.json", DATA, indent=1)
    assert (tmp_path / "b.json").read_bytes() == (json.dumps(DATA, indent=1) + "\n").encode()
    write_json(tmp_path / "c.json", DATA, trailing_newline=False)
    assert (tmp_path / "c.json").read_text() == json.dumps(DATA, indent=2)
    assert json.loads(path.read_text()) == DATA


def test_nothing_is_left_behind_on_failure(tmp_path: Path) -> None:
    (tmp_path / "kept.json").write_text("old")
    with pytest.raises(TypeError):
        write_json(tmp_path / "kept.json", {"bad": object()})
    with pytest.raises(OutputError, match="already exists"):
        write_json(tmp_path / "kept.json", DATA, overwrite=False)
    assert (tmp_path / "kept.json").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.json"]


def test_write_json_refuses_nan_and_leaves_no_file(tmp_path):
    target = tmp_path / "side.json"
    with pytest.raises(OutputError, match=r"the value\['focal'\]\[1\] is NaN or infinite"):
        write_json(target, {"ok": 1.5, "focal": [2.0, float("inf")]})
    assert list(tmp_path.iterdir()) == []
    assert write_json(target, {"ok": 1.5}).read_text() == '{\n  "ok": 1.5\n}\n'
