"""What every batch command does around its pipeline: inputs, output folder, bars, summary."""

from __future__ import annotations

import sys
from pathlib import Path

from unflat.cli.progress import Bar
from unflat.pipelines.batch import BatchJob


def run_batch_command(inputs: list[str], output: Path, job: BatchJob, stage: str) -> int:
    """Run ``job`` over the photos named by ``inputs`` into ``output``; print the summary."""
    from unflat.io.atomic import ensure_output_dir
    from unflat.io.inputs import collect_inputs
    from unflat.pipelines.batch import run_batch

    paths, problems = collect_inputs(inputs)
    job.check_inputs(paths)
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
    out_dir = ensure_output_dir(output)
    with Bar() as bar:
        report = run_batch(paths, out_dir, job, overwrite=job.overwrite, progress=bar, stage=stage)
    print(report.summary(out_dir), file=sys.stderr)
    return report.exit_code
