"""Fault tests of the batch commands (issue 15): kill -9 at random points then resume, two
runs on one folder, Ctrl-C, and a full disk during each kind of write.

Kills and concurrent runs are real processes (``python -m unflat``). ``unflat splat --method
rgbd --depth`` is the cheap batch command (no model); ``unflat depth`` runs with a model that
answers at once (:func:`tests.pipelines.fakes.patched_main`) and, in the slow test, with the
tiny reference Depth Pro weights. The full disk is injected: every write to a temporary file of
one kind fails half-way with ``ENOSPC``, as on a full disk.
"""

from __future__ import annotations

import builtins
import errno
import io
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import unflat
from tests.conftest import interruptible, shared_path
from tests.pipelines.fakes import use_fake_depth_model, write_depths, write_photos
from unflat.cli import main

REPO = Path(__file__).resolve().parents[2]
SUMMARY = re.compile(
    r"^(\d+) written, (\d+) already done, (?:(\d+) done by another run, )?(\d+) failed -> "
)
PHOTOS = [f"p{index:02d}.png" for index in range(12)]
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _env(home: Path) -> dict[str, str]:
    source = str(Path(unflat.__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (source, str(REPO), os.environ.get("PYTHONPATH")) if p)
    return os.environ | {"PYTHONPATH": path, "UNFLAT_HOME": str(home), "UNFLAT_OFFLINE": "1"}


class Batch:
    """One batch command on one album, run as a process as often as needed."""

    def __init__(self, root: Path, args: list[str]) -> None:
        self.root, self.args = root, args
        self.command = [sys.executable, "-m", "unflat"]

    def patched(self, fake_depth: bool = False, item_s: float = 0.0) -> Batch:
        """The same batch through :func:`tests.pipelines.fakes.patched_main`."""
        call = f"patched_main({fake_depth=}, {item_s=})"
        code = f"from tests.pipelines.fakes import patched_main; exit({call})"
        self.command = [sys.executable, "-c", code]
        return self

    def start(self, out: Path) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*self.command, *self.args, "-o", str(out)],
            cwd=REPO,
            env=_env(self.root / "home"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=interruptible,
        )

    def run(self, out: Path) -> str:
        """Run to the end; its summary line."""
        process = self.start(out)
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        return err.splitlines()[-1]


def _splat_batch(root: Path) -> Batch:
    photos = write_photos(root / "in", PHOTOS, size=(64, 48))
    depth = write_depths(root / "depth", photos)
    args = ["splat", str(root / "in"), "--method", "rgbd", "--depth", str(depth)]
    return Batch(root, [*args, "--focal-px", "50"])


@pytest.fixture(scope="module")
def splat_batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Batch, Path]:
    """The splat album and its outputs from one uninterrupted run."""
    batch = _splat_batch(tmp_path_factory.mktemp("splat"))
    reference = batch.root / "reference"
    assert main([*batch.args, "-o", str(reference)]) == 0  # in this process: no start-up cost
    return batch, reference


def _contents(folder: Path) -> dict[str, object]:
    """Every file's bytes, JSON without the timing (which differs from run to run)."""
    contents: dict[str, object] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix == ".json":
            record = json.loads(path.read_text())
            record.pop("seconds", None)
            contents[path.name] = record
        else:
            contents[path.name] = path.read_bytes()
    return contents


def _markers(out: Path, marker: str) -> dict[str, tuple[int, int]]:
    """The completed items (their completion marker) and the identity of their files."""
    if not out.is_dir():
        return {}
    names = [path.name[: -len(marker)] for path in out.glob(f"*{marker}")]
    return {
        path.name: (path.stat().st_ino, path.stat().st_mtime_ns)
        for name in names
        for path in out.glob(f"{name}.*")
    }


def _count(out: Path, marker: str) -> int:
    return len(list(out.glob(f"*{marker}"))) if out.is_dir() else 0


def _kill_and_resume(
    batch: Batch, out: Path, marker: str, kills: int, seed: int, item_s: float
) -> list[str]:
    """Kill -9 ``kills`` runs at random points (after a random number of finished items, then a
    random part of about ``item_s``, the time of one item); check that no finished item is
    ever redone; resume. Returns
    what each kill left (shown with ``pytest -s``)."""
    rng = random.Random(seed)
    finished: dict[str, tuple[int, int]] = {}
    left: list[str] = []
    for kill in range(kills):
        done = _count(out, marker)
        # at least one item into this run (not in its start-up); the kills spread over the run
        target = done + rng.randint(1, max(1, (len(PHOTOS) - done - 4) // (kills - kill)))
        process = batch.start(out)
        while _count(out, marker) < target and process.poll() is None:
            time.sleep(0.002)
        time.sleep(rng.uniform(0, item_s))
        assert process.poll() is None, "the run ended before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.communicate()
        left.append(_leftovers(out, marker))
        now = _markers(out, marker)
        assert {name: now[name] for name in finished} == finished  # never redone
        finished = now
    already = _count(out, marker)
    summary = batch.run(out)
    assert summary.startswith(f"{len(PHOTOS) - already} written, {already} already done, ")
    final = _markers(out, marker)
    assert {name: final[name] for name in finished} == finished
    assert not [path for path in out.iterdir() if path.name.startswith(".")]  # all cleaned
    print(f"kill -9 left: {'; '.join(left)}")
    return left


def _leftovers(out: Path, marker: str) -> str:
    names = [path.name for path in out.iterdir()]
    temporaries = sum(".tmp" in name for name in names)
    locks = sum(name.endswith(".unflat-lock") for name in names)
    return f"{_count(out, marker)} done, {temporaries} temporary, {locks} lock"


def test_kill_9_at_random_points_then_resume_splat(splat_batch, tmp_path: Path) -> None:
    batch, reference = splat_batch
    out = tmp_path / "out"
    _kill_and_resume(batch, out, ".scene.json", kills=3, seed=15, item_s=0.08)
    # the same files, byte for byte, as the run that was never killed; no leftovers
    assert _contents(out) == _contents(reference)


def test_kill_9_at_random_points_then_resume_depth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_photos(tmp_path / "in", PHOTOS, size=(64, 48))
    args = ["depth", str(tmp_path / "in"), "--ply"]
    with monkeypatch.context() as patch:
        use_fake_depth_model(patch)
        assert main([*args, "-o", str(tmp_path / "reference")]) == 0
    out = tmp_path / "out"
    batch = Batch(tmp_path, args).patched(fake_depth=True)
    _kill_and_resume(batch, out, ".json", kills=2, seed=9, item_s=0.03)
    assert _contents(out) == _contents(tmp_path / "reference")


@pytest.mark.slow
def test_kill_9_then_resume_depth_with_the_tiny_model(tmp_path: Path) -> None:
    weights = shared_path("fixtures", "depth_pro_tiny_a")
    write_photos(tmp_path / "in", PHOTOS[:3], size=(64, 48))
    batch = Batch(tmp_path, ["depth", str(tmp_path / "in"), "--weights", str(weights)])
    batch.run(tmp_path / "reference")
    out = tmp_path / "out"
    finished: dict[str, tuple[int, int]] = {}
    rng = random.Random(3)
    for kill in (1, 2):  # after the first photo, then the second, each at a random moment later
        process = batch.start(out)
        while len(_markers(out, ".json")) < 4 * kill and process.poll() is None:
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 1.0))
        assert process.poll() is None, "the run ended before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.communicate()
        now = _markers(out, ".json")
        assert {name: now[name] for name in finished} == finished
        finished = now
    done = len(finished) // 4
    assert batch.run(out).startswith(f"{3 - done} written, {done} already done")
    assert _contents(out) == _contents(tmp_path / "reference")


def test_two_runs_on_one_folder_do_each_item_once(splat_batch, tmp_path: Path) -> None:
    batch, reference = splat_batch
    batch = Batch(batch.root, batch.args).patched(item_s=0.1)  # so that the runs overlap
    out = tmp_path / "out"
    runs = [batch.start(out), batch.start(out)]
    written = 0
    for process in runs:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        counts = SUMMARY.match(err.splitlines()[-1])
        assert counts is not None, err
        new, skipped, elsewhere, failed = (int(value or 0) for value in counts.groups())
        assert new + skipped + elsewhere == len(PHOTOS) and failed == 0
        written += new
        print(f"two runs: {new} written, {elsewhere} done by the other, {skipped} already done")
    assert written == len(PHOTOS)  # each item done by exactly one of the runs
    assert _contents(out) == _contents(reference)


def test_ctrl_c_stops_between_whole_files(splat_batch, tmp_path: Path) -> None:
    batch, reference = splat_batch
    out = tmp_path / "out"
    process = batch.start(out)
    while len(list(out.glob("*.scene.json")) if out.is_dir() else []) < 2:
        assert process.poll() is None, process.communicate()
        time.sleep(0.005)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "Traceback" not in err
    line = err.splitlines()[-1]
    said = re.fullmatch(
        r"interrupted: (\d+) of 12 done; run the same command again to resume", line
    )
    assert said is not None, err
    done = int(said[1])
    assert 2 <= done < len(PHOTOS)
    # only whole items: a scene with its sidecar, no hidden temporary or lock file
    assert sorted(p.name for p in out.iterdir()) == sorted(
        name for stem in PHOTOS[:done] for name in (f"{stem[:-4]}.ply", f"{stem[:-4]}.scene.json")
    )
    finished = _contents(out)
    assert finished == {name: _contents(reference)[name] for name in finished}


# --- a full disk ----------------------------------------------------------------------------


class _FullDiskFile:
    """A file whose writes stop half-way with ENOSPC, as on a disk that has just filled up."""

    def __init__(self, file: io.IOBase, hits: list[str]) -> None:
        self._file, self._hits = file, hits

    def write(self, data: bytes | str) -> int:
        self._file.write(data[: len(data) // 2])
        self._file.flush()
        self._hits.append(self._file.name)
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name: str) -> object:
        return getattr(self._file, name)

    def __enter__(self) -> _FullDiskFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._file.close()


def _fill_disk_for(monkeypatch: pytest.MonkeyPatch, suffix: str) -> list[str]:
    """Make every write to a temporary ``*.tmp{suffix}`` fail; the names of those that did."""
    hits: list[str] = []
    real_open = io.open

    def full_open(file, mode="r", *args, **kwargs):
        opened = real_open(file, mode, *args, **kwargs)
        if any(c in mode for c in "wax") and str(file).endswith(f".tmp{suffix}"):
            return _FullDiskFile(opened, hits)
        return opened

    monkeypatch.setattr(builtins, "open", full_open)
    monkeypatch.setattr(io, "open", full_open)
    return hits


def _fill_disk_for_videos(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """FFmpeg writes on its own: its container's last write (at close) fails instead."""
    import av

    hits: list[str] = []
    real_open = av.open

    class Container:
        def __init__(self, container) -> None:
            self._container = container

        def __getattr__(self, name: str) -> object:
            return getattr(self._container, name)

        def close(self) -> None:
            self._container.close()
            hits.append("video")
            raise av.error.OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(av, "open", lambda *a, **k: Container(real_open(*a, **k)))
    return hits


def _assert_stopped_cleanly(code: int, err: str, hits: list[str], out: Path) -> None:
    assert code == 2 and "Traceback" not in err
    line = err.splitlines()[-1]
    assert line.startswith("error: could not ") and "No space left on device" in line, err
    assert "disk space" in line
    assert len(hits) == 1  # the batch stopped at the first photo: the others would fail too
    assert list(out.iterdir()) == []  # not a byte of the photo it stopped at, nor a temporary


@pytest.mark.parametrize("suffix", [".npy", ".png", ".jpg", ".ply", ".json"])
def test_a_full_disk_stops_depth_with_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], suffix
) -> None:
    use_fake_depth_model(monkeypatch)
    write_photos(tmp_path / "in", PHOTOS[:3])
    out = tmp_path / "out"
    out.mkdir()
    hits = _fill_disk_for(monkeypatch, suffix)
    code = main(["depth", str(tmp_path / "in"), "-o", str(out), "--ply"])
    _assert_stopped_cleanly(code, capsys.readouterr().err, hits, out)


@pytest.mark.parametrize("kind", [".ply", ".splat", ".spz", ".json", ".mp4"])
def test_a_full_disk_stops_splat_with_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], kind
) -> None:
    photos = write_photos(tmp_path / "in", PHOTOS[:3])
    depth = write_depths(tmp_path / "depth", photos)
    out = tmp_path / "out"
    out.mkdir()
    scene_format = kind[1:] if kind in (".splat", ".spz") else "ply"
    args = ["splat", str(tmp_path / "in"), "-o", str(out), "--method", "rgbd", "--depth",
            str(depth), "--focal-px", "30", "--format", scene_format]  # fmt: skip
    if kind == ".mp4":
        args += ["--video", "swipe", "--seconds", "0.2", "--fps", "10"]
        hits = _fill_disk_for_videos(monkeypatch)
    else:
        hits = _fill_disk_for(monkeypatch, kind)
    _assert_stopped_cleanly(main(args), capsys.readouterr().err, hits, out)


def test_a_full_disk_for_the_lock_file_stops_the_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = write_photos(tmp_path / "in", PHOTOS[:2])
    depth = write_depths(tmp_path / "depth", photos)
    real_open = os.open
    hits: list[str] = []

    def full_open(path, flags, *args, **kwargs):
        if str(path).endswith(".unflat-lock"):
            hits.append(str(path))
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", full_open)
    out = tmp_path / "out"
    out.mkdir()
    args = ["splat", str(tmp_path / "in"), "-o", str(out), "--method", "rgbd", "--depth",
            str(depth), "--focal-px", "30"]  # fmt: skip
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2 and len(hits) == 1 and list(out.iterdir()) == []
    assert err.splitlines()[-1].startswith("error: cannot create the lock file")
    assert "No space left on device" in err and "disk space" in err
