"""Video writing and reading: round trips through mp4/webm/gif, audio, atomicity, bad inputs."""

from __future__ import annotations

import errno
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from tests.conftest import shared_path
from unflat.errors import ConfigError, InputError, OutputError, format_error
from unflat.io.video import VIDEO_SUFFIXES, VideoWriter, probe_video, read_video, write_video
from unflat.types import Audio

WIDTH, HEIGHT, COUNT = 101, 75, 24


def gradient_frames(count: int = COUNT, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """A colour gradient moving to the right: every frame differs, with hard wrap-around edges."""
    y, x = np.mgrid[0:height, 0:width]
    frames = [
        np.stack(
            [(x * 255 / width + 6 * i) % 256, y * 255 / height, (2 * (x + y) + 10 * i) % 256], -1
        )
        for i in range(count)
    ]
    return np.asarray(frames).astype(np.uint8)


def make_tone(path: Path, seconds: float = 2.0, rate: int = 44100) -> Path:
    """An AAC file with a 440 Hz sine and no video."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=rate, layout="mono")
        t = np.arange(round(seconds * rate)) / rate
        samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.rate, frame.pts = rate, 0
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return path


def audio_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return (
            float(stream.duration * stream.time_base)
            if stream.duration
            else container.duration / 1e6
        )


# Mean absolute error (0-255) measured for these frames at quality="high": mp4 2.93, webm 3.00,
# gif 8.96 (256 colours for a gradient that holds most of the RGB cube, plus dithering).
@pytest.mark.parametrize(
    ("suffix", "codec", "size", "max_error"),
    [
        (".mp4", "h264", (102, 76), 3.5),  # padded to even sides
        (".webm", "vp9", (101, 75), 3.5),
        (".gif", "gif", (101, 75), 10.0),
    ],
)
def test_round_trip(tmp_path: Path, suffix: str, codec: str, size: tuple, max_error: float) -> None:
    frames = gradient_frames()
    path = write_video(tmp_path / f"clip{suffix}", frames, fps=24)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"clip{suffix}"]  # no temporary left
    info = probe_video(path)
    assert (info.width, info.height) == size and info.codec == codec
    assert info.fps == pytest.approx(24.0) and not info.variable_frame_rate
    assert info.duration_s == pytest.approx(1.0, abs=0.01) and not info.has_audio
    assert info.frame_count == (None if suffix == ".webm" else COUNT)  # WebM stores no count
    with read_video(path) as reader:
        decoded = reader.read_all()
        timestamps = reader.timestamps
    assert decoded.shape == (COUNT, size[1], size[0], 3)
    assert np.allclose(np.diff(timestamps), 1 / 24, atol=0.0095)  # GIF: whole 1/100 s
    error = np.abs(decoded[:, :HEIGHT, :WIDTH].astype(int) - frames).mean()
    assert error < max_error
    if suffix == ".mp4":  # the padding repeats the last column and row
        assert np.abs(decoded[:, :, -1].astype(int) - decoded[:, :, -2]).mean() < 3


def test_writer_with_size_and_ntsc_rate(tmp_path: Path) -> None:
    frames = gradient_frames(30, 64, 48)
    with VideoWriter(tmp_path / "ntsc.mp4", fps=30000 / 1001, width=64, height=48) as writer:
        assert writer.encoded_size == (64, 48) and writer.rate == Fraction(30000, 1001)
        for frame in frames:
            writer.write(frame)
    info = probe_video(tmp_path / "ntsc.mp4")
    assert info.fps == pytest.approx(29.97, abs=0.001) and info.frame_count == 30
    assert info.duration_s == pytest.approx(1.001, abs=0.001)


def test_gif_loops_with_exact_total_duration(tmp_path: Path) -> None:
    write_video(tmp_path / "a.gif", gradient_frames(30, 40, 30), fps=30)
    with Image.open(tmp_path / "a.gif") as image:
        assert image.info["loop"] == 0  # forever
        durations = []
        for index in range(image.n_frames):
            image.seek(index)
            durations.append(image.info["duration"])
    assert sum(durations) == 1000 and set(durations) == {30, 40}  # 3 or 4 centiseconds
    with pytest.raises(ConfigError, match="50"):
        VideoWriter(tmp_path / "fast.gif", fps=60)


def test_exception_mid_write_leaves_nothing(tmp_path: Path) -> None:
    frames = gradient_frames(5)
    for suffix in (".mp4", ".webm", ".gif"):
        with pytest.raises(RuntimeError), VideoWriter(tmp_path / f"x{suffix}", fps=10) as writer:
            writer.write(frames[0])
            writer.write(frames[1])
            raise RuntimeError("renderer crashed")
    with pytest.raises(ValueError, match="frame is"), VideoWriter(tmp_path / "y.mp4", 10) as writer:
        writer.write(frames[0])
        writer.write(frames[0][:50])
    with pytest.raises(OutputError, match="no frames"), VideoWriter(tmp_path / "z.mp4", 10):
        pass
    writer = VideoWriter(tmp_path / "w.webm", fps=10)
    writer.write(frames[0])
    writer.abort()
    assert list(tmp_path.iterdir()) == []


def test_existing_target_is_replaced_only_when_allowed(tmp_path: Path) -> None:
    target = tmp_path / "v.mp4"
    target.write_bytes(b"old")
    with pytest.raises(OutputError, match="already exists"):
        VideoWriter(target, fps=10, overwrite=False)
    write_video(target, gradient_frames(3), fps=10)
    assert probe_video(target).frame_count == 3


def test_unsupported_suffix_and_bad_options(tmp_path: Path) -> None:
    with pytest.raises(OutputError) as caught:
        VideoWriter(tmp_path / "clip.avi", fps=24)
    assert (
        ".mp4" in caught.value.hint and ".webm" in caught.value.hint and ".gif" in caught.value.hint
    )
    with pytest.raises(ConfigError):
        VideoWriter(tmp_path / "clip.mp4", fps=0)
    with pytest.raises(ConfigError):
        VideoWriter(tmp_path / "clip.mp4", fps=24, quality="best")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="uint8"):
        write_video(tmp_path / "clip.mp4", [np.zeros((8, 8, 3), np.float32)], fps=24)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("suffix", "audio_codec", "rate"), [(".mp4", "aac", 44100), (".webm", "opus", 48000)]
)
def test_audio_is_carried_and_cut_to_the_video(
    tmp_path: Path, suffix: str, audio_codec: str, rate: int
) -> None:
    tone = make_tone(tmp_path / "tone.m4a", seconds=2.0)
    path = write_video(tmp_path / f"v{suffix}", gradient_frames(COUNT, 64, 48), fps=24, audio=tone)
    info = probe_video(path)
    assert info.has_audio and info.audio_codec == audio_codec and info.audio_sample_rate == rate
    assert audio_seconds(path) == pytest.approx(1.0, abs=0.03)  # the 2 s tone, cut at 24 frames
    with read_video(path) as reader:
        assert reader.has_audio and len(reader.read_all()) == COUNT


@pytest.mark.parametrize(("suffix", "audio_codec"), [(".mp4", "aac"), (".webm", "opus")])
def test_audio_in_memory_is_encoded_at_48k_and_cut_to_the_video(
    tmp_path: Path, suffix: str, audio_codec: str
) -> None:
    t = np.arange(2 * 16000) / 16000
    tone = Audio((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16000)
    path = write_video(tmp_path / f"v{suffix}", gradient_frames(COUNT, 64, 48), fps=24, audio=tone)
    info = probe_video(path)
    assert info.audio_codec == audio_codec and info.audio_sample_rate == 48000
    assert audio_seconds(path) == pytest.approx(1.0, abs=0.03)  # the 2 s tone, cut at 24 frames


class _FullDisk:
    """An output container whose close fails like FFmpeg's on a full disk (after closing)."""

    def __init__(self, container: av.container.OutputContainer) -> None:
        self._container = container

    def __getattr__(self, name: str) -> object:
        return getattr(self._container, name)

    def close(self) -> None:
        self._container.close()
        raise av.error.OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("suffix", VIDEO_SUFFIXES)
def test_a_failed_close_is_an_error_and_leaves_no_file(
    tmp_path: Path, suffix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # issue 15: the muxer's last write failed, yet the writer returned as if the video existed
    real_open = av.open
    monkeypatch.setattr(av, "open", lambda *args, **kwargs: _FullDisk(real_open(*args, **kwargs)))
    with pytest.raises(OutputError, match="could not finish") as caught:
        write_video(tmp_path / f"clip{suffix}", gradient_frames(3), fps=10)
    assert "No space left" in caught.value.message and "disk space" in caught.value.hint
    assert "\n" not in format_error(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_audio_for_gif_is_ignored_and_silent_sources_refused(tmp_path: Path) -> None:
    tone = make_tone(tmp_path / "tone.m4a", seconds=0.5)
    with VideoWriter(tmp_path / "v.gif", fps=10, audio=tone) as writer:
        writer.write(gradient_frames(1)[0])
    assert writer.audio_ignored and not probe_video(tmp_path / "v.gif").has_audio
    silent = write_video(tmp_path / "silent.mp4", gradient_frames(2), fps=10)
    with pytest.raises(InputError, match="no audio"):
        VideoWriter(tmp_path / "out.mp4", fps=10, audio=silent)
    with pytest.raises(InputError, match="does not exist"):
        VideoWriter(tmp_path / "out.mp4", fps=10, audio=tmp_path / "missing.wav")


def test_read_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist") as caught:
        read_video(tmp_path / "missing.mp4")
    assert caught.value.hint
    (tmp_path / "text.mp4").write_text("not a video at all")
    with pytest.raises(InputError, match="not a valid video"):
        probe_video(tmp_path / "text.mp4")
    tone = make_tone(tmp_path / "tone.m4a", seconds=0.2)
    with pytest.raises(InputError, match="no video stream"):
        read_video(tone)
    # a Matroska file whose video stream never got a frame (only audio was written)
    with av.open(str(tmp_path / "empty.mkv"), "w") as container:
        video = container.add_stream("libx264", rate=10)
        video.width, video.height, video.pix_fmt = 16, 16, "yuv420p"
        audio = container.add_stream("aac", rate=8000, layout="mono")
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 800), np.float32), format="fltp", layout="mono"
        )
        frame.rate, frame.pts = 8000, 0
        for packet in [*audio.encode(frame), *audio.encode(None)]:
            container.mux(packet)
    for function in (probe_video, read_video):
        with pytest.raises(InputError, match="no frames"):
            function(tmp_path / "empty.mkv")
    # an mp4 cut right after its index: the frames it promises are gone
    data = write_video(tmp_path / "full.mp4", gradient_frames(5), fps=10).read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: data.find(b"mdat") + 8])
    with pytest.raises(InputError, match="truncated"):
        read_video(tmp_path / "cut.mp4")


def test_rotation_tag_is_applied(tmp_path: Path) -> None:
    frame = np.zeros((32, 64, 3), np.uint8)
    frame[:8, :8] = 255  # a white square top left
    with av.open(str(tmp_path / "phone.mp4"), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 32, "yuv420p"
        stream.set_display_rotation(90)  # shown turned 90 degrees counter-clockwise
        for packet in [
            *stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")),
            *stream.encode(None),
        ]:
            container.mux(packet)
    info = probe_video(tmp_path / "phone.mp4")
    assert (info.width, info.height, info.rotation) == (32, 64, 90)
    with read_video(tmp_path / "phone.mp4") as reader:
        upright = reader.read_all()[0]
    assert upright.shape == (64, 32, 3)
    assert upright[-4, 4].min() > 200 and upright[4, 4].max() < 50  # now bottom left


def test_real_variable_frame_rate_video() -> None:
    path = shared_path("data", "faces", "videos", "talk_1.mp4")
    info = probe_video(path)
    assert (info.width, info.height, info.frame_count) == (700, 700, 135)
    assert info.fps == pytest.approx(135 / 6.1, rel=1e-3)  # nominal 30 fps, average 22.1
    assert info.variable_frame_rate and info.has_audio and info.audio_codec == "aac"
    with read_video(path) as reader:
        frames = reader.read_all()
        steps = np.diff(reader.timestamps)
    assert frames.shape == (135, 700, 700, 3) and frames.dtype == np.uint8
    assert steps.max() > 1.5 * steps.min()  # the frame times really vary


def test_real_constant_frame_rate_video() -> None:
    path = shared_path("data", "faces", "videos", "lp_d0.mp4")
    info = probe_video(path)
    assert (info.width, info.height, info.fps, info.frame_count) == (512, 512, 25.0, 78)
    assert not info.variable_frame_rate and not info.has_audio
    with read_video(path) as reader:
        first = next(iter(reader))
        assert first.shape == (512, 512, 3) and 20 < first.mean() < 235
