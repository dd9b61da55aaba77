"""Sound for a video file: speech fitted to the lips (``unflat dub``), mixed and muxed.

Every check that can fail fast runs before the long work (tracking): the output, the video's
picture, an existing soundtrack, the voice, the transcript. The soundtrack is loudness-
normalised (EBU R128) and muxed without re-encoding the picture.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from unflat.errors import InputError, OutputError
from unflat.io.audio import read_soundtrack, write_wav
from unflat.io.mux import mux_audio
from unflat.io.video import VideoInfo, probe_video
from unflat.sound.activity import SpeechActivity, speech_activity
from unflat.sound.dub import FittedSpeech, fit_speech
from unflat.sound.foley import FoleyResult
from unflat.sound.loudness import integrated_loudness, normalise_loudness
from unflat.sound.mix import mix_ducked
from unflat.sound.text import Transcript
from unflat.sound.tts.espeak import EspeakVoice
from unflat.sound.tts.speech import Voice
from unflat.types import Audio

Existing = Literal["refuse", "replace", "mix"]
Progress = Callable[[str, int, int | None], None]


@dataclass
class DubResult:
    """What ``dub_video`` wrote and measured."""

    output: Path
    wav: Path | None
    activity: SpeechActivity
    speech: FittedSpeech
    audio: Audio
    loudness_lufs: float
    seconds: dict[str, float] = field(default_factory=dict)  # time per stage


def dub_video(
    video: str | os.PathLike[str],
    output: str | os.PathLike[str],
    transcript: Transcript,
    *,
    voice: Voice | None = None,
    existing: Existing = "refuse",
    wav: str | os.PathLike[str] | None = None,
    loudness_lufs: float = -16.0,
    face: int | None = None,
    align: bool = True,
    effects: bool = False,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> DubResult:
    """Speak ``transcript`` in ``video`` where its face speaks; write ``output`` (and ``wav``).

    ``effects`` adds :func:`unflat.sound.foley.foley`'s sound effects under the speech, ducked.
    """
    source, target = Path(video).expanduser(), Path(output).expanduser()
    voice = voice or EspeakVoice()
    info = _check_outputs(source, target, wav, existing, overwrite)
    voice.check()
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    from unflat.face.track import track

    def tracked(done: int, total: int | None) -> None:
        if progress is not None:
            progress("tracking the face", done, total)

    # the mouth is all dubbing reads: the iris model (two thirds of the time) is skipped
    face_track = track(source, face=face, progress=tracked, irises=False)
    seconds["track"] = time.perf_counter() - clock
    clock = time.perf_counter()
    activity = speech_activity(face_track)
    duration = info.duration_s or float(face_track.times[-1] + 1.0 / face_track.fps)
    speech = fit_speech(activity, transcript, voice, duration, align=align)
    seconds["speech"] = time.perf_counter() - clock
    clock = time.perf_counter()
    audio = speech.audio
    if effects:
        from unflat.sound.foley import foley

        audio = mix_ducked(audio, foley(source, audio.sample_rate).audio)
        seconds["effects"] = time.perf_counter() - clock
        clock = time.perf_counter()
    audio = _finish(source, target, audio, info.has_audio and existing == "mix", wav,
                    loudness_lufs, overwrite)  # fmt: skip
    seconds["mix"] = time.perf_counter() - clock
    return DubResult(target, Path(wav) if wav else None, activity, speech, audio,
                     integrated_loudness(audio), seconds)  # fmt: skip


@dataclass
class FoleyVideoResult:
    """What ``foley_video`` wrote and measured."""

    output: Path
    wav: Path | None
    effects: FoleyResult
    loudness_lufs: float


def foley_video(
    video: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    existing: Existing = "refuse",
    wav: str | os.PathLike[str] | None = None,
    loudness_lufs: float = -16.0,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> FoleyVideoResult:
    """Add :func:`unflat.sound.foley.foley`'s effects to ``video``; write ``output``."""
    from unflat.sound.foley import foley

    source, target = Path(video).expanduser(), Path(output).expanduser()
    info = _check_outputs(source, target, wav, existing, overwrite)

    def frames(done: int, total: int | None) -> None:
        if progress is not None:
            progress("following motion", done, total)

    effects = foley(source, progress=frames)
    audio = _finish(source, target, effects.audio, info.has_audio and existing == "mix", wav,
                    loudness_lufs, overwrite)  # fmt: skip
    return FoleyVideoResult(target, Path(wav) if wav else None, effects,
                            integrated_loudness(audio))  # fmt: skip


def _check_outputs(
    source: Path, target: Path, wav: str | os.PathLike[str] | None, existing: Existing,
    overwrite: bool,
) -> VideoInfo:  # fmt: skip
    """The video's facts, after refusing what would fail only after the long work."""
    info = probe_video(source)
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
    return info


def _finish(
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
