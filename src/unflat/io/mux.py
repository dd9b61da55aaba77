"""Put a soundtrack into a video without re-encoding its picture.

The picture's packets are copied as they are (no generation loss, and fast: a minute of 1080p
muxes in well under a second); the sound is encoded as AAC for .mp4/.mov/.m4v/.mkv and as Opus
for .webm, starting at the picture's first frame. Any sound the video had is left out: mix it
into ``audio`` first if it should stay.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import av

from unflat.errors import OutputError
from unflat.io.atomic import atomic_write
from unflat.io.audio_encoder import AUDIO_CODECS, AudioEncoder
from unflat.io.media import first_stream, guarded, open_input
from unflat.types import Audio

_FORMATS = {".mp4": "mp4", ".mov": "mov", ".m4v": "mp4", ".mkv": "matroska", ".webm": "webm"}


def has_audio(path: str | os.PathLike[str]) -> bool:
    """Whether the media file has a sound stream (one this FFmpeg can decode or not)."""
    source = Path(path).expanduser()
    with open_input(source, "video") as container:
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
    with open_input(source, "video") as container:
        with guarded(source, "video"):
            picture = first_stream(source, container, "video")
            start = _first_frame_time(container, picture)
        with (
            atomic_write(target, overwrite=overwrite) as temporary,
            _writing(target),
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
            for packet in _packets(source, container, picture):
                packet.stream = copied
                out.mux(packet)
            sound.finish()
    return target


@contextlib.contextmanager
def _writing(target: Path) -> Iterator[None]:
    """FFmpeg failing to write ``target`` (disk full, no permission) as an ``OutputError``."""
    try:
        yield
    except av.error.FFmpegError as error:
        raise OutputError(
            f"could not write {target} ({error.strerror or type(error).__name__})",
            hint="check free disk space and the permissions of the output folder",
        ) from error


def _packets(
    source: Path, container: av.container.InputContainer, picture: av.video.stream.VideoStream
) -> Iterator[av.Packet]:
    """The picture's packets as stored; a damaged file is an ``InputError``."""
    with guarded(source, "video"):
        for packet in container.demux(picture):
            if packet.dts is None:  # the demuxer's final flush packet carries no data
                continue
            yield packet


def _first_frame_time(
    container: av.container.InputContainer, picture: av.video.stream.VideoStream
) -> float:
    """When the first frame shows (time 0 of unflat's video timeline), then rewind."""
    first = next(container.decode(picture), None)
    container.seek(0)
    return float(first.time) if first is not None and first.time is not None else 0.0
