"""Batch commands from the command line: Ctrl-C, bugs, clashing names, reruns in one folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer

from tests.pipelines.fakes import use_fake_depth_model, write_depths, write_photos
from unflat.cli import main
from unflat.cli.app import run
from unflat.pipelines.batch import TRACEBACK_LOG


def _splat(photos: Path, depth: Path, out: Path, *extra: str) -> list[str]:
    return ["splat", str(photos), "-o", str(out), "--method", "rgbd", "--depth", str(depth),
            "--focal-px", "30", *extra]  # fmt: skip


def _album(tmp_path: Path, names: list[str]) -> tuple[Path, Path]:
    photos = write_photos(tmp_path / "in", names)
    return tmp_path / "in", write_depths(tmp_path / "depth", photos)


def test_ctrl_c_says_how_far_the_batch_got(tmp_path, monkeypatch, capsys) -> None:
    from unflat.pipelines.scene import SceneJob

    photos, depth = _album(tmp_path, ["a.png", "b.png", "c.png"])
    real = SceneJob.process
    calls = []

    def process(self, path: Path, base: Path) -> None:
        calls.append(path.name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        real(self, path, base)

    monkeypatch.setattr(SceneJob, "process", process)
    out = tmp_path / "out"
    assert main(_splat(photos, depth, out)) == 130
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == "interrupted: 1 of 3 done; run the same command again to resume"
    assert "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == ["a.ply", "a.scene.json"]
    monkeypatch.setattr(SceneJob, "process", real)
    assert main(_splat(photos, depth, out)) == 0
    assert "2 written, 1 already done, 0 failed" in capsys.readouterr().err


def _app(action) -> typer.Typer:
    application = typer.Typer()
    application.command("go")(action)
    application.command("other")(lambda: None)
    return application


def test_ctrl_c_in_any_command_prints_a_line(capsys) -> None:
    # typer turns KeyboardInterrupt into a silent exit 130
    def go() -> None:
        raise KeyboardInterrupt

    assert run(_app(go), ["go"]) == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_a_bug_anywhere_is_one_line_with_the_traceback_saved(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("UNFLAT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("UNFLAT_TRACEBACK", raising=False)

    def go() -> None:
        raise TypeError("cannot\nunpack")

    assert run(_app(go), ["go"]) == 2
    log = tmp_path / "home" / "traceback.log"
    assert capsys.readouterr().err == (
        "error: unexpected TypeError: cannot\\nunpack (this is a bug in unflat: please report "
        f"it; the traceback is in {log})\n"
    )
    assert "Traceback (most recent call last)" in log.read_text()
    monkeypatch.setenv("UNFLAT_TRACEBACK", "1")  # for developers: the traceback itself
    with pytest.raises(TypeError):
        run(_app(go), ["go"])


def test_a_bug_on_one_photo_does_not_stop_the_batch(tmp_path, monkeypatch, capsys) -> None:
    import unflat.pipelines.scene as scene

    photos, depth = _album(tmp_path, ["a.png", "b.png", "c.png"])
    real = scene.read_photo

    def read_photo(path):
        if Path(path).name == "b.png":
            raise TypeError("'NoneType' object cannot be interpreted as an integer")
        return real(path)

    monkeypatch.setattr(scene, "read_photo", read_photo)
    out = tmp_path / "out"
    assert main(_splat(photos, depth, out)) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-2] == f"2 written, 0 already done, 1 failed -> {out}"
    assert err[-1] == (
        f"failed: {photos / 'b.png'}: unexpected TypeError: 'NoneType' object cannot be "
        "interpreted as an integer (this is a bug in unflat: please report it; the traceback "
        f"is in {out / TRACEBACK_LOG})"
    )
    assert (out / "c.scene.json").is_file() and "read_photo" in (out / TRACEBACK_LOG).read_text()


def test_one_name_in_two_formats_gives_two_results(tmp_path, capsys) -> None:
    photos = write_photos(tmp_path / "in", ["photo.jpg", "photo.png", "other.png"])
    depth = write_depths(tmp_path / "depth", photos[:2], use_name=True)
    write_depths(tmp_path / "depth", photos[2:])
    out = tmp_path / "out"
    assert main(_splat(tmp_path / "in", depth, out)) == 0
    assert "3 written" in capsys.readouterr().err
    for name in ("photo.jpg", "photo.png"):
        record = json.loads((out / f"{name}.scene.json").read_text())
        assert record["source"].endswith(name) and record["scene"] == f"{name}.ply"
        assert record["depth_source"].endswith(f"{name}.depth.npy")
    assert (out / "other.scene.json").is_file()
    assert main(_splat(tmp_path / "in", depth, out)) == 0
    assert "0 written, 3 already done" in capsys.readouterr().err


def test_depth_into_its_own_folder_twice_takes_no_output_for_a_photo(
    tmp_path, monkeypatch, capsys
) -> None:
    # issue 15 item 7: `unflat depth .` took its own previews and depth PNGs for photos
    use_fake_depth_model(monkeypatch)
    folder = tmp_path / "photos"
    write_photos(folder, ["a.jpg", "b.png"])
    monkeypatch.chdir(folder)
    assert main(["depth", ".", "-o", "."]) == 0
    assert "2 written, 0 already done, 0 failed" in capsys.readouterr().err
    assert main(["depth", ".", "-o", "."]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        "warning: .: left out 4 files that unflat wrote (*.depth_mm.png or *.preview.jpg); "
        "name a file explicitly to use it as a photo"
    )
    assert err[-1] == "0 written, 2 already done, 0 failed -> ."
    assert len(list(folder.iterdir())) == 2 * 5


def test_a_batch_where_every_photo_fails_leaves_no_empty_folder(tmp_path, capsys) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "new\nline.png").write_text("not a photo")
    (folder / "zero.png").write_bytes(b"")
    out = tmp_path / "out"
    assert main(["depth", str(folder), "-o", str(out), "--weights", "/nonexistent"]) == 2
    err = capsys.readouterr().err
    assert not out.exists()
    failed = [line for line in err.splitlines() if line.startswith("failed:")]
    assert len(failed) == 2 and "new\\nline.png" in failed[0]
