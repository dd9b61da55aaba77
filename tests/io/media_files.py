"""Small media files made with PyAV for the tests, good ones and hostile ones.

Every maker writes into the folder it is given and returns the path. Hostile files are made
the way they occur: a codec id no decoder knows (Matroska stores it as text, so a valid file
is patched byte for byte), tags that are not UTF-8, a header that declares ten hours for three
frames, a stream without a declared length whose timestamps run for hours.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

WIDTH, HEIGHT, FPS = 64, 48, 25
HOUR = 3600


def moving_frames(count: int) -> list[np.ndarray]:
    """A bright bar sweeping right over a dark frame: every frame differs."""
    frames = []
    for index in range(count):
        frame = np.full((HEIGHT, WIDTH, 3), 30, np.uint8)
        left = (index * 8) % (WIDTH - 8)
        frame[:, left : left + 8] = (230, 200, 40)
        frames.append(frame)
    return frames


def tone(seconds: float, rate: int = 44100, amplitude: float = 0.3) -> np.ndarray:
    """A 440 Hz sine, float32."""
    t = np.arange(round(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def write_media(
    path: Path,
    frames: int = 5,
    *,
    sound: np.ndarray | None = None,
    rate: int = 44100,
    step: int = 1,
    tags: dict[str, str] | None = None,
    options: dict[str, str] | None = None,
    data_stream: bool = False,
) -> Path:
    """H.264 frames (``step`` frame intervals apart) and optional AAC ``sound`` at ``rate``."""
    suffix = path.suffix.lower()
    muxer = {".mkv": "matroska", ".ts": "mpegts", ".m4a": "mp4"}.get(suffix)
    with av.open(str(path), "w", format=muxer, options=options or {}) as container:
        container.metadata.update(tags or {})
        video = None
        if frames:
            video = container.add_stream("libx264", rate=FPS)
            video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        data = container.add_data_stream() if data_stream else None
        audio = None if sound is None else container.add_stream("aac", rate=rate, layout="mono")
        for index, rgb in enumerate(moving_frames(frames)):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = index * step, Fraction(1, FPS)
            for packet in video.encode(frame):  # type: ignore[union-attr]
                container.mux(packet)
            if data is not None:
                packet = av.Packet(b"telemetry")
                packet.stream, packet.pts, packet.dts = data, index * 40, index * 40
                packet.time_base = Fraction(1, 1000)
                container.mux(packet)
        if video is not None:
            for packet in video.encode(None):
                container.mux(packet)
        if audio is not None and sound is not None:
            frame = av.AudioFrame.from_ndarray(sound[None], format="fltp", layout="mono")
            frame.rate, frame.pts = rate, 0
            for packet in [*audio.encode(frame), *audio.encode(None)]:
                container.mux(packet)
    return path


def patched(source: Path, target: Path, old: bytes, new: bytes) -> Path:
    """``source`` with its first ``old`` replaced by ``new`` (same length), as ``target``."""
    data = source.read_bytes()
    assert len(old) == len(new) and old in data, f"{old!r} is not in {source.name}"
    target.write_bytes(data.replace(old, new, 1))
    return target


def undecodable_video(folder: Path) -> Path:
    """A Matroska file whose video codec id no FFmpeg knows (its AAC sound is fine)."""
    good = write_media(folder / "good.mkv", sound=tone(0.5))
    return patched(good, folder / "alien_video.mkv", b"V_MPEG4/ISO/AVC", b"V_ZZZZZ/ISO/AVC")


def undecodable_audio(folder: Path) -> Path:
    """A Matroska file with good H.264 video and a sound stream of an unknown codec."""
    good = write_media(folder / "good_sound.mkv", sound=tone(0.5))
    return patched(good, folder / "alien_audio.mkv", b"A_AAC", b"A_ZZZ")


def latin1_tags(folder: Path, suffix: str = ".mkv") -> Path:
    """A good video with sound whose title tag is not UTF-8 (bytes 0xff 0xfe ...)."""
    good = write_media(folder / f"tagged{suffix}", sound=tone(0.5), tags={"title": "PLACEHOLD"})
    return patched(good, folder / f"latin1{suffix}", b"PLACEHOLD", b"\xff\xfeCaf\xe9 \x80\x81")


def ten_hours(folder: Path) -> Path:
    """Three frames five hours apart: a 2 KB mp4 whose header says ten hours."""
    return write_media(folder / "ten_hours.mp4", frames=3, step=5 * HOUR * FPS)


def unmarked_hours(folder: Path) -> Path:
    """A live-style Matroska file (no duration, no frame count) whose frames are an hour apart."""
    return write_media(folder / "unmarked.mkv", frames=5, step=HOUR * FPS, options={"live": "1"})


def one_frame(folder: Path) -> Path:
    """A valid mp4 of a single frame."""
    return write_media(folder / "one_frame.mp4", frames=1)


def still_image(folder: Path, name: str = "photo.png") -> Path:
    """A PNG photo (``name`` may give it a video suffix)."""
    path = folder / name
    Image.fromarray(moving_frames(1)[0]).save(path, format="PNG")
    return path


def sound_only(folder: Path, seconds: float = 0.5) -> Path:
    """An .m4a with AAC sound and no picture."""
    return write_media(folder / "sound.m4a", frames=0, sound=tone(seconds))


def cover_art(folder: Path) -> Path:
    """An .m4a with AAC sound and a JPEG cover (a video stream marked as attached picture)."""
    path = folder / "song.m4a"
    with av.open(str(path), "w", format="mp4") as container:
        sound = container.add_stream("aac", rate=44100, layout="mono")
        cover = container.add_stream("mjpeg", rate=1)
        cover.width, cover.height, cover.pix_fmt = WIDTH, HEIGHT, "yuvj420p"
        cover.disposition = av.stream.Disposition.attached_pic
        picture = av.VideoFrame.from_ndarray(moving_frames(1)[0], format="rgb24")
        picture = picture.reformat(format="yuvj420p")
        picture.pts = 0
        for packet in [*cover.encode(picture), *cover.encode(None)]:
            container.mux(packet)
        frame = av.AudioFrame.from_ndarray(tone(0.5)[None], format="fltp", layout="mono")
        frame.rate, frame.pts = 44100, 0
        for packet in [*sound.encode(frame), *sound.encode(None)]:
            container.mux(packet)
    return path
