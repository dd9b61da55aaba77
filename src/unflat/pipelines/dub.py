"""``unflat dub``: speech from a transcript, fitted to where a video's face speaks, muxed in."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from unflat.errors import ConfigError
from unflat.face.track import track
from unflat.progress import Progress
from unflat.sound.activity import SpeechActivity, speech_activity
from unflat.sound.dub import FittedSpeech, fit_speech
from unflat.sound.loudness import integrated_loudness
from unflat.sound.mix import mix_ducked
from unflat.sound.soundtrack import Existing, check_outputs, finish_soundtrack
from unflat.sound.text import Transcript
from unflat.sound.tts.espeak import DEFAULT_RATE_WPM, EspeakVoice
from unflat.sound.tts.speech import Voice
from unflat.types import Audio


@dataclass
class DubResult:
    """What :class:`DubPipeline` wrote and measured."""

    output: Path
    wav: Path | None
    activity: SpeechActivity
    speech: FittedSpeech
    audio: Audio
    loudness_lufs: float
    seconds: dict[str, float] = field(default_factory=dict)  # time per stage


def choose_voice(
    voice: str | None = None,
    language: str | None = None,
    rate: float = 1.0,
    pitch: int | None = None,
) -> Voice:
    """The synthesiser the options ask for: a Piper voice by path, or eSpeak NG."""
    if not 0.46 <= rate <= 2.57:
        raise ConfigError(f"--rate {rate} is outside 0.46-2.57", "use 1.0 for a natural pace")
    if voice is not None and voice.lower().endswith(".onnx"):
        from unflat.sound.tts.piper import PiperVoice

        if language is not None:
            raise ConfigError(
                "a Piper voice speaks its own language: --language is for eSpeak",
                "drop --language, or pick a Piper voice of that language",
            )
        if pitch is not None:
            raise ConfigError("Piper voices have no pitch control", "drop --pitch")
        return PiperVoice(voice, rate=rate)
    if voice is not None and language is not None:
        raise ConfigError("give an eSpeak --voice or --language, not both",
                          "e.g. --language de, or --voice en-gb-x-rp")  # fmt: skip
    return EspeakVoice(voice or language or "en-us", round(DEFAULT_RATE_WPM * rate), pitch)


class DubPipeline:
    """Speaks transcripts in videos with one voice (eSpeak NG by default, or Piper).

    ``align`` fits syllables and lip closures (else speech is only stretched over each span);
    ``effects`` adds :mod:`unflat.sound.foley`'s effects under the speech, ducked.
    """

    def __init__(
        self,
        voice: Voice | None = None,
        *,
        loudness_lufs: float = -16.0,
        face: int | None = None,
        align: bool = True,
        effects: bool = False,
    ) -> None:
        self.voice = voice or EspeakVoice()
        self.loudness_lufs, self.face, self.align, self.effects = (
            loudness_lufs,
            face,
            align,
            effects,
        )

    @classmethod
    def from_options(
        cls,
        voice: str | None = None,
        language: str | None = None,
        rate: float = 1.0,
        pitch: int | None = None,
        **options: object,
    ) -> DubPipeline:
        """The pipeline for ``unflat dub``'s options (voice by name or Piper path)."""
        return cls(choose_voice(voice, language, rate, pitch), **options)  # type: ignore[arg-type]

    def __call__(
        self,
        video: str | os.PathLike[str],
        output: str | os.PathLike[str],
        transcript: Transcript,
        *,
        existing: Existing = "refuse",
        wav: str | os.PathLike[str] | None = None,
        overwrite: bool = False,
        progress: Progress | None = None,
    ) -> DubResult:
        """Speak ``transcript`` where ``video``'s face speaks; write ``output`` (and ``wav``)."""
        source, target = Path(video).expanduser(), Path(output).expanduser()
        info = check_outputs(source, target, wav, existing, overwrite)
        self.voice.check()
        seconds: dict[str, float] = {}
        clock = time.perf_counter()
        # the mouth is all dubbing reads: the iris model (two thirds of the time) is skipped
        face_track = track(source, face=self.face, progress=progress,
                           irises=False)  # fmt: skip
        seconds["track"] = time.perf_counter() - clock
        clock = time.perf_counter()
        activity = speech_activity(face_track)
        duration = info.duration_s or float(face_track.times[-1] + 1.0 / face_track.fps)
        speech = fit_speech(activity, transcript, self.voice, duration, align=self.align,
                            progress=progress)  # fmt: skip
        seconds["speech"] = time.perf_counter() - clock
        clock = time.perf_counter()
        audio = speech.audio
        if self.effects:
            from unflat.sound.foley import foley

            audio = mix_ducked(audio, foley(source, audio.sample_rate).audio)
            seconds["effects"] = time.perf_counter() - clock
            clock = time.perf_counter()
        audio = finish_soundtrack(source, target, audio, info.has_audio and existing == "mix",
                                  wav, self.loudness_lufs, overwrite)  # fmt: skip
        seconds["mix"] = time.perf_counter() - clock
        return DubResult(target, Path(wav) if wav else None, activity, speech, audio,
                         integrated_loudness(audio), seconds)  # fmt: skip
