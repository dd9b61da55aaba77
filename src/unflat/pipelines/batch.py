"""Many inputs, one output set each: naming, resuming, and going on past bad files.

Every batch command (``unflat depth``, ``unflat splat``) runs a :class:`BatchJob` through
:func:`run_batch`: an input whose outputs are complete is skipped (so a rerun resumes), a problem
with one input is recorded and the batch goes on, and a problem that every input would hit
(weights, device, output folder, configuration) stops it at once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from unflat.errors import ConfigError, DeviceError, OutputError, UnflatError, WeightsError
from unflat.progress import Progress, counted


class BatchJob(Protocol):
    """One pipeline's work on one input file, written beside an output base name."""

    overwrite: bool  # redo inputs whose outputs are already complete

    def check_inputs(self, paths: list[Path]) -> None:
        """Refuse, before any work, a set of inputs this job cannot take as a whole."""
        ...

    def done(self, base: Path) -> bool:
        """True when every output of ``base`` is complete (its completion marker exists)."""
        ...

    def process(self, path: Path, base: Path) -> None:
        """Read ``path``, run the pipeline, write the outputs of ``base`` (marker last)."""
        ...


@dataclass
class BatchReport:
    """What happened to each input of a batch."""

    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)

    def summary(self, out_dir: Path) -> str:
        """One line of counts and where the results went, then one line per failed input."""
        lines = [
            f"{len(self.written)} written, {len(self.skipped)} already done, "
            f"{len(self.failed)} failed -> {out_dir}"
        ]
        lines += [f"failed: {path}: {reason}" for path, reason in self.failed]
        return "\n".join(lines)

    @property
    def exit_code(self) -> int:
        """2 when any input failed (as for any user error), else 0."""
        return 2 if self.failed else 0


def output_bases(inputs: list[Path], out_dir: Path) -> list[Path]:
    """One output base name per input: the file stem, or the relative path where stems clash."""
    stems = [path.stem for path in inputs]
    if len(set(stems)) == len(stems):
        return [out_dir / stem for stem in stems]
    root = Path(os.path.commonpath([str(p.resolve().parent) for p in inputs]))
    return [out_dir / p.resolve().relative_to(root).with_suffix("") for p in inputs]


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
    overwrite = job.overwrite if overwrite is None else overwrite
    report = BatchReport()
    jobs = list(zip(inputs, output_bases(inputs, out_dir), strict=True))
    for path, base in counted(jobs, progress, stage):
        if job.done(base) and not overwrite:
            report.skipped.append(path)
            continue
        try:
            job.process(path, base)
        except UnflatError as error:
            # Model and output-location problems stop the batch: every other file would
            # fail the same way. Problems with one input are recorded and the batch goes on.
            if isinstance(error, WeightsError | DeviceError | OutputError | ConfigError):
                raise
            report.failed.append((path, str(error)))
            continue
        report.written.append(path)
    return report
