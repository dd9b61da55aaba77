"""Many inputs, one output set each: naming, resuming, sharing work, and going on past bad files.

Every batch command (``unflat depth``, ``unflat splat``) runs a :class:`BatchJob` through
:func:`run_batch`:

- **Names.** Each input writes beside an output base named by its stem (``photo.jpg`` ->
  ``OUT/photo``). Stems that clash across folders keep their folders (``a/p.jpg`` -> ``OUT/a/p``);
  stems that clash within one folder (``photo.jpg`` and ``photo.png``) keep their whole names,
  as sidecar tools do (``OUT/photo.jpg.json``, ``OUT/photo.png.json``). On a case-insensitive
  output folder names that differ only in case clash too. Inputs that would still write one
  file, or an output that is one of the inputs, are refused before any work (:class:`InputError`).
- **Resuming.** An input whose outputs are complete (its completion marker, written last,
  exists) is skipped, so a rerun resumes. Before an input is redone its marker is removed, so a
  kill half-way never leaves a mix of old and new files that looks complete.
- **Leftovers.** Temporary files of killed runs and free lock files in the output folders are
  removed before the work starts (:func:`~unflat.io.atomic.remove_stale_files`).
- **Two runs on one folder** share the work: each input is done under a lock
  (:func:`~unflat.io.atomic.hold`), a run skips what another is doing and, at the end, waits
  for it, and does it if the other run stopped first. Each input is done once.
- **Failures.** A problem with one input is recorded and the batch goes on; so is an
  unexpected exception (a bug: its traceback is saved to :data:`TRACEBACK_LOG` in the output
  folder), ``MemoryError`` included, since the next input may well fit. A problem every input
  would hit (weights, device, configuration, an output folder that cannot be written, a full
  disk) stops the batch at once. Whatever an unfinished input had written is removed.
- **Interrupts.** ``KeyboardInterrupt`` stops the batch as :class:`BatchInterrupted`, which
  carries the report; ``SystemExit`` passes through. Both release the locks and leave whole
  files only.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import os
import tempfile
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from unflat.errors import (
    ConfigError,
    DeviceError,
    InputError,
    OutputError,
    UnflatError,
    WeightsError,
    one_line,
)
from unflat.io.atomic import LOCK_SUFFIX, ensure_output_dir, hold, remove_stale_files
from unflat.progress import Progress, report

#: Where the traceback of an unexpected exception goes, in the output folder.
TRACEBACK_LOG = "unflat-traceback.log"
# Problems every other input would hit the same way: they stop the batch.
_STOPPING = (WeightsError, DeviceError, OutputError, ConfigError)
# An OSError with one of these is about the disk, not the input, wherever it was raised.
_DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})


class BatchJob(Protocol):
    """One pipeline's work on one input file, written beside an output base name."""

    overwrite: bool  # redo inputs whose outputs are already complete

    def check_inputs(self, paths: list[Path]) -> None:
        """Refuse, before any work, a set of inputs this job cannot take as a whole."""
        ...

    def output_files(self, base: Path) -> list[Path]:
        """Every file :meth:`process` writes for ``base``, the completion marker last."""
        ...

    def done(self, base: Path) -> bool:
        """True when every output of ``base`` is complete (its completion marker exists)."""
        ...

    # A job may also have a ``progress: Progress | None`` attribute: the CLI sets it so the
    # stages inside one input (a model's prediction, each video) get bars of their own.

    def process(self, path: Path, base: Path) -> None:
        """Read ``path``, run the pipeline, write the outputs of ``base`` (marker last)."""
        ...


@dataclass
class BatchReport:
    """What happened to each input of a batch."""

    total: int = 0
    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    elsewhere: list[Path] = field(default_factory=list)  # done by another run meanwhile
    failed: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def done(self) -> int:
        """How many inputs have their outputs complete."""
        return len(self.written) + len(self.skipped) + len(self.elsewhere)

    def summary(self, out_dir: Path) -> str:
        """One line of counts and where the results went, then one line per failed input."""
        counts = f"{len(self.written)} written, {len(self.skipped)} already done, "
        if self.elsewhere:
            counts += f"{len(self.elsewhere)} done by another run, "
        lines = [one_line(f"{counts}{len(self.failed)} failed -> {out_dir}")]
        lines += [one_line(f"failed: {path}: {reason}") for path, reason in self.failed]
        return "\n".join(lines)

    @property
    def exit_code(self) -> int:
        """2 when any input failed (as for any user error), else 0."""
        return 2 if self.failed else 0


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C during a batch; ``report`` says how far it got (finished inputs are kept)."""

    def __init__(self, report: BatchReport) -> None:
        super().__init__(self.line_for(report))
        self.report = report

    @staticmethod
    def line_for(report: BatchReport) -> str:
        return (
            f"interrupted: {report.done} of {report.total} done; "
            "run the same command again to resume"
        )


def output_bases(inputs: list[Path], out_dir: Path, *, fold_case: bool = False) -> list[Path]:
    """One output base name per input (see the module's notes); ``fold_case`` for folders where
    ``A`` and ``a`` are one name."""

    def key(path: Path) -> str:
        return str(path).casefold() if fold_case else str(path)

    stems = [key(Path(path.stem)) for path in inputs]
    if len(set(stems)) == len(stems):
        bases = [out_dir / path.stem for path in inputs]
    else:
        root = Path(os.path.commonpath([str(p.resolve().parent) for p in inputs]))
        bases = [out_dir / p.resolve().relative_to(root).with_suffix("") for p in inputs]
    counts: dict[str, int] = {}
    for base in bases:
        counts[key(base)] = counts.get(key(base), 0) + 1
    return [
        base.with_name(path.name) if counts[key(base)] > 1 else base
        for path, base in zip(inputs, bases, strict=True)
    ]


def plan_outputs(inputs: list[Path], out_dir: Path, job: BatchJob) -> list[Path]:
    """The output bases of ``inputs``; :class:`InputError` when two inputs would write one file
    or an output would replace an input."""
    fold = _folds_case(out_dir)
    bases = output_bases(inputs, out_dir, fold_case=fold)
    sources = {path.resolve(): path for path in inputs}
    writers: dict[str, Path] = {}
    for path, base in zip(inputs, bases, strict=True):
        for file in job.output_files(base):
            target = file.resolve()
            if target in sources:
                raise InputError(
                    f"the output {file} of {path} would replace the input {sources[target]}",
                    hint="write to another --output folder, or rename that input",
                )
            name = str(target).casefold() if fold else str(target)
            if writers.setdefault(name, path) != path:
                raise InputError(
                    f"{writers[name]} and {path} would both write {file}",
                    hint="rename one of them, or run them into different --output folders",
                )
    return bases


def run_batch(
    inputs: list[Path],
    out_dir: Path,
    job: BatchJob,
    *,
    overwrite: bool | None = None,
    progress: Progress | None = None,
    stage: str = "batch",
) -> BatchReport:
    """Run ``job`` on each input whose outputs are not done (``overwrite`` redoes them all)."""
    items = list(zip(inputs, plan_outputs(inputs, out_dir, job), strict=True))
    for folder in sorted({base.parent for _, base in items}):
        remove_stale_files(folder)
    runner = _Runner(job, job.overwrite if overwrite is None else overwrite, out_dir)
    runner.report.total = len(items)
    step = 0
    report(progress, stage, step, len(items))
    try:
        # First every input nobody else is doing; then wait for the others' (a run that
        # stopped leaves its inputs undone, and this one does them).
        busy = []
        for item in items:
            if runner.run(*item, wait=False):
                step += 1
                report(progress, stage, step, len(items))
            else:
                busy.append(item)
        for item in busy:
            runner.run(*item, wait=True)
            step += 1
            report(progress, stage, step, len(items))
    except KeyboardInterrupt as error:
        raise BatchInterrupted(runner.report) from error
    return runner.report


def lock_path(base: Path) -> Path:
    """The lock file held while the outputs of ``base`` are made (hidden, beside them)."""
    return base.with_name(f".{base.name}{LOCK_SUFFIX}")


class _Runner:
    """Does one input at a time under its lock, and records what happened."""

    def __init__(self, job: BatchJob, overwrite: bool, out_dir: Path) -> None:
        self.job, self.overwrite, self.out_dir = job, overwrite, out_dir
        self.report = BatchReport()

    def run(self, path: Path, base: Path, *, wait: bool) -> bool:
        """Do ``path`` unless done; False when another run holds it and ``wait`` is False."""
        if not self.overwrite and self.job.done(base):
            self.report.skipped.append(path)
            return True
        ensure_output_dir(base.parent)  # a subfolder when stems clash across folders
        with hold(lock_path(base), wait=wait) as held:
            if not held:
                return False
            # Done while we looked or waited: by another run (which had --overwrite too if
            # we waited for it, so it is not redone a second time).
            if self.job.done(base) and (wait or not self.overwrite):
                self.report.elsewhere.append(path)
                return True
            self._process(path, base)
        return True

    def _process(self, path: Path, base: Path) -> None:
        files = self.job.output_files(base)
        with contextlib.suppress(FileNotFoundError):
            files[-1].unlink()  # not complete until it is written again
        before = {file: _identity(file) for file in files}
        try:
            self.job.process(path, base)
        except BaseException as error:
            if not isinstance(error, Exception) and self.job.done(base):
                # Ctrl-C after the marker was in place: the input is finished, keep it
                self.report.written.append(path)
                raise
            # Remove what this attempt wrote (whole files, but not a whole set); files it
            # did not touch, such as an earlier result being redone, stay.
            for file in files:
                if _identity(file) != before[file]:
                    with contextlib.suppress(FileNotFoundError):
                        file.unlink()
            self.report.failed.append((path, self._reason(path, error)))
            return
        self.report.written.append(path)

    def _reason(self, path: Path, error: BaseException) -> str:
        """Why ``path`` failed, for the report; raises what must stop the batch instead."""
        if isinstance(error, UnflatError):
            if isinstance(error, _STOPPING):
                raise error
            return str(error)
        if isinstance(error, OSError) and error.errno in _DISK_ERRNOS:
            raise OutputError(
                f"could not write the outputs of {path}: {error.strerror or error}",
                hint="free some disk space (or make the output folder writable) and run again",
            ) from error
        if not isinstance(error, Exception):
            raise error  # KeyboardInterrupt, SystemExit: stop here
        return bug_line(error, save_traceback(error, path, self.out_dir / TRACEBACK_LOG))


def bug_line(error: BaseException, log: Path | str | None) -> str:
    """One line for an exception that is not an :class:`UnflatError`: a bug in unflat."""
    text = str(error)
    what = f"{type(error).__name__}: {text}" if text else type(error).__name__
    where = f"the traceback is in {log}" if log else "the traceback could not be saved"
    return f"unexpected {what} (this is a bug in unflat: please report it; {where})"


def save_traceback(error: BaseException, source: Path | None, log: Path) -> Path | None:
    """Append ``error``'s traceback to ``log``; its path, or None when it cannot be written."""
    stamp = datetime.datetime.now().isoformat(timespec="seconds")
    lines = traceback.format_exception(type(error), error, error.__traceback__)
    try:
        with open(log, "a", encoding="utf-8", errors="backslashreplace") as handle:
            handle.write(f"--- {stamp} {source or ''}\n{''.join(lines)}\n")
    except OSError:
        return None
    return log


def _identity(path: Path) -> tuple[int, int, int] | None:
    """What changes when a file is written (atomic writes make a new inode)."""
    try:
        status = path.stat()
    except FileNotFoundError:
        return None
    return status.st_ino, status.st_mtime_ns, status.st_size


def _folds_case(directory: Path) -> bool:
    """Whether ``directory`` is on a filesystem where ``A`` and ``a`` are one name."""
    try:
        with tempfile.NamedTemporaryFile(prefix=".unflat-case-", dir=directory) as probe:
            name = Path(probe.name)
            return name.with_name(name.name.upper()).exists()
    except OSError:
        return False
