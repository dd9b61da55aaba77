"""Opening and decoding media files for reading: the one guarded path of every media reader.

Everything FFmpeg (through PyAV) does with a file's bytes -- opening it, picking a stream,
decoding, demuxing -- runs inside :func:`guarded`, so a damaged or hostile file leaves as one
``InputError`` line (through :func:`unflat.io.guard.decoding`) and never as a traceback. PyAV's
errors do not share one Python base besides ``av.error.FFmpegError`` (``DecoderNotFoundError``
is a ``LookupError``, ``UndefinedError`` a bare ``Exception``), so :func:`guarded` names it.

Decisions, in one place:

- **Tags that are not UTF-8** are read with replacement characters: unflat never uses them,
  and a mis-encoded title must not stop a good video.
- **A stream FFmpeg has no decoder for** is passed over for the next one of its kind; when none
  is left, ``InputError`` says so and how to convert the file. Cover art (an attached picture
  in a music file) is not a video stream.
- **Limits** (:mod:`unflat.io.limits`): :class:`Budget` refuses a stream that *declares* more
  seconds or frames than allowed before anything is decoded, and stops decoding at the limit
  when the header lied, with the same ``InputError`` naming the ``--max-...`` option.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import av
import numpy as np

from unflat.errors import InputError
from unflat.io.guard import decoding
from unflat.io.limits import check_limit, current_limits

Kind = Literal["video", "audio"]

DAMAGED_HINT = "the file may be truncated or damaged; export or download it again"
_VIDEO_FORMATS = "a video such as .mp4, .mov, .webm, .mkv or .gif"
_NO_STREAM_HINT = {
    "video": "give a video file (an audio-only file or a still image will not do)",
    "audio": "give a file with sound",
}
_CONVERT_HINT = {
    "video": "convert it to a common format, e.g. ffmpeg -i FILE -c:v libx264 -c:a aac OUT.mp4",
    "audio": "convert its sound, e.g. ffmpeg -i FILE -c:v copy -c:a aac OUT.mp4",
}
#: FFmpeg's AV_DISPOSITION_ATTACHED_PIC: a still picture (cover art), not a video.
_ATTACHED_PICTURE = 0x400
#: Highest sample rate read (Hz): what studio interfaces record (DSD is decoded at 352.8 kHz).
#: A header that claims more is damaged, and resampling from it would build a filter bank of
#: hundreds of megabytes (100 MHz: 0.8 GB and 7 s, for a 70 KB WAV).
MAX_SAMPLE_RATE = 768_000


class _LibraryError(ValueError):
    """A PyAV error restated without its errno and file name (the guard adds the file)."""


@contextlib.contextmanager
def guarded(source: str | os.PathLike[str], what: str, hint: str = DAMAGED_HINT) -> Iterator[None]:
    """``decoding(source, what)`` that also turns PyAV's errors into the one ``InputError``."""
    with decoding(source, what, hint=hint):
        try:
            yield
        except av.error.FFmpegError as error:
            if isinstance(error, MemoryError):
                raise MemoryError(str(error)) from None
            # PyAV's text is "[Errno N] What went wrong: 'path'"; strerror is the middle part
            raise _LibraryError(error.strerror or type(error).__name__) from None


@contextlib.contextmanager
def settled(stream: av.stream.Stream) -> Iterator[None]:
    """Flush ``stream``'s decoder when decoding stops early (an error, or the caller stopped):
    FFmpeg's frame-threaded H.264 decoder deadlocks when it is freed right after an error."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):
            stream.codec_context.flush_buffers()
        raise


def check_input_file(source: Path, kind: str) -> None:
    """``InputError`` unless ``source`` is a readable, non-empty file (``kind`` names it)."""
    if not source.exists():
        raise InputError(f"{source} does not exist", hint="check the path and its spelling")
    if source.is_dir():
        raise InputError(f"{source} is a folder, not a {kind}", hint=f"give a {kind} file")
    if not os.access(source, os.R_OK):
        raise InputError(f"cannot read {source}: permission denied", hint="check its permissions")
    if source.stat().st_size == 0:
        raise InputError(f"{source} is empty (0 bytes)", hint="the file was not fully copied")


def open_input(source: Path, kind: str = "media file") -> av.container.InputContainer:
    """Check ``source`` and open it with FFmpeg; ``InputError`` if it is not media FFmpeg reads."""
    check_input_file(source, kind)
    hint = (
        f"give {_VIDEO_FORMATS}" if kind == "video" else f"give {_VIDEO_FORMATS}, or a sound file"
    )
    with guarded(source, kind, hint=hint):
        return av.open(str(source), "r", metadata_errors="replace")


def _streams(container: av.container.InputContainer, kind: Kind) -> list[av.stream.Stream]:
    if kind == "audio":
        return list(container.streams.audio)
    # (PyAV before 13 has no disposition: no stream counts as cover art there)
    video = container.streams.video
    return [s for s in video if not int(getattr(s, "disposition", 0)) & _ATTACHED_PICTURE]


def first_stream(
    source: Path, container: av.container.InputContainer, kind: Kind
) -> av.stream.Stream:
    """The first ``kind`` stream FFmpeg can decode; ``InputError`` if there is none."""
    streams = _streams(container, kind)
    if not streams:
        raise InputError(f"{source} has no {kind} stream", hint=_NO_STREAM_HINT[kind])
    for stream in streams:
        if stream.codec_context is not None:  # None: this FFmpeg has no decoder for it
            return stream
    raise InputError(
        f"{source} has {'an' if kind == 'audio' else 'a'} {kind} stream in a format this "
        "FFmpeg build cannot decode",
        hint=_CONVERT_HINT[kind],
    )


def has_decodable(container: av.container.InputContainer, kind: Kind) -> bool:
    """Whether ``container`` has a ``kind`` stream FFmpeg can decode."""
    return any(stream.codec_context is not None for stream in _streams(container, kind))


def declared_seconds(
    container: av.container.InputContainer, stream: av.stream.Stream
) -> float | None:
    """How long ``stream`` says it lasts (else the whole file), None when neither says."""
    seconds = None
    if stream.duration is not None and stream.time_base is not None:
        seconds = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        seconds = container.duration / av.time_base
    return seconds if seconds is not None and math.isfinite(seconds) and seconds > 0 else None


class Budget:
    """What one stream of ``source`` may make unflat decode, under :func:`current_limits`.

    :meth:`check_declared` refuses a header beyond the limits; :meth:`spend` counts each
    decoded frame (its time, or its length for sound) and refuses the first one beyond them.
    """

    def __init__(self, source: Path, kind: Kind) -> None:
        self.source, self.kind = source, kind
        self.limits = current_limits()
        self.frames = 0
        self._start: float | None = None
        self._seconds = 0.0

    def check_declared(self, seconds: float | None, frames: int | None = None) -> None:
        """Refuse a stream whose header declares more than the limits allow."""
        if seconds is not None:
            check_limit(self.source, f"seconds of {self.kind}", round(seconds, 2), "max_seconds")
        if frames:
            check_limit(self.source, f"frames of {self.kind}", frames, "max_frames")

    def spend(self, time: float | None = None, length: float = 0.0) -> None:
        """Count one decoded frame that shows at ``time`` (video) or lasts ``length`` (sound)."""
        self.frames += 1
        if self.kind == "video" and self.frames > self.limits.max_frames:
            check_limit(self.source, "or more frames of video", self.frames, "max_frames")
        if time is not None:
            self._start = time if self._start is None else min(self._start, time)
            self._seconds = max(self._seconds, time - self._start)
        self._seconds += length
        if self._seconds > self.limits.max_seconds:
            seconds = round(self._seconds, 2)
            check_limit(self.source, f"or more seconds of {self.kind}", seconds, "max_seconds")


def open_audio(source: Path) -> av.container.InputContainer:
    """Open a media file that must have sound FFmpeg can decode; ``InputError`` otherwise."""
    container = open_input(source, "media file")
    try:
        first_stream(source, container, "audio")
    except BaseException:
        container.close()
        raise
    return container


def decoded_audio(
    container: av.container.InputContainer,
    stream: av.audio.stream.AudioStream,
    resampler: av.AudioResampler,
) -> Iterator[np.ndarray]:
    """The stream's sound through ``resampler``, chunk by chunk (arrays as PyAV gives them).

    Decoding stops with ``InputError`` past the ``max_seconds`` limit, so a header that lies
    about the length cannot fill the memory.
    """
    source = Path(container.name)
    budget = Budget(source, "audio")
    with guarded(source, "sound"), settled(stream):
        for frame in container.decode(stream):
            if not 0 < frame.sample_rate <= MAX_SAMPLE_RATE:
                raise InputError(
                    f"{source}'s sound says it plays {frame.sample_rate:,} samples a second; "
                    f"sound is recorded at up to {MAX_SAMPLE_RATE:,}",
                    hint="its header is damaged; export the sound again",
                )
            budget.spend(length=frame.samples / max(frame.sample_rate, 1))
            frame.pts = None  # the resampler would otherwise insist on continuous timestamps
            chunks = [resampled.to_ndarray() for resampled in resampler.resample(frame)]
            yield from chunks
        chunks = [resampled.to_ndarray() for resampled in resampler.resample(None)]
    yield from chunks
