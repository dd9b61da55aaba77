"""``unflat depth`` end to end with the tiny reference model, good files and junk."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import shared_path
from unflat.cli import main
from unflat.io.depth_files import load_depth


@pytest.fixture(scope="module")
def tiny_weights() -> str:
    return str(shared_path("fixtures", "depth_pro_tiny_a"))


def write_photo(path: Path, size=(64, 48), focal_35mm: int | None = None, mode="RGB") -> Path:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    image = Image.fromarray(rgb).convert(mode)
    if focal_35mm is not None:
        exif = Image.Exif()
        exif[0xA405] = focal_35mm  # FocalLengthIn35mmFilm
        image.save(path, exif=exif)
    else:
        image.save(path)
    return path


def junk_folder(root: Path) -> dict[str, Path]:
    """A folder of mixed junk beside two good photos; returns the files by role."""
    root.mkdir()
    files = {
        "good": write_photo(root / "good.png"),
        "cmyk": write_photo(root / "cmyk.jpg", mode="CMYK"),
        "zero": root / "zero.jpg",
        "text": root / "notes.jpg",
        "tiny": root / "one_pixel.png",
        "truncated": root / "truncated.jpg",
    }
    files["zero"].write_bytes(b"")
    files["text"].write_text("not an image")
    Image.new("RGB", (1, 1)).save(files["tiny"])
    write_photo(root / "whole.jpg", size=(200, 150))
    files["truncated"].write_bytes((root / "whole.jpg").read_bytes()[:300])
    (root / "whole.jpg").unlink()
    (root / "readme.txt").write_text("ignored: not an image extension")
    return files


def test_version_and_help(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("unflat ")
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("depth", "eval", "models"):
        assert command in out


def test_python_dash_m():
    result = subprocess.run(
        [sys.executable, "-m", "unflat", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("unflat ")


def test_batch_goes_past_bad_files_and_resumes(tmp_path, tiny_weights, capsys):
    files = junk_folder(tmp_path / "in")
    out = tmp_path / "out"
    code = main(["depth", str(tmp_path / "in"), "-o", str(out), "--weights", tiny_weights])
    err = capsys.readouterr().err
    assert code == 2
    # The good photos are done, with every output, and nothing half-written is left behind.
    for name in ("good", "cmyk"):
        sidecar = json.loads((out / f"{name}.json").read_text())
        assert sidecar["width"] == 64 and sidecar["height"] == 48
        assert sidecar["focal_source"] == "model"
        depth = np.load(out / f"{name}.depth.npy")
        assert depth.shape == (48, 64) and depth.dtype == np.float32
        assert np.all(depth > 0)
        png = load_depth(out / f"{name}.depth_mm.png")
        np.testing.assert_allclose(png, depth, atol=0.0006)
        assert (out / f"{name}.preview.jpg").stat().st_size > 0
    assert not [p for p in out.iterdir() if ".tmp" in p.name]
    # Each bad file is named once, with its reason, and no traceback.
    assert "Traceback" not in err
    for role, reason in [
        ("zero", "empty"),
        ("text", "not an image"),
        ("tiny", "too small"),
        ("truncated", "is not a valid JPEG image"),
    ]:
        line = next(line for line in err.splitlines() if files[role].name in line)
        assert line.startswith("failed:") and reason in line
    assert "2 written, 0 already done, 4 failed" in err

    # A rerun skips the finished photos and loads no model for them.
    code = main(["depth", str(files["good"]), "-o", str(out), "--weights", "/nonexistent"])
    assert code == 0
    assert "0 written, 1 already done" in capsys.readouterr().err


def test_exif_focal_and_user_focal(tmp_path, tiny_weights):
    photo = write_photo(tmp_path / "exif.jpg", focal_35mm=26)
    out = tmp_path / "out"
    assert main(["depth", str(photo), "-o", str(out), "--weights", tiny_weights, "--ply"]) == 0
    sidecar = json.loads((out / "exif.json").read_text())
    # 26 mm equivalent on a 64x48 frame: f = 26 * hypot(64, 48) / hypot(36, 24).
    assert sidecar["focal_source"] == "exif"
    assert sidecar["focal_px"] == pytest.approx(26 * 80 / np.hypot(36, 24), rel=1e-5)
    assert (out / "exif.points.ply").stat().st_size > 64 * 48 * 15
    exif_depth = np.load(out / "exif.depth.npy")

    out2 = tmp_path / "out2"
    focal = 2 * sidecar["focal_px"]
    args = ["depth", str(photo), "-o", str(out2), "--weights", tiny_weights]
    assert main([*args, "--focal-px", str(focal)]) == 0
    assert json.loads((out2 / "exif.json").read_text())["focal_source"] == "user"
    # Metric depth scales with the focal length.
    np.testing.assert_allclose(np.load(out2 / "exif.depth.npy"), 2 * exif_depth, rtol=1e-4)


def test_int8_path_close_to_fp32(tmp_path, tiny_weights):
    photo = write_photo(tmp_path / "p.png")
    for precision in ("fp32", "int8", "bf16"):
        args = ["depth", str(photo), "-o", str(tmp_path / precision), "--weights", tiny_weights]
        assert main([*args, "--precision", precision, "--no-preview"]) == 0
    reference = np.load(tmp_path / "fp32" / "p.depth.npy")
    for precision in ("int8", "bf16"):
        fast = np.load(tmp_path / precision / "p.depth.npy")
        assert np.abs(fast / reference - 1).max() < 0.05


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--device", "cuda"], "CUDA is not available"),
        (["--precision", "fp64"], "unknown precision"),
        (["--focal-px", "-3"], "--focal-px must be positive"),
        (["--weights", "/nonexistent/depth_pro.pt"], "does not exist"),
    ],
)
def test_bad_options_are_one_line(tmp_path, tiny_weights, capsys, args, message):
    photo = write_photo(tmp_path / "p.png")
    argv = ["depth", str(photo), "-o", str(tmp_path / "out"), "--weights", tiny_weights, *args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not list((tmp_path / "out").glob("p.*"))


def test_missing_weights_offline_says_what_to_fetch(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("UNFLAT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("UNFLAT_OFFLINE", "1")
    photo = write_photo(tmp_path / "p.png")
    assert main(["depth", str(photo), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "depth_pro.pt" in err and "by hand" in err
    assert str(tmp_path / "home" / "models" / "depth-pro") in err


def test_unwritable_output_is_one_line(tmp_path, tiny_weights, capsys):
    photo = write_photo(tmp_path / "p.png")
    blocker = tmp_path / "file"
    blocker.write_text("a file where the output folder should be")
    assert main(["depth", str(photo), "-o", str(blocker), "--weights", tiny_weights]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err


def test_nothing_found_is_one_line(tmp_path, capsys):
    assert main(["depth", str(tmp_path / "nope*.jpg"), "-o", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.startswith("error:")


@pytest.mark.parametrize("argv", [["depth"], ["nope"], ["depth", "x.jpg", "--focal-px", "abc"]])
def test_usage_errors_exit_2_without_traceback(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.strip() and "Traceback" not in err
