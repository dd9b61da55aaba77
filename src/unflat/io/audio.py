"""Audio in and out: any media file's sound as float samples, and WAV files.

Samples are ``float32`` in [-1, 1], shape ``[N]`` (mono) — what the sound pipeline works on.
Reading goes through PyAV (FFmpeg), so the sound of an .mp4, .mov, .webm, .mkv, .wav, .flac,
.mp3 or .m4a reads the same way, resampled to the rate asked for.
"""

from __future__ import annotations

import os
import wave
from pathlib import Path

import av
import numpy as np

from unflat.errors import InputError
from unflat.io.atomic import atomic_write
from unflat.types import Audio


def read_audio(path: str | os.PathLike[str], sample_rate: int = 16000) -> Audio:
    """The first audio stream of a media file, downmixed to mono at ``sample_rate``."""
    source = Path(path).expanduser()
    if not source.is_file():
        raise InputError(f"{source} does not exist", hint="check the path")
    try:
        container = av.open(str(source), "r")
    except av.error.FFmpegError as error:
        raise InputError(
            f"{source} is not a media file we can read ({error.strerror or error})",
            hint="give a video or audio file such as .mp4, .mov, .wav or .flac",
        ) from error
    with container:
        if not container.streams.audio:
            raise InputError(
                f"{source.name} has no audio stream", hint="give a file that has sound"
            )
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        chunks = []
        try:
            for frame in container.decode(container.streams.audio[0]):
                frame.pts = None  # decoded timestamps may jump; the resampler wants them even
                chunks.extend(r.to_ndarray().reshape(-1) for r in resampler.resample(frame))
            chunks.extend(r.to_ndarray().reshape(-1) for r in resampler.resample(None))
        except av.error.FFmpegError as error:
            raise InputError(
                f"cannot decode the audio of {source.name}: {error}",
                hint="the file may be truncated; try another copy",
            ) from error
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return Audio(samples.astype(np.float32), sample_rate)


def write_wav(path: str | os.PathLike[str], audio: Audio, *, overwrite: bool = True) -> Path:
    """Write 16-bit PCM mono WAV (atomically); samples are clipped to [-1, 1]."""
    pcm = np.round(np.clip(audio.samples, -1.0, 1.0) * 32767.0).astype("<i2")
    target = Path(path)
    with (
        atomic_write(target, overwrite=overwrite) as temporary,
        wave.open(str(temporary), "wb") as out,
    ):
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(int(audio.sample_rate))
        out.writeframes(pcm.tobytes())
    return target
