"""Running a harness: the property, its guards (limits, time, memory) and the hypothesis loop.

The property, for every reader: on a damaged file the public reader either returns a valid
result (the harness checks it) or raises an ``UnflatError`` whose message is one line with a
hint. It fails on any other exception, on an example that runs past :data:`DEADLINE_S` (the
hypothesis deadline) or :data:`HANG_S` (a timer that interrupts it), and on one whose peak
resident memory grows by more than :data:`MEMORY_BUDGET` while small limits
(:data:`FUZZ_LIMITS`) are in force: a reader that checks what a file declares before
allocating never comes near it. A decoder stuck inside C code, where the timer cannot reach,
ends the process after :data:`KILL_S` with a traceback of every thread.
"""

from __future__ import annotations

import contextlib
import faulthandler
import gc
import io
import os
import re
import resource
import signal
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed

from tests.fuzz.engine import Mutation, Seed, mutations
from unflat.errors import UnflatError
from unflat.io.limits import use_limits

MIB = 1 << 20
#: Limits in force while fuzzing: small, so a file that declares much is refused early.
FUZZ_LIMITS: dict[str, float] = {
    "max_pixels": 1 << 20,
    "max_decoded_bytes": 16 * MIB,
    "max_gaussians": 100_000,
    "max_seconds": 600.0,
    "max_frames": 2_000,
}
#: Peak resident memory one example may add: twice the decoded-bytes limit, plus room for the
#: buffers a decoder keeps whatever it reads (codec contexts, frame pools, zlib windows).
MEMORY_BUDGET = 2 * int(FUZZ_LIMITS["max_decoded_bytes"]) + 32 * MIB
#: Seconds one example may take before hypothesis calls it a failure (seeds take milliseconds).
DEADLINE_S = 5.0
#: Seconds after which a timer interrupts the example (as a hang) if Python code is running.
HANG_S = 20.0
#: Seconds after which the process is ended with every thread's traceback (stuck in C code).
KILL_S = 120.0


@dataclass(frozen=True)
class Harness:
    """One reader (or a few that share a kind of file) and the valid files to damage.

    ``read`` calls the public reader(s) on a path and checks what they return (an
    ``AssertionError`` for an invalid result); an ``UnflatError`` is the other good outcome.
    ``seeds`` makes the valid files in a folder; ``readers`` names the functions, for tables.
    """

    name: str
    readers: str
    seeds: Callable[[Path], list[Seed]]
    read: Callable[[Path], object]
    ci_examples: int


@dataclass
class Stats:
    """What a run did: examples by outcome (a failure is neither read nor refused), seconds."""

    examples: int = 0
    read: int = 0
    refused: int = 0
    seconds: float = 0.0
    # Examples that wrote to stderr (a library's own message), and the first line of each kind.
    noisy: int = 0
    noise: dict[str, int] = field(default_factory=dict)

    def heard(self, text: str) -> None:
        if not text.strip():
            return
        self.noisy += 1
        line = re.sub(r"[0-9]+", "N", text.strip().splitlines()[0])[:160]
        if line in self.noise or len(self.noise) < 20:
            self.noise[line] = self.noise.get(line, 0) + 1


class Hang(BaseException):
    """An example ran past :data:`HANG_S`."""


class Overallocation(AssertionError):
    """An example's peak resident memory grew past :data:`MEMORY_BUDGET`."""


class BadError(AssertionError):
    """An ``UnflatError`` that breaks the one-line-with-a-hint promise."""


@contextlib.contextmanager
def watchdog(seconds: float = HANG_S, kill_after: float = KILL_S) -> Iterator[None]:
    """Interrupt the block with :class:`Hang` after ``seconds``; end the process after
    ``kill_after`` if it is stuck where no signal handler runs."""

    def interrupt(signum: int, frame: object) -> None:
        raise Hang(f"still running after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    faulthandler.dump_traceback_later(kill_after, exit=True)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        faulthandler.cancel_dump_traceback_later()


class PeakMemory:
    """Peak resident memory growth of this process over a block, C allocations included.

    Linux resets the peak (``VmHWM``) on writing 5 to ``/proc/self/clear_refs``; elsewhere the
    process's lifetime peak (``ru_maxrss``) is used, which sees only growth past earlier peaks.
    """

    def __init__(self) -> None:
        # Garbage left by earlier code (reference cycles of big arrays or modules) would be
        # freed by a collection inside a measured block, hiding that much growth: collect it
        # now, and keep the collector off inside each block (see __enter__).
        gc.collect()
        self.resettable = _reset_peak()
        self._start = 0
        self._collector_was_on = False

    def __enter__(self) -> PeakMemory:
        self._collector_was_on = gc.isenabled()
        gc.disable()
        if self.resettable:
            _reset_peak()
        self._start = _resident() if self.resettable else _lifetime_peak()
        self.grown = 0
        return self

    def __exit__(self, *exc_info: object) -> None:
        peak = _status_kib("VmHWM") * 1024 if self.resettable else _lifetime_peak()
        self.grown = max(0, peak - self._start)
        if self._collector_was_on:
            gc.enable()


class StderrTap:
    """What the block writes to stderr, at the file descriptor (C libraries) and in Python."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 - open for the run, reused
        self.text = ""

    def __enter__(self) -> StderrTap:
        sys.stderr.flush()
        self.text = ""
        self._file.seek(0)
        self._file.truncate()
        self._saved = os.dup(2)
        os.dup2(self._file.fileno(), 2)
        self._python = contextlib.redirect_stderr(io.StringIO())
        self._python.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        caught = sys.stderr.getvalue()  # type: ignore[attr-defined]
        self._python.__exit__(None, None, None)
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._file.seek(0)
        self.text = self._file.read().decode(errors="replace") + caught


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _status_kib(key: str) -> int:
    with open("/proc/self/status") as handle:
        match = re.search(rf"^{key}:\s+([0-9]+) kB", handle.read(), re.MULTILINE)
    return int(match.group(1)) if match else 0


def _resident() -> int:
    return _status_kib("VmRSS") * 1024


def _lifetime_peak() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux


def check_error(error: UnflatError) -> None:
    """The promise of every user-facing error: one line, with a hint."""
    text = f"{error.message} {error.hint or ''}"
    if "\n" in text or "\r" in text:
        raise BadError(f"{type(error).__name__} of more than one line: {text!r}")
    if not error.hint:
        raise BadError(f"{type(error).__name__} without a hint: {error.message!r}")


def attempt(harness: Harness, path: Path, memory: PeakMemory, tap: StderrTap | None = None) -> str:
    """Read ``path`` under the guards; ``"read"`` or ``"refused"``, else an exception.

    ``tap`` (if given) keeps what the reader wrote to stderr in ``tap.text``."""
    with use_limits(**FUZZ_LIMITS), watchdog(), tap or contextlib.nullcontext(), memory:
        try:
            harness.read(path)
            outcome = "read"
        except UnflatError as error:
            check_error(error)
            outcome = "refused"
    if memory.grown > MEMORY_BUDGET:
        raise Overallocation(
            f"peak resident memory grew by {memory.grown / MIB:.0f} MiB "
            f"(budget {MEMORY_BUDGET / MIB:.0f} MiB under limits {FUZZ_LIMITS})"
        )
    return outcome


def prepare(harness: Harness, folder: Path) -> list[Seed]:
    """Make the seeds and read each unharmed: each must read (they are valid files), also when
    a view's part is taken out and put back undamaged (so damage done through a view is the
    only damage). The first reading of a kind of file (loading a codec) is not measured."""
    seeds = harness.seeds(folder / "seeds")
    assert seeds, f"{harness.name}: no seed files"
    memory = PeakMemory()
    for seed in seeds:
        path = _target(folder, seed)
        path.write_bytes(seed.data)
        with use_limits(**FUZZ_LIMITS):
            harness.read(path)  # first use: imports, codec tables (not counted)
        for view in seed.all_views():
            path.write_bytes(view.wrap(seed.data, view.unwrap(seed.data)))
            outcome = attempt(harness, path, memory)
            assert outcome == "read", f"{harness.name}: {seed.name} through {view!r}"
    return seeds


def _target(folder: Path, seed: Seed) -> Path:
    # The damaged file takes the seed's name: readers go by its suffix, errors name it.
    target = folder / "mutated" / seed.name
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def fuzz(
    harness: Harness,
    folder: Path,
    examples: int,
    seed: int | None = None,
    stats: Stats | None = None,
    seeds: list[Seed] | None = None,
    on_example: Callable[[Mutation, Path], None] | None = None,
    known: Callable[[BaseException, Mutation], bool] | None = None,
) -> Stats:
    """Run ``examples`` hypothesis examples of ``harness``; the first failure is raised (shrunk).

    ``seed`` fixes hypothesis's randomness (CI runs derive it from the harness's name, so every
    run tries the same files); ``stats`` accumulates over several runs; ``seeds`` are made
    (:func:`prepare`) unless given. ``on_example`` sees each mutation before it is read;
    ``known`` says whether a failure was found before (it is then counted, not raised again,
    so a long run goes on looking for others).
    """
    stats = stats if stats is not None else Stats()
    seeds = seeds if seeds is not None else prepare(harness, folder)
    memory, tap = PeakMemory(), StderrTap()
    started = time.monotonic()

    @settings(
        max_examples=examples,
        deadline=timedelta(seconds=DEADLINE_S),
        database=None,
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
        print_blob=True,
        report_multiple_bugs=False,
    )
    @given(mutation=mutations(seeds))
    def reads_or_refuses(mutation: Mutation) -> None:
        path = _target(folder, mutation.seed)
        path.write_bytes(mutation.bytes())
        if on_example is not None:
            on_example(mutation, path)
        stats.examples += 1
        try:
            outcome = attempt(harness, path, memory, tap)
        except (Exception, Hang) as error:
            if known is None or not known(error, mutation):
                raise
            return
        finally:
            stats.heard(tap.text)
        if outcome == "read":
            stats.read += 1
        else:
            stats.refused += 1

    chosen = zlib.crc32(harness.name.encode()) if seed is None else seed
    try:
        with _home(folder):
            hypothesis_seed(chosen)(reads_or_refuses)()
    finally:
        stats.seconds += time.monotonic() - started
    return stats


@contextlib.contextmanager
def _home(folder: Path) -> Iterator[None]:
    """``UNFLAT_HOME`` in ``folder``: readers that keep a cache (weights' hashes) keep it there."""
    before = os.environ.get("UNFLAT_HOME")
    os.environ["UNFLAT_HOME"] = str(folder / "unflat-home")
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("UNFLAT_HOME", None)
        else:
            os.environ["UNFLAT_HOME"] = before
