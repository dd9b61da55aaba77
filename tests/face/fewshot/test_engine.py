"""The few-shot engine: a checkpoint trained here (seconds), its errors, its frames, the CLI."""

from __future__ import annotations

import inspect
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import torch

from unflat.cli import main
from unflat.errors import ConfigError, InputError, WeightsError
from unflat.face.fewshot.config import tiny_config
from unflat.face.fewshot.engine import FewShotEngine, load_fewshot, shot_tensors
from unflat.face.fewshot.framing import face_square, to_square
from unflat.face.fewshot.landmark_image import landmark_images
from unflat.face.fewshot.synthetic import SyntheticFaces
from unflat.face.fewshot.train import TrainSettings, train
from unflat.face.motion import Motion
from unflat.face.portrait import Portrait, prepare_portrait
from unflat.io.images import read_photo
from unflat.io.video import probe_video
from unflat.pipelines.animate import bundled_portrait
from unflat.pipelines.engines import Engine, choose_engine, open_engine

SIZE = 32


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder of a tiny model meta-learned for one step on two procedural faces."""
    out = tmp_path_factory.mktemp("fewshot") / "run"
    settings = TrainSettings(steps=1, batch_size=1, shots=1)
    train(tiny_config(image_size=SIZE), settings, SyntheticFaces(2, frames=3, size=SIZE), out,
          log=None)  # fmt: skip
    return out


@lru_cache(maxsize=1)
def mona() -> Portrait:
    return prepare_portrait(read_photo(bundled_portrait()).rgb)


def test_load_fewshot_reads_a_run_folder_or_its_file(run: Path) -> None:
    model = load_fewshot(run)
    assert model.config.image_size == SIZE and not model.training
    again = load_fewshot(run / "checkpoint.pt")
    for key, value in model.state_dict().items():
        assert torch.equal(value, again.state_dict()[key])


def test_load_fewshot_refuses_missing_damaged_and_foreign_files(run: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no few-shot checkpoint") as error:
        load_fewshot(tmp_path / "nothing")
    assert "unflat train talking-head" in error.value.hint
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x80\x02not a checkpoint at all")
    with pytest.raises(WeightsError):
        load_fewshot(junk)
    found = torch.load(run / "checkpoint.pt", weights_only=True)
    other = tmp_path / "other.pt"
    torch.save({**found, "config": {**found["config"], "architecture": "liveportrait"}}, other)
    with pytest.raises(WeightsError, match="not a few-shot talking-head checkpoint"):
        load_fewshot(other)
    torch.save({"state_dict": {"w": torch.zeros(2)}}, other)
    with pytest.raises(WeightsError, match="not a few-shot talking-head checkpoint"):
        load_fewshot(other)
    # a config that does not match the weights (a wider model than the one saved)
    torch.save({**found, "config": {**found["config"], "base_width": 16}}, other)
    with pytest.raises(WeightsError, match="do not fit"):
        load_fewshot(other)


def test_the_engine_is_an_engine_and_changes_only_its_square(run: Path) -> None:
    engine = FewShotEngine(load_fewshot(run), [mona()], finetune_steps=0)
    assert isinstance(engine, Engine)
    assert list(inspect.signature(FewShotEngine.frames).parameters) == list(
        inspect.signature(Engine.frames).parameters
    )
    motion = Motion.still(2, 10.0)
    motion.mouth_open = np.array([0.0, 0.3], np.float32)
    frames = list(engine.frames(motion))
    portrait = mona().image
    for frame, warp in frames:
        assert frame.shape == portrait.shape and frame.dtype == np.uint8
        x0, y0, x1, y1 = warp.region
        outside = np.ones(portrait.shape[:2], bool)
        outside[y0:y1, x0:x1] = False
        assert np.array_equal(frame[outside], portrait[outside])
        assert warp.map_x.shape == warp.alpha.shape == (y1 - y0, x1 - x0)
    # an open mouth is another landmark image: another picture
    assert np.any(frames[0][0] != frames[1][0])


def test_without_finetuning_it_is_the_feed_forward_model(run: Path) -> None:
    model = load_fewshot(run)
    engine = FewShotEngine(model, [mona()], finetune_steps=0)
    frames, shapes = shot_tensors([mona()], SIZE)
    target = mona().landmarks
    points = to_square(face_square(target), target, SIZE)
    with torch.no_grad():
        expected = model.animate(model.embed(frames, shapes), landmark_images(points[None], SIZE))
        made = engine.person()(landmark_images(points[None], SIZE))
    assert torch.allclose(made, expected, atol=1e-6)
    # the portrait's own landmarks move nothing: the warp maps every pixel to itself
    _, warp = engine.render(target)
    x0, y0, x1, y1 = warp.region
    ys, xs = np.mgrid[y0:y1, x0:x1]
    assert np.abs(warp.map_x - xs).max() < 0.01 and np.abs(warp.map_y - ys).max() < 0.01


def test_finetuning_moves_the_generator_and_more_photos_are_more_shots(run: Path) -> None:
    model = load_fewshot(run)
    mirrored = np.ascontiguousarray(mona().image[:, ::-1])
    engine = FewShotEngine(model, [mona()], shots=[mirrored], finetune_steps=2)
    assert len(engine.shots) == 2
    before = model.generator.projection.weight.clone()
    person = engine.person()
    assert torch.equal(model.generator.projection.weight, before)  # the checkpoint's model stays
    fed = FewShotEngine(model, [mona()], shots=[mirrored], finetune_steps=0).person()
    assert not torch.equal(person.styles, fed.styles)


def test_choosing_the_fewshot_engine(run: Path) -> None:
    assert choose_engine("auto", checkpoint=str(run)) == "fewshot"
    assert choose_engine("fewshot", checkpoint=str(run)) == "fewshot"
    with pytest.raises(ConfigError, match="needs --checkpoint") as error:
        choose_engine("fewshot")
    assert "unflat train talking-head" in error.value.hint
    with pytest.raises(ConfigError, match="few-shot engine"):
        choose_engine("classical", checkpoint=str(run))
    engine = open_engine("fewshot", [mona().image], checkpoint=str(run), finetune_steps=0)
    assert engine.name == "fewshot"


def test_cli_animates_with_a_checkpoint(run: Path, tmp_path: Path) -> None:
    out = tmp_path / "fewshot.mp4"
    args = ["animate", "--engine", "fewshot", "--checkpoint", str(run), "--finetune-steps", "1",
            "--motion", "idle+talk", "--seconds", "0.3", "--fps", "10", "-o", str(out)]  # fmt: skip
    assert main(args) == 0
    info = probe_video(out)
    height, width = mona().image.shape[:2]
    assert (info.width, info.height, info.frame_count) == (width, height, 3)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "needs --checkpoint"),
        (["--checkpoint", "{tmp}/none"], "no few-shot checkpoint"),
        (["--checkpoint", "{tmp}/junk.pt"], "junk.pt"),
        (["--checkpoint", "{run}", "--engine", "classical"], "few-shot engine"),
    ],
)
def test_cli_errors_are_one_line_exit_2_and_write_nothing(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture, extra: list[str], message: str
) -> None:
    (tmp_path / "junk.pt").write_bytes(b"PK\x03\x04 damaged")
    out = tmp_path / "out.mp4"
    extra = [e.format(tmp=tmp_path, run=run) for e in extra]
    engine = [] if "--engine" in extra else ["--engine", "fewshot"]
    args = ["animate", *engine, *extra, "--motion", "idle", "--seconds", "0.2", "-o", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists() and list(tmp_path.iterdir()) == [tmp_path / "junk.pt"]


def test_run_refuses_fewshot_without_a_checkpoint_and_draws_with_one(
    run: Path, tmp_path: Path
) -> None:
    import json

    from unflat.io.depth_files import save_depth_npy
    from unflat.pipelines.run import RunPipeline, RunSettings

    with pytest.raises(ConfigError, match="needs --checkpoint"):
        RunSettings(out=tmp_path / "none", engine="fewshot").check()
    height, width = mona().image.shape[:2]
    depth = tmp_path / "mona.depth.npy"
    save_depth_npy(depth, np.full((height, width), 1.5, np.float32))
    out = tmp_path / "run"
    settings = RunSettings(out=out, depth=depth, focal_px=800.0, max_size=192, motion="idle",
                           seconds=0.1, fps=10.0, check_sync=False, engine="fewshot",
                           engine_checkpoint=str(run))  # fmt: skip
    result = RunPipeline(settings)()
    video = json.loads((out / "run.json").read_text())["stages"]["video"]
    assert video["engine"] == "fewshot" and video["frames"] == 1
    assert probe_video(result.video).height == 192
