"""The fuzzing suite's CI run, and tests of its engine and guards.

Each harness runs its ``ci_examples`` (the same examples every run: the hypothesis seed comes
from the harness's name, no example database); all of them together take about a minute.
A harness still finding crashes that a branch not yet merged fixes is marked ``xfail`` with
that branch's name; the crashes are listed in docs/fuzzing.md.
"""

from __future__ import annotations

import contextlib
import mmap
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import find

from tests.fuzz.engine import JsonOp, Mutation, Op, Seed, dump_json, mutations, whole
from tests.fuzz.harnesses import HARNESSES
from tests.fuzz.runner import (
    MEMORY_BUDGET,
    BadError,
    Hang,
    Harness,
    Overallocation,
    PeakMemory,
    Stats,
    attempt,
    fuzz,
    watchdog,
)
from unflat.errors import InputError

# Harnesses that still find crashes, and the branch that is expected to fix them.
XFAIL: dict[str, str] = {}


def _marked(name: str) -> object:
    if name in XFAIL:
        return pytest.param(name, marks=pytest.mark.xfail(reason=XFAIL[name], strict=False))
    return name


@pytest.mark.parametrize("name", [_marked(name) for name in HARNESSES])
def test_damaged_files_are_read_or_refused(name: str, tmp_path: Path) -> None:
    harness = HARNESSES[name]
    stats = fuzz(harness, tmp_path, harness.ci_examples)
    assert stats.examples >= harness.ci_examples
    # the damage reaches both ends: some files still read, some are refused
    assert stats.read > 0 and stats.refused > 0, stats


# --- the engine -------------------------------------------------------------------------------


def test_operations_read_their_parameters_modulo_the_data() -> None:
    data = b"0123456789"
    assert Op("truncate", at=14).apply(data, 0) == b"0123"
    assert Op("flip", at=1, value=0).apply(data, 0) == b"0023456789"
    assert Op("delete", at=2, size=2).apply(data, 0) == b"0156789"
    assert Op("duplicate", at=0, size=1, value=10).apply(data, 0) == data + b"01"
    assert Op("integer", at=0, size=1, value=6).apply(data, 0)[:2] == b"\xff\x7f"
    assert Op("float", at=0, value=0).apply(data, 0)[:4] == np.float32(np.nan).tobytes()
    # header operations stay in the header
    assert Op("set_byte", at=7, value=1, header=True).apply(data, 3) == b"0\xff23456789"


def test_text_header_operations() -> None:
    header = b"ply\nelement vertex 6\nproperty float x\nend_header\n"
    data = header + b"\0" * 24
    renumbered = Op("text_number", at=0, value=6).apply(data, len(header))
    assert renumbered.startswith(b"ply\nelement vertex 9223372036854775808\n")
    assert Op("line", at=1, value=1).apply(data, len(header)) == (
        b"ply\nproperty float x\nend_header\n" + b"\0" * 24
    )
    assert b"property double x" in Op("token", at=4, value=0).apply(data, len(header))


def test_json_operations_and_deep_nesting() -> None:
    document = {"vit": {"depth": 4}, "dims": [1, 2]}
    assert JsonOp("replace", at=2, value=1).apply(dict(document, vit={"depth": 4})) == {
        "vit": {"depth": -1}, "dims": [1, 2],
    }  # fmt: skip
    assert JsonOp("drop", at=1).apply({"vit": {"depth": 4}, "dims": [1]}) == {"dims": [1]}
    nested = dump_json(JsonOp("nest", at=0, value=3).apply({"a": 1}))
    assert nested == b"[" * 100_000 + b"0" + b"]" * 100_000


def test_mutations_replay_exactly_and_describe_themselves() -> None:
    seed = Seed("x.bin", bytes(range(64)), (whole(lambda data: 8),))
    mutation = Mutation(seed, seed.views[0], (Op("flip", at=3, value=2), Op("truncate", at=40)))
    assert mutation.bytes() == mutation.bytes() and len(mutation.bytes()) == 40
    assert repr(mutation) == (
        "x.bin, file: flip(at=3, size=0, value=2); truncate(at=40, size=0, value=0)"
    )
    assert find(mutations([seed]), lambda found: len(found.ops) == 2).seed is seed


# --- the guards -------------------------------------------------------------------------------


def _harness(read: object) -> Harness:
    return Harness("probe", "probe", lambda folder: [Seed("x.bin", b"x")], read, 1)


def test_any_error_but_an_unflat_one_fails(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(b"x")
    memory = PeakMemory()

    def refuse(source: Path) -> None:
        raise InputError(f"{source} is damaged", "fetch it again")

    def crash(source: Path) -> None:
        raise ValueError("a library's message")

    def two_lines(source: Path) -> None:
        raise InputError("first line\nsecond line", "a hint")

    assert attempt(_harness(lambda source: None), path, memory) == "read"
    assert attempt(_harness(refuse), path, memory) == "refused"
    with pytest.raises(ValueError, match="a library's message"):
        attempt(_harness(crash), path, memory)
    with pytest.raises(BadError, match="more than one line"):
        attempt(_harness(two_lines), path, memory)
    with pytest.raises(BadError, match="without a hint"):
        attempt(_harness(_no_hint), path, memory)


def _no_hint(source: Path) -> None:
    raise InputError(f"{source} is damaged")


def test_a_hang_is_interrupted_even_where_exceptions_are_swallowed() -> None:
    started = time.monotonic()
    # a reader's broad except must not swallow the hang
    with pytest.raises(Hang), watchdog(0.2), contextlib.suppress(Exception):
        time.sleep(5)
    assert time.monotonic() - started < 2


def test_an_allocation_past_the_budget_fails(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(b"x")
    memory = PeakMemory()

    def allocate(source: Path) -> None:
        # Fresh pages from the kernel: malloc could serve a numpy array from memory that earlier
        # tests freed but the heap kept resident, which is no growth at all.
        size = MEMORY_BUDGET + (16 << 20)
        with mmap.mmap(-1, size) as block:
            pages = np.frombuffer(block, dtype=np.uint8)
            pages[:] = 1  # touched, so resident
            del pages

    with pytest.raises(Overallocation, match="peak resident memory grew"):
        attempt(_harness(allocate), path, memory)


def test_a_failure_is_shrunk_to_a_small_case(tmp_path: Path) -> None:
    """A reader that breaks on a truncated file is caught, and the case shown is minimal."""

    def fragile(source: Path) -> None:
        if len(source.read_bytes()) < 8:
            raise IndexError("short")

    harness = Harness("fragile", "fragile", lambda f: [Seed("x.bin", bytes(16))], fragile, 200)
    with pytest.raises(IndexError) as caught:
        fuzz(harness, tmp_path, 200, stats=Stats())
    shown = "".join(getattr(caught.value, "__notes__", []))
    # the offsets shrink to 0, the cut to nothing, the operations to a few
    assert "truncate(at=0, size=0, value=0)" in shown and shown.count("(at=") <= 3, shown
