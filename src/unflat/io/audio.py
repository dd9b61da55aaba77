"""Audio in and out: any media file's sound as float samples, and WAV files.

Samples are ``float32`` in [-1, 1], shape ``[N]`` (mono) — what the sound pipeline works on.
Reading goes through PyAV (FFmpeg), so the sound of an .mp4, .mov, .webm, .mkv, .wav, .flac,
.mp3 or .m4a reads the same way, resampled to the rate asked for. Opening and decoding go
through :mod:`unflat.io.media`'s guarded path: a damaged file, sound FFmpeg cannot decode or
more than the ``max_seconds`` limit is an ``InputError``.
"""

from __future__ import annotations

import os
import wave
from pathlib import Path

import av
import numpy as np

from unflat.errors import InputError
from unflat.io.atomic import atomic_write
from unflat.io.limits import check_limit
from unflat.io.media import (
    Budget,
    declared_seconds,
    decoded_audio,
    first_stream,
    guarded,
    has_decodable,
    open_audio,
)
from unflat.types import Audio


def read_audio(path: str | os.PathLike[str], sample_rate: int = 16000) -> Audio:
    """The first decodable audio stream of a media file, downmixed to mono at ``sample_rate``.

    ``InputError`` if the file cannot be read, or holds (or declares) more than the
    ``max_seconds`` limit of :mod:`unflat.io.limits`: the whole sound is held in memory.
    """
    source = Path(path).expanduser()
    with open_audio(source) as container:
        stream = first_stream(source, container, "audio")
        Budget(source, "audio").check_declared(declared_seconds(container, stream))
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        chunks = [c.reshape(-1) for c in decoded_audio(container, stream, resampler)]
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    # A float WAV stores NaN and infinity as readily as numbers; mixed in, they ruin the output.
    broken = np.flatnonzero(~np.isfinite(samples))
    if broken.size:
        raise InputError(
            f"{source}'s sound has NaN or infinite samples (the first at "
            f"{broken[0] / sample_rate:.3f} s)",
            hint="the file is damaged, or was written by a broken tool; export the sound again",
        )
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
    with open_audio(source) as container, guarded(source, "sound"):
        sound = next(container.decode(first_stream(source, container, "audio")), None)
    # a fresh opening for the picture: after a seek, decoders may skip the priming frames that
    # a plain read (read_audio) returns
    with open_audio(source) as container, guarded(source, "video"):
        picture = None
        if has_decodable(container, "video"):
            picture = next(container.decode(first_stream(source, container, "video")), None)
    if picture is not None and sound is not None and None not in (picture.time, sound.time):
        offset = float(picture.time) - float(sound.time)
    # a hostile file can start its sound hours after its picture: no hours of silence for it
    check_limit(source, "seconds between picture and sound", abs(offset), "max_seconds")
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
