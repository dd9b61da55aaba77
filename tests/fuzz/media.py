"""Videos and sound: ``probe_video``/``read_video`` (every frame decoded) and
``read_audio``/``read_soundtrack`` on damaged files made here with PyAV (H.264, HEVC, VP9,
MPEG-4, MJPEG, GIF; AAC, MP3, FLAC, Opus, PCM WAV; a video with sound)."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from tests.fuzz.engine import Seed, whole
from tests.fuzz.images import picture
from unflat.io.audio import read_audio, read_soundtrack
from unflat.io.limits import current_limits
from unflat.io.video import probe_video, read_video

WIDTH, HEIGHT, FRAMES, FPS = 48, 32, 4, 10
RATE = 16000


def tone(seconds: float, rate: int, channels: int = 1) -> np.ndarray:
    """A 440 Hz tone, ``float32 [channels, N]``."""
    t = np.arange(round(seconds * rate)) / rate
    wave = 0.5 * np.sin(2 * np.pi * 440 * t).astype(np.float32)
    return np.repeat(wave[None], channels, axis=0)


def _add_audio(container: av.container.OutputContainer, codec: str, rate: int, channels: int):
    stream = container.add_stream(codec, rate=rate, layout="mono" if channels == 1 else "stereo")
    if codec == "vorbis":
        stream.codec_context.options = {"strict": "experimental"}
    return stream


def _encode_audio(container, stream, samples: np.ndarray) -> None:
    """Encode ``float32 [C, N]`` in frames of the codec's size."""
    context = stream.codec_context
    size = context.frame_size or 1024
    layout = "mono" if samples.shape[0] == 1 else "stereo"
    for start in range(0, samples.shape[1], size):
        chunk = np.ascontiguousarray(samples[:, start : start + size])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
        frame.rate = context.sample_rate
        frame.pts = start
        frame.time_base = Fraction(1, context.sample_rate)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def write_media(
    path: Path,
    video: str | None = None,
    pix_fmt: str = "yuv420p",
    audio: str | None = None,
    rate: int = RATE,
    channels: int = 1,
    size: tuple[int, int] = (WIDTH, HEIGHT),
) -> bytes:
    """A tiny file with a video stream (``FRAMES`` frames) and/or a sound stream (0.4 s)."""
    with av.open(str(path), "w") as container:
        if video is not None:
            stream = container.add_stream(video, rate=FPS)
            stream.width, stream.height, stream.pix_fmt = *size, pix_fmt
            if video == "libx265":
                stream.options = {"x265-params": "log-level=none"}
        sound = _add_audio(container, audio, rate, channels) if audio else None
        if video is not None:
            for index in range(FRAMES):
                rgb = picture(*size, seed=index)
                container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
            container.mux(stream.encode(None))
        if sound is not None:
            _encode_audio(container, sound, tone(0.4, rate, channels))
    return path.read_bytes()


def _header(data: bytes) -> int:
    return min(len(data), 256)


def video_seeds(folder: Path) -> list[Seed]:
    """Valid videos of the containers and codecs people send."""
    folder.mkdir(parents=True, exist_ok=True)
    made = {
        "h264.mp4": {"video": "libx264"},
        # x265 corrupts its heap on frames under 64 rows (PyAV 18's libx265): not a reader's bug
        "hevc.mp4": {"video": "libx265", "size": (64, 64)},
        "vp9.webm": {"video": "libvpx-vp9"},
        "mpeg4.avi": {"video": "mpeg4"},
        "mjpeg.mov": {"video": "mjpeg", "pix_fmt": "yuvj420p"},
        "anim.gif": {"video": "gif", "pix_fmt": "rgb8"},
        "talk.mp4": {"video": "libx264", "audio": "aac"},
        "talk.mkv": {"video": "vp8", "audio": "libopus", "rate": 48000},
    }
    return [
        Seed(name, write_media(folder / name, **options), (whole(_header),))
        for name, options in made.items()
    ]


def audio_seeds(folder: Path) -> list[Seed]:
    """Valid sound files, and videos with sound (read as a soundtrack)."""
    folder.mkdir(parents=True, exist_ok=True)
    made = {
        "tone.wav": {"audio": "pcm_s16le"},
        "stereo.wav": {"audio": "pcm_s16le", "rate": 44100, "channels": 2},
        "float.wav": {"audio": "pcm_f32le"},
        "tone.flac": {"audio": "flac"},
        "tone.mp3": {"audio": "libmp3lame", "rate": 44100},
        "tone.m4a": {"audio": "aac"},
        "tone.ogg": {"audio": "libopus", "rate": 48000},
        "talk.mp4": {"video": "libx264", "audio": "aac"},
        "talk.mkv": {"video": "vp8", "audio": "libopus", "rate": 48000},
    }
    return [
        Seed(name, write_media(folder / name, **options), (whole(_header),))
        for name, options in made.items()
    ]


def read_videos(path: Path) -> None:
    """The header facts are sane and every frame decodes to uint8 RGB of the upright size."""
    info = probe_video(path)
    assert info.width > 0 and info.height > 0 and math.isfinite(info.fps) and info.fps > 0
    limits = current_limits()
    with read_video(path) as reader:
        count = 0
        for frame in reader:
            assert frame.dtype == np.uint8 and frame.shape == (reader.height, reader.width, 3)
            count += 1
            assert count <= limits.max_frames, "frames past the frame limit"
    assert count >= 1
    assert len(reader.timestamps) == count


def read_sounds(path: Path) -> None:
    """Mono float32 samples at the rate asked for, finite, within the duration limit."""
    readers = [read_audio]
    if path.suffix in {".mp4", ".mkv"}:
        readers.append(read_soundtrack)
    for reader in readers:
        audio = reader(path, RATE)
        samples = audio.samples
        assert audio.sample_rate == RATE
        assert samples.dtype == np.float32 and samples.ndim == 1, (samples.dtype, samples.shape)
        assert bool(np.isfinite(samples).all()), "NaN or infinite samples"
        assert len(samples) <= current_limits().max_seconds * RATE + RATE
