"""Depth files (npy, 16-bit PNG, PFM, previews) and the atomic writes under them."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.conftest import shared_path
from unflat.errors import InputError, OutputError
from unflat.io.atomic import atomic_write, ensure_output_dir
from unflat.io.depth_files import (
    inverse_depth_colormap,
    load_depth,
    read_pfm,
    save_depth_npy,
    save_depth_png16,
    save_inverse_depth_preview,
    write_pfm,
)


def _depth(height: int = 30, width: int = 40) -> np.ndarray:
    return np.random.default_rng(1).uniform(0.1, 60.0, (height, width)).astype(np.float32)


# --- npy and 16-bit PNG ----------------------------------------------------------------------


def test_npy_round_trip_is_exact_including_invalid(tmp_path: Path) -> None:
    depth = _depth()
    depth[0, :3] = (np.nan, np.inf, 0.0)
    path = save_depth_npy(tmp_path / "depth.npy", depth)
    loaded = load_depth(path)
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded, depth)  # NaN == NaN for assert_array_equal


def test_npy_accepts_model_shaped_1hw(tmp_path: Path) -> None:
    depth = _depth(20, 20)
    save_depth_npy(tmp_path / "depth.npy", depth[None])
    np.testing.assert_array_equal(np.load(tmp_path / "depth.npy"), depth)


def test_png16_round_trip_within_half_a_millimetre(tmp_path: Path) -> None:
    depth = _depth()
    path = save_depth_png16(tmp_path / "depth.png", depth)
    loaded = load_depth(path)
    assert loaded.dtype == np.float32 and loaded.shape == depth.shape
    assert np.abs(loaded - depth).max() <= 0.0005 + 1e-6


def test_png16_stored_values_and_invalid(tmp_path: Path) -> None:
    depth = np.full((16, 16), 2.0, dtype=np.float32)
    depth[0, :7] = (1.2346, 70.0, 1e-4, np.nan, np.inf, 0.0, -1.0)
    path = save_depth_png16(tmp_path / "depth.png", depth)
    stored = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert stored.dtype == np.uint16
    # millimetres; beyond 65.535 m clipped; tiny positive stays valid (1 mm); invalid -> 0
    assert stored[0, :7].tolist() == [1235, 65535, 1, 0, 0, 0, 0]
    assert stored[1, 1] == 2000
    loaded = load_depth(path)
    assert loaded[0, 0] == pytest.approx(1.235)
    assert loaded[0, 1] == pytest.approx(65.535)
    assert np.isnan(loaded[0, 3:7]).all()


def test_png16_other_scale_like_kitti(tmp_path: Path) -> None:
    depth = np.full((16, 16), 10.0, dtype=np.float32)
    path = save_depth_png16(tmp_path / "kitti.png", depth, scale=256.0)
    assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED)[0, 0] == 2560
    assert load_depth(path, scale=256.0)[0, 0] == pytest.approx(10.0)


def test_npz_with_depth_key(tmp_path: Path) -> None:
    depth = _depth(16, 16)
    np.savez_compressed(tmp_path / "apple.npz", depth=depth, extra=np.zeros(3))
    np.testing.assert_array_equal(load_depth(tmp_path / "apple.npz"), depth)


def test_real_nyu_depth_png_in_metres() -> None:
    path = shared_path("data", "depth", "nyu", "depth", "sync_depth_00000.png")
    depth = load_depth(path)
    raw = np.asarray(Image.open(path)).astype(np.float64)
    assert depth.shape == (480, 640)
    valid = raw > 0
    np.testing.assert_allclose(depth[valid], raw[valid] / 1000.0, rtol=1e-6)
    assert np.isnan(depth[~valid]).all()
    assert np.nanmin(depth) > 0.3 and np.nanmax(depth) < 10.5  # an indoor room


def test_real_kitti_depth_png_with_scale_256() -> None:
    folder = shared_path("data", "depth", "kitti", "depth")
    path = sorted(folder.glob("*.png"))[0]
    depth = load_depth(path, scale=256.0)
    raw = np.asarray(Image.open(path)).astype(np.float64)
    np.testing.assert_allclose(depth[raw > 0], raw[raw > 0] / 256.0, rtol=1e-6)
    assert np.nanmax(depth) < 100.0  # LiDAR range, metres


# --- PFM ---------------------------------------------------------------------------------------


def test_pfm_round_trip_exact(tmp_path: Path) -> None:
    values = np.random.default_rng(2).normal(size=(7, 5)).astype(np.float32)
    values[0, 0], values[6, 4] = np.inf, np.nan
    np.testing.assert_array_equal(read_pfm(write_pfm(tmp_path / "a.pfm", values)), values)
    colour = np.random.default_rng(3).normal(size=(4, 6, 3)).astype(np.float32)
    np.testing.assert_array_equal(read_pfm(write_pfm(tmp_path / "c.pfm", colour)), colour)


def test_pfm_layout_bottom_row_first_and_big_endian(tmp_path: Path) -> None:
    # A hand-made big-endian (positive scale) 3x2 file: rows stored bottom to top.
    path = tmp_path / "hand.pfm"
    body = np.array([[4, 5, 6], [1, 2, 3]], dtype=">f4").tobytes()
    path.write_bytes(b"Pf\n3 2\n1.0\n" + body)
    np.testing.assert_array_equal(read_pfm(path), [[1, 2, 3], [4, 5, 6]])
    assert load_depth(path)[0, 2] == 3.0
    written = write_pfm(tmp_path / "back.pfm", read_pfm(path)).read_bytes()
    assert written.startswith(b"Pf\n3 2\n-1.0\n")
    assert np.frombuffer(written[12:], "<f4").tolist() == [4, 5, 6, 1, 2, 3]


def test_real_middlebury_disparity_pfm() -> None:
    folder = shared_path("data", "depth", "middlebury", "Adirondack")
    disparity = read_pfm(folder / "disp0GT.pfm")
    width, height = Image.open(folder / "im0.png").size
    assert disparity.shape == (height, width) and disparity.dtype == np.float32
    assert np.isinf(disparity).any()  # unknown disparity is inf in Middlebury
    finite = disparity[np.isfinite(disparity)]
    assert finite.min() > 0 and finite.max() < width


def test_pfm_truncated_and_bad_header(tmp_path: Path) -> None:
    whole = write_pfm(tmp_path / "whole.pfm", np.ones((10, 10), np.float32)).read_bytes()
    (tmp_path / "cut.pfm").write_bytes(whole[:-40])
    with pytest.raises(InputError, match="truncated"):
        read_pfm(tmp_path / "cut.pfm")
    (tmp_path / "bad.pfm").write_bytes(b"P6\n10 10\n255\n" + bytes(300))
    with pytest.raises(InputError, match="not a PFM"):
        read_pfm(tmp_path / "bad.pfm")


# --- load_depth errors ---------------------------------------------------------------------------


def test_load_depth_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_depth(tmp_path / "missing.npy")
    (tmp_path / "depth.txt").write_text("1 2 3")
    with pytest.raises(InputError, match="not a depth file") as caught:
        load_depth(tmp_path / "depth.txt")
    assert ".npy" in caught.value.hint
    Image.new("L", (20, 20), 100).save(tmp_path / "preview.png")
    with pytest.raises(InputError, match="8-bit"):
        load_depth(tmp_path / "preview.png")
    (tmp_path / "empty.png").touch()
    with pytest.raises(InputError, match="empty"):
        load_depth(tmp_path / "empty.png")
    (tmp_path / "garbage.npy").write_bytes(b"not numpy at all")
    with pytest.raises(InputError, match=r"not a valid depth map \(\.npy\)"):
        load_depth(tmp_path / "garbage.npy")
    np.save(tmp_path / "rgb.npy", np.zeros((4, 4, 3), np.float32))
    with pytest.raises(InputError, match="not a depth map"):
        load_depth(tmp_path / "rgb.npy")


def test_exr_loads_or_says_why(tmp_path: Path) -> None:
    path = tmp_path / "depth.exr"
    path.write_bytes(b"v/1\x01" + bytes(100))  # EXR magic, then nonsense
    with pytest.raises(InputError) as caught:
        load_depth(path)
    assert "OpenEXR" in str(caught.value) or "not a valid depth image" in str(caught.value)
    assert caught.value.hint


# --- previews ------------------------------------------------------------------------------------


def _turbo(index: int) -> list[int]:
    return cv2.applyColorMap(np.array([[index]], np.uint8), cv2.COLORMAP_TURBO)[0, 0, ::-1].tolist()


def test_inverse_depth_colours_near_warm_far_cold_invalid_black() -> None:
    depth = np.array([[1.0, 2.0, 10.0, np.nan, 0.0, 500.0]], dtype=np.float32)
    rgb = inverse_depth_colormap(depth, percentiles=(0.0, 100.0))
    # inverse depths 1, 0.5, 0.1 and (clipped at 250 m) 0.004: min-max 0.004..1
    # 2 m -> (0.5 - 0.004) / 0.996 * 255 = 126.99 -> 127; 10 m -> 24.58 -> 25
    assert rgb[0, 0].tolist() == _turbo(255)
    assert rgb[0, 1].tolist() == _turbo(127)
    assert rgb[0, 2].tolist() == _turbo(25)
    assert rgb[0, 5].tolist() == _turbo(0)
    assert rgb[0, 3].tolist() == [0, 0, 0] and rgb[0, 4].tolist() == [0, 0, 0]
    assert rgb[0, 0, 0] > rgb[0, 0, 2] and rgb[0, 5, 2] > rgb[0, 5, 0]  # red near, blue far


def test_percentiles_keep_one_outlier_from_washing_out() -> None:
    depth = np.full((20, 20), 5.0, dtype=np.float32)
    depth[:, 10:] = 10.0
    depth[0, 0] = 0.1  # a single stray near pixel
    # sorted inverse depths: 200 x 0.1, 199 x 0.2, 1 x 10; the 1st and 99th percentiles fall at
    # positions 3.99 and 395.01, i.e. 0.1 and 0.2, so 5 m is full red and 10 m full blue
    rgb = inverse_depth_colormap(depth, percentiles=(1.0, 99.0))
    assert rgb[5, 2].tolist() == _turbo(255) and rgb[5, 17].tolist() == _turbo(0)
    # min-max (Apple's choice) would squeeze both into the blue end
    assert inverse_depth_colormap(depth, percentiles=(0.0, 100.0))[5, 2].tolist() == _turbo(3)


def test_preview_files(tmp_path: Path) -> None:
    depth = _depth(24, 32)
    for name in ("preview.png", "preview.jpg"):
        path = save_inverse_depth_preview(tmp_path / name, depth)
        with Image.open(path) as image:
            assert image.size == (32, 24) and image.mode == "RGB"
    expected = inverse_depth_colormap(depth)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "preview.png")), expected)
    with pytest.raises(OutputError, match=r"preview\.bmp"):
        save_inverse_depth_preview(tmp_path / "preview.bmp", depth)


# --- atomic writes -------------------------------------------------------------------------------


def test_atomic_write_renames_into_place(tmp_path: Path) -> None:
    target = tmp_path / "new" / "folder" / "depth.png"
    with atomic_write(target) as temporary:
        assert temporary.parent == target.parent and temporary.suffix == ".png"
        assert temporary != target and not target.exists()
        temporary.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    assert [path.name for path in target.parent.iterdir()] == ["depth.png"]


def test_atomic_write_leaves_nothing_on_exception(tmp_path: Path) -> None:
    target = tmp_path / "depth.npy"
    with pytest.raises(RuntimeError, match="model crashed"), atomic_write(target) as temporary:
        temporary.write_bytes(b"half")
        raise RuntimeError("model crashed")
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_keeps_old_file_on_exception(tmp_path: Path) -> None:
    target = tmp_path / "depth.npy"
    target.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt), atomic_write(target) as temporary:
        temporary.write_bytes(b"half")
        raise KeyboardInterrupt
    assert target.read_bytes() == b"old"
    assert [path.name for path in tmp_path.iterdir()] == ["depth.npy"]


def test_atomic_write_turns_os_errors_into_output_error(tmp_path: Path) -> None:
    with (
        pytest.raises(OutputError, match="could not write") as caught,
        atomic_write(tmp_path / "a.png"),
    ):
        raise OSError(28, "No space left on device")
    assert "disk space" in caught.value.hint
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_without_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "depth.png"
    target.write_bytes(b"old")
    with (
        pytest.raises(OutputError, match="already exists") as caught,
        atomic_write(target, overwrite=False),
    ):
        pass
    assert "--overwrite" in caught.value.hint
    assert target.read_bytes() == b"old"


@pytest.mark.skipif(os.name != "posix", reason="umask is POSIX")
def test_written_file_gets_normal_permissions(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "a.bin") as temporary:
            temporary.write_bytes(b"x")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "a.bin").stat().st_mode) == 0o644


def test_output_dir_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file")
    with pytest.raises(OutputError, match="a file with that name exists"):
        ensure_output_dir(tmp_path / "taken")
    with pytest.raises(OutputError, match="part of its path is a file"):
        ensure_output_dir(tmp_path / "taken" / "below")
    with pytest.raises(OutputError, match="it is a folder"), atomic_write(tmp_path):
        pass


def test_unwritable_output_dir(tmp_path: Path) -> None:
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        pytest.skip("running as root: permission bits do not stop root from writing")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="cannot write") as caught:
            ensure_output_dir(locked)
        assert "permissions" in caught.value.hint
        with pytest.raises(OutputError, match="permission denied"):
            ensure_output_dir(locked / "sub")
        with pytest.raises(OutputError):
            save_depth_npy(locked / "depth.npy", _depth())
    finally:
        locked.chmod(0o700)


def test_permission_errors_become_output_errors_even_as_root(tmp_path: Path, monkeypatch) -> None:
    # Root ignores permission bits, so simulate what the OS reports to a normal user.
    import unflat.io.atomic as atomic

    monkeypatch.setattr(atomic.os, "access", lambda path, mode: False)
    with pytest.raises(OutputError, match="cannot write in output folder") as caught:
        ensure_output_dir(tmp_path)
    assert "permissions" in caught.value.hint
    monkeypatch.undo()

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(OutputError, match="permission denied"):
        save_depth_npy(tmp_path / "new" / "depth.npy", _depth())
    assert list(tmp_path.iterdir()) == []
