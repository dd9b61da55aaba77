"""``unflat batch`` on one machine or a cluster: inputs, output names, the worker pool, the
manifest and the failures.

One machine: ``workers`` processes (default: one per two cores), each with ``cores // workers``
torch/OpenMP threads, so that workers x threads = cores. Each worker runs
:func:`~unflat.pipelines.batch.run_batch` over every item, starting at its own share: the
runner's locks give each item to one worker, an item a worker is doing is skipped by the others,
and a failed item is left alone (:meth:`ChainJob.failed_note`). Workers die with the batch (a
killed batch leaves no worker behind). ``ray``: the same job on Ray Data
(:mod:`unflat.pipelines.ray_batch`).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from unflat.errors import UnflatError
from unflat.io.atomic import remove_stale_files, write_json
from unflat.pipelines.batch import BatchInterrupted, BatchReport, plan_outputs, run_batch
from unflat.pipelines.batch_inputs import resolve_inputs
from unflat.pipelines.chain import FAILURES, ChainJob, reconcile_manifest
from unflat.progress import Progress, report

# Ctrl-C reaches the workers too (one process group); one that is still importing must exit
# quietly, not print a traceback under the batch's own "interrupted" line.
_WORKER = (
    "try:\n"
    "    from unflat.pipelines.batch_pool import worker_main\n"
    "    worker_main()\n"
    "except KeyboardInterrupt:\n"
    "    raise SystemExit(130) from None\n"
)


def default_workers(items: int, cores: int | None = None) -> int:
    """One worker per two cores (each model replica gets two threads), at most one per item."""
    cores = cores or os.cpu_count() or 1
    return max(1, min(items, cores // 2))


def run_chain(
    specs: list[str],
    job: ChainJob,
    *,
    workers: int | None = None,
    ray: str | None = None,
    progress: Progress | None = None,
) -> tuple[BatchReport, list[str]]:
    """Run ``job`` over the inputs ``specs``; its report and the problems with the specs."""
    paths, job.sources, problems = resolve_inputs(specs, job.out_dir)
    job.check_inputs(paths)
    items = list(zip(paths, plan_outputs(paths, job.out_dir, job), strict=True))
    _clear_notes(job, items)
    if job.redo:  # --overwrite: every item again (a rerun after a kill redoes them all too)
        for _, base in items:
            job.marker(base).unlink(missing_ok=True)
    before = [path for path, base in items if job.marker(base).is_file()]
    reconcile_manifest(job, items)  # a line a kill cut must not run into the next one
    try:
        if ray is not None:
            from unflat.pipelines.ray_batch import run_on_ray

            result = run_on_ray(items, job, ray, progress=progress)
        else:
            count = workers or default_workers(len(items) - len(before))
            result = run_pool(items, job, count, progress)
    finally:
        reconcile_manifest(job, items)
        _clear_notes(job, items)
    result.skipped = [path for path in before if path not in result.written]
    failures = [{"input": job.sources.get(p, str(p)), "reason": r} for p, r in result.failed]
    write_json(job.out_dir / FAILURES, failures)
    return result, problems


def _clear_notes(job: ChainJob, items: list[tuple[Path, Path]]) -> None:
    """Remove killed runs' leftovers and the failed notes of the last run (retried now)."""
    for folder in sorted({base.parent for _, base in items}):
        if folder.is_dir():
            remove_stale_files(folder)
    for _, base in items:
        job.failed_note(base).unlink(missing_ok=True)


def run_pool(
    items: list[tuple[Path, Path]], job: ChainJob, workers: int, progress: Progress | None
) -> BatchReport:
    """The items through ``workers`` processes (in this process when one)."""
    paths = [path for path, _ in items]
    cores = os.cpu_count() or 1
    threads = max(1, cores // workers)
    if workers == 1:
        import torch

        torch.set_num_threads(threads)
        return run_batch(paths, job.out_dir, job, overwrite=False, progress=progress,
                         stage=job.names)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="unflat-pool-") as scratch:
        started = [_start(paths, job, k, workers, threads, Path(scratch)) for k in range(workers)]
        try:
            while any(process.poll() is None for process, _ in started):
                done = sum(job.done(base) for _, base in items)
                report(progress, job.names, done, len(items))
                time.sleep(0.2)
        except KeyboardInterrupt as error:
            merged = _merge([_result(process, file) for process, file in started])
            raise BatchInterrupted(merged) from error
        return _merge([_result(process, file) for process, file in started])


def _start(
    paths: list[Path], job: ChainJob, index: int, workers: int, threads: int, scratch: Path
) -> tuple[subprocess.Popen[bytes], Path]:
    """Worker ``index``: its share first, then the rest; its result goes to a file."""
    share = len(paths) * index // workers
    task = scratch / f"worker{index}.task"
    task.write_bytes(pickle.dumps((paths[share:] + paths[:share], job, os.getpid())))
    result = scratch / f"worker{index}.result"
    thread_count = str(threads)
    env = os.environ | {"OMP_NUM_THREADS": thread_count, "MKL_NUM_THREADS": thread_count}
    env["UNFLAT_WORKER_THREADS"] = thread_count
    command = [sys.executable, "-c", _WORKER, str(task), str(result)]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL), result


def _result(process: subprocess.Popen[bytes], file: Path) -> BatchReport:
    process.wait()
    if not file.is_file():
        return BatchReport()  # interrupted before it could say
    outcome = pickle.loads(file.read_bytes())
    if isinstance(outcome, BatchReport):
        return outcome
    kind, message, hint = outcome  # an error that stops the batch, raised here again
    raise kind(message, hint) if issubclass(kind, UnflatError) else kind(message)


def _merge(reports: list[BatchReport]) -> BatchReport:
    merged = BatchReport()
    for one in reports:
        merged.total = max(merged.total, one.total)
        merged.written += one.written
        merged.failed += one.failed
    return merged


def worker_main() -> None:
    """A pool worker (``python -c``): run the batch in ``argv[1]``, answer in ``argv[2]``."""
    import torch

    _die_with_parent()
    torch.set_num_threads(int(os.environ.get("UNFLAT_WORKER_THREADS", "1")))
    task, answer = Path(sys.argv[1]), Path(sys.argv[2])
    paths, job, parent = pickle.loads(task.read_bytes())

    def watch(stage: str, done: int, total: int | None) -> None:
        if os.getppid() != parent:  # the batch is gone (where parent-death signals are not)
            os._exit(1)

    try:
        outcome: object = run_batch(paths, job.out_dir, job, overwrite=False, progress=watch)
    except BatchInterrupted as stop:
        outcome = stop.report
    except UnflatError as error:
        outcome = (type(error), error.message, error.hint)
    except Exception as error:
        outcome = (type(error), str(error), None)
    answer.write_bytes(pickle.dumps(outcome))


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when the batch process dies (SIGKILL included)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
