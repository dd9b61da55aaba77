"""One harness for a while, in its own process, so that a decoder that crashes the process
ends only its own run: ``python -m tests.fuzz.soak NAME SECONDS SEED REPORT``.

Runs hypothesis runs of 250 examples (seeds ``SEED``, ``SEED + 1``, ...) until ``SECONDS`` are
spent. Each new kind of failure is shrunk, its file kept beside ``REPORT`` and written to it;
later examples that fail the same way are counted, not shrunk again, so the run goes on
looking for others. ``REPORT`` (JSON) is rewritten after every run; ``REPORT.last`` names the
example being read, which is what a crash leaves behind.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from tests.fuzz.engine import Mutation
from tests.fuzz.harnesses import HARNESSES
from tests.fuzz.runner import Hang, Stats, fuzz, prepare

CHUNK = 250
ROOT = Path(__file__).resolve().parents[2]


class Stop(BaseException):  # not an Exception: hypothesis lets it through at once
    """The soak's time is up (checked before each example, not only between runs)."""


@dataclass
class Finding:
    """One kind of failure: the error, where it was raised, the shrunk mutation and its file."""

    signature: str
    error: str
    where: str
    mutation: str
    file: str
    count: int = 1


def _short(filename: str) -> str:
    path = Path(filename)
    for marker in ("site-packages", "src", "tests"):
        if marker in path.parts:
            return "/".join(path.parts[path.parts.index(marker) + (marker == "site-packages") :])
    return path.name


def where(error: BaseException) -> str:
    """The innermost frame of ``error``'s traceback, as ``file:line in function``."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return "?"
    frame = frames[-1]
    return f"{_short(frame.filename)}:{frame.lineno} in {frame.name}"


def signature(error: BaseException, mutation: Mutation | None) -> str:
    """What makes two failures the same: the error's type and where it was raised, and the
    format too when that place is the harness's own check (a bad result, memory, time)."""
    place = where(error)
    if place.startswith("tests/") or place.startswith("hypothesis/"):
        place += f" ({mutation.seed.suffix if mutation is not None else '?'})"
    return f"{type(error).__name__} at {place}"


def describe(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:300]}"


class Soak:
    """The state of one soak: stats, findings, the example in hand."""

    def __init__(self, name: str, report: Path) -> None:
        self.harness = HARNESSES[name]
        self.report = report
        self.stats = Stats()
        self.findings: dict[str, Finding] = {}
        self.last: tuple[Mutation, Path] | None = None
        # beside the report, so that a crashed soak leaves nothing elsewhere
        self.folder = Path(tempfile.mkdtemp(prefix=f"work-{name}-", dir=report.parent))
        self.end = math.inf

    def on_example(self, mutation: Mutation, path: Path) -> None:
        if time.monotonic() > self.end:
            raise Stop
        self.last = (mutation, path)
        text = f"{self.stats.examples}\t{mutation!r}\t{path}\n"
        self.report.with_suffix(".last").write_text(text)

    def known(self, error: BaseException, mutation: Mutation) -> bool:
        found = self.findings.get(signature(error, mutation))
        if found is not None:
            found.count += 1
        return found is not None

    def record(self, error: BaseException) -> None:
        mutation, path = self.last if self.last else (None, None)
        key = signature(error, mutation)
        name = path.name if path is not None else "unknown"
        kept = self.report.parent / f"{self.harness.name}-{len(self.findings) + 1}-{name}"
        if path is not None and path.exists():
            shutil.copyfile(path, kept)
        self.findings[key] = Finding(key, describe(error), where(error), repr(mutation), str(kept))

    def write(self) -> None:
        data = {
            "stats": dataclasses.asdict(self.stats),
            "findings": [dataclasses.asdict(found) for found in self.findings.values()],
        }
        self.report.write_text(json.dumps(data, indent=1))

    def run(self, seconds: float, seed: int) -> None:
        seeds = prepare(self.harness, self.folder)
        self.end = time.monotonic() + seconds
        chunk = 0
        while time.monotonic() < self.end:
            try:
                fuzz(
                    self.harness, self.folder, CHUNK, seed + chunk, self.stats, seeds,
                    self.on_example, self.known,
                )  # fmt: skip
            except Stop:
                break  # on_example stops before the example is counted
            except (Exception, Hang) as error:
                self.record(error)
            chunk += 1
            self.write()
        shutil.rmtree(self.folder, ignore_errors=True)


def main(argv: list[str]) -> None:
    name, seconds, seed, report = argv
    Soak(name, Path(report)).run(float(seconds), int(seed))


if __name__ == "__main__":
    main(sys.argv[1:])
