"""Put a soundtrack into a video without re-encoding its picture.

The picture's packets are copied as they are (no generation loss, and fast: a minute of 1080p
muxes in well under a second); the sound is encoded as AAC for .mp4/.mov/.m4v/.mkv and as Opus
for .webm, starting at the picture's first frame. Any sound the video had is left out: mix it
into ``audio`` first if it should stay.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from unflat.errors import InputError, OutputError
from unflat.io.atomic import atomic_write
from unflat.io.audio import resample
from unflat.io.media import check_input_file, open_input
from unflat.types import Audio

_AAC_RATE, _OPUS_RATE = 48000, 48000
_SUFFIX_CODEC = {".mp4": "aac", ".mov": "aac", ".m4v": "aac", ".mkv": "aac", ".webm": "libopus"}
_FORMATS = {".mp4": "mp4", ".mov": "mov", ".m4v": "mp4", ".mkv": "matroska", ".webm": "webm"}


def has_audio(path: str | os.PathLike[str]) -> bool:
    """Whether the media file has a sound stream."""
    source = Path(path).expanduser()
    check_input_file(source, "video")
    with open_input(source) as container:
        return bool(container.streams.audio)


def mux_audio(
    video: str | os.PathLike[str],
    audio: Audio,
    output: str | os.PathLike[str],
    *,
    overwrite: bool = False,
) -> Path:
    """Write ``output``: ``video``'s picture, copied, with ``audio`` as its only sound."""
    source, target = Path(video).expanduser(), Path(output).expanduser()
    codec = _SUFFIX_CODEC.get(target.suffix.lower())
    if codec is None:
        raise OutputError(
            f"cannot write sound into a {target.suffix or 'suffix-less'} file",
            f"name the output with one of {', '.join(_SUFFIX_CODEC)}",
        )
    check_input_file(source, "video")
    with open_input(source) as container:
        if not container.streams.video:
            raise InputError(f"{source} has no video stream", "give a video file")
        picture = container.streams.video[0]
        start = _first_frame_time(container, picture)
        with (
            atomic_write(target, overwrite=overwrite) as temporary,
            av.open(str(temporary), "w", format=_FORMATS[target.suffix.lower()]) as out,
        ):
            try:
                copied = out.add_stream_from_template(picture)
            except (ValueError, av.error.FFmpegError) as error:
                raise OutputError(
                    f"{picture.codec_context.name} video cannot go in a {target.suffix} file",
                    f"use the input's own suffix ({source.suffix})",
                ) from error
            sound = _sound_stream(out, codec)
            for packet in container.demux(picture):
                if packet.dts is None:  # the demuxer's final flush packet carries no data
                    continue
                packet.stream = copied
                out.mux(packet)
            _encode(out, sound, audio, start)
    return target


def _first_frame_time(
    container: av.container.InputContainer, picture: av.video.stream.VideoStream
) -> float:
    """When the first frame shows (time 0 of unflat's video timeline), then rewind."""
    first = next(container.decode(picture), None)
    container.seek(0)
    return float(first.time) if first is not None and first.time is not None else 0.0


def _sound_stream(out: av.container.OutputContainer, codec: str) -> av.audio.stream.AudioStream:
    rate = _OPUS_RATE if codec == "libopus" else _AAC_RATE
    stream = out.add_stream(codec, rate=rate, layout="mono")
    stream.codec_context.format = "flt" if codec == "libopus" else "fltp"
    return stream


def _encode(
    out: av.container.OutputContainer,
    stream: av.audio.stream.AudioStream,
    audio: Audio,
    start: float,
) -> None:
    """Encode ``audio`` at the stream's rate from ``start`` seconds on."""
    rate = stream.codec_context.sample_rate
    samples = resample(audio, rate).samples
    # mono: packed and planar float samples are laid out alike, one row
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(np.clip(samples, -1.0, 1.0)[None]),
        format=stream.codec_context.format.name,
        layout="mono",
    )
    frame.rate = rate
    frame.pts = round(start * rate)
    frame.time_base = Fraction(1, rate)
    for packet in [*stream.encode(frame), *stream.encode(None)]:
        out.mux(packet)
