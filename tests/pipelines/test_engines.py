"""The animation engines: one interface, the choice between them, LivePortrait end to end."""

from __future__ import annotations

import inspect
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import shared_path
from unflat.cli import main
from unflat.errors import ConfigError, WeightsError
from unflat.face.animate import animate
from unflat.face.liveportrait.engine import LivePortraitEngine
from unflat.face.motion import Motion
from unflat.geometry.rotations import euler_to_rotation
from unflat.io.images import read_photo
from unflat.io.video import probe_video, read_video
from unflat.pipelines.animate import bundled_portrait
from unflat.pipelines.engines import ClassicalEngine, Engine, choose_engine, input_size


@pytest.fixture(autouse=True)
def no_installed_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNFLAT_HOME", str(tmp_path / "home"))


def tiny_weights() -> Path:
    return shared_path("fixtures", "liveportrait_tiny_a")


@lru_cache(maxsize=1)
def mona() -> np.ndarray:
    return read_photo(bundled_portrait()).rgb


@lru_cache(maxsize=1)
def tiny_engine() -> LivePortraitEngine:
    from unflat.weights import load_model

    model = load_model("liveportrait", weights=tiny_weights() / "model.safetensors")
    return LivePortraitEngine(model, [mona()], input_size=input_size(str(tiny_weights())))


def test_both_engines_implement_the_one_interface() -> None:
    wanted = list(inspect.signature(Engine.frames).parameters)
    for kind in (ClassicalEngine, LivePortraitEngine):
        assert list(inspect.signature(kind.frames).parameters) == wanted
    classical = ClassicalEngine([mona()])
    for engine in (classical, tiny_engine()):
        assert isinstance(engine, Engine)
        assert engine.portrait.image.shape == mona().shape
    # the classical engine is face.animate's warp, unchanged
    still = Motion.still(1, 25.0)
    (frame, warp), expected = next(classical.frames(still)), next(animate([mona()], still))
    assert np.array_equal(frame, expected) and warp.region == classical.animator.rig.region


def test_auto_is_classical_without_weights_and_liveportrait_with_them() -> None:
    assert choose_engine("auto") == "classical"
    assert choose_engine("auto", str(tiny_weights())) == "liveportrait"
    assert choose_engine("classical") == "classical"
    with pytest.raises(WeightsError, match="not installed") as error:
        choose_engine("liveportrait")
    assert "unflat models fetch liveportrait" in error.value.hint
    with pytest.raises(ConfigError, match="unknown engine"):
        choose_engine("warp")
    with pytest.raises(ConfigError, match="LivePortrait"):
        choose_engine("classical", str(tiny_weights()))


def test_the_input_size_comes_from_the_weights_config() -> None:
    assert input_size(str(tiny_weights())) == 64
    assert input_size(str(tiny_weights() / "model.safetensors")) == 64
    assert input_size(None) == 256
    # a loaded model carries the config it was built from: nothing is read again
    assert input_size(tiny_engine().model) == 64


def test_cli_liveportrait_without_weights_says_how_to_install_them(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "lp.mp4"
    assert main(["animate", "--engine", "liveportrait", "--motion", "idle", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "unflat models fetch liveportrait" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_cli_liveportrait_with_tiny_weights_writes_a_video_of_the_portraits_size(
    tmp_path: Path,
) -> None:
    out = tmp_path / "lp.mp4"
    args = ["animate", "--engine", "liveportrait", "--weights", str(tiny_weights()),
            "--motion", "idle+talk", "--seconds", "0.2", "--fps", "10", "-o", str(out)]  # fmt: skip
    assert main(args) == 0
    info = probe_video(out)
    height, width = mona().shape[:2]
    assert (info.width, info.height, info.frame_count) == (width, height, 2)


def test_liveportrait_frames_change_only_the_pasted_square() -> None:
    engine = tiny_engine()
    motion = Motion.still(2, 10.0)
    motion.rotation[1] = euler_to_rotation(5.0, -8.0, 3.0)
    motion.eye_open[1] = 0.3
    motion.mouth_open = np.array([0.0, 0.25], np.float32)
    frames = list(engine.frames(motion))
    assert len(frames) == 2
    portrait = mona()
    crop = engine.source.crop
    for frame, warp in frames:
        assert frame.shape == portrait.shape and frame.dtype == np.uint8
        x0, y0, x1, y1 = warp.region
        outside = np.ones(portrait.shape[:2], bool)
        outside[y0:y1, x0:x1] = False
        assert np.array_equal(frame[outside], portrait[outside])
        # the square is where the crop says, and the network's picture fills it
        assert (x0, y0) == (max(int(np.floor(crop.corners()[:, 0].min())), 0), 0)
        assert np.any(frame[y0:y1, x0:x1] != portrait[y0:y1, x0:x1])
        assert warp.map_x.shape == (y1 - y0, x1 - x0) and np.isfinite(warp.map_x).all()
    # the pose change moved the keypoints: the two frames differ
    assert np.any(frames[0][0] != frames[1][0])
    assert set(engine.timings) >= {"crop", "motion", "network", "paste"}
    # the portrait's own keypoints move nothing: the warp maps every pixel to itself
    _, warp = engine.render(engine.source.keypoints)
    x0, y0, x1, y1 = warp.region
    ys, xs = np.mgrid[y0:y1, x0:x1]
    assert np.abs(warp.map_x - xs).max() < 0.01 and np.abs(warp.map_y - ys).max() < 0.01


def test_liveportrait_follows_a_driving_video() -> None:
    from unflat.face.track import track

    driver = shared_path("data", "faces", "videos", "lp_d0.mp4")
    face_track = track(driver, max_frames=3, neutral=1)
    engine = tiny_engine()
    with read_video(driver) as reader:
        frames = list(engine.frames(face_track, driver_frames=reader))
    assert len(frames) == 3
    assert all(frame.shape == mona().shape for frame, _ in frames)
    # the rest frame's own motion leaves the portrait's keypoints where they were
    with read_video(driver) as reader:
        readings = engine.driver_motions(face_track, reader, np.array([0, 1, 2]))
    rest = engine.driver_keypoints(readings, 1, 1)
    source = engine.source
    unmoved = engine.model.stitch(source.keypoints, engine.model.keypoints(source.motion))
    if source.lips_closed is not None:
        unmoved = unmoved + source.lips_closed
    assert float((rest - unmoved).abs().max()) < 1e-5


def test_run_refuses_liveportrait_without_weights_before_any_work(tmp_path: Path) -> None:
    from unflat.pipelines.run import RunPipeline, RunSettings

    settings = RunSettings(out=tmp_path / "out", engine="liveportrait", motion="idle")
    with pytest.raises(WeightsError, match="not installed"):
        RunPipeline(settings)()
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_cli_run_liveportrait_without_weights_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "out"
    assert main(["run", "--engine", "liveportrait", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "unflat models fetch liveportrait" in err and len(err.strip().splitlines()) == 1
    assert not out.exists() or not any(out.iterdir())


def test_run_draws_the_living_photo_with_liveportrait(tmp_path: Path) -> None:
    import json

    from unflat.io.depth_files import save_depth_npy
    from unflat.pipelines.run import RunPipeline, RunSettings

    height, width = mona().shape[:2]
    depth = tmp_path / "mona.depth.npy"
    save_depth_npy(depth, np.full((height, width), 1.5, np.float32))
    out = tmp_path / "run"
    settings = RunSettings(out=out, depth=depth, focal_px=800.0, max_size=192, motion="idle",
                           seconds=0.1, fps=10.0, check_sync=False, engine="liveportrait",
                           engine_weights=str(tiny_weights()))  # fmt: skip
    result = RunPipeline(settings)()
    video = json.loads((out / "run.json").read_text())["stages"]["video"]
    assert video["engine"] == "liveportrait" and video["frames"] == 1
    for path in (result.video, out / "mona_lisa.face.mp4"):
        info = probe_video(path)
        assert (info.height, info.frame_count) == (192, 1)
