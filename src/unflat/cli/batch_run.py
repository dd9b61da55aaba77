"""What ``unflat batch`` does around :func:`~unflat.pipelines.batch_pool.run_chain`."""

from __future__ import annotations

from unflat.cli.batch_options import JobSpec, split_tokens, stage_options


def run_job(spec: JobSpec) -> int:
    """Build the chain of ``spec``, run it with a progress bar, print the summary.

    Ctrl-C prints how far the batch got and returns 130.
    """
    from unflat.cli.batch import run_under_bar
    from unflat.io.atomic import ensure_output_dir
    from unflat.pipelines.batch_pool import run_chain
    from unflat.pipelines.chain import build_chain, parse_chain

    names = parse_chain(spec.pipeline)
    extra, given = split_tokens(spec.options, names)
    options = stage_options(names, given)
    assert spec.output is not None
    out_dir = ensure_output_dir(spec.output)
    job = build_chain(names, options, out_dir, redo=spec.overwrite)
    return run_under_bar(
        lambda bar: run_chain(
            [*spec.inputs, *extra], job, workers=spec.workers, ray=spec.ray, progress=bar
        ),
        out_dir,
    )
