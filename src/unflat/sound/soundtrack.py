"""A new soundtrack for a video file: checked before the work, then mixed, normalised, muxed.

What ``unflat dub`` and ``unflat foley`` share: every check that can fail fast runs before the
long work (the output, the video's picture, an existing soundtrack); the new sound is mixed
with the video's own if asked, loudness-normalised (EBU R128) and muxed without re-encoding the
picture.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from unflat.errors import InputError, OutputError
from unflat.io.audio import read_soundtrack, write_wav
from unflat.io.mux import mux_audio
from unflat.io.video import VideoInfo, check_moving, probe_video
from unflat.sound.loudness import normalise_loudness
from unflat.sound.mix import mix_ducked
from unflat.types import Audio

Existing = Literal["refuse", "replace", "mix"]


def check_outputs(
    source: Path, target: Path, wav: str | os.PathLike[str] | None, existing: Existing,
    overwrite: bool,
) -> VideoInfo:  # fmt: skip
    """The video's facts, after refusing what would fail only after the long work."""
    info = probe_video(source)
    check_moving(info, "give a video: a still image or a single frame has nothing to follow")
    for path in (target, wav):
        if path is not None and Path(path).exists() and not overwrite:
            raise OutputError(f"{path} already exists", "pass --overwrite to replace it")
    if wav is not None and Path(wav).suffix.lower() != ".wav":
        raise OutputError(f"{wav} is not a .wav name", "name the speech file e.g. speech.wav")
    if info.has_audio and existing == "refuse":
        raise InputError(
            f"{source.name} already has sound",
            "pass --replace to drop it, or --mix to keep it under the new sound",
        )
    if info.has_audio and existing == "mix" and not info.audio_decodable:
        raise InputError(
            f"{source.name} has sound in a format this FFmpeg build cannot decode, so it cannot "
            "be mixed",
            "pass --replace to drop it, or convert it first (ffmpeg -i IN -c:v copy -c:a aac OUT)",
        )
    return info


def finish_soundtrack(
    source: Path, target: Path, audio: Audio, mix: bool, wav: str | os.PathLike[str] | None,
    loudness_lufs: float, overwrite: bool,
) -> Audio:  # fmt: skip
    """Mix in the video's own sound if asked, normalise loudness, write WAV and video."""
    if mix:
        audio = mix_ducked(audio, read_soundtrack(source, sample_rate=audio.sample_rate))
    audio = normalise_loudness(audio, loudness_lufs)
    if wav is not None:
        write_wav(wav, audio, overwrite=overwrite)
    mux_audio(source, audio, target, overwrite=overwrite)
    return audio
