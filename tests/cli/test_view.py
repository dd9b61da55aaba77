"""``unflat view`` in headless Chromium: the scene as ``unflat render`` draws it, and measures.

The browser tests need Debian's ``chromium`` (``.ci/run`` installs it) and skip without it.
``UNFLAT_WRITE_DOCS=1`` also writes the screenshots of docs/viewer.md (docs/images/viewer_*.png).
"""

from __future__ import annotations

import base64
import gzip
import io
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.cli.chromium import Chromium, chromium_path
from tests.conftest import interruptible, shared_path
from unflat.cli import main
from unflat.colour import linear_to_srgb
from unflat.pipelines.view import ViewPipeline, page_resources
from unflat.splat.outputs import load_scene
from unflat.splat.render import render

CHROMIUM = chromium_path()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH (apt-get install chromium; .ci/run does)"
)
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
WIDTH, HEIGHT, FOCAL = 160, 120, 150.0
NEAR, FAR = 1.5, 3.0  # metres: the left half of the photo, the right half


def splat(photo: Path, depth: Path, out: Path, *options: str) -> Path:
    """``unflat splat`` from photo + depth; the scene file."""
    args = ["splat", str(photo), "--depth", str(depth), "--method", "rgbd", "-o", str(out)]
    assert main([*args, *options]) == 0
    return out / f"{photo.stem}.ply"


@pytest.fixture(scope="module")
def two_planes(tmp_path_factory) -> Path:
    """A scene of a textured photo whose left half is 1.5 m away and right half 3 m."""
    folder = tmp_path_factory.mktemp("view")
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    photo = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    photo[..., 0] = x * 255 // WIDTH
    photo[..., 1] = y * 255 // HEIGHT
    photo[..., 2] = np.where((x // 20 + y // 20) % 2 == 0, 220, 40)
    cv2.circle(photo, (50, 60), 18, (255, 255, 255), -1)
    cv2.imwrite(str(folder / "planes.png"), photo[..., ::-1])
    np.save(folder / "planes.depth.npy", np.where(x < WIDTH // 2, NEAR, FAR).astype(np.float32))
    options = ["--no-background", "--max-size", str(WIDTH), "--focal-px", str(FOCAL)]
    return splat(folder / "planes.png", folder / "planes.depth.npy", folder / "out", *options)


def open_page(browser: Chromium, url: str) -> np.ndarray:
    """Load the page; the canvas (greyscale) once the scene has settled."""
    browser.call("Page.navigate", url=url)
    return settled(browser)


def settled(browser: Chromium) -> np.ndarray:
    """The canvas (greyscale) once two frames in a row show the same picture.

    Spark sorts the splats in a worker and draws them unsorted until the order arrives, so
    the first frames after a load or a move may differ from the settled one.
    """
    deadline = time.monotonic() + 120
    previous: tuple[int, np.ndarray] | None = None
    while time.monotonic() < deadline:
        state = browser.evaluate(
            "window.unflatViewer && [window.unflatViewer.ready, window.unflatViewer.error,"
            " window.unflatViewer.ready ? window.unflatViewer.frames() : 0,"
            " window.unflatViewer.ready ? window.unflatViewer.screenshot() : null]"
        )
        if state and state[1]:
            pytest.fail(f"the page failed: {state[1]}")
        if state and state[0] and state[2] > 2:
            grey = decode_grey(state[3])
            if previous and previous[0] < state[2] and np.array_equal(previous[1], grey):
                return grey
            previous = (state[2], grey)
        time.sleep(0.1)
    pytest.fail(f"the page did not settle in 120 s; console: {browser.console[-5:]}")


def decode_grey(data_url: str) -> np.ndarray:
    png = np.frombuffer(base64.b64decode(data_url.split(",", 1)[1]), np.uint8)
    return cv2.cvtColor(cv2.imdecode(png, cv2.IMREAD_COLOR), cv2.COLOR_BGR2GRAY)


def rendered_grey(scene: Path) -> np.ndarray:
    """``unflat render``'s picture of the scene from its own camera (greyscale, 8 bits)."""
    gaussians, camera, metadata = load_scene(scene)
    colour = render(gaussians, camera, eps2d=metadata["render_eps2d"]).color.clamp(0, 1)
    srgb = (np.asarray(linear_to_srgb(colour.numpy())) * 255).round().astype(np.uint8)
    return cv2.cvtColor(srgb, cv2.COLOR_RGB2GRAY)


def likeness(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of two pictures downscaled 4 times (loose: splat renderers differ in detail)."""
    size = (b.shape[1] // 4, b.shape[0] // 4)  # b: the reference; a may be larger
    small = [cv2.resize(x.astype(np.float32), size, interpolation=cv2.INTER_AREA) for x in (a, b)]
    return float(np.corrcoef(small[0].ravel(), small[1].ravel())[0, 1])


def expected_point(u: float, v: float, z: float) -> np.ndarray:
    """The point seen at pixel position (u, v) at depth z, in the photo camera's frame."""
    return np.array([(u - WIDTH / 2) / FOCAL * z, (v - HEIGHT / 2) / FOCAL * z, z])


@needs_chromium
def test_the_page_shows_the_scene_and_measures_it(two_planes, tmp_path):
    """Same picture as `unflat render`; distances within 2%, in every scene format."""
    reference = rendered_grey(two_planes)
    near, far = (40.0, 60.0), (120.0, 90.0)  # a point on each plane, in photo pixels
    # the page fits the photo's height to the window; the buttons want a window twice as large
    near_page, far_page = [(2 * u, 2 * v) for u, v in (near, far)]
    truth = np.linalg.norm(expected_point(*near, NEAR) - expected_point(*far, FAR))
    scenes = [two_planes]
    for suffix in (".spz", ".splat"):
        target = tmp_path / f"planes_{suffix[1:]}{suffix}"
        assert main(["convert", str(two_planes), str(target)]) == 0
        scenes.append(target)
    with Chromium(CHROMIUM, WIDTH, HEIGHT) as browser:
        for scene in scenes:
            server, config = ViewPipeline()(scene)
            with server.start():
                shown = open_page(browser, server.url)
                assert config["camera_source"] == "photo"
                assert likeness(shown, reference) > 0.9, scene.name
                result = browser.evaluate(f"window.unflatViewer.measure({list(near)}, {list(far)})")
            assert result["distance"] == pytest.approx(truth, rel=0.02), scene.name
            assert result["a"] == pytest.approx(expected_point(*near, NEAR), abs=0.02)
            assert result["b"] == pytest.approx(expected_point(*far, FAR), abs=0.04)
        server, _ = ViewPipeline()(two_planes)
        browser.resize(2 * WIDTH, 2 * HEIGHT)
        with server.start():
            open_page(browser, server.url)
            use_the_buttons(browser, near_page, far_page, truth)


def click(browser: Chromium, x: float, y: float) -> None:
    for kind in ("mousePressed", "mouseReleased"):
        browser.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)


def fly_forward(browser: Chromium) -> list[float]:
    """Hold W until the camera has moved (frames are slow on a loaded CPU); where it is then."""
    browser.call("Input.dispatchKeyEvent", type="keyDown", code="KeyW", key="w")
    deadline = time.monotonic() + 30
    position = [0.0, 0.0, 0.0]
    while time.monotonic() < deadline and position[2] < 0.05:
        time.sleep(0.2)
        position = browser.evaluate("window.unflatViewer.cameraPosition()")
    browser.call("Input.dispatchKeyEvent", type="keyUp", code="KeyW", key="w")
    return position


def use_the_buttons(browser: Chromium, near, far, truth: float) -> None:
    """Measure by two clicks, fly forward with W, reset; the VR button is on the page."""
    browser.evaluate("document.getElementById('measure').click()")
    click(browser, *near)
    click(browser, *far)
    reading = browser.evaluate("document.getElementById('reading').textContent")
    assert float(reading.removesuffix(" m")) == pytest.approx(truth, rel=0.02)
    browser.evaluate("document.getElementById('measure').click()")
    browser.evaluate("document.getElementById('fly').click()")
    x, y, z = fly_forward(browser)
    assert z > 0.05 and abs(x) < 0.01 and abs(y) < 0.01  # forward, along the photo's axis
    browser.evaluate("document.getElementById('reset').click()")
    assert browser.evaluate("window.unflatViewer.cameraPosition()") == [0, 0, 0]
    assert browser.evaluate("document.querySelector('#vr button, #vr a').textContent")
    assert browser.evaluate("window.unflatViewer.screenshot()").startswith("data:image/png")


@needs_chromium
def test_screenshots_of_a_room(tmp_path):
    """A real photo with measured depth (NYU v2): the page matches `unflat render` (and the docs'
    screenshots come from here)."""
    nyu = shared_path("data", "depth", "nyu")
    photo, depth = tmp_path / "room.jpg", tmp_path / "room.depth.png"
    photo.write_bytes((nyu / "rgb" / "rgb_00000.jpg").read_bytes())  # named for the page's title
    depth.write_bytes((nyu / "depth" / "sync_depth_00000.png").read_bytes())
    options = ["--depth-units", "mm", "--focal-px", "518.8579", "--max-size", "240"]
    scene = splat(photo, depth, tmp_path / "out", *options, "--no-background")
    server, _ = ViewPipeline()(scene)
    with server.start(), Chromium(CHROMIUM, 320, 240) as browser:
        shown = open_page(browser, server.url)
        assert likeness(shown, rendered_grey(scene)) > 0.9
        shots = {"viewer_room.png": browser.screenshot()}
        browser.evaluate("window.unflatViewer.turn(-12, -6)")
        settled(browser)
        shots["viewer_room_orbit.png"] = browser.screenshot()
        browser.evaluate("window.unflatViewer.reset()")
        measured = browser.evaluate("window.unflatViewer.measure([98, 150], [160, 150])")
        settled(browser)
        shots["viewer_room_measure.png"] = browser.screenshot()
    # the wardrobe's front at about 3 m (0.92 m here): a plausible reading, not a truth
    assert 0.3 < measured["distance"] < 1.5
    if os.environ.get("UNFLAT_WRITE_DOCS") == "1":
        for name, png in shots.items():
            # 256 colours: a third of the size, no visible change at this scale
            Image.open(io.BytesIO(png)).convert("RGB").quantize(256).save(IMAGES / name)


def test_a_sharp_scene_brings_its_camera(fixtures_dir):
    """A SHARP PLY: the photo's camera from its own elements, SHARP's zero low-pass."""
    server, config = ViewPipeline()(fixtures_dir / "sharp_tiny_a" / "gaussians_subset.ply")
    server.close()
    assert config["camera"] == dict(fx=500.0, fy=500.0, cx=256.0, cy=192.0, width=512, height=384)
    assert (config["camera_source"], config["eps2d"], config["axes"]) == ("photo", 0.0, "opencv")
    assert config["scene"] == "scene.ply" and config["gaussians"] == 4096


def test_the_built_page_is_installed_whole():
    """The committed bundle: every page file, gzip that inflates, licences of what it bundles."""
    page = page_resources()
    script = gzip.decompress(page["viewer.js"].content)
    assert 1_000_000 < len(script) < 5_000_000 and len(page["viewer.js"].content) < 1_500_000
    notices = page["THIRD_PARTY.txt"].content.decode()
    for package in ("@sparkjsdev/spark", "three", "fflate"):
        assert f"{package} " in notices and "MIT" in notices
    assert b'src="viewer.js"' in page["index.html"].content


def test_missing_and_damaged_scenes_are_one_line_errors(tmp_path, capsys):
    assert main(["view", str(tmp_path / "missing.ply")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "broken.spz").write_bytes(b"not a scene")
    assert main(["view", str(tmp_path / "broken.spz")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    assert main(["view", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_a_port_in_use_is_a_one_line_error(two_planes, capsys):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert main(["view", str(two_planes), "--port", str(taken.getsockname()[1])]) == 2
    assert "is in use" in capsys.readouterr().err
    assert main(["view", str(two_planes), "--port", "70000"]) == 2
    assert "is not a port" in capsys.readouterr().err


def test_the_url_is_the_last_line_and_serves_the_page(two_planes):
    env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "unflat", "view", str(two_planes)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=interruptible,
    )
    try:
        lines = [process.stdout.readline() for _ in range(2)]
        url = lines[-1].strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/")
        with urllib.request.urlopen(url, timeout=10) as page:
            assert b"unflat view" in page.read()
        with urllib.request.urlopen(url + "scene.json", timeout=10) as record:
            assert b'"camera_source": "photo"' in record.read()
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
    assert "Gaussians" in lines[0]


def test_a_scene_without_a_camera_gets_render_s_default(two_planes, tmp_path):
    """No sidecar, no SHARP elements: `unflat render`'s default camera, 60° wide; a link to a
    scene takes the sidecar beside the link, as `unflat render` does."""
    alone = tmp_path / "alone.ply"
    alone.write_bytes(two_planes.read_bytes())
    server, config = ViewPipeline()(alone)
    server.close()
    assert config["camera_source"] == "default"
    assert (config["camera"]["width"], config["camera"]["height"]) == (1024, 768)
    assert config["camera"]["fx"] == pytest.approx(512 / np.tan(np.radians(30)))
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "planes.ply").symlink_to(alone)
    sidecar = two_planes.with_name("planes.scene.json")
    (linked / "planes.scene.json").write_bytes(sidecar.read_bytes())
    server, config = ViewPipeline()(linked / "planes.ply")
    server.close()
    assert config["camera_source"] == "photo"  # from the sidecar beside the link
