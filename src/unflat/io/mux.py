"""Put a soundtrack into a video without re-encoding its picture.

The picture's packets are copied as they are (no generation loss, and fast: a minute of 1080p
muxes in well under a second); the sound is encoded as AAC for .mp4/.mov/.m4v/.mkv and as Opus
for .webm, starting at the picture's first frame. Any sound the video had is left out: mix it
into ``audio`` first if it should stay.
"""

from __future__ import annotations

import os
from pathlib import Path

import av

from unflat.errors import InputError, OutputError
from unflat.io.atomic import atomic_write
from unflat.io.audio_encoder import AUDIO_CODECS, AudioEncoder
from unflat.io.media import check_input_file, open_input
from unflat.types import Audio

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
    codec = AUDIO_CODECS.get(target.suffix.lower())
    if codec is None:
        raise OutputError(
            f"cannot write sound into a {target.suffix or 'suffix-less'} file",
            f"name the output with one of {', '.join(AUDIO_CODECS)}",
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
            sound = AudioEncoder(out, codec, audio, start=start)
            for packet in container.demux(picture):
                if packet.dts is None:  # the demuxer's final flush packet carries no data
                    continue
                packet.stream = copied
                out.mux(packet)
            sound.finish()
    return target


def _first_frame_time(
    container: av.container.InputContainer, picture: av.video.stream.VideoStream
) -> float:
    """When the first frame shows (time 0 of unflat's video timeline), then rewind."""
    first = next(container.decode(picture), None)
    container.seek(0)
    return float(first.time) if first is not None and first.time is not None else 0.0
