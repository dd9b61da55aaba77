"""Where a photo's depth comes from: a depth file, Depth Pro, else a portrait depth, else an error.

Every test runs with an empty model cache (``UNFLAT_HOME`` in a temporary folder, offline), so
a developer's downloaded weights change nothing here.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from unflat.cli import main
from unflat.errors import WeightsError
from unflat.face.relief import MODEL_NAME
from unflat.io.depth_files import save_depth_npy
from unflat.io.gaussians import load_gaussians
from unflat.io.images import read_photo
from unflat.pipelines.depth import DepthPipeline
from unflat.pipelines.depth_source import DepthSource
from unflat.pipelines.scene import ScenePipeline

from .fakes import use_fake_depth_model


@pytest.fixture(autouse=True)
def no_weights(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An empty model cache, offline."""
    monkeypatch.setenv("UNFLAT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("UNFLAT_OFFLINE", "1")


def mona_lisa_path() -> Path:
    return Path(str(resources.files("unflat") / "assets" / "portraits" / "mona_lisa.jpg"))


def small_mona_lisa(folder: Path, width: int = 160) -> Path:
    """The bundled portrait at ``width`` pixels (the face still well found), for speed."""
    folder.mkdir(parents=True, exist_ok=True)
    with Image.open(mona_lisa_path()) as image:
        height = round(image.height * width / image.width)
        small = image.convert("RGB").resize((width, height), Image.Resampling.LANCZOS)
    path = folder / "mona.png"
    small.save(path)
    return path


def no_face_photo(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    x = np.linspace(0, 255, 96)[None, :] * np.ones((64, 1))
    path = folder / "wall.png"
    Image.fromarray(np.stack([x, x, x], axis=-1).astype(np.uint8)).save(path)
    return path


def test_without_weights_a_portrait_gets_the_face_mesh_depth(tmp_path: Path, capsys) -> None:
    photo = read_photo(small_mona_lisa(tmp_path))
    source = DepthSource()
    assert not source.has_depth_pro
    depth = source(photo)
    assert depth.model == MODEL_NAME and depth.focal_source == "default"
    assert np.isfinite(depth.depth).all() and depth.depth.min() > 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "portrait estimate from the face mesh" in err[0]
    assert "`unflat models fetch depth-pro`" in err[0]
    # the user's focal length wins, and is recorded as theirs
    user = DepthSource(focal_px=400.0)(photo)
    assert (user.focal_px, user.focal_source) == (400.0, "user")


def test_a_depth_file_and_depth_pro_come_before_the_portrait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = small_mona_lisa(tmp_path)
    photo = read_photo(path)
    depth_file = tmp_path / "mona.depth.npy"
    save_depth_npy(depth_file, np.full((photo.height, photo.width), 2.5, np.float32))
    from_file = DepthSource(focal_px=300.0)(photo, depth_file)
    assert from_file.model is None and np.all(from_file.depth == 2.5)
    use_fake_depth_model(monkeypatch)
    estimated = DepthSource(weights="given")(photo)  # weights named: Depth Pro runs
    assert estimated.model == "fake"


def test_without_weights_or_a_face_the_error_says_how_to_get_depth(tmp_path: Path) -> None:
    photo = read_photo(no_face_photo(tmp_path))
    with pytest.raises(WeightsError) as caught:
        DepthSource()(photo)
    assert "no face" in caught.value.message and "wall.png" in caught.value.message
    assert (
        "--depth FILE" in caught.value.hint and "unflat models fetch depth-pro" in caught.value.hint
    )


def test_scene_pipeline_builds_a_portrait_scene_without_weights(tmp_path: Path) -> None:
    photo = read_photo(small_mona_lisa(tmp_path))
    scene = ScenePipeline(max_size=96)(photo)
    assert scene.method == "rgbd" and scene.depth_source == MODEL_NAME
    assert scene.focal_source == "default"
    depths = scene.gaussians.means[:, 2]
    assert len(scene.gaussians) > 77 * 96 and float(depths.min()) > 0  # plus the layer behind


def test_unflat_splat_without_weights_writes_a_portrait_scene(tmp_path: Path, capsys) -> None:
    photo = small_mona_lisa(tmp_path / "in")
    out = tmp_path / "out"
    assert main(["splat", str(photo), "-o", str(out), "--max-size", "96"]) == 0
    assert "portrait estimate from the face mesh" in capsys.readouterr().err
    record = json.loads((out / "mona.scene.json").read_text())
    assert record["method"] == "rgbd" and record["depth_source"] == MODEL_NAME
    assert record["focal_source"] == "default" and (record["width"], record["height"]) == (77, 96)
    near, _, far = record["depth_range_m"]
    assert 0.2 < near < far and far < 10  # a face under a metre or so, a wall behind it
    assert len(load_gaussians(out / "mona.ply")) > 77 * 96


def test_unflat_depth_without_weights_records_the_portrait_model(tmp_path: Path) -> None:
    photo = small_mona_lisa(tmp_path / "in")
    out = tmp_path / "out"
    assert main(["depth", str(photo), "-o", str(out), "--no-preview"]) == 0
    record = json.loads((out / "mona.json").read_text())
    assert record["model"] == MODEL_NAME and record["weights_sha256"] is None
    assert record["focal_source"] == "default"
    depth = np.load(out / "mona.depth.npy")
    assert depth.shape == (200, 160) and depth.min() == pytest.approx(record["depth_min_m"])


def test_unflat_depth_without_weights_or_a_face_says_what_to_fetch(tmp_path: Path, capsys) -> None:
    photo = no_face_photo(tmp_path / "in")
    assert main(["depth", str(photo), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "depth_pro.pt" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_depth_pipeline_uses_depth_pro_when_named(tmp_path: Path, monkeypatch) -> None:
    use_fake_depth_model(monkeypatch)
    photo = read_photo(small_mona_lisa(tmp_path))
    assert DepthPipeline(weights="given")(photo).model == "fake"
