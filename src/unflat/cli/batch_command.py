"""``unflat batch``: any chain of pipelines over a folder, a list or a bucket; here or on Ray."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from unflat.cli.app import app
from unflat.cli.options import Overwrite

Pipeline = Annotated[str, typer.Argument(help="depth, scene or render, a chain such as "
                     "depth,scene,render, or a JOB.yaml file (see docs/batch.md).")]  # fmt: skip
Specs = Annotated[
    list[str] | None,
    typer.Argument(
        help="Photos, folders, list files (.txt: one "
        "a line), URLs (s3://, gs://, file://: fsspec); then each pipeline's options."
    ),
]
Ray = Annotated[str | None, typer.Option("--ray", help="Run on Ray: a cluster address, or local.")]
Workers = Annotated[int | None, typer.Option("--workers", help="Local processes (default: "
                    "cores / 2); torch threads per worker: cores / workers.", min=1)]  # fmt: skip
EXTRA = {"allow_extra_args": True, "ignore_unknown_options": True}


@app.command("batch", context_settings=EXTRA)
def batch(
    context: typer.Context,
    pipeline: Pipeline,
    specs: Specs = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Results folder (default: batch).")
    ] = None,
    ray: Ray = None,
    workers: Workers = None,
    overwrite: Overwrite = False,
) -> int:
    """Run pipelines over many inputs: outputs, OUT/manifest.jsonl of finished items, and
    OUT/failures.json (one line of reason each). A rerun (or a run after a kill) resumes.

    Each pipeline takes the options of its own command (`unflat depth`, `splat`, `render`);
    an option two of them have says which: --depth.weights W, --scene.weights W.
    """
    from unflat.cli.batch_options import JobSpec, read_job
    from unflat.cli.batch_run import run_job

    tokens = [*(specs or []), *context.args]  # inputs and the pipelines' options
    if pipeline.endswith((".yaml", ".yml", ".json")) and Path(pipeline).is_file():
        job = read_job(Path(pipeline))
        job.options += tokens
    else:
        job = JobSpec(pipeline, options=tokens)
    job.output, job.ray = output or job.output or Path("batch"), ray or job.ray
    job.workers, job.overwrite = workers or job.workers, overwrite or job.overwrite
    return run_job(job)
