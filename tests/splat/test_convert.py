"""``unflat convert`` keeps the source camera, and scene sidecars are read defensively."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.io.test_gaussians import random_scene
from unflat.cli import main
from unflat.io.gaussians import load_gaussians, load_ply_with_metadata, save_ply
from unflat.splat.outputs import camera_from_record, load_scene, write_sidecar

K = [[70.0, 0.0, 40.0], [0.0, 70.0, 30.0], [0.0, 0.0, 1.0]]


@pytest.fixture
def rendered(monkeypatch: pytest.MonkeyPatch):
    """``render(scene)``: the camera and eps2d that ``unflat render`` would use (no video)."""
    seen: list[tuple] = []

    def capture(target, gaussians, camera, options, **_):
        seen.append((camera.K.cpu().tolist(), camera.width, camera.height, options.eps2d))
        return Path(target)

    monkeypatch.setattr("unflat.pipelines.render.write_path_video", capture)

    def render(scene: Path) -> tuple:
        output = scene.with_name(scene.name + ".mp4")
        assert main(["render", str(scene), "-o", str(output), "--device", "cpu"]) == 0
        return seen[-1]

    return render


def splat_output(folder: Path) -> Path:
    """A scene as ``unflat splat`` leaves it: room.ply and room.scene.json."""
    folder.mkdir(parents=True, exist_ok=True)
    scene = random_scene(50)
    scene.means[:, 2] = scene.means[:, 2].abs() + 1.0
    path = save_ply(folder / "room.ply", scene)
    record = {"method": "rgbd", "scene": "room.ply", "axes": "opencv", "videos": []}
    record |= {"width": 80, "height": 60, "intrinsics": K, "render_eps2d": 0.1}
    write_sidecar(folder / "room.scene.json", record)
    return path


def test_convert_ply_spz_ply_keeps_the_render_camera(tmp_path: Path, rendered, capsys) -> None:
    original = splat_output(tmp_path / "a")
    spz, back = tmp_path / "b" / "room.spz", tmp_path / "c" / "room.ply"
    spz.parent.mkdir(), back.parent.mkdir()
    assert main(["convert", str(original), str(spz)]) == 0
    assert "(camera in room.scene.json)" in capsys.readouterr().err
    assert main(["convert", str(spz), str(back)]) == 0
    expected = (K, 80, 60, pytest.approx(0.1))
    assert rendered(original) == rendered(spz) == rendered(back) == expected
    record = json.loads((tmp_path / "c" / "room.scene.json").read_text())
    assert record["scene"] == "room.ply" and record["converted_from"] == str(spz)
    assert record["method"] == "rgbd" and record["gaussians"] == 50 and record["videos"] == []


def test_a_sharp_ply_keeps_its_camera_and_layout(tmp_path: Path, rendered) -> None:
    scene = random_scene(40)
    source = save_ply(
        tmp_path / "sharp.ply", scene, layout="sharp", focal_px=70.0, image_size=(80, 60)
    )
    spz, back = tmp_path / "s.spz", tmp_path / "s.ply"
    assert main(["convert", str(source), str(spz)]) == 0
    assert main(["convert", str(spz), str(back)]) == 0
    # SHARP's scenes are rendered without the 0.3 px low-pass; the sidecar keeps that too
    assert rendered(source) == rendered(spz) == rendered(back) == (K, 80, 60, 0.0)
    ply_to_ply = tmp_path / "t.ply"
    assert main(["convert", str(source), str(ply_to_ply)]) == 0
    _, metadata = load_ply_with_metadata(ply_to_ply)
    assert metadata["layout"] == "sharp" and metadata["intrinsic"].tolist() == K


def test_a_scene_without_a_camera_is_converted_with_a_note(tmp_path: Path, capsys) -> None:
    source = save_ply(tmp_path / "plain.ply", random_scene(10))
    assert main(["convert", str(source), str(tmp_path / "plain.spz")]) == 0
    assert "plain.ply has no camera record, so plain.spz has none either" in capsys.readouterr().err
    assert not (tmp_path / "plain.scene.json").exists()


def test_another_scenes_sidecar_is_not_overwritten(tmp_path: Path, capsys) -> None:
    source = splat_output(tmp_path / "a")
    before = (tmp_path / "a" / "room.scene.json").read_bytes()
    # a/room.spz shares a/room.scene.json with a/room.ply: the same camera, kept as it is
    assert main(["convert", str(source), str(tmp_path / "a" / "room.spz")]) == 0
    assert (tmp_path / "a" / "room.scene.json").read_bytes() == before
    # b/room.scene.json is the record of b/room.ply, another scene
    other = splat_output(tmp_path / "b")
    capsys.readouterr()
    assert main(["convert", str(source), str(other.with_suffix(".spz"))]) == 2
    assert "room.scene.json already exists" in capsys.readouterr().err
    assert not other.with_suffix(".spz").exists()
    assert main(["convert", str(source), str(other.with_suffix(".spz")), "--overwrite"]) == 0
    assert json.loads((tmp_path / "b" / "room.scene.json").read_text())["scene"] == "room.spz"


def test_a_splat_is_read_in_the_axes_its_sidecar_names(tmp_path: Path) -> None:
    source = splat_output(tmp_path / "a")
    target = tmp_path / "gl" / "room.splat"
    target.parent.mkdir()
    assert main(["convert", str(source), str(target), "--axes", "opengl"]) == 0
    assert json.loads((tmp_path / "gl" / "room.scene.json").read_text())["axes"] == "opengl"
    gaussians, camera, _ = load_scene(target)
    original = load_gaussians(source)
    order = torch.cdist(original.means, gaussians.means).argmin(1)
    torch.testing.assert_close(gaussians.means[order], original.means, atol=1e-6, rtol=0)
    assert camera is not None and camera.K.tolist() == K
    flipped, _, _ = load_scene(target, axes="opencv")  # an explicit choice wins
    assert float(flipped.means[:, 2].max()) < 0


def test_a_damaged_source_leaves_no_target(tmp_path: Path, capsys) -> None:
    source = tmp_path / "bad.ply"
    source.write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 3\nend_header\n")
    assert main(["convert", str(source), str(tmp_path / "out.spz")]) == 2
    assert "error:" in capsys.readouterr().err
    assert not (tmp_path / "out.spz").exists() and not (tmp_path / "out.scene.json").exists()


@pytest.mark.parametrize(
    "record",
    [
        {"width": 80, "height": 60, "intrinsics": [[float("nan"), 0, 40], [0, 70, 30], [0, 0, 1]]},
        {"width": 80, "height": 60, "intrinsics": [[0, 0, 40], [0, 0, 30], [0, 0, 1]]},
        {"width": 80, "height": 60, "intrinsics": [[70, 0], [0, 70]]},
        {"width": 80, "height": 60, "intrinsics": "K"},
        {"width": 80.5, "height": 60, "intrinsics": K},
        {"width": True, "height": 60, "intrinsics": K},
        {"width": 10**6, "height": 10**6, "intrinsics": K},
        {"width": -80, "height": 60, "intrinsics": K},
    ],
)
def test_implausible_sidecar_cameras_are_not_used(record: dict) -> None:
    assert camera_from_record(record) is None


def test_a_damaged_sidecar_is_noted(tmp_path: Path) -> None:
    source = splat_output(tmp_path)
    (tmp_path / "room.scene.json").write_text('{"width": 80, "intrinsics": ', encoding="utf-8")
    _, camera, metadata = load_scene(source)
    assert camera is None and "room.scene.json cannot be read" in metadata["note"]
    record = {"width": 80, "height": 60, "intrinsics": [[np.nan] * 3] * 3}
    (tmp_path / "room.scene.json").write_text(json.dumps(record), encoding="utf-8")
    _, camera, metadata = load_scene(source)
    assert camera is None and "has no usable camera" in metadata["note"]
