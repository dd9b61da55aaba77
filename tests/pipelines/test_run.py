"""``unflat run``: the living photo end to end, resuming, and its refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from unflat.cli import main
from unflat.errors import ConfigError, InputError
from unflat.io.depth_files import save_depth_npy
from unflat.io.images import save_rgb
from unflat.io.video import probe_video, read_video
from unflat.pipelines.animate import bundled_portrait
from unflat.pipelines.run import RunPipeline, RunSettings

SIZE = 192  # the Mona Lisa worked at 154x192: seconds per run on two cores


@pytest.fixture(scope="module")
def depth_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A depth map for the Mona Lisa: an ellipse (the person) 1 m away before a plane at 3 m."""
    height, width = 640, 512
    ys, xs = np.mgrid[0:height, 0:width]
    person = ((xs - 256) / 200.0) ** 2 + ((ys - 380) / 330.0) ** 2 < 1
    depth = np.where(person, 1.0, 3.0).astype(np.float32)
    path = tmp_path_factory.mktemp("depth") / "mona.depth.npy"
    save_depth_npy(path, depth)
    return path


def _settings(out: Path, depth: Path, **options: object) -> RunSettings:
    base = dict(out=out, depth=depth, focal_px=800.0, max_size=SIZE, text="Hello, Bob.",
                check_sync=False)  # fmt: skip
    return RunSettings(**(base | options))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, depth_file: Path) -> Path:
    out = tmp_path_factory.mktemp("run")
    RunPipeline(_settings(out, depth_file, check_sync=True))()
    return out


def test_run_writes_the_video_with_sound_and_every_intermediate(finished: Path) -> None:
    names = {p.name for p in finished.iterdir()}
    for suffix in (".mp4", ".face.mp4", ".depth.npy", ".depth_mm.png", ".ply", ".scene.json",
                   ".speech.wav", ".phones.json"):  # fmt: skip
        assert f"mona_lisa{suffix}" in names
    info = probe_video(finished / "mona_lisa.mp4")
    assert info.has_audio and info.audio_decodable
    record = json.loads((finished / "run.json").read_text())
    stages = record["stages"]
    assert list(stages) == ["depth", "scene", "sound", "video", "sync"]
    for stage in stages.values():
        assert stage["seconds"] >= 0 and stage["peak_memory_mb"] > 50
    speech_s = stages["sound"]["seconds_of_sound"]
    assert stages["video"]["frames"] == round((speech_s + 0.6) * 25)
    assert record["inputs"]["photo"]["sha256"] and stages["depth"]["focal_px"] == pytest.approx(
        800.0 * 154 / 512, rel=0.01
    )
    assert "lag_ms" in stages["sync"] and "bilabial_hit_rate" in stages["sync"]


def test_the_face_moves_and_the_camera_moves(finished: Path) -> None:
    with read_video(finished / "mona_lisa.face.mp4") as reader:
        flat = [frame.astype(np.float32) for frame in reader]
    with read_video(finished / "mona_lisa.mp4") as reader:
        rendered = [frame.astype(np.float32) for frame in reader]
    assert len(flat) == len(rendered) > 20
    height, width = flat[0].shape[:2]
    # the animated photo changes only around the face; the border stays the photo's own
    border = np.abs(flat[10][:8] - flat[0][:8]).mean()
    face = np.abs(flat[10] - flat[0])[height // 6 : height // 2, width // 4 : 3 * width // 4]
    assert border < 2.0 and face.max() > 20
    # the rendered video moves its camera: its border changes too, and has no black edge
    assert np.abs(rendered[len(rendered) // 4][:8] - rendered[0][:8]).mean() > 2.0
    for frame in rendered:
        assert frame[:, :2].mean() > 20 and frame[:, -2:].mean() > 20


def test_a_rerun_keeps_every_stage_and_new_text_redoes_only_sound_and_video(
    finished: Path, depth_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def times() -> dict[str, int]:
        return {p.name: p.stat().st_mtime_ns for p in finished.iterdir() if p.name != "run.json"}

    before = times()
    RunPipeline(_settings(finished, depth_file, check_sync=True))()
    assert capsys.readouterr().err.count("kept from the earlier run") == 5
    assert times() == before
    RunPipeline(_settings(finished, depth_file, text="Bye now."))()
    err = capsys.readouterr().err
    assert "depth: kept" in err and "scene: kept" in err and "sound: kept" not in err
    after = times()
    assert after["mona_lisa.ply"] == before["mona_lisa.ply"]
    assert after["mona_lisa.speech.wav"] != before["mona_lisa.speech.wav"]


def test_no_face_is_one_line_and_leaves_no_video(tmp_path: Path, depth_file: Path) -> None:
    photo = tmp_path / "wall.png"
    save_rgb(photo, np.full((96, 128, 3), 140, np.uint8))
    wall_depth = tmp_path / "wall.npy"
    save_depth_npy(wall_depth, np.full((96, 128), 2.0, np.float32))
    with pytest.raises(InputError, match="no face") as caught:
        RunPipeline(_settings(tmp_path / "out", wall_depth, photo=photo))()
    assert "--no-face" in str(caught.value.hint)
    assert not (tmp_path / "out" / "wall.mp4").exists()
    result = RunPipeline(_settings(tmp_path / "out", wall_depth, photo=photo, no_face=True))()
    assert result.video.is_file() and not (tmp_path / "out" / "wall.face.mp4").exists()


def test_text_longer_than_seconds_is_refused(tmp_path: Path, depth_file: Path) -> None:
    settings = _settings(tmp_path, depth_file, text="This sentence takes well over a second.",
                         seconds=1.0)  # fmt: skip
    with pytest.raises(InputError, match="longer than --seconds 1"):
        RunPipeline(settings)()
    assert not (tmp_path / "mona_lisa.mp4").exists()


def test_options_that_cannot_go_together_are_refused_before_work(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="give one of --text and --audio"):
        RunSettings(text="hi", audio=tmp_path / "a.wav").check()
    with pytest.raises(ConfigError, match="unknown motion"):
        RunSettings(motion="dance").check()
    with pytest.raises(ConfigError, match="unknown camera path"):
        RunSettings(trajectory="loop-de-loop").check()


def test_cli_refuses_files_it_did_not_write(tmp_path: Path, depth_file: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    (tmp_path / "mona_lisa.mp4").write_bytes(b"precious")
    code = main(["run", "-o", str(tmp_path), "--depth", str(depth_file), "--focal-px", "800",
                 "--max-size", str(SIZE), "--text", "Hi."])  # fmt: skip
    assert code == 2
    assert "not from an earlier `unflat run`" in capsys.readouterr().err
    assert (tmp_path / "mona_lisa.mp4").read_bytes() == b"precious"
    assert bundled_portrait().is_file()


def _tone_speech(path: Path, seconds: float, speaking: bool) -> None:
    from unflat.io.audio import write_wav
    from unflat.types import Audio

    rate = 16000
    t = np.arange(round(seconds * rate)) / rate
    noise = 1e-4 * np.random.default_rng(0).standard_normal(len(t))
    envelope = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 2 if speaking else 0 * t
    samples = 0.3 * envelope * np.sin(2 * np.pi * 600 * t) + noise
    write_wav(path, Audio(samples.astype(np.float32), rate))


def test_a_recording_drives_the_mouth_and_silence_is_refused(
    tmp_path: Path, depth_file: Path
) -> None:
    speech, hum = tmp_path / "speech.wav", tmp_path / "hum.wav"
    _tone_speech(speech, 1.2, speaking=True)
    _tone_speech(hum, 1.2, speaking=False)
    result = RunPipeline(_settings(tmp_path / "a", depth_file, text=None, audio=speech))()
    record = result.stages
    assert record["sound"]["kind"] == "recording" and record["video"]["drive"] == "recording"
    assert record["video"]["frames"] == 30
    with pytest.raises(InputError, match=r"hum\.wav has no speech"):
        RunPipeline(_settings(tmp_path / "b", depth_file, text=None, audio=hum))()
    assert not (tmp_path / "b" / "mona_lisa.mp4").exists()
    assert "depth" in json.loads((tmp_path / "b" / "run.json").read_text())["stages"]


def test_a_driver_video_moves_the_face_and_lends_its_sound(
    tmp_path: Path, depth_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.conftest import shared_path

    driver = shared_path("data", "faces", "videos", "talk_2.mp4")
    settings = _settings(tmp_path, depth_file, text=None, driver=driver, seconds=1.0)
    result = RunPipeline(settings)()
    assert result.stages["sound"]["kind"] == "driver"
    assert result.stages["video"]["drive"] == "driver" and result.stages["video"]["frames"] == 25
    assert probe_video(result.video).audio_decodable
    assert "taken as the rest face" in capsys.readouterr().err


def test_the_readme_command_runs_with_nothing_but_the_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # no weights anywhere (a fresh install): the portrait's depth comes from the face mesh
    monkeypatch.setenv("UNFLAT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("UNFLAT_OFFLINE", "1")
    out = tmp_path / "out"
    code = main(["run", "-o", str(out), "--max-size", str(SIZE), "--text", "Hello there."])
    assert code == 0, capsys.readouterr().err
    record = json.loads((out / "run.json").read_text())
    assert record["stages"]["depth"]["model"] == "portrait-mesh"
    assert (out / "mona_lisa.mp4").is_file() and probe_video(out / "mona_lisa.mp4").has_audio
