"""The sound stages of ``unflat run``: the speech (synthesised, recorded or the driver's) and
the lip-sync check of the finished video."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from unflat.errors import InputError
from unflat.io.atomic import write_json
from unflat.io.audio import read_audio, read_soundtrack, resample, write_wav
from unflat.io.video import probe_video
from unflat.pipelines.run_context import DEFAULT_SECONDS, RunContext
from unflat.pipelines.run_record import run_stage
from unflat.progress import note
from unflat.sound.tts.speech import Phone
from unflat.sound.visemes import check_speech
from unflat.types import Audio

SAMPLE_RATE = 24000
TAIL_S = 0.6  # the face stays on screen this long after the last word


def sound_stage(stages: RunContext) -> None:
    """Stage 3: ``NAME.speech.wav`` (and ``NAME.phones.json`` for synthesised speech)."""
    s = stages.settings
    text = s.speech_text
    key = {"text": text, "voice": s.voice, "language": s.language,
           "audio": stages.inputs.get("audio"), "driver": stages.inputs.get("driver"),
           "seconds": s.seconds}  # fmt: skip

    def work(info: dict[str, Any]) -> None:
        stages.report("speech", 0, 1)
        files: list[str] = []
        audio, phones = _speech(stages, text)
        if audio is not None:
            write_wav(stages.files.speech, audio)
            files.append(stages.files.speech.name)
            info["seconds_of_sound"] = round(audio.seconds, 3)
        if phones is not None:
            write_json(stages.files.phones, [[p.symbol, p.start, p.end, p.word] for p in phones])
            files.append(stages.files.phones.name)
        info.update(files=files, kind=_kind(s, text))
        stages.report("speech", 1, 1)

    done = run_stage(stages.record, "sound", key, work)
    if done.reused:
        files = done.info.get("files", [])
        if stages.files.speech.name in files:
            stages.audio = read_audio(stages.files.speech, SAMPLE_RATE)
        if stages.files.phones.name in files:
            import json

            rows = json.loads(stages.files.phones.read_text(encoding="utf-8"))
            stages.phones = [Phone(str(a), float(b), float(c), int(d)) for a, b, c, d in rows]


def _kind(settings: Any, text: str | None) -> str:
    if text is not None:
        return "synthesised"
    if settings.audio is not None:
        return "recording"
    return "driver" if settings.driver is not None else "none"


def _speech(stages: RunContext, text: str | None) -> tuple[Audio | None, list[Phone] | None]:
    """The sound of the run and, for synthesised speech, its phones."""
    s = stages.settings
    if text is not None:
        from unflat.pipelines.dub import choose_voice

        voice = choose_voice(s.voice, s.language)
        speech = voice.speak(text.split())
        audio = resample(speech.audio, SAMPLE_RATE)
        if s.seconds is not None and audio.seconds > s.seconds:
            raise InputError(
                f"the text takes {audio.seconds:.1f} s to say, longer than --seconds {s.seconds:g}",
                hint="shorten the text, or raise --seconds (or leave it out)",
            )
        stages.audio, stages.phones = audio, speech.phones
        return audio, speech.phones
    if s.audio is not None:
        audio = resample(read_audio(s.audio, SAMPLE_RATE), SAMPLE_RATE)
        if not s.no_face:  # refused now, not after the scene is built
            check_speech(audio, s.audio.name)
        if s.seconds is not None:
            audio = Audio(audio.samples[: round(s.seconds * SAMPLE_RATE)], SAMPLE_RATE)
        stages.audio = audio
        return audio, None
    if s.driver is not None:
        stages.audio = speech_of_driver(s.driver)
        return stages.audio, None
    return None, None


def speech_of_driver(path: Path) -> Audio | None:
    """The driver video's sound, on its picture's timeline, or None when it has none."""
    info = probe_video(path)
    if not info.audio_decodable:
        if info.has_audio:
            note(f"{path.name}'s sound is in a format FFmpeg cannot decode; left out")
        return None
    return read_soundtrack(path, SAMPLE_RATE)


def clip_seconds(stages: RunContext) -> float:
    """How long the video lasts: the speech plus a short tail, a driver's length, or --seconds."""
    s = stages.settings
    if s.driver is not None:
        length = probe_video(s.driver).duration_s or DEFAULT_SECONDS
        return min(length, s.seconds) if s.seconds is not None else length
    if stages.audio is not None and (s.speech_text is not None or s.audio is not None):
        tail = TAIL_S if s.speech_text is not None else 0.0
        length = stages.audio.seconds + tail
        return max(length, s.seconds) if s.seconds is not None and s.text is not None else length
    return s.seconds or DEFAULT_SECONDS


def sync_stage(stages: RunContext) -> None:
    """Stage 5: the animated face tracked and its mouth measured against the sound."""
    from unflat.face.track import track
    from unflat.sound.activity import speech_activity
    from unflat.sound.sync import bilabial_hit_rate, opening_energy_lag

    key = {"video": stages.record.data["stages"]["video"]["key"]}

    def work(info: dict[str, Any]) -> None:
        if stages.audio is None:
            return
        face_track = track(stages.files.face, irises=False, progress=stages.progress)
        activity = speech_activity(face_track)
        lag, correlation = opening_energy_lag(activity, stages.audio)
        info.update(files=[], lag_ms=_ms(lag), opening_energy_correlation=_round(correlation))
        if stages.phones is not None:
            hit, count = bilabial_hit_rate(activity, stages.phones)
            info.update(bilabial_closures=count, bilabial_hit_rate=_round(hit))
        note(_sync_line(info))

    run_stage(stages.record, "sync", key, work)


def _ms(seconds: float) -> float | None:
    return None if not np.isfinite(seconds) else round(seconds * 1000.0, 1)


def _round(value: float) -> float | None:
    return None if not np.isfinite(value) else round(float(value), 3)


def _sync_line(info: dict[str, Any]) -> str:
    parts = [f"lip sync: sound {info.get('lag_ms')} ms after the mouth (best lag), "
             f"correlation {info.get('opening_energy_correlation')}"]  # fmt: skip
    if info.get("bilabial_closures"):  # a text without /p b m/ has nothing to count
        parts.append(f"lips closed on {info['bilabial_hit_rate']} of {info['bilabial_closures']} "
                     "/p b m/")  # fmt: skip
    return "; ".join(parts)
