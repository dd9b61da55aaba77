"""The CLI's side of :mod:`unflat.progress`: one rich bar per stage, on stderr."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class Bar:
    """A :data:`unflat.progress.Progress` that draws ``(stage, done, total)`` as bars.

    Use it as a context manager around the work, so the bars are finished before any error
    line or summary is printed. Nothing is drawn until the first report: work that fails at
    once prints its error line alone.
    """

    def __init__(self) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self._tasks: dict[str, TaskID] = {}
        self._started = False

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._started:
            self._progress.stop()

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if not self._started:
            self._progress.start()
            self._started = True
        if stage not in self._tasks:
            self._tasks[stage] = self._progress.add_task(stage, total=total)
        self._progress.update(self._tasks[stage], completed=done, total=total)

    update = __call__
