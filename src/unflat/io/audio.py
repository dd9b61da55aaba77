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
from unflat.io.media import decoded_audio, open_audio
from unflat.types import Audio


def read_audio(path: str | os.PathLike[str], sample_rate: int = 16000) -> Audio:
    """The first audio stream of a media file, downmixed to mono at ``sample_rate``."""
    with open_audio(Path(path).expanduser()) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        stream = container.streams.audio[0]
        chunks = [c.reshape(-1) for c in decoded_audio(container, stream, resampler)]
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return Audio(samples.astype(np.float32), sample_rate)


def mono_samples(samples: np.ndarray, what: str, dtype: type | None = None) -> np.ndarray:
    """``samples`` as a 1-D array, or an :class:`InputError` saying that ``what`` needs mono."""
    x = np.asarray(samples, dtype=dtype)
    if x.ndim != 1:
        raise InputError(
            f"{what} needs mono samples, got an array of shape {x.shape}",
            hint="downmix to one channel first (unflat.io.audio.read_audio does)",
        )
    return x


def pcm16(samples: np.ndarray) -> np.ndarray:
    """Float samples as 16-bit little-endian PCM (clipped to [-1, 1], rounded)."""
    return np.round(np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")


def write_wav(path: str | os.PathLike[str], audio: Audio, *, overwrite: bool = True) -> Path:
    """Write 16-bit PCM mono WAV (atomically); samples are clipped to [-1, 1]."""
    pcm = pcm16(audio.samples)
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


def read_soundtrack(path: str | os.PathLike[str], sample_rate: int = 16000) -> Audio:
    """A video's sound on the video's own timeline: sample 0 plays with the first frame.

    Containers often start the picture a little after the sound (an encoder's B-frame delay):
    the sound before the first frame is cut, and silence fills in if the sound starts later.
    """
    source = Path(path).expanduser()
    offset = 0.0
    with open_audio(source) as container:
        sound = next(container.decode(container.streams.audio[0]), None)
    # a fresh opening for the picture: after a seek, decoders may skip the priming frames that
    # a plain read (read_audio) returns
    with open_audio(source) as container:
        picture = None
        if container.streams.video:
            picture = next(container.decode(container.streams.video[0]), None)
    if picture is not None and sound is not None and None not in (picture.time, sound.time):
        offset = float(picture.time) - float(sound.time)
    audio = read_audio(source, sample_rate)
    shift = round(abs(offset) * sample_rate)
    if offset > 0:
        samples = audio.samples[shift:]
    else:
        samples = np.concatenate([np.zeros(shift, np.float32), audio.samples])
    return Audio(samples, sample_rate)


def resample(audio: Audio, sample_rate: int) -> Audio:
    """``audio`` at ``sample_rate`` (band-limited through FFmpeg's resampler)."""
    if audio.sample_rate == sample_rate or len(audio.samples) == 0:
        return Audio(audio.samples, sample_rate) if len(audio.samples) == 0 else audio
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(audio.samples.astype(np.float32)[None]), format="flt", layout="mono"
    )
    frame.rate = int(audio.sample_rate)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
    pieces = [p.to_ndarray().reshape(-1) for p in [*resampler.resample(frame),
                                                   *resampler.resample(None)]]  # fmt: skip
    return Audio(np.concatenate(pieces).astype(np.float32), sample_rate)
