"""The one batch runner: resume, go on past bad inputs, stop on problems every input shares."""

from __future__ import annotations

from pathlib import Path

import pytest

from unflat.errors import InputError, WeightsError
from unflat.pipelines.batch import output_bases, run_batch


class MarkerJob:
    """Writes ``BASE.done``; fails on inputs named in ``bad`` with ``error``."""

    def __init__(self, bad: dict[str, Exception] | None = None, overwrite: bool = False) -> None:
        self.bad = bad or {}
        self.overwrite = overwrite
        self.processed: list[str] = []

    def check_inputs(self, paths: list[Path]) -> None:
        """Any inputs."""

    def done(self, base: Path) -> bool:
        return base.with_suffix(".done").is_file()

    def process(self, path: Path, base: Path) -> None:
        self.processed.append(path.name)
        if path.name in self.bad:
            raise self.bad[path.name]
        base.with_suffix(".done").write_text(path.name)


def _inputs(folder: Path, names: list[str]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"x")
    return [folder / name for name in names]


def test_a_bad_input_is_recorded_and_a_rerun_resumes(tmp_path: Path) -> None:
    inputs = _inputs(tmp_path / "in", ["a.jpg", "b.jpg", "c.jpg"])
    out = tmp_path / "out"
    out.mkdir()
    stages: list[tuple[str, int, int | None]] = []
    job = MarkerJob({"b.jpg": InputError("broken")})
    report = run_batch(inputs, out, job, progress=lambda *step: stages.append(step), stage="x")
    assert [p.name for p in report.written] == ["a.jpg", "c.jpg"]
    assert [(p.name, reason) for p, reason in report.failed] == [("b.jpg", "broken")]
    assert report.exit_code == 2
    assert stages == [("x", 0, 3), ("x", 1, 3), ("x", 2, 3), ("x", 3, 3)]
    again = MarkerJob()
    report = run_batch(inputs, out, again)
    assert again.processed == ["b.jpg"]
    assert [p.name for p in report.skipped] == ["a.jpg", "c.jpg"]
    assert report.exit_code == 0
    assert report.summary(out).startswith("1 written, 2 already done, 0 failed")
    redo = MarkerJob(overwrite=True)
    run_batch(inputs, out, redo)
    assert redo.processed == ["a.jpg", "b.jpg", "c.jpg"]


def test_a_problem_every_input_shares_stops_the_batch(tmp_path: Path) -> None:
    inputs = _inputs(tmp_path / "in", ["a.jpg", "b.jpg"])
    job = MarkerJob({"a.jpg": WeightsError("no weights")})
    with pytest.raises(WeightsError):
        run_batch(inputs, tmp_path, job)
    assert job.processed == ["a.jpg"]


def test_clashing_stems_keep_their_folders(tmp_path: Path) -> None:
    inputs = _inputs(tmp_path / "in" / "x", ["p.jpg"]) + _inputs(tmp_path / "in" / "y", ["p.jpg"])
    bases = output_bases(inputs, tmp_path / "out")
    assert bases == [tmp_path / "out" / "x" / "p", tmp_path / "out" / "y" / "p"]
