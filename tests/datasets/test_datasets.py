"""The dataset folder format, and the converters run on the shared Middlebury, NYU and KITTI."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
from PIL import Image

from tests.conftest import shared_path
from unflat.datasets import (
    convert_kitti,
    convert_middlebury,
    convert_nyu,
    load_dataset,
    read_middlebury_calib,
)
from unflat.errors import InputError, OutputError


@pytest.fixture(scope="module")
def middlebury(tmp_path_factory):
    source = shared_path("data", "depth", "middlebury")
    return source, convert_middlebury(source, tmp_path_factory.mktemp("mb") / "middlebury")


def test_middlebury_depth_is_baseline_f_over_disparity(middlebury):
    _, samples = middlebury
    assert [s.name for s in samples] == ["Adirondack", "Jadeplant", "Motorcycle", "Piano"]
    adirondack = samples[0]
    # calib.txt: cam0=[1038.018 0 322.037; 0 1038.018 243.393; 0 0 1], doffs=53.271,
    # baseline=176.252 mm; disp0GT.pfm at row 100, column 200 (top row first) is 13.963257.
    expected = 176.252 * 1038.018 / (13.963257 + 53.271) / 1000.0  # 2.721124 m
    depth = adirondack.depth()
    assert depth.shape == (496, 718) and depth.dtype == np.float32
    assert depth[100, 200] == pytest.approx(expected, rel=1e-6)
    assert expected == pytest.approx(2.721124, abs=1e-6)
    assert (adirondack.fx, adirondack.fy, adirondack.cx, adirondack.cy) == (
        1038.018,
        1038.018,
        322.037,
        243.393,
    )
    # Unknown disparity (inf in the PFM) is no ground truth: 1210 pixels in this scene.
    assert int(np.count_nonzero(depth == 0)) == 1210
    assert adirondack.mask_path is None  # non-occluded masks are written but not applied
    assert (adirondack.rgb_path.parent.parent / "mask" / "Adirondack.png").is_file()


def test_middlebury_depth_is_the_left_view(middlebury):
    # Warping the right image by the disparity recovered from depth must reproduce the left
    # image far better than the same disparity applied upside down would.
    source, samples = middlebury
    sample = samples[0]
    calib = read_middlebury_calib(source / "Adirondack" / "calib.txt")
    depth = sample.depth()
    left = np.asarray(Image.open(source / "Adirondack" / "im0.png"), dtype=np.float64)
    right = np.asarray(Image.open(source / "Adirondack" / "im1.png"), dtype=np.float64)

    def warp_error(disparity: np.ndarray) -> float:
        rows, cols = np.nonzero(np.isfinite(disparity))
        target = np.round(cols - disparity[rows, cols]).astype(int)
        inside = (target >= 0) & (target < left.shape[1])
        diff = left[rows[inside], cols[inside]] - right[rows[inside], target[inside]]
        return float(np.mean(np.abs(diff)))

    with np.errstate(divide="ignore"):
        disparity = np.where(
            depth > 0, calib["baseline"] * calib["f"] / (depth * 1000.0) - calib["doffs"], np.nan
        )
    assert warp_error(disparity) < 0.5 * warp_error(np.flipud(disparity))


def test_middlebury_nonocc_masks_restrict_evaluation(tmp_path):
    source = shared_path("data", "depth", "middlebury")
    samples = convert_middlebury(source, tmp_path / "mb", nonocc_only=True)
    piano = samples[-1]
    # mask0nocc.png: 255 = non-occluded, 128 = occluded, 0 = unknown
    nonocc = np.asarray(Image.open(source / "Piano" / "mask0nocc.png")) == 255
    depth = piano.depth()
    assert piano.mask_path is not None
    np.testing.assert_array_equal(piano.valid_mask(depth), nonocc & (depth > 0))
    assert nonocc.sum() == 293954
    assert json.loads((tmp_path / "mb" / "dataset.json").read_text())["mask_dir"] == "mask"


def test_nyu_depth_is_raw_over_1000(tmp_path):
    source = shared_path("data", "depth", "nyu")
    samples = convert_nyu(source, tmp_path / "nyu")
    assert [s.name for s in samples] == ["rgb_00000", "rgb_00050", "rgb_00100"]
    first = samples[0]
    raw = np.asarray(Image.open(source / "depth" / "sync_depth_00000.png"))
    assert raw[240, 320] == 3015
    depth = first.depth()
    assert depth[240, 320] == pytest.approx(3.015, rel=1e-6)
    np.testing.assert_allclose(depth, raw / 1000.0, rtol=1e-6)
    assert (first.fx, first.fy, first.cx, first.cy) == (518.8579, 519.46961, 325.58245, 253.73617)
    assert first.rgb_path.suffix == ".jpg"
    # NYU is evaluated up to 10 m; missing depth (0) is invalid.
    assert (first.min_depth, first.max_depth) == (1e-3, 10.0)
    valid = first.valid_mask(depth)
    assert valid.sum() == np.count_nonzero(raw)


def test_kitti_depth_is_raw_over_256(tmp_path):
    source = shared_path("data", "depth", "kitti")
    samples = convert_kitti(source, tmp_path / "kitti")
    assert [s.name for s in samples] == ["0000000005", "0000000050", "0000000100"]
    depth = samples[0].depth()
    assert depth.shape == (375, 1242)
    assert depth[200, 700] == pytest.approx(11286 / 256)  # 44.0859375 m
    assert depth[300, 600] == 0.0  # no lidar return
    assert samples[0].fx == 707.0493 and samples[0].max_depth == 80.0


def test_existing_output_is_kept_unless_overwrite(tmp_path):
    source = shared_path("data", "depth", "nyu")
    out = tmp_path / "nyu"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(OutputError):
        convert_nyu(source, out)
    assert (out / "keep.txt").read_text() == "mine"
    assert len(convert_nyu(source, out, overwrite=True)) == 3
    assert not (out / "keep.txt").exists()


def test_failed_conversion_leaves_nothing(tmp_path):
    source = shared_path("data", "depth", "middlebury")
    broken = tmp_path / "src" / "Scene"
    broken.mkdir(parents=True)
    (broken / "calib.txt").write_text((source / "Piano" / "calib.txt").read_text())
    with pytest.raises(InputError, match=r"im0\.png"):
        convert_middlebury(tmp_path / "src", tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_test_scenes_without_ground_truth_are_skipped(tmp_path, capsys):
    source = shared_path("data", "depth", "middlebury")
    (tmp_path / "src").mkdir()
    shutil.copytree(source / "Piano", tmp_path / "src" / "Piano")
    test_scene = tmp_path / "src" / "Playroom"
    test_scene.mkdir()
    for name in ("calib.txt", "im0.png", "im1.png"):
        shutil.copyfile(source / "Piano" / name, test_scene / name)
    samples = convert_middlebury(tmp_path / "src", tmp_path / "out")
    assert [sample.name for sample in samples] == ["Piano"]
    assert "skipping Playroom: no disp0GT.pfm" in capsys.readouterr().err
    (tmp_path / "src" / "Piano" / "disp0GT.pfm").unlink()
    with pytest.raises(InputError, match=r"none of the 2 Middlebury scenes .* has ground truth"):
        convert_middlebury(tmp_path / "src", tmp_path / "out2")
    assert not (tmp_path / "out2").exists()


# --- the folder format ---------------------------------------------------------------------


def make_dataset(root, depth=None, manifest=None, intrinsics=None, depth_name="a.npy"):
    (root / "rgb").mkdir(parents=True)
    (root / "depth").mkdir()
    Image.fromarray(np.zeros((20, 30, 3), dtype=np.uint8)).save(root / "rgb" / "a.png")
    if depth is None:
        depth = np.full((20, 30), 2.5, dtype=np.float32)
    if depth_name.endswith(".npy"):
        np.save(root / "depth" / depth_name, depth)
    else:
        Image.fromarray(depth).save(root / "depth" / depth_name)
    if manifest is not None:
        (root / "dataset.json").write_text(json.dumps(manifest))
    if intrinsics is not None:
        (root / "intrinsics.json").write_text(json.dumps(intrinsics))
    return root


def test_minimal_folder_loads(tmp_path):
    depth = np.full((20, 30), 2.5, dtype=np.float32)
    depth[0, 0] = np.nan
    depth[0, 1] = -1.0
    depth[0, 2] = 50.0
    root = make_dataset(tmp_path / "d", depth=depth, manifest={"max_depth": 10})
    (sample,) = load_dataset(root)
    assert sample.name == "a" and sample.fx is None and sample.mask() is None
    loaded = sample.depth()
    assert loaded[0, 0] == 0.0 and loaded[0, 1] == 0.0 and loaded[1, 1] == 2.5
    valid = sample.valid_mask(loaded)
    assert valid.sum() == 20 * 30 - 3  # NaN, negative and beyond max_depth
    assert math.isinf(load_dataset(make_dataset(tmp_path / "e"))[0].max_depth)


def test_png_depth_uses_the_manifest_scale(tmp_path):
    raw = np.full((20, 30), 1234, dtype=np.uint16)
    root = make_dataset(
        tmp_path / "d", depth=raw, depth_name="a.png", manifest={"depth_scale": 500}
    )
    assert load_dataset(root)[0].depth()[5, 5] == pytest.approx(1234 / 500)


OTHER_CAMERA = json.dumps({"b": {"fx": 1, "fy": 1, "cx": 1, "cy": 1}})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda root: (root / "depth" / "a.npy").unlink(), "no ground truth"),
        (lambda root: (root / "dataset.json").write_text('{"depth_scael": 1}'), "unknown keys"),
        (lambda root: (root / "dataset.json").write_text("{not json"), "cannot read"),
        (lambda root: (root / "dataset.json").write_text('{"max_depth": -3}'), "max_depth"),
        (lambda root: (root / "intrinsics.json").write_text('{"b": {}}'), "lacks one of"),
        (lambda root: (root / "intrinsics.json").write_text(OTHER_CAMERA), "no entry for 'a'"),
        (lambda root: (root / "dataset.json").write_text('{"mask_dir": "m"}'), "mask_dir"),
        (lambda root: np.save(root / "depth" / "a.npy", np.zeros((2, 2, 2))), None),
    ],
)
def test_malformed_folders_are_input_errors(tmp_path, change, message):
    root = make_dataset(tmp_path / "d")
    change(root)
    with pytest.raises(InputError, match=message):
        for sample in load_dataset(root):
            sample.depth()


def test_missing_folder_and_png_without_scale(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_dataset(tmp_path / "nowhere")
    (tmp_path / "x" / "rgb").mkdir(parents=True)
    with pytest.raises(InputError, match="no depth/"):
        load_dataset(tmp_path / "x")
    raw = np.ones((20, 30), dtype=np.uint16)
    with pytest.raises(InputError, match="depth_scale"):
        load_dataset(make_dataset(tmp_path / "d", depth=raw, depth_name="a.png"))
