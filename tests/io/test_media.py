"""Hostile and damaged media: every reader refuses with one ``InputError`` line, never a
traceback, and never decodes more than the limits allow (issue 15, items 5 and 6)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from tests.io.media_files import (
    FPS,
    HOUR,
    cover_art,
    latin1_tags,
    moving_frames,
    one_frame,
    sound_only,
    still_image,
    ten_hours,
    tone,
    undecodable_audio,
    undecodable_video,
    unmarked_hours,
    write_media,
)
from unflat.errors import InputError, format_error
from unflat.io import video as video_module
from unflat.io.audio import read_audio, read_soundtrack
from unflat.io.limits import use_limits
from unflat.io.mux import has_audio, mux_audio
from unflat.io.video import VideoWriter, check_moving, probe_video, read_video
from unflat.types import Audio


def _one_line(error: InputError) -> str:
    line = format_error(error)
    assert "\n" not in line and error.hint
    return line


def _all_frames(path: Path) -> np.ndarray:
    with read_video(path) as reader:
        return reader.read_all()


def test_a_video_stream_without_a_decoder_is_refused_by_every_reader(tmp_path: Path) -> None:
    alien = undecodable_video(tmp_path)
    for read in (probe_video, read_video):
        with pytest.raises(InputError, match="cannot decode") as caught:
            read(alien)
        assert "video stream" in _one_line(caught.value) and "ffmpeg -i" in caught.value.hint
    with pytest.raises(InputError, match="cannot decode"):
        mux_audio(alien, Audio(tone(0.2, 16000), 16000), tmp_path / "out.mkv")
    assert not (tmp_path / "out.mkv").exists()
    # its sound is fine and still reads (on a timeline starting with the sound)
    assert len(read_audio(alien).samples) == len(read_soundtrack(alien).samples) > 0


def test_a_sound_stream_without_a_decoder(tmp_path: Path) -> None:
    alien = undecodable_audio(tmp_path)
    info = probe_video(alien)  # the picture is fine
    assert info.has_audio and not info.audio_decodable and info.audio_codec is None
    assert has_audio(alien)
    with read_video(alien) as reader:
        assert len(reader.read_all()) == 5
    for read in (read_audio, read_soundtrack):
        with pytest.raises(InputError, match="audio stream in a format") as caught:
            read(alien)
        _one_line(caught.value)
    with pytest.raises(InputError, match="cannot decode"):
        VideoWriter(tmp_path / "out.mp4", fps=10, audio=alien)


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_tags_that_are_not_utf8_do_not_stop_a_good_video(tmp_path: Path, suffix: str) -> None:
    path = latin1_tags(tmp_path, suffix)
    assert b"\xff\xfeCaf\xe9" in path.read_bytes()
    info = probe_video(path)
    assert info.has_audio and info.audio_decodable and not info.still
    with read_video(path) as reader:
        np.testing.assert_allclose(reader.read_all().mean(), np.mean(moving_frames(5)), atol=4)
    assert len(read_soundtrack(path, 16000).samples) > 0
    assert has_audio(path)


def test_a_data_stream_beside_the_video_is_ignored(tmp_path: Path) -> None:
    path = write_media(tmp_path / "telemetry.ts", data_stream=True)
    with av.open(str(path)) as container:
        assert [s.type for s in container.streams] == ["video", "data"]
    with read_video(path) as reader:
        assert reader.read_all().shape == (5, 48, 64, 3)


def test_a_header_declaring_ten_hours_is_refused_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = ten_hours(tmp_path)
    assert path.stat().st_size < 5000

    def no_decoding(*args: object) -> None:
        raise AssertionError("a frame was decoded")

    monkeypatch.setattr(video_module, "_decoded_frames", no_decoding)
    for read in (probe_video, read_video):
        with pytest.raises(InputError, match="36000 seconds of video; the limit is 3,600") as e:
            read(path)
        assert "--max-duration" in _one_line(e.value)
    monkeypatch.undo()
    with use_limits(max_seconds=11 * HOUR), read_video(path) as reader:
        assert len(reader.read_all()) == 3  # allowed when asked for


def test_a_stream_that_runs_past_the_limit_stops_there(tmp_path: Path) -> None:
    path = unmarked_hours(tmp_path)  # declares nothing: frames at 0, 1, 2, 3, 4 hours
    info = probe_video(path)
    assert info.duration_s is None and info.frame_count is None
    seen = []
    with read_video(path) as reader, pytest.raises(InputError, match="or more seconds") as e:
        for frame in reader:
            seen.append(frame)
    assert len(seen) == 2 and "--max-duration" in _one_line(e.value)  # 0 h and 1 h: the limit
    refused = pytest.raises(InputError, match="4 or more frames of video; the limit is 3")
    with use_limits(max_frames=3, max_seconds=10 * HOUR), read_video(path) as reader, refused:
        reader.read_all()


def test_frame_count_and_size_limits_are_read_from_the_header(tmp_path: Path) -> None:
    path = write_media(tmp_path / "clip.mp4", frames=6)
    with use_limits(max_frames=5), pytest.raises(InputError, match="6 frames of video"):
        probe_video(path)
    with use_limits(max_pixels=3000), pytest.raises(InputError, match="3,072 pixels per frame"):
        read_video(path)


def test_sound_limits(tmp_path: Path) -> None:
    long = tmp_path / "long.m4a"
    with av.open(str(long), "w") as container:
        stream = container.add_stream("aac", rate=8000, layout="mono")
        for start in (0, 10 * HOUR):  # two short bursts ten hours apart
            frame = av.AudioFrame.from_ndarray(tone(0.5, 8000)[None], format="fltp", layout="mono")
            frame.rate, frame.pts, frame.time_base = 8000, start * 8000, Fraction(1, 8000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    with pytest.raises(InputError, match="seconds of audio; the limit is 3,600"):
        read_audio(long)
    # a live-style Matroska file declares no length: decoding stops at the limit
    unmarked = write_media(
        tmp_path / "unmarked_sound.mkv", frames=0, sound=tone(2.0), options={"live": "1"}
    )
    with use_limits(max_seconds=1.0), pytest.raises(InputError, match="or more seconds of audio"):
        read_audio(unmarked)
    assert len(read_audio(unmarked, 8000).samples) == pytest.approx(16000, abs=1100)


def test_still_images_and_single_frames_are_told_apart_from_videos(tmp_path: Path) -> None:
    hint = "use a preset motion instead"
    for path in (still_image(tmp_path), still_image(tmp_path, "renamed.mp4")):
        info = probe_video(path)
        assert info.still and info.is_image
        with pytest.raises(InputError, match="is a still image") as caught:
            check_moving(info, hint)
        assert caught.value.hint == hint
    info = probe_video(one_frame(tmp_path))
    assert info.still and not info.is_image
    with pytest.raises(InputError, match="has a single frame"):
        check_moving(info, hint)
    check_moving(probe_video(write_media(tmp_path / "two.mp4", frames=2)), hint)  # no error


@pytest.mark.parametrize("make", [sound_only, cover_art])
def test_a_sound_file_is_no_video_even_with_cover_art(tmp_path: Path, make) -> None:
    path = make(tmp_path)
    for read in (probe_video, read_video):
        with pytest.raises(InputError, match="has no video stream") as caught:
            read(path)
        assert "audio-only" in _one_line(caught.value)
    assert len(read_audio(path).samples) > 0


def test_damaged_bytes_never_escape_as_a_library_error(tmp_path: Path) -> None:
    """Seeded byte flips and cuts in small valid files: each read works or is an InputError."""
    seeds = [
        write_media(tmp_path / "seed.mp4", sound=tone(0.3)),
        write_media(tmp_path / "seed.mkv", sound=tone(0.3)),
        write_media(tmp_path / "seed.ts", data_stream=True),
    ]
    rng = np.random.default_rng(15)
    outcomes = {"read": 0, "refused": 0}
    for index in range(60):
        seed = seeds[index % len(seeds)]
        data = bytearray(seed.read_bytes())
        for _ in range(int(rng.integers(1, 12))):
            data[int(rng.integers(0, len(data)))] = int(rng.integers(0, 256))
        if index % 5 == 0:
            data = data[: int(rng.integers(1, len(data)))]
        mutant = tmp_path / f"mutant{index}{seed.suffix}"
        mutant.write_bytes(bytes(data))
        for read in (_all_frames, read_audio, read_soundtrack):
            try:
                read(mutant)
                outcomes["read"] += 1
            except InputError as error:
                _one_line(error)
                outcomes["refused"] += 1
    assert outcomes["read"] > 0 and outcomes["refused"] > 0


def test_the_frame_timestamps_still_follow_the_file(tmp_path: Path) -> None:
    path = write_media(tmp_path / "clip.mkv", frames=4, step=2)
    with read_video(path) as reader:
        reader.read_all()
        assert reader.timestamps == pytest.approx([0, 2 / FPS, 4 / FPS, 6 / FPS])
