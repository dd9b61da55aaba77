"""What every batch command does around its pipeline: inputs, output folder, bars, summary."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from unflat.cli.progress import Bar
from unflat.pipelines.batch import BatchJob, BatchReport


def run_under_bar(run: Callable[[Bar], tuple[BatchReport, Sequence[str]]], out_dir: Path) -> int:
    """``run`` a batch (it is given the progress bar), then say what every batch command says
    after one: the problems ``run`` returns as warnings, then the summary; its exit code.

    Ctrl-C prints how far the batch got and returns 130.
    """
    from unflat.cli.app import interrupted
    from unflat.errors import one_line
    from unflat.pipelines.batch import BatchInterrupted

    try:
        with Bar() as bar:
            report, problems = run(bar)
    except BatchInterrupted as stop:
        return interrupted(BatchInterrupted.line_for(stop.report))
    for problem in problems:
        print(f"warning: {one_line(problem)}", file=sys.stderr)
    print(report.summary(out_dir), file=sys.stderr)
    return report.exit_code


def run_batch_command(inputs: list[str], output: Path, job: BatchJob, stage: str) -> int:
    """Run ``job`` over the photos named by ``inputs`` into ``output``; print the summary.

    Ctrl-C prints how far the batch got and returns 130; an output folder this call created
    and left empty (every photo failed, or none was reached) is removed again.
    """
    from unflat.errors import one_line
    from unflat.io.atomic import ensure_output_dir
    from unflat.io.inputs import collect_inputs
    from unflat.pipelines.batch import run_batch

    paths, problems = collect_inputs(inputs, output=output)
    job.check_inputs(paths)
    for problem in problems:
        print(f"warning: {one_line(problem)}", file=sys.stderr)
    created = not output.expanduser().exists()
    out_dir = ensure_output_dir(output)

    def run(bar: Bar) -> tuple[BatchReport, Sequence[str]]:
        if hasattr(job, "progress"):
            job.progress = bar  # the stages inside one input, below the batch's own bar
        report = run_batch(paths, out_dir, job, overwrite=job.overwrite, progress=bar, stage=stage)
        return report, ()

    try:
        return run_under_bar(run, out_dir)
    finally:
        if created:
            with contextlib.suppress(OSError):  # only when empty: rmdir refuses otherwise
                out_dir.rmdir()
