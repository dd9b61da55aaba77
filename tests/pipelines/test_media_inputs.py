"""``foley``, ``dub`` and ``animate`` with hostile media: refused before the long work, with a
hint and no output file."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from tests.io.media_files import (
    moving_frames,
    one_frame,
    still_image,
    ten_hours,
    undecodable_audio,
)
from unflat.errors import InputError, format_error
from unflat.pipelines import animate as animate_module
from unflat.pipelines.animate import AnimatePipeline
from unflat.pipelines.foley import FoleyPipeline
from unflat.sound import foley as foley_module
from unflat.sound.foley import foley


@pytest.fixture
def no_long_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Motion analysis and face tracking fail the test if they start."""

    def started(*args: object, **kwargs: object) -> None:
        raise AssertionError("the long work started")

    monkeypatch.setattr(foley_module, "analyze_motion", started)
    monkeypatch.setattr(animate_module, "track", started)


def _refused(error: InputError, *words: str) -> None:
    line = format_error(error)
    assert "\n" not in line and error.hint
    for word in words:
        assert word in line


@pytest.mark.usefixtures("no_long_work")
def test_foley_refuses_stills_and_single_frames(tmp_path: Path) -> None:
    output = tmp_path / "out.mp4"
    for path, words in [
        (still_image(tmp_path), ("still image", "give a video")),
        (still_image(tmp_path, "photo_renamed.mp4"), ("still image",)),
        (one_frame(tmp_path), ("single frame",)),
    ]:
        with pytest.raises(InputError) as caught:
            FoleyPipeline()(path, output)
        _refused(caught.value, *words)
        with pytest.raises(InputError, match="two frames"):
            foley(path)
    assert not output.exists()


@pytest.mark.usefixtures("no_long_work")
def test_foley_refuses_a_ten_hour_header_before_reading_frames(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        FoleyPipeline()(ten_hours(tmp_path), tmp_path / "out.mp4")
    _refused(caught.value, "36000 seconds of video", "--max-seconds")
    assert not (tmp_path / "out.mp4").exists()


def test_foley_mix_with_sound_it_cannot_decode(tmp_path: Path, monkeypatch) -> None:
    alien = undecodable_audio(tmp_path)
    output = tmp_path / "out.mkv"
    with monkeypatch.context() as patch:
        patch.setattr(foley_module, "analyze_motion", lambda *a, **k: pytest.fail("started"))
        with pytest.raises(InputError) as caught:
            FoleyPipeline()(alien, output, existing="mix")
    _refused(caught.value, "cannot decode", "--replace")
    assert not output.exists()
    FoleyPipeline()(alien, output, existing="replace")  # dropping that sound works
    with av.open(str(output)) as container:
        assert [s.codec_context.name for s in container.streams] == ["h264", "aac"]


@pytest.mark.usefixtures("no_long_work")
def test_animate_refuses_a_still_driver_with_the_preset_hint(tmp_path: Path) -> None:
    output = tmp_path / "animated.mp4"
    for driver in (still_image(tmp_path), one_frame(tmp_path)):
        with pytest.raises(InputError) as caught:
            AnimatePipeline().write(output, driver=driver)
        _refused(caught.value, str(driver), "--motion")
    assert not output.exists()


def test_animate_leaves_out_a_driver_sound_it_cannot_decode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    driver = undecodable_audio(tmp_path)
    pipeline = AnimatePipeline([moving_frames(1)[0]])
    monkeypatch.setattr(pipeline, "drive", lambda *a, **k: iter(moving_frames(4)))
    output = pipeline.write(tmp_path / "animated.mp4", driver=driver)
    assert "cannot decode; left out" in capsys.readouterr().err
    with av.open(str(output)) as container:
        assert not container.streams.audio and container.streams.video[0].frames == 4
