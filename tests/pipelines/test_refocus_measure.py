"""``unflat refocus`` and ``unflat measure`` end to end: files, numbers, and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import shared_path
from unflat.cli import main
from unflat.io.images import read_photo, save_rgb
from unflat.io.video import read_video
from unflat.pipelines.refocus import Focus, parse_pull, pull_distances


@pytest.fixture
def scene(tmp_path: Path) -> tuple[Path, Path]:
    """A 64x48 photo: a red square 1 m away before a striped wall at 4 m (depth in metres)."""
    rgb = np.zeros((48, 64, 3), np.uint8)
    rgb[::4, :, 2] = 255
    rgb[..., 1] = 120
    rgb[16:32, 24:40] = (255, 0, 0)
    depth = np.full((48, 64), 4.0, np.float32)
    depth[16:32, 24:40] = 1.0
    depth[0, 0] = np.nan  # a hole
    photo, depth_file = tmp_path / "photo.png", tmp_path / "photo.depth.npy"
    save_rgb(photo, rgb)
    np.save(depth_file, depth)
    return photo, depth_file


def run(*arguments: object) -> int:
    return main([str(a) for a in arguments])


def test_refocus_keeps_the_focused_square_and_blurs_the_wall(scene, tmp_path) -> None:
    photo, depth = scene
    target = tmp_path / "out.png"
    # 54 mm equivalent at f/0.7 focused at 1 m: the wall's discs are 6.1 px wide
    common = ("--depth", depth, "--focal-px", 100, "--f-number", 0.7, "--highlights", 1)
    assert run("refocus", photo, *common, "--focus", "30,20", "-o", target) == 0
    result, original = read_photo(target).rgb, read_photo(photo).rgb
    np.testing.assert_array_equal(result[16:32, 24:40], original[16:32, 24:40])
    assert np.ptp(result[4:13, 5, 2]) < 40  # the stripes (every 4th row) blurred away
    assert result[:16, :, 0].max() == 0  # no red on the wall
    assert run("refocus", photo, *common, "--focus-m", 4, "-o", target, "--overwrite") == 0
    np.testing.assert_array_equal(read_photo(target).rgb[40:, :], original[40:, :])


def test_focus_pull_video(scene, tmp_path) -> None:
    photo, depth = scene
    target = tmp_path / "pull.mp4"
    arguments = ("--depth", depth, "--focal-px", 100, "--seconds", 0.5, "--fps", 8, "--f-number",
                 0.7, "--highlights", 1)  # fmt: skip
    assert run("refocus", photo, *arguments, "--pull", "30,20,4m", "-o", target) == 0
    with read_video(target) as video:
        frames = video.read_all()
    assert frames.shape[:3] == (4, 48, 64)
    # the first frame is focused on the square, the last on the wall
    assert np.abs(frames[0, 18:30, 26:38, 0].astype(int) - 255).max() <= 8
    # (H.264 halves the chroma resolution: the stripes show, but faintly)
    contrast = [np.ptp(frame[4:13, 5, 2].astype(int)) for frame in frames]
    assert contrast[-1] > contrast[0] + 30


def test_pull_syntax_and_dioptre_easing() -> None:
    assert parse_pull("1.2m,3.5m") == (Focus(metres=1.2), Focus(metres=3.5))
    assert parse_pull("640,360, 100,80") == (Focus(pixel=(640, 360)), Focus(pixel=(100, 80)))
    assert parse_pull("640,360,2m") == (Focus(pixel=(640, 360)), Focus(metres=2.0))
    # halfway in time is halfway in dioptres: 1 / ((1/1 + 1/4) / 2) = 1.6 m
    assert pull_distances(1.0, 4.0, 3) == pytest.approx([1.0, 1.6, 4.0])


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("--focus", "64,10"), "pixel 64,10 is outside the 64x48 image"),
        (("--focus", "0,0"), "pixel 0,0 has no valid depth"),
        (("--focus", "10"), "is not a pixel X,Y"),
        (("--focus-m", 2, "--f-number", 0), "f-number 0 is not one a lens can have"),
        (("--focus-m", 2, "--f-number", "nan"), "f-number nan"),
        (("--focus-m", "-1"), "is not a distance in metres"),
        (("--focus-m", 0.01), "cannot focus at 0.01 m"),
        (("--focus-m", 2, "--focus", "1,1"), "give one of --focus"),
        ((), "give one of --focus"),
        (("--pull", "1m"), "is not two focus points"),
        (("--pull", "1m,99,99"), "outside the 64x48 image"),
        (("--focus-m", 2, "--highlights", 0), "--highlights 0 is out of range"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_file(scene, tmp_path, capsys, arguments, message):
    photo, depth = scene
    target = tmp_path / ("out.mp4" if "--pull" in arguments else "out.png")
    options = ("--depth", depth, "--focal-px", 100, *arguments, "-o", target)
    assert run("refocus", photo, *options) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("error: ") and message in error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.depth.npy", "photo.png"]


def test_existing_output_is_kept_without_overwrite(scene, tmp_path, capsys) -> None:
    photo, depth = scene
    target = tmp_path / "out.png"
    target.write_bytes(b"keep")
    assert run("refocus", photo, "--depth", depth, "--focus-m", 2, "-o", target) == 2
    assert "already exists" in capsys.readouterr().err and target.read_bytes() == b"keep"


def test_measure_prints_the_distance_last(scene, capsys) -> None:
    photo, depth = scene
    # wall at 4 m, focal 100 px: columns 5 and 55 are 50 px x 4 m / 100 px = 2 m apart
    assert run("measure", photo, "5,40", "55,40", "--depth", depth, "--focal-px", 100) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == "2.000 m" and "depth 4.000 m" in lines[0]
    # from the square (1 m) to the wall straight behind its centre pixel
    assert run("measure", photo, "31.5,23.5", "31.5,40", "--depth", depth, "--focal-px", 100) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    expected = np.linalg.norm([0, (40.5 - 24) / 100 * 4 - (24 - 24) / 100 * 1, 3])
    assert last == f"{expected:.3f} m"


@pytest.mark.parametrize(
    ("points", "message"),
    [
        (("5,40", "64,0"), "outside the 64x48 image"),
        (("0,0", "5,5"), "no valid depth"),
        (("5;40", "6,6"), "is not a pixel"),
    ],
)
def test_measure_bad_pixels(scene, capsys, points, message) -> None:
    photo, depth = scene
    assert run("measure", photo, *points, "--depth", depth, "--focal-px", 100) == 2
    assert message in capsys.readouterr().err


def test_measure_on_middlebury_within_one_percent(tmp_path, capsys) -> None:
    from unflat.datasets.middlebury import load_middlebury_pair, read_middlebury_calib
    from unflat.geometry.unproject import unproject
    from unflat.lens.evaluate import surface_pairs

    folder = shared_path("data", "depth", "middlebury", "Adirondack")
    pair = load_middlebury_pair(folder)
    calib = read_middlebury_calib(folder / "calib.txt")
    depth = tmp_path / "depth.npy"
    np.save(depth, pair.depth.astype(np.float32))
    truth = unproject(pair.depth, pair.K_left)
    options = ("--depth", depth, "--focal-px", calib["f"],
               "--principal-point", f"{calib['cx']},{calib['cy']}")  # fmt: skip
    for (x1, y1), (x2, y2) in surface_pairs(pair.depth, 3, seed=2):
        assert run("measure", folder / "im0.png", f"{x1},{y1}", f"{x2},{y2}", *options) == 0
        measured = float(capsys.readouterr().out.strip().splitlines()[-1].removesuffix(" m"))
        expected = np.linalg.norm(truth[y1, x1] - truth[y2, x2])
        assert measured == pytest.approx(expected, rel=0.01, abs=0.0015)  # printed to 1 mm


def test_depth_pro_gives_the_depth_without_a_depth_file(scene, capsys) -> None:
    # refocus takes its depth through the same DepthSource
    photo, _ = scene
    weights = shared_path("fixtures", "depth_pro_tiny_a")  # random weights: any depth will do
    assert run("measure", photo, "5,40", "55,40", "--weights", weights) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert "(model)" in lines[-2] and lines[-1].endswith(" m") and float(lines[-1][:-2]) > 0


def test_without_depth_or_weights_says_how_to_get_depth(scene, capsys, monkeypatch) -> None:
    import unflat.weights

    monkeypatch.setattr(unflat.weights, "is_cached", lambda name: False)
    photo, _ = scene
    assert run("measure", photo, "5,40", "55,40") == 2
    assert "Depth Pro weights are not installed" in capsys.readouterr().err
