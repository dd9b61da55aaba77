"""A scene that follows a 2-D warp of its photo, and the zoom that hides its borders."""

from __future__ import annotations

import numpy as np
import torch

from unflat.splat.living import LivingScene, covering_zoom, nearest_background, zoomed
from unflat.types import Camera


def _scene(height: int = 24, width: int = 32) -> tuple[LivingScene, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    depth = np.full((height, width), 2.0, np.float32)
    depth[8:16, 10:20] = 1.0  # a near box: an occluding edge, so a background layer exists
    K = Camera.pinhole(width, height, 40.0).K.double().numpy()
    return LivingScene(rgb, depth, K), rgb, depth


def test_identity_warp_keeps_the_still_scene() -> None:
    scene, rgb, _ = _scene()
    ys, xs = np.mgrid[0:24, 0:32].astype(np.float32)
    out = scene.follow(rgb, (0, 0, 32, 24), xs, ys, np.ones((24, 32), np.float32))
    assert len(out) == len(scene.still) > 24 * 32  # the background layer is kept
    assert torch.allclose(out.means, scene.still.means, atol=1e-6)
    assert torch.allclose(out.scales, scene.still.scales, atol=1e-7)
    assert torch.allclose(out.colors, scene.still.colors, atol=1e-6)


def test_warped_pixels_take_their_source_depth_and_shape() -> None:
    scene, rgb, _ = _scene()
    region = (4, 4, 28, 20)
    ys, xs = np.mgrid[4:20, 4:28].astype(np.float32)
    # every pixel of the region shows the pixel 3 to its left: the near box moves right
    out = scene.follow(rgb, region, xs - 3, ys, np.ones((16, 24), np.float32))
    width = 32
    moved = 10 * width + 15  # pixel (15, 10) shows source (12, 10): on the box, 1 m
    assert abs(float(out.means[moved, 2]) - 1.0) < 1e-6
    source = 10 * width + 12
    assert torch.allclose(out.scales[moved], scene.still.scales[source])
    edge = 10 * width + 21  # pixel (21, 10) shows (18, 10): still the box, 1 m (was 2 m)
    assert abs(float(out.means[edge, 2]) - 1.0) < 1e-6
    outside = 2 * width + 2  # outside the region: unchanged
    assert torch.equal(out.means[outside], scene.still.means[outside])
    # x of a pixel's mean lies on its own ray: (x + 0.5 - cx) / f * z
    assert abs(float(out.means[moved, 0]) - (15.5 - 16) / 40.0 * 1.0) < 1e-6


def test_the_plate_sits_at_the_background_depth() -> None:
    scene, rgb, depth = _scene()
    behind = nearest_background(depth, depth < 1.5)
    assert np.all(behind == 2.0)
    scene.behind = behind
    ys, xs = np.mgrid[0:24, 0:32].astype(np.float32)
    alpha = np.ones((24, 32), np.float32)
    alpha[8:16, 10:13] = 0.0  # where the person moved away, the plate shows
    out = scene.follow(rgb, (0, 0, 32, 24), xs, ys, alpha)
    assert abs(float(out.means[10 * 32 + 11, 2]) - 2.0) < 1e-6
    assert abs(float(out.means[10 * 32 + 15, 2]) - 1.0) < 1e-6


def test_nearest_background_takes_the_nearest_uncovered_depth() -> None:
    depth = np.array([[5.0, 1.0, 1.0, 9.0]], np.float32)
    assert nearest_background(depth, depth < 2).tolist() == [[5.0, 5.0, 9.0, 9.0]]


def test_covering_zoom_hides_the_borders_of_a_moved_camera() -> None:
    width, height, focal = 64, 48, 60.0
    depth = np.full((height, width), 2.0, np.float32)
    camera = Camera.pinhole(width, height, focal)
    K = camera.K.double().numpy()
    assert covering_zoom(depth, K, [camera]) == 1.0
    pose = torch.eye(4)
    pose[0, 3] = -0.1  # the camera 10 cm to the right: the scene shifts left by f*0.1/2 = 3 px
    moved = Camera(camera.K, pose, width, height)
    zoom = covering_zoom(depth, K, [camera, moved])
    # the right border ends 3 px inside the frame: 32 px of half width need 32/29
    assert abs(zoom - 32 / 29) < 1e-3
    (seen,) = zoomed([moved], zoom)
    # the right border (x = W at 2 m) now projects exactly onto the frame's right edge
    x = (width - K[0, 2]) / focal * 2.0 - 0.1
    assert abs(float(seen.K[0, 0] * x / 2.0 + seen.K[0, 2]) - width) < 1e-3
    assert covering_zoom(depth, K, [moved], limit=1.05) == 1.05
