"""The compiled piecewise-affine rasteriser: which pixels each triangle covers, and the maps."""

from __future__ import annotations

import numpy as np

from unflat.face.raster import fill_backward_maps
from unflat.face.warp import affine_maps, backward_map, triangle_index_map

SHIFT = np.array([[1.0, 0.0, 10.0], [0.0, 1.0, 20.0]])  # source = output + (10, 20)


def _identity(h: int, w: int, origin=(0, 0)) -> tuple[np.ndarray, np.ndarray]:
    x0, y0 = origin
    ys, xs = np.mgrid[y0 : y0 + h, x0 : x0 + w].astype(np.float32)
    return xs, ys


def test_a_triangle_covers_the_pixel_centres_inside_it_edges_included() -> None:
    map_x, map_y = _identity(6, 6)
    corners = np.array([[[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]]])
    fill_backward_maps(map_x, map_y, corners, SHIFT[None], np.array([0]), (0, 0))
    moved = map_x != _identity(6, 6)[0]
    ys, xs = np.mgrid[0:6, 0:6]
    assert np.array_equal(moved, xs + ys <= 4)  # 15 pixels, the hypotenuse's 5 included
    assert moved.sum() == 15
    assert np.allclose(map_x[moved], xs[moved] + 10) and np.allclose(map_y[moved], ys[moved] + 20)


def test_the_box_origin_offsets_the_pixels() -> None:
    map_x, map_y = _identity(3, 3, origin=(100, 50))
    corners = np.array([[[100.0, 50.0], [102.0, 50.0], [100.0, 52.0]]])
    fill_backward_maps(map_x, map_y, corners, SHIFT[None], np.array([0]), (100, 50))
    assert map_x[0, 0] == 110 and map_y[0, 0] == 70 and map_x[2, 2] == 102  # (2,2) outside


def test_two_triangles_sharing_an_edge_leave_no_gap_and_the_later_wins() -> None:
    map_x, map_y = _identity(8, 8)
    square = np.array([[0.0, 0.0], [7.0, 0.0], [7.0, 7.0], [0.0, 7.0]])
    corners = square[np.array([[0, 1, 2], [0, 2, 3]])]
    maps = np.stack([SHIFT, SHIFT + np.array([[0, 0, 5], [0, 0, 5]])])
    fill_backward_maps(map_x, map_y, corners, maps, np.array([0, 1]), (0, 0))
    moved = map_x - _identity(8, 8)[0]
    ys, xs = np.mgrid[0:8, 0:8]
    # every pixel covered; the diagonal, shared, goes to the second triangle, drawn last
    assert np.array_equal(moved, np.where(ys >= xs, 15, 10))


def test_a_zero_area_triangle_covers_nothing() -> None:
    map_x, map_y = _identity(5, 5)
    corners = np.array([[[0.0, 2.0], [4.0, 2.0], [2.0, 2.0]]])  # a closed eye: a line
    fill_backward_maps(map_x, map_y, corners, SHIFT[None], np.array([0]), (0, 0))
    assert np.array_equal(map_x, _identity(5, 5)[0])


def _exact(src, dst, tri, xs, ys):
    """Each pixel's source through the (any) triangle whose closed interior holds its centre."""
    maps = affine_maps(src, dst, tri)
    out = np.full((2, *xs.shape), np.nan)
    for k, (a, b, c) in enumerate(dst[tri]):
        area = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
        sides = [
            ((q[0] - p[0]) * (ys - p[1]) - (q[1] - p[1]) * (xs - p[0])) * np.sign(area)
            for p, q in ((b, c), (c, a), (a, b))
        ]
        inside = (sides[0] >= -1e-9) & (sides[1] >= -1e-9) & (sides[2] >= -1e-9)
        out[0][inside] = (maps[k, 0, 0] * xs + maps[k, 0, 1] * ys + maps[k, 0, 2])[inside]
        out[1][inside] = (maps[k, 1, 0] * xs + maps[k, 1, 1] * ys + maps[k, 1, 2])[inside]
    return out


def test_backward_map_is_the_exact_piecewise_affine_map() -> None:
    rng = np.random.default_rng(0)
    grid = np.stack(np.meshgrid(np.linspace(0, 63, 6), np.linspace(0, 47, 5)), -1).reshape(-1, 2)
    inner = (grid > 0) & (grid < [63, 47])
    src = grid.copy()
    dst = grid + np.where(inner, rng.normal(0, 2.0, grid.shape), 0)
    cells = [(r * 6 + c, r * 6 + c + 1, (r + 1) * 6 + c) for r in range(4) for c in range(5)]
    cells += [(r * 6 + c + 1, (r + 1) * 6 + c + 1, (r + 1) * 6 + c)
              for r in range(4) for c in range(5)]  # fmt: skip
    tri = np.array(cells, np.int32)
    map_x, map_y = backward_map(src, dst, tri, (0, 0, 64, 48))
    ys, xs = np.mgrid[0:48, 0:64].astype(np.float64)
    exact = _exact(src, dst, tri, xs, ys)
    assert not np.isnan(exact).any()
    assert np.abs(map_x - exact[0]).max() < 1e-3 and np.abs(map_y - exact[1]).max() < 1e-3
    # OpenCV's polygon fill (the rasteriser this replaced) also takes pixels just outside a
    # triangle, whose map it then extrapolates: off by up to half a pixel along the edges
    index = triangle_index_map(dst, tri, np.arange(len(tri)), (48, 64))
    a = affine_maps(src, dst, tri)[index]
    old_x = a[..., 0, 0] * xs + a[..., 0, 1] * ys + a[..., 0, 2]
    assert 0.05 < np.abs(old_x - exact[0]).max() < 1.0
