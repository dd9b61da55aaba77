"""``unflat batch``: chains of pipelines, their manifest, failures, object storage, the local
pool, kill -9 and resume, and Ray (when installed) giving the pool's files.

The cheap chain is ``scene,render`` on photos with depth maps given (no model): a 3D scene and
a 3-frame video per photo. The chain with models is ``depth,scene,render`` with the tiny
reference Depth Pro weights, checked against the three commands run one after the other.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import interruptible, shared_path
from tests.pipelines.fakes import write_depths, write_photos
from tests.pipelines.test_batch_faults import REPO, _env
from unflat.cli import main

PHOTOS = [f"p{index:02d}.png" for index in range(12)]
RENDER = ["--trajectory", "swipe", "--frames", "3", "--width", "32", "--height", "24"]


def _album(root: Path, names: list[str] = PHOTOS) -> tuple[Path, Path]:
    photos = write_photos(root / "in", names, size=(48, 32))
    return root / "in", write_depths(root / "depth", photos)


def _cheap_chain(album: Path, depth: Path) -> list[str]:
    return ["batch", "scene,render", str(album), "--depth", str(depth), "--method", "rgbd",
            "--focal-px", "40", *RENDER]  # fmt: skip


def _contents(folder: Path) -> dict[str, object]:
    """Every file's bytes; JSON without its timing (which differs from run to run)."""
    contents: dict[str, object] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix == ".json":
            record = json.loads(path.read_text())
            if isinstance(record, dict):
                record.pop("seconds", None)
            contents[path.name] = record
        elif path.name != "manifest.jsonl":
            contents[path.name] = path.read_bytes()
    return contents


def _manifest(out: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """The album, its depth maps, and the chain's outputs from one uninterrupted run."""
    root = tmp_path_factory.mktemp("chain")
    album, depth = _album(root)
    assert main([*_cheap_chain(album, depth), "-o", str(root / "reference")]) == 0
    return album, depth, root / "reference"


def test_a_chain_writes_each_stage_and_a_manifest(reference) -> None:
    album, _, out = reference
    names = sorted(path.name for path in out.iterdir())
    stems = [name[:-4] for name in PHOTOS]
    expected = [f"{s}{x}" for s in stems for x in (".batch.json", ".ply", ".scene.json",
                                                    ".swipe.mp4")]  # fmt: skip
    assert names == sorted([*expected, "failures.json", "manifest.jsonl"])
    manifest = _manifest(out)
    assert [record["input"] for record in manifest] == [str(album / name) for name in PHOTOS]
    assert manifest[0]["outputs"] == ["p00.ply", "p00.scene.json", "p00.swipe.mp4",
                                      "p00.batch.json"]  # fmt: skip
    assert json.loads((out / "failures.json").read_text()) == []


def test_the_pool_gives_the_same_files(reference, tmp_path: Path) -> None:
    album, depth, expected = reference
    out = tmp_path / "out"
    assert main([*_cheap_chain(album, depth), "-o", str(out), "--workers", "2"]) == 0
    assert _contents(out) == _contents(expected)
    assert sorted(map(str, _manifest(out)), key=str) == sorted(map(str, _manifest(expected)))


def _children(pid: int) -> list[int]:
    try:
        return [
            int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        ]
    except OSError:
        return []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and SIGKILL")
def test_kill_9_part_way_then_resume_does_each_item_once(reference, tmp_path: Path) -> None:
    """A pool of two workers killed (SIGKILL, the batch process only, as the OOM killer does)
    at a random point; then a run to the end: each item in the manifest once, the files
    those of a run never killed, no worker left behind, nothing half-written."""
    album, depth, expected = reference
    out = tmp_path / "out"
    command = [sys.executable, "-m", "unflat", *_cheap_chain(album, depth), "-o", str(out),
               "--workers", "2"]  # fmt: skip
    env = _env(tmp_path / "home")
    rng = random.Random(19)
    finished: dict[str, int] = {}
    for target in (rng.randint(2, 6),):
        process = subprocess.Popen(command, cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
        while len(list(out.glob("*.batch.json"))) < target and process.poll() is None:
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.3))
        assert process.poll() is None, "the batch ended before it could be killed"
        workers = _children(process.pid)
        process.send_signal(signal.SIGKILL)
        process.communicate()
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(workers) == 2 and not [p for p in workers if Path(f"/proc/{p}").exists()]
        now = {path.name: path.stat().st_ino for path in out.glob("*.batch.json")}
        assert {name: now[name] for name in finished} == finished  # a finished item stays
        finished = now
        print(f"kill -9 after {len(now)} finished items")
    done = len(finished)
    resumed = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    summary = resumed.stderr.splitlines()[-1]
    assert summary.startswith(f"{len(PHOTOS) - done} written, {done} already done, 0 failed")
    inputs = [record["input"] for record in _manifest(out)]
    assert sorted(inputs) == sorted(str(album / name) for name in PHOTOS)  # each once
    assert _contents(out) == _contents(expected)  # byte for byte; no temporary, no lock
    print(f"resumed: {summary}")


def test_failures_are_collected_with_their_reasons(tmp_path: Path, capsys) -> None:
    album, depth = _album(tmp_path, PHOTOS[:3])
    (album / "p01.png").write_bytes(b"not a png")
    out = tmp_path / "out"
    assert main([*_cheap_chain(album, depth), "-o", str(out)]) == 2
    failures = json.loads((out / "failures.json").read_text())
    assert [failure["input"] for failure in failures] == [str(album / "p01.png")]
    assert "\n" not in failures[0]["reason"] and "p01.png" in failures[0]["reason"]
    assert [record["input"] for record in _manifest(out)] == [
        str(album / "p00.png"),
        str(album / "p02.png"),
    ]
    assert not list(out.glob("p01.*"))  # nothing of the failed item
    err = capsys.readouterr().err.splitlines()
    assert err[-2].startswith("2 written, 0 already done, 1 failed") and "p01.png" in err[-1]
    # the damaged photo replaced: a rerun does it alone, and failures.json is emptied
    write_photos(tmp_path / "fixed", ["p01.png"], size=(48, 32))
    (album / "p01.png").write_bytes((tmp_path / "fixed" / "p01.png").read_bytes())
    assert main([*_cheap_chain(album, depth), "-o", str(out)]) == 0
    assert json.loads((out / "failures.json").read_text()) == []
    assert len(_manifest(out)) == 3


def test_inputs_from_object_storage_and_a_list_file(reference, tmp_path: Path) -> None:
    fsspec = pytest.importorskip("fsspec")
    album, depth, expected = reference
    memory = fsspec.filesystem("memory")
    for name in PHOTOS[:2]:
        memory.pipe(f"/bucket/album/{name}", (album / name).read_bytes())
    listed = tmp_path / "inputs.txt"
    listed.write_text(f"# two from a bucket, one from a folder\nmemory://bucket/album\n"
                      f"{album / PHOTOS[2]}\n")  # fmt: skip
    out = tmp_path / "out"
    assert main([*_cheap_chain(listed, depth), "-o", str(out)]) == 0
    inputs = [record["input"] for record in _manifest(out)]
    assert inputs == [str(album / PHOTOS[2]), *(f"memory:///bucket/album/{n}" for n in PHOTOS[:2])]
    for stem in ("p00", "p01", "p02"):
        assert (out / f"{stem}.ply").read_bytes() == (expected / f"{stem}.ply").read_bytes()
    assert not list((out / ".unflat-inputs").rglob("*.png"))  # fetched copies removed when done


@pytest.mark.slow
def test_depth_scene_render_with_models_matches_the_three_commands(tmp_path: Path) -> None:
    weights = shared_path("fixtures", "depth_pro_tiny_a")
    album, _ = _album(tmp_path, ["a.png"])
    out = tmp_path / "chain"
    chain = ["batch", "depth,scene,render", str(album), "-o", str(out), "--depth.weights",
             str(weights), "--method", "rgbd", *RENDER]  # fmt: skip
    assert main(chain) == 0
    apart = tmp_path / "apart"
    assert main(["depth", str(album), "-o", str(apart), "--weights", str(weights)]) == 0
    assert main(["splat", str(album), "-o", str(apart), "--depth", str(apart), "--method",
                 "rgbd"]) == 0  # fmt: skip
    video = apart / "a.swipe.mp4"
    assert main(["render", str(apart / "a.ply"), "-o", str(video), *RENDER[:2], *RENDER[2:]]) == 0
    mine, theirs = _contents(out), _contents(apart)
    assert mine.pop("a.batch.json")["outputs"][-1] == "a.batch.json"
    assert mine.pop("failures.json") == []
    # where the depth map was read: each run's own output folder
    assert mine["a.scene.json"].pop("depth_source") == str(out / "a.depth.npy")
    assert theirs["a.scene.json"].pop("depth_source") == str(apart / "a.depth.npy")
    assert mine == theirs


def test_on_ray_the_files_are_the_pool_s(reference, tmp_path: Path) -> None:
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'unflat[ray]'")
    pytest.importorskip("ray.data", reason="Ray Data is not installed: pip install 'ray[data]'")
    album, depth, expected = reference
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        out = tmp_path / "out"
        assert main([*_cheap_chain(album, depth), "-o", str(out), "--ray", "local"]) == 0
        assert _contents(out) == _contents(expected)
        assert _manifest(out) == _manifest(expected)
        # resumes: nothing left to do
        assert main([*_cheap_chain(album, depth), "-o", str(out), "--ray", "local"]) == 0
        assert len(_manifest(out)) == len(PHOTOS)
    finally:
        ray.shutdown()
    assert os.environ.get("RAY_ADDRESS") is None


def test_a_manifest_line_cut_by_a_kill_is_put_right(tmp_path: Path) -> None:
    album, depth = _album(tmp_path, PHOTOS[:2])
    out = tmp_path / "out"
    assert main([*_cheap_chain(album, depth), "-o", str(out)]) == 0
    (out / "p01.batch.json").unlink()  # p01 killed after its line was cut short
    whole = (out / "manifest.jsonl").read_text().splitlines()
    (out / "manifest.jsonl").write_text(f"{whole[0]}\n{whole[1][:20]}")
    assert main([*_cheap_chain(album, depth), "-o", str(out)]) == 0
    assert (out / "manifest.jsonl").read_text().splitlines() == whole


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_stops_the_pool_between_whole_items(reference, tmp_path: Path) -> None:
    """Ctrl-C (SIGINT to the terminal's process group: the batch and its workers)."""
    album, depth, expected = reference
    out = tmp_path / "out"
    command = [sys.executable, "-m", "unflat", *_cheap_chain(album, depth), "-o", str(out),
               "--workers", "2"]  # fmt: skip
    env = _env(tmp_path / "home")
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=interruptible,
    )
    while len(list(out.glob("*.batch.json"))) < 2 and process.poll() is None:
        time.sleep(0.005)
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "Traceback" not in err
    assert err.splitlines()[-1].endswith(" of 12 done; run the same command again to resume")
    done = sorted(path.name for path in out.glob("*.batch.json"))
    assert len(_manifest(out)) == len(done) >= 2
    assert not [path for path in out.iterdir() if path.name.startswith(".")]  # no temporary
    finished = _contents(out)
    assert {name: finished[name] for name in done} == {
        name: _contents(expected)[name] for name in done
    }
