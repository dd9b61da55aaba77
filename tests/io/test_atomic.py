"""Atomic writes (the one JSON writer among them), stale leftovers of killed runs, and locks."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from unflat.errors import OutputError
from unflat.io.atomic import (
    STALE_AFTER_S,
    _host_tag,
    atomic_write,
    hold,
    remove_stale_files,
    write_json,
)

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


def _dead_pid() -> int:
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(finished.stdout)


def test_a_temporary_name_says_which_process_writes_it(tmp_path: Path) -> None:
    with atomic_write(tmp_path / "a.png") as temporary:
        match = re.fullmatch(r"\.a\.png\.([0-9a-f]{4})-(\d+)-[0-9a-f]{8}\.tmp\.png", temporary.name)
        assert match is not None
        assert match[1] == _host_tag() and int(match[2]) == os.getpid()
        temporary.write_bytes(b"x")
    assert (tmp_path / "a.png").read_bytes() == b"x"


def test_stale_temporaries_go_and_live_ones_stay(tmp_path: Path) -> None:
    old = time.time() - STALE_AFTER_S - 60
    here, dead, live = _host_tag(), _dead_pid(), os.getppid()
    other = "ffff" if here != "ffff" else "fffe"
    names = {
        f".a.npy.{here}-{dead}-0123abcd.tmp.npy": True,  # its writer was killed
        f".b.npy.{here}-{live}-0123abcd.tmp.npy": False,  # its writer still runs
        f".c.npy.{here}-{os.getpid()}-0123abcd.tmp.npy": True,  # an earlier process, same id
        f".d.npy.{other}-{dead}-0123abcd.tmp.npy": False,  # another machine, recent
        f".e.npy.{other}-{dead}-0123abcd.tmp.npy": "old",  # another machine, a day untouched
        ".f.npy.0123abcd.tmp.npy": False,  # written before names had a process id
        ".g.npy.0123abcd.tmp.npy": "old",
        ".h.tmp": False,  # not ours
        ".DS_Store": False,
    }
    for name, stale in names.items():
        (tmp_path / name).write_bytes(b"half")
        if stale == "old":
            os.utime(tmp_path / name, (old, old))
    with atomic_write(tmp_path / "i.npy") as mine:
        mine.write_bytes(b"being written")
        removed = remove_stale_files(tmp_path)
        assert mine.exists()
    expected = sorted(name for name, stale in names.items() if stale)
    assert sorted(path.name for path in removed) == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["i.npy", *(name for name, stale in names.items() if not stale)]
    )


def test_a_lock_excludes_others_and_goes_with_its_holder(tmp_path: Path) -> None:
    lock = tmp_path / ".a.unflat-lock"
    with hold(lock, wait=False) as held:
        assert held and lock.is_file()
        with hold(lock, wait=False) as again:
            assert not again
        assert remove_stale_files(tmp_path) == [] and lock.is_file()  # held: not stale
    assert not lock.exists()  # removed on release


def test_a_killed_holder_leaves_no_lock_that_blocks(tmp_path: Path) -> None:
    lock = tmp_path / ".a.unflat-lock"
    script = (
        "import sys, time; from unflat.io.atomic import hold\n"
        f"with hold({str(lock)!r}, wait=False) as held:\n"
        "    print(held, flush=True); time.sleep(60)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "True"
        with hold(lock, wait=False) as held:
            assert not held
    finally:
        holder.kill()  # SIGKILL: no chance to release anything
        holder.wait()
    assert lock.is_file()  # the file stays, the lock does not
    with hold(lock, wait=False) as held:
        assert held
    assert not lock.exists()
    lock.write_text("123")
    assert remove_stale_files(tmp_path) == [lock] and not lock.exists()


def test_a_waiting_holder_gets_the_lock_when_it_is_released(tmp_path: Path) -> None:
    lock = tmp_path / ".a.unflat-lock"
    order: list[str] = []

    def first() -> None:
        with hold(lock, wait=False):
            order.append("first")
            time.sleep(0.3)
            order.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    while not order:
        time.sleep(0.01)
    with hold(lock, wait=True) as held:
        assert held
        order.append("second")
    thread.join()
    assert order == ["first", "first done", "second"] and not lock.exists()


def test_a_lock_that_cannot_be_created_is_an_output_error(tmp_path: Path) -> None:
    lock = hold(tmp_path / "missing" / ".a.unflat-lock", wait=False)
    with pytest.raises(OutputError, match="cannot create the lock file") as caught:
        lock.__enter__()
    assert "disk space" in caught.value.hint


def test_a_filesystem_without_locks_works_unlocked(tmp_path: Path, monkeypatch) -> None:
    import errno

    fcntl = pytest.importorskip("fcntl")

    def no_locks(descriptor: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with hold(tmp_path / ".a.unflat-lock", wait=False) as held:
        assert held
    assert list(tmp_path.iterdir()) == []
