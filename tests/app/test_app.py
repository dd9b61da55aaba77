"""``unflat app`` in headless Chromium: upload a photo, get its depth preview; upload the
bundled portrait, get a video; a missing input shows the CLI's one-line message.

Needs Gradio (``pip install 'unflat[app]'``) and Debian's ``chromium``; skips without either.
``UNFLAT_WRITE_DOCS=1`` also writes the screenshots of docs/app.md (docs/images/app_*.png).
"""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.cli.chromium import Chromium, chromium_path
from tests.conftest import shared_path
from unflat.pipelines.animate import bundled_portrait

pytest.importorskip("gradio", reason="Gradio is not installed (pip install 'unflat[app]')")
CHROMIUM = chromium_path()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH (apt-get install chromium; .ci/run does)"
)
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
WIDTH, HEIGHT = 1100, 900


@pytest.fixture(scope="module")
def address(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from unflat.app.server import start

    page, url, _ = start(workspace=tmp_path_factory.mktemp("app"))
    yield url
    page.close()


@pytest.fixture
def browser(address: str) -> Any:
    assert CHROMIUM is not None
    with Chromium(CHROMIUM, WIDTH, HEIGHT) as chromium:
        chromium.call("Page.navigate", url=address)
        wait_for(chromium, "document.querySelector('#depth-go') !== null", 60)
        yield chromium


def wait_for(chromium: Chromium, condition: str, seconds: float) -> None:
    """Poll the JavaScript ``condition`` until it holds; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if chromium.evaluate(f"Boolean({condition})"):
            return
        time.sleep(0.25)
    raise AssertionError(f"not within {seconds} s: {condition}")


def upload(chromium: Chromium, selector: str, path: Path) -> None:
    """Choose ``path`` in the file input inside ``selector``, as a user's file dialog does."""
    found = chromium.call("Runtime.evaluate",
                          expression=f"document.querySelector({json.dumps(selector)})")  # fmt: skip
    chromium.call("DOM.setFileInputFiles", files=[str(path)], objectId=found["result"]["objectId"])


def click(chromium: Chromium, selector: str) -> None:
    chromium.evaluate(f"document.querySelector({json.dumps(selector)}).click()")


def set_number(chromium: Chromium, selector: str, value: float) -> None:
    """Type ``value`` into a number box, as a user does."""
    chromium.evaluate(f"""(() => {{ const box = document.querySelector({json.dumps(selector)});
        box.value = {value}; box.dispatchEvent(new Event('input', {{bubbles: true}}));
        box.dispatchEvent(new Event('change', {{bubbles: true}})); }})()""")


def open_tab(chromium: Chromium, name: str) -> None:
    script = f"""[...document.querySelectorAll('button[role=tab]')]
        .find(b => b.innerText.trim() === {json.dumps(name)}).click()"""
    chromium.evaluate(script)


def save_screenshot(chromium: Chromium, name: str, top: str) -> None:
    """docs/images/NAME.png at half size, scrolled to the element ``top``, when
    UNFLAT_WRITE_DOCS=1."""
    if os.environ.get("UNFLAT_WRITE_DOCS") != "1":
        return
    chromium.evaluate(f"""(() => {{ const box = document.querySelector({json.dumps(top)})
        .getBoundingClientRect(); window.scrollTo(0, box.top + window.scrollY - 8); }})()""")
    time.sleep(1)  # a few frames drawn where the page scrolled to
    shot = Image.open(io.BytesIO(chromium.screenshot())).convert("RGB")
    small = shot.resize((WIDTH // 2, HEIGHT // 2), Image.LANCZOS).quantize(256)  # small files
    small.save(IMAGES / f"{name}.png", optimize=True)


def test_photo_to_depth_preview(browser: Chromium) -> None:
    photo = shared_path("data", "faces", "portraits", "s12.jpg")  # a face: no weights needed
    upload(browser, "#photo input[type=file]", photo)
    wait_for(browser, "document.querySelector('#photo img') !== null", 30)
    click(browser, "#depth-go")
    wait_for(browser, "document.querySelector('#depth-preview img') !== null", 120)
    summary = browser.evaluate("document.querySelector('#depth-summary textarea').value")
    assert "375x500" in summary and "portrait-mesh" in summary, summary
    # the preview is the depth map drawn for this photo: its size is the photo's
    size = browser.evaluate("""(async () => { const img = document.querySelector(
        '#depth-preview img'); await img.decode(); return [img.naturalWidth, img.naturalHeight];
        })()""")
    assert size == [375, 500]
    # the CLI's note: line, shown on the page
    wait_for(browser, "document.body.innerText.includes('depth is a portrait estimate')", 10)
    save_screenshot(browser, "app_depth", "#photo")


def click_at(chromium: Chromium, selector: str, fx: float, fy: float) -> None:
    """A mouse click at the fraction ``(fx, fy)`` of the element's box."""
    box = chromium.evaluate(f"""(() => {{ const element = document.querySelector(
        {json.dumps(selector)}); element.scrollIntoView(); const r = element
        .getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; }})()""")
    x, y = box[0] + fx * box[2], box[1] + fy * box[3]
    for kind in ("mousePressed", "mouseReleased"):
        chromium.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left",
                      clickCount=1)  # fmt: skip


def test_two_clicks_on_the_photo_measure(browser: Chromium) -> None:
    photo = shared_path("data", "faces", "portraits", "s12.jpg")
    upload(browser, "#photo input[type=file]", photo)
    wait_for(browser, "document.querySelector('#photo img') !== null", 30)
    browser.evaluate("[...document.querySelectorAll('button')].find(b => b.innerText"
                     ".includes('Measure (click')).click()")  # fmt: skip
    click_at(browser, "#photo img", 0.4, 0.4)
    wait_for(browser, "document.querySelector('#second textarea').value !== ''", 10)
    click_at(browser, "#photo img", 0.6, 0.4)
    wait_for(browser, "document.querySelector('#first textarea').value !== ''", 10)
    points = browser.evaluate(
        "['#first', '#second'].map(s => document.querySelector(s + ' textarea').value)"
    )
    # pixels of the 375 x 500 photo (not of the page): the second right of the first
    (x1, y1), (x2, y2) = (tuple(map(int, point.split(","))) for point in points)
    assert 0 <= x1 < x2 < 375 and 0 <= y1 < 500 and abs(y1 - y2) <= 1, points
    click(browser, "#measure-go")
    wait_for(browser, "document.querySelector('#distance textarea').value !== ''", 60)
    line = browser.evaluate("document.querySelector('#distance textarea').value")
    assert line.endswith("(focal 722 px, default)") and " m between " in line, line


def test_missing_photo_shows_one_line(browser: Chromium) -> None:
    click(browser, "#depth-go")
    line = "error: no photo given — upload a photo first"
    wait_for(browser, f"document.body.innerText.includes({json.dumps(line)})", 30)
    save_screenshot(browser, "app_error", "#photo")


def test_portrait_to_video(browser: Chromium) -> None:
    open_tab(browser, "Portrait to animation")
    upload(browser, "#portrait input[type=file]", bundled_portrait())
    wait_for(browser, "document.querySelector('#portrait img') !== null", 30)
    click(browser, "#animate-go")
    wait_for(browser, "document.querySelector('#animation video')?.src", 180)
    # the video plays in the page: it has frames of the portrait's size and some length
    facts = browser.evaluate("""(async () => { const video = document.querySelector(
        '#animation video'); if (video.readyState < 1) await new Promise(
        done => video.addEventListener('loadedmetadata', done, {once: true}));
        return [video.videoWidth, video.videoHeight, video.duration]; })()""")
    assert facts[0] > 0 and facts[1] > 0 and 2.5 < facts[2] < 3.5, facts
    save_screenshot(browser, "app_animate", "#animate-go")


def test_photo_to_scene_in_the_viewer(browser: Chromium, address: str) -> None:
    photo = shared_path("data", "faces", "portraits", "s12.jpg")
    open_tab(browser, "Photo to scene")
    upload(browser, "#scene-photo input[type=file]", photo)
    wait_for(browser, "document.querySelector('#scene-photo img') !== null", 30)
    set_number(browser, "#scene-seconds input[type=number]", 1.0)  # 24 frames: quick on a CPU
    click(browser, "#scene-go")
    wait_for(browser, "document.querySelector('#path-video video')?.src", 240)
    frame = "document.querySelector('#viewer iframe')"
    viewer = f"{frame}?.contentWindow?.unflatViewer"
    wait_for(browser, viewer, 120)
    # the viewer's page, served from the app's own address, shows the scene
    state = browser.evaluate(f"[{viewer}.ready, {viewer}.error, {viewer}.config.gaussians]")
    assert state[0] and not state[1] and state[2] > 10_000, state
    # behind its token only: another token, or a name outside the table, is not found
    source = browser.evaluate(f"{frame}.src")
    token = source.rstrip("/").rsplit("/", 1)[1]
    for probe in (f"unflat-view/{'x' * len(token)}/index.html", f"unflat-view/{token}/..%2fjobs.py",
                  f"unflat-view/{token}/scene.json%00"):  # fmt: skip
        code = browser.evaluate(f"fetch({json.dumps(address + probe)}).then(r => r.status)")
        assert code == 404, probe
    save_screenshot(browser, "app_scene", "#scene-go")
