"""Seeded mutation fuzzing of the splat and point-cloud readers.

The seeds, checks and mutations now live in the fuzzing suite (``tests/fuzz``: the "splat"
harness in ``tests/fuzz/splat.py``, the one mutation engine in ``tests/fuzz/engine.py``); this
module keeps its test and its command line. Reading a mutated 3DGS or SHARP ``.ply``,
``.splat``, ``.spz`` (versions 2 and 3, damaged inside the gzip too) or point-cloud ``.ply``
must either give finite float32 arrays of the count the file declares, or raise
``InputError``; any other exception fails, and the failing mutation is shrunk and printed.
A longer run is one command (or ``python -m tests.fuzz --only splat --minutes 10``):

    PYTHONPATH=src python -m tests.io.test_gaussians_fuzz 20000 SEED
"""

from __future__ import annotations

import collections
import sys
import tempfile
from pathlib import Path

from tests.fuzz.harnesses import HARNESSES
from tests.fuzz.runner import fuzz


def run(total: int, seed: int = 0) -> collections.Counter[str]:
    """``total`` mutations from ``seed``; returns what happened, by outcome."""
    with tempfile.TemporaryDirectory() as folder:
        stats = fuzz(HARNESSES["splat"], Path(folder), total, seed=seed)
    return collections.Counter(read=stats.read, refused=stats.refused)


def test_mutated_splat_files_are_read_or_refused_cleanly() -> None:
    # 500 here with this seed, 1,000 more in tests/fuzz with the harness's own
    outcomes = run(500, seed=15)
    assert outcomes["read"] + outcomes["refused"] >= 500
    # the mutations do reach both ends: some files survive, most are refused
    assert outcomes["read"] > 15 and outcomes["refused"] > 250


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    first = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    print(dict(run(count, seed=first)))
