"""Opening media files for reading, shared by the video and audio readers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

from unflat.errors import InputError


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


def open_input(source: Path) -> av.container.InputContainer:
    """Open a media file with FFmpeg; ``InputError`` if it is not one."""
    try:
        return av.open(str(source), "r")
    except av.error.FFmpegError as error:
        raise InputError(
            f"{source} is not a media file we can read ({error.strerror or error})",
            hint="give a video such as .mp4, .mov, .webm, .mkv or .gif",
        ) from error


def open_audio(source: Path) -> av.container.InputContainer:
    """Open a media file that must have sound; ``InputError`` if it is missing or has none."""
    check_input_file(source, "media file")
    container = open_input(source)
    if not container.streams.audio:
        container.close()
        raise InputError(f"{source} has no audio stream", hint="give a file with sound")
    return container


def decoded_audio(
    container: av.container.InputContainer,
    stream: av.audio.stream.AudioStream,
    resampler: av.AudioResampler,
) -> Iterator[np.ndarray]:
    """The stream's sound through ``resampler``, chunk by chunk (arrays as PyAV gives them)."""
    try:
        for frame in container.decode(stream):
            frame.pts = None  # the resampler would otherwise insist on continuous timestamps
            for resampled in resampler.resample(frame):
                yield resampled.to_ndarray()
        for resampled in resampler.resample(None):
            yield resampled.to_ndarray()
    except av.error.FFmpegError as error:
        raise InputError(
            f"cannot decode the audio of {container.name}: {error}",
            hint="the file may be truncated; try another audio source",
        ) from error
