"""``unflat batch``'s command line: pipelines named, each one's own options, JOB files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.pipelines.fakes import write_depths, write_photos
from unflat.cli import main
from unflat.cli.batch_options import read_job, split_tokens, stage_options


@pytest.fixture
def album(tmp_path: Path) -> tuple[Path, Path]:
    photos = write_photos(tmp_path / "in", ["a.png", "b.png"], size=(48, 32))
    return tmp_path / "in", write_depths(tmp_path / "depth", photos)


def _last_error(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_options_go_to_the_stages_that_have_them() -> None:
    main(["--version"])  # registers the commands
    tokens = ["in", "--device", "cpu", "--depth.weights", "w.safetensors", "--method=rgbd",
              "--no-background", "--trajectory", "swipe", "--render.focal-px", "50"]  # fmt: skip
    inputs, given = split_tokens(tokens, ["depth", "scene", "render"])
    assert inputs == ["in"]
    assert given == {
        "depth": ["--device", "cpu", "--weights", "w.safetensors"],
        "scene": ["--device", "cpu", "--method", "rgbd", "--no-background"],
        "render": ["--device", "cpu", "--trajectory", "swipe", "--focal-px", "50"],
    }
    options = stage_options(["depth", "scene", "render"], given)
    # parsed by each command: its types, its defaults for what was not given
    assert options["depth"]["weights"] == "w.safetensors" and options["depth"]["preview"] is True
    assert options["scene"]["background"] is False and options["scene"]["max_size"] == 1024
    assert options["render"]["focal_px"] == 50.0 and options["render"]["fps"] == 30.0


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["depth,scene", "--weights", "w"], "error: --weights is an option of depth and scene"),
        (["scene", "--ply"], "error: no pipeline of scene has the option --ply"),
        (["scene", "--render.fps", "3"], "error: --render.fps: render has no --fps in this"),
        (["depth,blur"], "error: unknown pipeline blur"),
        (["render"], "error: render needs the scenes of a scene stage before it"),
        (["scene", "--max-size", "many"], "error: scene: Invalid value for '--max-size'"),
    ],
)
def test_wrong_options_are_one_line_errors(
    album, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], said: str
) -> None:
    folder, _ = album
    code = main(["batch", args[0], str(folder), *args[1:], "-o", str(tmp_path / "out")])
    assert code == 2
    assert _last_error(capsys).startswith(said)


def test_a_job_file_runs_like_the_command_line(album, tmp_path: Path) -> None:
    folder, depth = album
    job = tmp_path / "job.json"  # JSON is YAML: read without PyYAML too
    job.write_text(json.dumps({
        "pipeline": "scene",
        "inputs": [str(folder)],
        "output": str(tmp_path / "out"),
        "workers": 1,
        "options": {"depth": str(depth), "method": "rgbd", "focal-px": 40, "background": False},
    }))  # fmt: skip
    spec = read_job(job)
    assert spec.options == ["--depth", str(depth), "--method", "rgbd", "--focal-px", "40",
                            "--no-background"]  # fmt: skip
    assert main(["batch", str(job)]) == 0
    records = (tmp_path / "out" / "manifest.jsonl").read_text().splitlines()
    assert [json.loads(line)["input"] for line in records] == [
        str(folder / "a.png"),
        str(folder / "b.png"),
    ]
    scene = json.loads((tmp_path / "out" / "a.scene.json").read_text())
    assert scene["focal_px"] == 40.0 and scene["method"] == "rgbd"


def test_a_yaml_job_file(album, tmp_path: Path) -> None:
    pytest.importorskip("yaml", reason="PyYAML is not installed")
    folder, depth = album
    job = tmp_path / "job.yaml"
    job.write_text(f"pipeline: scene\ninputs:\n  - {folder}\noptions:\n  depth: {depth}\n"
                   "  method: rgbd\n  focal-px: 40\n")  # fmt: skip
    assert main(["batch", str(job), "-o", str(tmp_path / "out")]) == 0
    assert len((tmp_path / "out" / "manifest.jsonl").read_text().splitlines()) == 2


def test_a_file_that_is_not_a_job(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"pipe": "depth"}))
    assert main(["batch", str(job)]) == 2
    assert _last_error(capsys).startswith(f"error: {job} is not a batch job")


def test_ray_without_ray_says_how_to_install_it(
    album, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    folder, depth = album
    args = ["batch", "scene", str(folder), "--depth", str(depth), "--method", "rgbd"]
    assert main([*args, "-o", str(tmp_path / "out"), "--ray", "local"]) == 2
    assert "pip install 'unflat[ray]'" in _last_error(capsys)
