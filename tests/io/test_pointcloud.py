"""Back-projection of depth to points and the PLY point-cloud format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import shared_path
from unflat.errors import InputError
from unflat.io.depth_files import load_depth
from unflat.io.pointcloud import (
    depth_to_points,
    read_ply_points,
    save_ply_points,
    valid_depth_mask,
)
from unflat.types import DepthMap

K = np.array([[100.0, 0.0, 1.0], [0.0, 200.0, 0.5], [0.0, 0.0, 1.0]])


def test_depth_to_points_hand_computed() -> None:
    depth = np.array([[2.0, np.nan, 0.0], [-1.0, np.inf, 4.0]], dtype=np.float32)
    points = depth_to_points(depth, K)
    assert points.dtype == np.float32 and points.shape == (2, 3)
    # pixels are sampled at their centres (u + 0.5, v + 0.5):
    # (u=0, v=0, z=2): x = (0.5 - 1) * 2 / 100, y = (0.5 - 0.5) * 2 / 200
    # (u=2, v=1, z=4): x = (2.5 - 1) * 4 / 100, y = (1.5 - 0.5) * 4 / 200
    np.testing.assert_allclose(points, [[-0.01, 0.0, 2.0], [0.06, 0.02, 4.0]], rtol=1e-6)


def test_points_line_up_with_mask_for_colours() -> None:
    depth = np.array([[1.0, 0.0], [np.nan, 3.0]], dtype=np.float32)
    rgb = np.array([[[1, 2, 3], [4, 5, 6]], [[7, 8, 9], [10, 11, 12]]], dtype=np.uint8)
    mask = valid_depth_mask(depth)
    assert mask.tolist() == [[True, False], [False, True]]
    points = depth_to_points(depth, K)
    assert rgb[mask].tolist() == [[1, 2, 3], [10, 11, 12]]
    assert points[:, 2].tolist() == [1.0, 3.0]


def test_image_centre_lies_on_the_axis() -> None:
    depth_map = DepthMap(depth=np.full((4, 6), 5.0, np.float32), focal_px=10.0)
    points = depth_to_points(depth_map.depth, depth_map.intrinsics()).reshape(4, 6, 3)
    # intrinsics() puts the principal point at (3, 2), the image centre: the corner shared by
    # pixels (2, 1), (3, 1), (2, 2) and (3, 2), whose centres are half a pixel off the axis
    np.testing.assert_allclose(points[2, 3], [0.5 * 5 / 10, 0.5 * 5 / 10, 5.0])
    np.testing.assert_allclose(points[1, 2], [-0.5 * 5 / 10, -0.5 * 5 / 10, 5.0])
    np.testing.assert_allclose(points[0, 0], [-2.5 * 5 / 10, -1.5 * 5 / 10, 5.0])


def test_skewed_intrinsics_are_inverted_in_full() -> None:
    skewed = np.array([[100.0, 10.0, 0.0], [0.0, 100.0, 0.0], [0.0, 0.0, 1.0]])
    depth = np.zeros((2, 2), np.float32)
    depth[1, 1] = 10.0
    point = depth_to_points(depth, skewed)[0]
    # pixel (1, 1)'s centre (1.5, 1.5): solve [100 10; 0 100] [x; y] / z = [1.5; 1.5]:
    # y = 0.015 z = 0.15, x = (1.5 - 10 * 0.015) z / 100 = 0.135
    np.testing.assert_allclose(point, [0.135, 0.15, 10.0], rtol=1e-6)
    assert np.allclose(skewed @ (point / point[2]), [1.5, 1.5, 1.0])


def test_ply_round_trip_exact(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    points = rng.normal(size=(1000, 3)).astype(np.float32)
    colors = rng.integers(0, 256, (1000, 3), dtype=np.uint8)
    path = save_ply_points(tmp_path / "cloud.ply", points, colors)
    data = path.read_bytes()
    assert data.startswith(b"ply\nformat binary_little_endian 1.0\n")
    header_end = data.index(b"end_header\n") + len(b"end_header\n")
    assert len(data) - header_end == 1000 * (3 * 4 + 3)  # xyz float + rgb uchar per vertex
    assert b"property float x\n" in data[:header_end] and b"property uchar red\n" in data
    loaded_points, loaded_colors = read_ply_points(path)
    np.testing.assert_array_equal(loaded_points, points)
    np.testing.assert_array_equal(loaded_colors, colors)


def test_ply_without_colours(tmp_path: Path) -> None:
    points = np.array([[1.5, -2.0, 3.25]], dtype=np.float32)
    path = save_ply_points(tmp_path / "plain.ply", points)
    loaded, colors = read_ply_points(path)
    assert loaded.tolist() == [[1.5, -2.0, 3.25]] and colors is None


def test_ply_big_endian_with_double_and_faces(tmp_path: Path) -> None:
    header = (
        b"ply\nformat binary_big_endian 1.0\nelement vertex 2\nproperty double x\n"
        b"property double y\nproperty double z\nelement face 0\n"
        b"property list uchar int vertex_indices\nend_header\n"
    )
    body = np.array([[1, 2, 3], [4, 5, 6]], dtype=">f8").tobytes()
    (tmp_path / "other.ply").write_bytes(header + body)
    points, colors = read_ply_points(tmp_path / "other.ply")
    assert points.tolist() == [[1, 2, 3], [4, 5, 6]] and colors is None


def test_ply_bad_inputs(tmp_path: Path) -> None:
    path = save_ply_points(tmp_path / "cloud.ply", np.zeros((10, 3), np.float32))
    (tmp_path / "cut.ply").write_bytes(path.read_bytes()[:-7])
    with pytest.raises(InputError, match="truncated"):
        read_ply_points(tmp_path / "cut.ply")
    (tmp_path / "ascii.ply").write_bytes(
        b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nend_header\n1\n"
    )
    with pytest.raises(InputError, match="not a binary PLY") as caught:
        read_ply_points(tmp_path / "ascii.ply")
    assert "binary PLY" in caught.value.hint
    (tmp_path / "photo.ply").write_bytes(b"\xff\xd8\xff\xe0 a jpeg really")
    with pytest.raises(InputError, match="not a PLY"):
        read_ply_points(tmp_path / "photo.ply")
    with pytest.raises(InputError, match="does not exist"):
        read_ply_points(tmp_path / "missing.ply")


def test_real_nyu_depth_to_points() -> None:
    folder = shared_path("data", "depth", "nyu")
    entry = json.loads((folder / "test_annotations.json").read_text())["files"][0]
    fx, fy, cx, cy = entry["cam_in"]
    # NYU's principal point is in OpenCV's convention (pixel u centred at u): shift it by half
    # a pixel into ours (centred at u + 0.5)
    intrinsics = np.array([[fx, 0.0, cx + 0.5], [0.0, fy, cy + 0.5], [0.0, 0.0, 1.0]])
    depth = load_depth(folder / "depth" / Path(entry["depth"]).name)
    points = depth_to_points(depth, intrinsics)
    assert len(points) == int(np.isfinite(depth).sum()) > 100_000
    # the first valid pixel in row-major order, back-projected by hand
    row, column = np.argwhere(np.isfinite(depth))[0]
    z = float(depth[row, column])
    expected = [(column - cx) * z / fx, (row - cy) * z / fy, z]
    np.testing.assert_allclose(points[0], expected, rtol=1e-5)
    # a room a few metres across
    assert np.all(np.abs(points[:, :2]) < 10) and np.all(points[:, 2] < 10.5)


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        (b"property uchar red", b"property uchar green", "declares 'green' twice"),
        (b"property uchar red", b"property", "unknown property type"),
        (b"element vertex 4", b"element vertex 4000000000000", "limit is"),
        (b"element vertex 4", b"element vertex 5", "truncated"),
        (b"element vertex 4", b"element vertex 3", "bytes after its last element"),
        (b"property float x", b"property list uchar float x", "list properties"),
        (b"end_header\n", b"end_header", "no complete PLY header"),
    ],
)
def test_damaged_point_cloud_headers_are_refused(
    tmp_path: Path, old: bytes, new: bytes, words: str
) -> None:
    points = np.arange(12, dtype=np.float32).reshape(4, 3)
    path = save_ply_points(tmp_path / "cloud.ply", points, np.zeros((4, 3), np.uint8))
    data = path.read_bytes()
    # the last case cuts the header just before its newline
    cut = new == b"end_header"
    data = data[: data.index(old)] + new if cut else data.replace(old, new, 1)
    (tmp_path / "bad.ply").write_bytes(data)
    with pytest.raises(InputError, match=words):
        read_ply_points(tmp_path / "bad.ply")
