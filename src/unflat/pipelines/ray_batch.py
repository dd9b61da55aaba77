"""``unflat batch --ray``: a chain on Ray Data (``pip install 'unflat[ray]'``).

Per stage of the chain, three operators, streamed: ``decode`` (a CPU task: fetch and read the
input), ``infer`` (for a stage with a model, an actor pool: one model replica per actor, one GPU
per actor when the cluster has GPUs, loaded once and reused) and ``encode`` (a CPU task: write
the files, render videos). Ray Data's streaming executor runs them together and holds back the
operators upstream of a full one (back-pressure), so at most a few items per operator are in
memory, whatever the number of inputs. The driver writes each finished item's record and its
manifest line as the results come in. Ray is imported only here.

Items whose record exists are not sent (a rerun resumes); a stage whose files are complete is
not redone. A failed item keeps the complete files of its earlier stages (reused by a rerun),
loses those of the stage that failed, and is reported with its one-line reason; a problem every
item would hit (weights, device, configuration, a full disk) stops the batch.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import pickle
from pathlib import Path
from typing import Any

from unflat.errors import ConfigError, OutputError, UnflatError
from unflat.pipelines.batch import TRACEBACK_LOG, BatchReport, bug_line, save_traceback
from unflat.pipelines.chain import STOPPING, ChainJob
from unflat.progress import Progress, report

#: Items per Ray Data block at most; blocks split further when large (Ray's own limit).
MAX_BLOCKS = 1000
#: Cores asked for by a decode or encode task, and by a model's actor without GPUs: unequal,
#: so that Ray keeps the CPU steps as tasks of their own instead of fusing them into the actor.
CPU_STEP = 0.25
MODEL_CPU = 0.5


def connect(address: str) -> None:
    """Join the cluster at ``address`` (``auto``, ``ray://host:10001``...) or start a local
    Ray with this machine's cores (``local``)."""
    try:
        import ray
        import ray.data
    except ImportError as error:
        raise ConfigError(
            "--ray needs Ray Data", hint="pip install 'unflat[ray]' (or: pip install 'ray[data]')"
        ) from error
    if not ray.is_initialized():
        _start(ray, address)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # unflat's own bar counts the items
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)


def _start(ray: Any, address: str) -> None:
    if address == "local":
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    else:
        ray.init(address=address, log_to_driver=False)


def run_on_ray(
    items: list[tuple[Path, Path]], job: ChainJob, address: str, *, progress: Progress | None
) -> BatchReport:
    """Run the items not yet done through ``job``'s stages on Ray; what happened to each."""
    connect(address)  # first: it says how to install Ray when it is missing
    import ray

    result = BatchReport(total=len(items))
    todo = [(path, base) for path, base in items if not job.done(base)]
    report(progress, job.names, 0, len(todo))
    if not todo:
        return result
    rows = [{"path": str(p), "base": str(b), "payload": b"", "error": "", "stop": b""}
            for p, b in todo]  # fmt: skip
    dataset = ray.data.from_items(rows, override_num_blocks=min(len(rows), MAX_BLOCKS))
    dataset = _operators(dataset, job, ray.cluster_resources())
    columns = dataset.select_columns(["path", "base", "error", "stop"])
    for count, row in enumerate(columns.iter_rows(), start=1):
        path, base = Path(row["path"]), Path(row["base"])
        if row["stop"]:
            kind, message, hint = pickle.loads(row["stop"])
            raise kind(message, hint)
        if row["error"]:
            result.failed.append((path, row["error"]))
        else:
            job.commit(path, base)  # the record and its manifest line, from the driver alone
            result.written.append(path)
        report(progress, job.names, count, len(todo))
    return result


def _operators(dataset: Any, job: ChainJob, resources: dict[str, float]) -> Any:
    """Decode, infer and encode per stage: tasks for the CPU steps, actors for the models."""
    import ray

    models = sum(stage.uses_model for stage in job.stages) or 1
    gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 1))
    # Every model stage gets its replicas at once (all run together, streamed): with GPUs, a
    # share of the GPUs (a GPU each, or a part of one when there are fewer GPUs than stages);
    # without, half the cores between them, so the CPU tasks always have cores left.
    replicas = max(1, (gpus or cpus // 2) // models)
    actor = (
        {"num_cpus": 1, "num_gpus": min(1.0, gpus / (models * replicas))}
        if gpus
        else {"num_cpus": MODEL_CPU}
    )
    for index, stage in enumerate(job.stages):
        dataset = dataset.map(functools.partial(_decode, job, index), num_cpus=CPU_STEP)
        if stage.uses_model:
            dataset = dataset.map_batches(
                _Model,
                fn_constructor_args=(job, index),
                batch_size=1,  # photos differ in size: one at a time through the model
                compute=ray.data.ActorPoolStrategy(size=replicas),
                **actor,
            )
        dataset = dataset.map(functools.partial(_encode, job, index), num_cpus=CPU_STEP)
    return dataset


def _decode(job: ChainJob, index: int, row: dict[str, Any]) -> dict[str, Any]:
    """Read the item's input for stage ``index`` (fetched from storage first, if remote)."""
    stage, path, base = job.stages[index], Path(row["path"]), Path(row["base"])
    row["payload"] = b""
    if row["error"] or job.stage_done(stage, base):
        return row

    def work() -> None:
        job.fetch(path)
        row["payload"] = pickle.dumps(stage.decode(path, base))

    return _guarded(row, job, index, work)


def _encode(job: ChainJob, index: int, row: dict[str, Any]) -> dict[str, Any]:
    """Write the files of stage ``index`` from the model's answer."""
    stage, path, base = job.stages[index], Path(row["path"]), Path(row["base"])
    if row["error"] or not row["payload"]:
        return row

    def work() -> None:
        inferred = pickle.loads(row["payload"])
        if not stage.uses_model:
            inferred = stage.infer(inferred)
        stage.encode(path, base, inferred)
        row["payload"] = b""

    return _guarded(row, job, index, work)


class _Model:
    """An actor holding one replica of stage ``index``'s model (loaded on its first item)."""

    def __init__(self, job: ChainJob, index: int) -> None:
        import torch

        if not torch.cuda.is_available():
            torch.set_num_threads(1)  # one core per actor; the tasks have the others
        self.job, self.index = job, index

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        rows = [{key: batch[key][i] for key in batch} for i in range(len(batch["path"]))]
        for row in rows:
            if row["error"] or not row["payload"]:
                continue

            def work(row: dict[str, Any] = row) -> None:
                decoded = pickle.loads(row["payload"])
                row["payload"] = pickle.dumps(self.job.stages[self.index].infer(decoded))

            _guarded(row, self.job, self.index, work)
        return {key: [row[key] for row in rows] for key in batch}


def _guarded(row: dict[str, Any], job: ChainJob, index: int, work: Any) -> dict[str, Any]:
    """Run ``work``; on failure, the reason in ``row`` (and for a problem every item would hit,
    the error itself, raised by the driver) and the stage's files of this item removed."""
    try:
        work()
    except Exception as error:
        path, base = Path(row["path"]), Path(row["base"])
        stop = _stopping(error, path)
        if stop is not None:
            row["stop"] = pickle.dumps((type(stop), stop.message, stop.hint))
        if isinstance(error, UnflatError):
            row["error"] = str(error)
        else:
            row["error"] = bug_line(error, save_traceback(error, path, job.out_dir / TRACEBACK_LOG))
        for file in job.stages[index].output_files(base):
            file.unlink(missing_ok=True)
        row["payload"] = b""
    return row


def _stopping(error: Exception, path: Path) -> UnflatError | None:
    """The error that stops the batch, when ``error`` is one every item would hit."""
    if isinstance(error, STOPPING):
        return error
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
        return OutputError(
            f"could not write the outputs of {path}: {error.strerror or error}",
            hint="free some disk space (or make the output folder writable) and run again",
        )
    return None
