"""Many inputs, one output set each: naming, resuming, and going on past bad files.

Every batch command (``unflat depth``, ``unflat splat``) runs through :func:`run_batch`: an
input whose outputs are complete is skipped (so a rerun resumes), a problem with one input is
recorded and the batch goes on, and a problem that every input would hit (weights, device,
output folder, configuration) stops it at once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from unflat.errors import ConfigError, DeviceError, OutputError, UnflatError, WeightsError


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
    process: Callable[[Path, Path], None],
    done: Callable[[Path], bool],
    overwrite: bool = False,
    progress: Callable[[Iterable], Iterable] | None = None,
) -> BatchReport:
    """Call ``process(input, output_base)`` for each input whose outputs are not ``done``.

    ``overwrite`` redoes everything. ``process`` should write its completion marker last, so
    that an interrupted input is redone on the next run.
    """
    report = BatchReport()
    jobs = list(zip(inputs, output_bases(inputs, out_dir), strict=True))
    iterator = progress(jobs) if progress else jobs
    try:
        for path, base in iterator:
            if done(base) and not overwrite:
                report.skipped.append(path)
                continue
            try:
                process(path, base)
            except UnflatError as error:
                # Model and output-location problems stop the batch: every other file would
                # fail the same way. Problems with one input are recorded and the batch goes on.
                if isinstance(error, WeightsError | DeviceError | OutputError | ConfigError):
                    raise
                report.failed.append((path, str(error)))
                continue
            report.written.append(path)
    finally:
        # Finish the progress bar now, so that an error message comes after it, not before.
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
    return report
