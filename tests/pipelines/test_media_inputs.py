"""``foley``, ``dub`` and ``animate`` with hostile media: refused before the long work, with a
hint and no output file; and ``foley --mix`` of a loud soundtrack stays under its ceiling."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import av
import numpy as np
import pytest

from tests.conftest import shared_path
from tests.io.media_files import (
    moving_frames,
    one_frame,
    still_image,
    ten_hours,
    tone,
    undecodable_audio,
    write_media,
)
from unflat.errors import InputError, format_error
from unflat.io.audio import read_audio
from unflat.pipelines import animate as animate_module
from unflat.pipelines.animate import AnimatePipeline
from unflat.pipelines.foley import FoleyPipeline
from unflat.sound import foley as foley_module
from unflat.sound.foley import foley, synthesize
from unflat.sound.loudness import integrated_loudness, true_peak
from unflat.sound.motion import VideoMotion, VisualOnsets
from unflat.sound.soundtrack import finish_soundtrack
from unflat.types import Audio

CEILING = 10 ** (-1 / 20)  # -1 dBTP, 0.891


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
    _refused(caught.value, "36000 seconds of video", "--max-duration")
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


def _loud_clip(path: Path) -> Path:
    """Two seconds of motion with a loud, spiky soundtrack: full-scale clicks over quiet
    noise, so reaching -16 LUFS asks for peaks far over full scale."""
    rate = 44100
    rng = np.random.default_rng(3)
    sound = 0.01 * rng.standard_normal(2 * rate)
    for start in range(2000, 2 * rate - 2000, rate // 2):
        burst = np.hanning(150) * np.sign(rng.standard_normal(150))
        sound[start : start + 150] = burst  # square-ish bursts at full scale
    return write_media(path, frames=50, sound=sound.astype(np.float32), rate=rate)


def test_foley_mix_of_a_loud_soundtrack_stays_under_the_ceiling(tmp_path: Path) -> None:
    clip = _loud_clip(tmp_path / "loud.mp4")
    source = read_audio(clip, 22050)
    assert np.abs(source.samples).max() > 0.95
    # plain gain to -16 LUFS would put the peaks way over full scale
    assert np.abs(source.samples).max() * 10 ** ((-16 - integrated_loudness(source)) / 20) > 1.5
    output, wav = tmp_path / "mixed.mp4", tmp_path / "mixed.wav"
    result = FoleyPipeline()(clip, output, existing="mix", wav=wav)
    written = read_audio(wav, 22050)  # the WAV as written: the mix itself
    assert np.abs(written.samples).max() <= CEILING
    assert true_peak(written.samples) <= CEILING * 1.002  # between samples too (16-bit rounding)
    assert integrated_loudness(written) == pytest.approx(-16.0, abs=0.5)
    assert result.loudness_lufs == pytest.approx(-16.0, abs=0.5)
    # the encoded sound in the video: AAC adds a little overshoot, but nothing clips
    in_video = read_audio(output, 48000)
    assert np.abs(in_video.samples).max() < 1.0
    assert integrated_loudness(in_video) == pytest.approx(-16.0, abs=0.7)


def test_the_mixed_sound_is_the_loud_input_ducked_not_dropped(tmp_path: Path) -> None:
    clip = write_media(tmp_path / "tone.mp4", frames=50, sound=tone(2.0, amplitude=0.99))
    output = tmp_path / "mixed.mp4"
    FoleyPipeline()(clip, output, existing="mix")
    mixed = read_audio(output, 22050).samples
    spectrum = np.abs(np.fft.rfft(mixed[2205:-2205]))
    freqs = np.fft.rfftfreq(len(mixed) - 4410, 1 / 22050)
    assert abs(freqs[np.argmax(spectrum)] - 440) < 5  # the loud tone is still what is heard
    assert np.abs(mixed).max() < 1.0


def test_a_real_gunshot_soundtrack_mixed_in_does_not_clip_once_encoded(tmp_path: Path) -> None:
    """gun.mp4's own sound under silence, as ``--mix`` does: at FFmpeg's default AAC rate
    (about 69 kb/s) the encoded peaks reached 1.01; at 128 kb/s they stay near 0.91."""
    clip = shared_path("data", "audio", "av", "gun.mp4")
    output = tmp_path / "mixed.mp4"
    silence = Audio(np.zeros(22050 * 10, np.float32), 22050)
    finish_soundtrack(clip, output, silence, True, None, -16.0, False)
    encoded = read_audio(output, 48000)
    assert np.abs(encoded.samples).max() < 0.97
    assert integrated_loudness(encoded) == pytest.approx(-16.0, abs=0.5)


def test_the_effects_of_a_long_video_are_made_in_bounded_memory() -> None:
    """Ten minutes of constant motion at 8 kHz: the noise bed is synthesised in blocks, so the
    peak is the output plus one block (measured 96 MB; all frames at once took 273 MB, and an
    hour at 22.05 kHz several GB)."""
    seconds, rate = 600, 8000
    count = seconds * 25
    busy = np.full(count, 0.2)
    motion = VideoMotion(
        np.arange(count) / 25, busy, busy, np.zeros(count), np.zeros(0, int), seconds, 25.0
    )
    tracemalloc.start()
    try:
        audio = synthesize(motion, VisualOnsets(np.zeros(0), np.zeros(0)), rate)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(audio.samples) == seconds * rate
    first, last = np.std(audio.samples[: 60 * rate]), np.std(audio.samples[-60 * rate :])
    assert first > 0.02 and last == pytest.approx(first, rel=0.1)  # every block sounds alike
    assert peak < 150e6
