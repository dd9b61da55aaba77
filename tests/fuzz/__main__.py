"""The longer fuzzing run, one command: ``python -m tests.fuzz --minutes 2``.

Runs every harness (or those named with ``--only``) for ``--minutes`` each, each in its own
process (:mod:`tests.fuzz.soak`), ``--jobs`` at a time; a process that crashes (a decoder's
segfault) is recorded with the file it was reading and started again for the time left. Prints
a table (reader, executions, minutes, outcomes, failures found) and each failure: the error,
where it was raised, the shrunk mutation and the damaged file, kept in ``--out``. Exits 1 if
anything failed. Run from the repository root with ``PYTHONPATH=src``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tests.fuzz.harnesses import HARNESSES

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Outcome:
    """What the soaks of one harness found, added up over restarts after crashes."""

    name: str
    examples: int = 0
    read: int = 0
    refused: int = 0
    seconds: float = 0.0
    noisy: int = 0
    noise: dict[str, int] = field(default_factory=dict)
    findings: list[dict] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return sum(found["count"] for found in self.findings)


def _environment() -> dict[str, str]:
    paths = [str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def _add(outcome: Outcome, report: Path) -> None:
    if not report.exists():
        return
    data = json.loads(report.read_text())
    stats = data["stats"]
    for key in ("examples", "read", "refused", "noisy"):
        setattr(outcome, key, getattr(outcome, key) + stats[key])
    for line, count in stats["noise"].items():
        outcome.noise[line] = outcome.noise.get(line, 0) + count
    outcome.findings.extend(data["findings"])


def _crash(outcome: Outcome, report: Path, code: int, out: Path, attempt: int) -> None:
    """Record a soak process that died: the example it was reading is the finding."""
    last = report.with_suffix(".last")
    text = last.read_text().rstrip("\n") if last.exists() else "\t(before the first example)\t"
    _, mutation, path = [*text.split("\t"), "", "", ""][:3]
    kept = out / f"{outcome.name}-crash{attempt}-{Path(path).name}"
    if path and Path(path).exists():
        shutil.copyfile(path, kept)
    how = f"signal {-code}" if code < 0 else f"exit code {code}"
    outcome.examples += 1
    outcome.findings.append(
        {"signature": f"process crash ({how})", "error": f"the process died ({how})",
         "where": "?", "mutation": mutation, "file": str(kept), "count": 1}
    )  # fmt: skip


def soak(name: str, seconds: float, seed: int, out: Path) -> Outcome:
    """Run harness ``name`` for ``seconds`` in child processes, restarting after crashes."""
    outcome = Outcome(name)
    end = time.monotonic() + seconds
    attempt = 0
    while (left := end - time.monotonic()) > 1 or attempt == 0:
        attempt += 1
        report = out / f"{name}-{attempt}.json"
        command = [
            sys.executable,
            "-m",
            "tests.fuzz.soak",
            name,
            f"{left:.0f}",
            str(seed),
            str(report),
        ]
        started = time.monotonic()
        done = subprocess.run(command, cwd=ROOT, env=_environment(), check=False)
        outcome.seconds += time.monotonic() - started
        _add(outcome, report)
        if done.returncode == 0:
            break
        _crash(outcome, report, done.returncode, out, attempt)
        for folder in out.glob(f"work-{name}-*"):  # the dead process's files, once kept
            shutil.rmtree(folder, ignore_errors=True)
        seed += 100_003  # other examples, not the same crash again
    return outcome


def table(outcomes: list[Outcome]) -> str:
    """The fuzzing figures as a Markdown table."""
    lines = [
        "| reader | functions | executions | minutes | read | refused | failures "
        "| kinds of failure | stderr noise |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for outcome in outcomes:
        lines.append(
            f"| {outcome.name} | {HARNESSES[outcome.name].readers} | {outcome.examples:,} | "
            f"{outcome.seconds / 60:.1f} | {outcome.read:,} | {outcome.refused:,} | "
            f"{outcome.failures:,} | {len(outcome.findings)} | {outcome.noisy:,} |"
        )
    return "\n".join(lines)


def details(outcomes: list[Outcome]) -> str:
    """Each kind of failure, and what libraries wrote to stderr."""
    lines = []
    for outcome in outcomes:
        for found in outcome.findings:
            lines.append(
                f"- {outcome.name}: {found['error']} (x{found['count']})\n"
                f"  at {found['where']}\n  input: {found['mutation']}\n  file: {found['file']}"
            )
        for line, count in sorted(outcome.noise.items(), key=lambda item: -item[1])[:5]:
            lines.append(f"- {outcome.name} stderr (x{count}): {line}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fuzz", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--minutes", type=float, default=2.0, help="per reader (default 2)")
    parser.add_argument("--only", default="", help=f"comma-separated, of {', '.join(HARNESSES)}")
    parser.add_argument("--seed", type=int, default=None, help="hypothesis seed (default random)")
    parser.add_argument("--jobs", type=int, default=1, help="harnesses run at once (default 1)")
    parser.add_argument("--out", type=Path, default=None, help="where reports and files go")
    options = parser.parse_args(argv)
    names = [n for n in options.only.split(",") if n] or list(HARNESSES)
    unknown = sorted(set(names) - set(HARNESSES))
    if unknown:
        parser.error(f"unknown harness {unknown}; known: {', '.join(HARNESSES)}")
    seed = options.seed if options.seed is not None else random.randrange(1 << 30)
    out = options.out or Path(tempfile.mkdtemp(prefix="unflat-fuzz-"))
    out.mkdir(parents=True, exist_ok=True)
    print(
        f"fuzzing {', '.join(names)} for {options.minutes:g} min each, seed {seed}; files in {out}"
    )
    with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
        outcomes = list(pool.map(lambda n: soak(n, options.minutes * 60, seed, out), names))
    text = f"{table(outcomes)}\n\n{details(outcomes)}\n"
    (out / "report.md").write_text(f"seed {seed}\n\n{text}")
    print(text)
    return 1 if any(outcome.findings for outcome in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
