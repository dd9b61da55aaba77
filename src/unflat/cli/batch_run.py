"""What ``unflat batch`` does around :func:`~unflat.pipelines.batch_pool.run_chain`."""

from __future__ import annotations

import sys

from unflat.cli.batch_options import JobSpec, split_tokens, stage_options


def run_job(spec: JobSpec) -> int:
    """Build the chain of ``spec``, run it with a progress bar, print the summary.

    Ctrl-C prints how far the batch got and returns 130.
    """
    from unflat.cli.app import interrupted
    from unflat.cli.progress import Bar
    from unflat.errors import one_line
    from unflat.io.atomic import ensure_output_dir
    from unflat.pipelines.batch import BatchInterrupted
    from unflat.pipelines.batch_pool import run_chain
    from unflat.pipelines.chain import build_chain, parse_chain

    names = parse_chain(spec.pipeline)
    extra, given = split_tokens(spec.options, names)
    options = stage_options(names, given)
    assert spec.output is not None
    out_dir = ensure_output_dir(spec.output)
    job = build_chain(names, options, out_dir, redo=spec.overwrite)
    try:
        with Bar() as bar:
            report, problems = run_chain(
                [*spec.inputs, *extra], job, workers=spec.workers, ray=spec.ray, progress=bar
            )
    except BatchInterrupted as stop:
        return interrupted(BatchInterrupted.line_for(stop.report))
    for problem in problems:
        print(f"warning: {one_line(problem)}", file=sys.stderr)
    print(report.summary(out_dir), file=sys.stderr)
    return report.exit_code
