"""``unflat splat``, ``unflat render`` and ``unflat convert`` end to end, and their bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from unflat.cli import main
from unflat.io.depth_files import save_depth_npy
from unflat.io.gaussians import load_gaussians, save_ply
from unflat.io.spatial_photo import read_spatial_photo
from unflat.io.video import probe_video, read_video
from unflat.types import Gaussians


@pytest.fixture(autouse=True)
def no_weights(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An empty model cache, offline: the photo + depth path is all there is."""
    monkeypatch.setenv("UNFLAT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("UNFLAT_OFFLINE", "1")


def photo_and_depth(folder: Path, name: str = "room", size=(80, 60)) -> tuple[Path, Path]:
    width, height = size
    folder.mkdir(parents=True, exist_ok=True)
    x = np.linspace(0, 255, width)[None, :] * np.ones((height, 1))
    rgb = np.stack([x, x[:, ::-1], np.full_like(x, 90)], axis=-1).astype(np.uint8)
    rgb[20:40, 30:50] = (240, 220, 30)
    depth = np.full((height, width), 3.0, np.float32)
    depth[20:40, 30:50] = 1.5
    photo = folder / f"{name}.png"
    Image.fromarray(rgb).save(photo)
    depth_path = folder / f"{name}.depth.npy"
    save_depth_npy(depth_path, depth)
    return photo, depth_path


def test_splat_builds_a_scene_and_video_from_photo_and_depth(tmp_path: Path, capsys) -> None:
    photo, depth = photo_and_depth(tmp_path / "in")
    out = tmp_path / "out"
    args = ["splat", str(photo), "--depth", str(depth), "--focal-px", "70", "-o", str(out)]
    assert main([*args, "--video", "swipe", "--seconds", "0.4", "--fps", "10"]) == 0
    scene = load_gaussians(out / "room.ply")
    assert len(scene) > 80 * 60  # plus the background layer behind the box
    assert len(scene) < 80 * 60 + 20 * 20
    record = json.loads((out / "room.scene.json").read_text())
    assert record["method"] == "rgbd"
    assert record["focal_px"] == 70.0 and record["focal_source"] == "user"
    assert record["depth_range_m"][0] == pytest.approx(1.5, rel=1e-3)
    assert record["render_eps2d"] == pytest.approx(0.1)
    info = probe_video(out / "room.swipe.mp4")
    assert (info.frame_count, info.width, info.height) == (4, 80, 60)
    # Run again: nothing to do.
    assert main([*args, "--video", "swipe", "--seconds", "0.4", "--fps", "10"]) == 0
    assert "0 written, 1 already done" in capsys.readouterr().err


def test_render_reads_the_camera_from_the_sidecar(tmp_path: Path) -> None:
    photo, depth = photo_and_depth(tmp_path / "in")
    out = tmp_path / "out"
    assert (
        main(["splat", str(photo), "--depth", str(depth), "--focal-px", "70", "-o", str(out)]) == 0
    )
    gif = tmp_path / "orbit.gif"
    assert (
        main(["render", str(out / "room.ply"), "-t", "orbit", "--frames", "3", "-o", str(gif)]) == 0
    )
    frames = read_video(gif).read_all()
    assert frames.shape == (3, 60, 80, 3)
    # The box is yellow in the photo; the orbit keeps it near the centre.
    centre = frames[0, 25:35, 35:45].reshape(-1, 3).mean(axis=0)
    assert centre[0] > 180 and centre[2] < 120
    sbs = tmp_path / "sbs.mp4"
    args = ["render", str(out / "room.ply"), "--frames", "2", "--stereo", "sbs", "-o", str(sbs)]
    assert main(args) == 0
    assert probe_video(sbs).width == 160


def test_render_writes_a_spatial_photo_of_the_scene_camera(tmp_path: Path, capsys) -> None:
    photo, depth = photo_and_depth(tmp_path / "in")
    out = tmp_path / "out"
    assert (
        main(["splat", str(photo), "--depth", str(depth), "--focal-px", "70", "-o", str(out)]) == 0
    )
    scene = str(out / "room.ply")
    assert main(["render", scene, "--stereo", "spatial", "--width", "160"]) == 0
    pair = read_spatial_photo(out / "room.spatial.heic")
    assert pair.left.shape == pair.right.shape == (120, 160, 3)
    focal = 70 * 160 / 80
    assert pair.focal_px == pytest.approx((focal, focal), abs=1e-4)
    assert pair.principal_point == pytest.approx((80.0, 60.0), abs=1e-4)
    assert pair.baseline_m == pytest.approx(0.063, abs=1e-6)
    # the nearest content (the box, 1.5 m) sits at the screen plane: f * b / (z * W)
    assert pair.disparity_adjustment == pytest.approx(focal * 0.063 / (1.5 * 160), abs=1e-4)
    # and it lies f * b / z = 5.9 px further right in the left view than in the right one
    # (its sharp edges land on whole pixels: 1 px of tolerance on the difference)
    centres = []
    for view in (pair.left.astype(int), pair.right.astype(int)):
        yellow = (view[..., 0] > 190) & (view[..., 1] > 170) & (view[..., 2] < 100)
        centres.append(np.nonzero(yellow)[1].mean())
    assert centres[0] - centres[1] == pytest.approx(focal * 0.063 / 1.5, abs=1.0)
    # the wrong kind of output for the request: one line, nothing written
    capsys.readouterr()
    assert main(["render", scene, "--stereo", "spatial", "-o", str(tmp_path / "s.mp4")]) == 2
    assert main(["render", scene, "-o", str(tmp_path / "v.heic")]) == 2
    small = [
        "render",
        scene,
        "--stereo",
        "spatial",
        "--width",
        "48",
        "-o",
        str(tmp_path / "t.heic"),
    ]
    assert main(small) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert "writes a HEIC photo" in lines[0] and "--stereo spatial" in lines[1]
    assert "--width 48 is too small for a spatial photo" in lines[2]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in", "out"]


def test_convert_between_formats_keeps_the_scene(tmp_path: Path) -> None:
    photo, depth = photo_and_depth(tmp_path / "in")
    out = tmp_path / "out"
    assert (
        main(["splat", str(photo), "--depth", str(depth), "--focal-px", "70", "-o", str(out)]) == 0
    )
    spz = tmp_path / "room.spz"
    assert main(["convert", str(out / "room.ply"), str(spz)]) == 0
    original, converted = load_gaussians(out / "room.ply"), load_gaussians(spz)
    assert len(original) == len(converted)
    # spz stores positions in fixed point (12 fractional bits at the default).
    assert float((original.means - converted.means).abs().max()) < 1e-3
    assert main(["convert", str(out / "room.ply"), str(spz)]) == 2  # exists, no --overwrite


def test_without_depth_or_weights_the_user_is_told_what_to_do(tmp_path: Path, capsys) -> None:
    photo, _ = photo_and_depth(tmp_path / "in")
    assert main(["splat", str(photo), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "Depth Pro weights are not installed, and it shows no face" in err
    assert "--depth FILE" in err and "Traceback" not in err
    assert not list((tmp_path / "out").glob("*"))


def test_bad_depth_and_requests_fail_cleanly(tmp_path: Path, capsys) -> None:
    photo, _ = photo_and_depth(tmp_path / "in")
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.ones((10, 40), np.float32))
    out = tmp_path / "out"
    assert (
        main(["splat", str(photo), "--depth", str(wrong), "--focal-px", "70", "-o", str(out)]) == 2
    )
    assert "40x10 but the photo is 80x60" in capsys.readouterr().err
    millimetres = tmp_path / "mm.npy"
    np.save(millimetres, np.full((60, 80), 2500.0, np.float32))
    # Told they are metres, millimetres are refused; guessed, they are read and it is said.
    forced = ["--depth-units", "m"]
    args = ["splat", str(photo), "--depth", str(millimetres), "--focal-px", "70", "-o", str(out)]
    assert main([*args, *forced]) == 2
    assert "not a distance in metres" in capsys.readouterr().err
    assert not list(out.glob("*"))
    assert main(args) == 0
    assert "note: mm.npy: depth read as millimetres (whole numbers" in capsys.readouterr().err
    record = json.loads(next(out.glob("*.scene.json")).read_text())
    assert record["depth_range_m"][0] == pytest.approx(2.5, rel=1e-3)
    assert main([*args, "--depth-units", "furlongs"]) == 2
    assert "unknown depth units 'furlongs'" in capsys.readouterr().err
    out = tmp_path / "out2"
    # No focal length anywhere: asked for.
    _, depth = photo_and_depth(tmp_path / "in2")
    bare = tmp_path / "in2" / "plain.npy"
    np.save(bare, np.load(depth))
    assert main(["splat", str(photo), "--depth", str(bare), "-o", str(out)]) == 2
    assert "--focal-px" in capsys.readouterr().err

    scene = tmp_path / "s.ply"
    save_ply(scene, _gaussians(5))
    assert main(["render", str(scene), "--width", "7680", "-o", str(tmp_path / "8k.mp4")]) == 2
    assert "outside 16..4096" in capsys.readouterr().err
    assert main(["render", str(scene), "-t", "spiral", "-o", str(tmp_path / "x.mp4")]) == 2
    assert "unknown camera path" in capsys.readouterr().err
    assert not (tmp_path / "8k.mp4").exists() and not (tmp_path / "x.mp4").exists()


def _gaussians(count: int) -> Gaussians:
    generator = torch.Generator().manual_seed(0)
    means = torch.randn(count, 3, generator=generator) * 0.2 + torch.tensor([0, 0, 3.0])
    return Gaussians(
        means=means,
        scales=torch.full((count, 3), 0.05),
        quats=torch.tensor([[1.0, 0, 0, 0]]).repeat(count, 1),
        colors=torch.rand(count, 3, generator=generator),
        opacities=torch.full((count,), 0.8),
    )


def test_scene_files_of_other_kinds_are_refused(tmp_path: Path, capsys) -> None:
    points = tmp_path / "points.ply"
    points.write_bytes(
        b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\n"
        b"property float z\nend_header\n0 0 1\n"
    )
    assert main(["render", str(points), "-o", str(tmp_path / "v.mp4")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err
    broken = _gaussians(4)
    broken.means[1, 0] = float("nan")
    nan_scene = tmp_path / "nan.splat"
    nan_scene.write_bytes(b"")  # an empty .splat holds zero Gaussians
    assert main(["render", str(nan_scene), "-o", str(tmp_path / "v.mp4")]) == 2
    assert "error:" in capsys.readouterr().err
    assert not (tmp_path / "v.mp4").exists()
