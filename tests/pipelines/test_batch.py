"""The one batch runner: resume, go on past bad inputs, stop on problems every input shares,
name outputs without clashes, share work between runs and clean up after killed ones."""

from __future__ import annotations

import errno
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from unflat.errors import InputError, OutputError, WeightsError
from unflat.io.atomic import hold
from unflat.pipelines.batch import (
    TRACEBACK_LOG,
    BatchInterrupted,
    lock_path,
    output_bases,
    plan_outputs,
    run_batch,
)


class MarkerJob:
    """Writes ``BASE.data`` then ``BASE.done``; fails on inputs named in ``bad`` with ``error``
    (after writing ``BASE.data``, to show that a failed input leaves nothing behind)."""

    def __init__(
        self, bad: dict[str, BaseException] | None = None, overwrite: bool = False, pause=0.0
    ) -> None:
        self.bad = bad or {}
        self.overwrite = overwrite
        self.pause = pause
        self.processed: list[str] = []

    def check_inputs(self, paths: list[Path]) -> None:
        """Any inputs."""

    def output_files(self, base: Path) -> list[Path]:
        return [base.with_name(base.name + ".data"), base.with_name(base.name + ".done")]

    def done(self, base: Path) -> bool:
        return self.output_files(base)[-1].is_file()

    def process(self, path: Path, base: Path) -> None:
        self.processed.append(path.name)
        data, marker = self.output_files(base)
        data.write_text(path.name)
        time.sleep(self.pause)
        if path.name in self.bad:
            raise self.bad[path.name]
        marker.write_text(path.name)


def _inputs(folder: Path, names: list[str]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"x")
    return [folder / name for name in names]


def _files(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


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
    # b's half-written set went with it; no lock file stays
    assert _files(out) == ["a.data", "a.done", "c.data", "c.done"]
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
        run_batch(inputs, tmp_path / "in", job)
    assert job.processed == ["a.jpg"]
    assert _files(tmp_path / "in") == ["a.jpg", "b.jpg"]


def test_a_full_disk_anywhere_stops_the_batch(tmp_path: Path) -> None:
    # an OSError about the disk is no fault of the input, even if no writer turned it into an
    # OutputError: every later input would hit it too
    inputs = _inputs(tmp_path / "in", ["a.jpg", "b.jpg"])
    job = MarkerJob({"a.jpg": OSError(errno.ENOSPC, "No space left on device")})
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(OutputError, match="No space left") as caught:
        run_batch(inputs, out, job)
    assert "disk space" in caught.value.hint
    assert job.processed == ["a.jpg"] and _files(out) == []


def test_an_unexpected_exception_is_a_failed_input_and_the_batch_goes_on(tmp_path: Path) -> None:
    # issue 15 item 2: a TIFF without dimensions raised TypeError and killed the batch
    error = TypeError("'NoneType' object cannot be interpreted as an integer")
    inputs = _inputs(tmp_path / "in", ["a.tif", "b.tif", "c.tif", "d.tif"])
    out = tmp_path / "out"
    out.mkdir()
    job = MarkerJob({"b.tif": error, "c.tif": MemoryError()})
    report = run_batch(inputs, out, job)
    assert job.processed == ["a.tif", "b.tif", "c.tif", "d.tif"]
    assert [p.name for p in report.written] == ["a.tif", "d.tif"] and report.exit_code == 2
    (_, reason), (_, memory) = report.failed
    log = out / TRACEBACK_LOG
    assert reason == (
        f"unexpected TypeError: {error} (this is a bug in unflat: please report it; "
        f"the traceback is in {log})"
    )
    assert memory.startswith("unexpected MemoryError (this is a bug")
    text = log.read_text()
    assert text.count("Traceback (most recent call last)") == 2
    assert "b.tif" in text and "TypeError" in text and "in process" in text
    assert _files(out) == ["a.data", "a.done", "d.data", "d.done", TRACEBACK_LOG]


def test_a_traceback_that_cannot_be_saved_is_said(tmp_path: Path) -> None:
    inputs = _inputs(tmp_path / "in", ["a.jpg"])
    out = tmp_path / "out"
    (out / TRACEBACK_LOG).mkdir(parents=True)  # in the way of the log file
    report = run_batch(inputs, out, MarkerJob({"a.jpg": KeyError("x")}))
    assert report.failed[0][1].endswith("the traceback could not be saved)")


def test_ctrl_c_stops_with_a_count_and_leaves_whole_files(tmp_path: Path) -> None:
    inputs = _inputs(tmp_path / "in", ["a.jpg", "b.jpg", "c.jpg"])
    out = tmp_path / "out"
    out.mkdir()
    job = MarkerJob({"b.jpg": KeyboardInterrupt()})
    with pytest.raises(BatchInterrupted) as caught:
        run_batch(inputs, out, job)
    assert isinstance(caught.value, KeyboardInterrupt)  # library callers' handlers still work
    assert str(caught.value) == ("interrupted: 1 of 3 done; run the same command again to resume")
    assert job.processed == ["a.jpg", "b.jpg"]
    assert _files(out) == ["a.data", "a.done"]  # b's data file went; no lock is left
    again = MarkerJob()
    assert run_batch(inputs, out, again).exit_code == 0
    assert again.processed == ["b.jpg", "c.jpg"]


def test_system_exit_passes_through_and_releases_the_lock(tmp_path: Path) -> None:
    inputs = _inputs(tmp_path / "in", ["a.jpg"])
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(SystemExit):
        run_batch(inputs, out, MarkerJob({"a.jpg": SystemExit(3)}))
    assert _files(out) == []


def test_overwrite_that_fails_keeps_what_it_did_not_touch(tmp_path: Path) -> None:
    inputs = _inputs(tmp_path / "in", ["a.jpg"])
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.keep").write_text("old")

    class Reader(MarkerJob):
        def output_files(self, base: Path) -> list[Path]:
            return [base.with_name(base.name + ".keep"), *super().output_files(base)]

        def process(self, path: Path, base: Path) -> None:
            raise InputError("the photo is now damaged")  # before writing anything

    run_batch(inputs, out, MarkerJob())
    report = run_batch(inputs, out, Reader(overwrite=True))
    assert report.failed
    # the marker went first (the set is no longer complete), the rest is as it was
    assert _files(out) == ["a.data", "a.keep"] and (out / "a.keep").read_text() == "old"


def test_clashing_stems_keep_their_folders(tmp_path: Path) -> None:
    inputs = _inputs(tmp_path / "in" / "x", ["p.jpg"]) + _inputs(tmp_path / "in" / "y", ["p.jpg"])
    bases = output_bases(inputs, tmp_path / "out")
    assert bases == [tmp_path / "out" / "x" / "p", tmp_path / "out" / "y" / "p"]
    report = run_batch(inputs, tmp_path / "out", MarkerJob())
    assert len(report.written) == 2 and (tmp_path / "out" / "y" / "p.done").is_file()


def test_one_stem_two_formats_keep_their_whole_names(tmp_path: Path) -> None:
    # issue 15 item 7: photo.png was "already done" because photo.jpg had written photo.*
    inputs = _inputs(tmp_path / "in", ["photo.jpg", "photo.png", "other.jpg"])
    out = tmp_path / "out"
    assert output_bases(inputs, out) == [out / "photo.jpg", out / "photo.png", out / "other"]
    out.mkdir()
    report = run_batch(inputs, out, MarkerJob())
    assert len(report.written) == 3
    assert (out / "photo.jpg.done").read_text() == "photo.jpg"
    assert (out / "photo.png.done").read_text() == "photo.png"


def test_names_differing_in_case_clash_where_the_folder_folds_case(tmp_path: Path) -> None:
    inputs = _inputs(tmp_path / "x", ["Photo.jpg"]) + _inputs(tmp_path / "y", ["photo.jpg"])
    out = tmp_path / "out"
    assert output_bases(inputs, out) == [out / "Photo", out / "photo"]
    folded = output_bases(inputs, out, fold_case=True)
    assert folded == [out / "x" / "Photo", out / "y" / "photo"]


def test_inputs_that_would_still_write_one_file_are_refused(tmp_path: Path) -> None:
    # a.jpg.png keeps its stem "a.jpg", which a.jpg (clashing with a.png) takes as its name
    inputs = _inputs(tmp_path / "in", ["a.jpg", "a.png", "a.jpg.png"])
    out = tmp_path / "out"
    out.mkdir()
    job = MarkerJob()
    with pytest.raises(InputError, match="would both write") as caught:
        run_batch(inputs, out, job)
    assert "a.jpg" in caught.value.message and "rename one" in caught.value.hint
    assert job.processed == [] and _files(out) == []


def test_an_output_that_would_replace_an_input_is_refused(tmp_path: Path) -> None:
    from unflat.pipelines.depth import DepthPipeline

    # named explicitly, x.preview.jpg is a photo; x.jpg's preview would overwrite it
    inputs = _inputs(tmp_path, ["x.jpg", "x.preview.jpg"])
    with pytest.raises(InputError, match="would replace the input") as caught:
        plan_outputs(inputs, tmp_path, DepthPipeline())
    assert "x.preview.jpg" in caught.value.message and "--output" in caught.value.hint


def test_depth_outputs_that_are_images_are_left_out_of_inputs(tmp_path: Path) -> None:
    from unflat.io.inputs import IMAGE_EXTENSIONS, is_unflat_output
    from unflat.pipelines.depth import DepthPipeline

    files = DepthPipeline(ply=True).output_files(tmp_path / "photo")
    images = [file for file in files if file.suffix in IMAGE_EXTENSIONS]
    assert [file.name for file in images] == ["photo.depth_mm.png", "photo.preview.jpg"]
    assert all(is_unflat_output(file) for file in images)


def test_scene_finds_the_depth_of_a_photo_named_with_its_format(tmp_path: Path) -> None:
    from unflat.pipelines.scene import depth_file_for

    (tmp_path / "photo.jpg.depth.npy").write_bytes(b"x")
    (tmp_path / "photo.depth.npy").write_bytes(b"x")
    (tmp_path / "other.depth.npy").write_bytes(b"x")
    assert depth_file_for(Path("photo.jpg"), tmp_path) == tmp_path / "photo.jpg.depth.npy"
    assert depth_file_for(Path("other.jpg"), tmp_path) == tmp_path / "other.depth.npy"


def test_two_runs_share_the_work(tmp_path: Path) -> None:
    # two threads hold two open files, which flock treats like two processes
    names = [f"p{i:02d}.jpg" for i in range(16)]
    inputs = _inputs(tmp_path / "in", names)
    out = tmp_path / "out"
    out.mkdir()
    jobs = [MarkerJob(pause=0.02), MarkerJob(pause=0.02)]
    reports = {}

    def work(index: int) -> None:
        reports[index] = run_batch(inputs if index == 0 else inputs[::-1], out, jobs[index])

    threads = [threading.Thread(target=work, args=(index,)) for index in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done = jobs[0].processed + jobs[1].processed
    assert sorted(done) == names  # each input exactly once
    assert jobs[0].processed and jobs[1].processed  # and both did some
    for report in reports.values():
        assert report.done == 16 and not report.failed
    assert sum(len(report.written) for report in reports.values()) == 16
    assert all((out / f"{name[:-4]}.done").is_file() for name in names)
    assert not [name for name in _files(out) if name.startswith(".")]


def test_an_input_held_by_another_run_is_waited_for(tmp_path: Path) -> None:
    inputs = _inputs(tmp_path / "in", ["a.jpg", "b.jpg", "c.jpg"])
    out = tmp_path / "out"
    out.mkdir()
    job = MarkerJob()
    entered, finish = threading.Event(), threading.Event()

    def other_run(write: bool) -> None:
        with hold(lock_path(out / "b"), wait=False) as held:
            assert held
            entered.set()
            finish.wait(5)
            if write:
                (out / "b.done").write_text("other")

    # the other run finishes b: this one skips it, then finds it done
    thread = threading.Thread(target=other_run, args=(True,))
    thread.start()
    entered.wait(5)
    threading.Timer(0.3, finish.set).start()
    report = run_batch(inputs, out, job)
    thread.join()
    assert job.processed == ["a.jpg", "c.jpg"]
    assert [p.name for p in report.elsewhere] == ["b.jpg"]
    assert "1 done by another run" in report.summary(out)
    # the other run stops without finishing b: this one does it after waiting
    entered.clear()
    finish.clear()
    (out / "b.done").unlink()
    thread = threading.Thread(target=other_run, args=(False,))
    thread.start()
    entered.wait(5)
    threading.Timer(0.3, finish.set).start()
    job = MarkerJob()
    report = run_batch(inputs, out, job)
    thread.join()
    assert job.processed == ["b.jpg"] and [p.name for p in report.written] == ["b.jpg"]


def test_leftovers_of_killed_runs_are_removed_before_the_work(tmp_path: Path) -> None:
    from unflat.io.atomic import _host_tag

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    pid = int(dead.stdout)
    inputs = _inputs(tmp_path / "in", ["a.jpg"])
    out = tmp_path / "out"
    out.mkdir()
    stale = out / f".a.data.{_host_tag()}-{pid}-0123abcd.tmp.data"
    stale.write_bytes(b"half")
    (out / ".gone.unflat-lock").write_text(f"{pid}")
    run_batch(inputs, out, MarkerJob())
    assert _files(out) == ["a.data", "a.done"]


def test_the_summary_is_one_line_per_failure_whatever_the_names(tmp_path: Path) -> None:
    inputs = _inputs(tmp_path / "in", ["new\nline.jpg", "ok.jpg"])
    out = tmp_path / "out"
    out.mkdir()
    report = run_batch(inputs, out, MarkerJob({"new\nline.jpg": InputError("bad\rbytes")}))
    lines = report.summary(out).splitlines()
    assert len(lines) == 2
    assert lines[1] == f"failed: {tmp_path}/in/new\\nline.jpg: bad\\rbytes"


def test_ctrl_c_after_the_marker_keeps_the_finished_input(tmp_path: Path) -> None:
    inputs = _inputs(tmp_path / "in", ["a.jpg", "b.jpg"])
    out = tmp_path / "out"
    out.mkdir()

    class LateInterrupt(MarkerJob):
        def process(self, path: Path, base: Path) -> None:
            super().process(path, base)
            raise KeyboardInterrupt  # as if Ctrl-C came just after the last rename

    with pytest.raises(BatchInterrupted, match="1 of 2 done"):
        run_batch(inputs, out, LateInterrupt())
    assert _files(out) == ["a.data", "a.done"]
