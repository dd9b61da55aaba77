"""Measured sound: lip sync of dubbed speech and onsets of sound effects, on real clips.

:func:`dub_sync` dubs a talking-head clip from its transcript (the clip's own sound stripped)
and measures the result against the clip's original voice and lips; :func:`foley_onsets`
scores the effects' impacts against the onsets of a clip's original soundtrack.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from unflat.io.audio import read_soundtrack, resample
from unflat.sound.activity import speech_activity
from unflat.sound.dub import fit_speech
from unflat.sound.onsets import audio_onsets, onset_scores
from unflat.sound.spans import boundary_errors, span_iou
from unflat.sound.sync import bilabial_hit_rate, opening_energy_lag
from unflat.sound.text import parse_transcript
from unflat.sound.tts.espeak import EspeakVoice
from unflat.sound.tts.speech import Voice
from unflat.sound.voice_activity import voice_activity
from unflat.types import FaceTrack

#: The rate the voice-activity and energy measures run at.
MEASURE_RATE = 16000


@dataclass
class SyncScores:
    """One dubbing of one clip, measured (times in seconds)."""

    span_iou: float  # our speech's voice activity vs the original voice's
    onset_error: float  # mean |start difference| of matched spans
    offset_error: float
    lag: float  # best cross-correlation lag, mouth opening -> speech-band energy
    lag_correlation: float
    bilabial_hits: float  # share of /p b m/ spoken with closed lips
    bilabials: int
    wer: float | None  # word error rate of the recogniser on our speech (None: no recogniser)

    def as_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


@dataclass
class DubEvaluation:
    """A clip dubbed with and without alignment, and the original voice as the reference."""

    clip: str
    words: int
    seconds: float  # clip length
    original: SyncScores  # the clip's own voice, measured the same way (lag, WER)
    uniform: SyncScores  # speech stretched over each span only
    aligned: SyncScores  # speech aligned to syllables, closures and pauses
    natural_wer: float | None  # the voice at its natural pace, before any fitting
    track_seconds: float
    speech_seconds: float  # synthesis and alignment (aligned run)


def _wer(audio, text: str) -> float | None:
    try:
        from unflat.sound.metrics import word_error_rate
        from unflat.sound.recognise import transcribe

        return word_error_rate(text, transcribe(audio))
    except ImportError:
        return None


def dub_sync(
    clip: str | os.PathLike[str], transcript: str,
    track_face: Callable[[str | os.PathLike[str]], FaceTrack], *, voice: Voice | None = None,
    recognise: bool = True,
) -> DubEvaluation:  # fmt: skip
    """Dub ``clip`` from ``transcript`` both ways and measure both (see :class:`SyncScores`).

    ``track_face`` follows the clip's face (``unflat.face.track`` with ``irises=False`` tracks
    it as ``unflat dub`` does); the caller passes it in, since sound does not import face. Its
    time is reported as ``track_seconds``."""
    voice = voice or EspeakVoice()
    text = parse_transcript(transcript)
    plain = " ".join(text.words)
    clock = time.perf_counter()
    face = track_face(clip)
    track_seconds = time.perf_counter() - clock
    activity = speech_activity(face)
    original = read_soundtrack(clip, MEASURE_RATE)
    reference = voice_activity(original).spans
    duration = float(face.times[-1] + 1.0 / face.fps)

    def scores(audio, phones) -> SyncScores:
        ours = resample(audio, MEASURE_RATE)
        spans = voice_activity(ours).spans
        onset, offset = boundary_errors(spans, reference)
        lag, r = opening_energy_lag(activity, ours)
        hits, count = bilabial_hit_rate(activity, phones) if phones else (float("nan"), 0)
        wer = _wer(ours, plain) if recognise else None
        return SyncScores(span_iou(spans, reference), onset, offset, lag, r, hits, count, wer)

    results = {}
    for align in (False, True):
        clock = time.perf_counter()
        fitted = fit_speech(activity, text, voice, duration, align=align)
        seconds = time.perf_counter() - clock
        results[align] = (scores(fitted.audio, fitted.phones), seconds)
    natural = voice.speak(text.words)
    natural_wer = _wer(resample(natural.audio, MEASURE_RATE), plain) if recognise else None
    return DubEvaluation(
        clip=Path(clip).name,
        words=len(text.words),
        seconds=duration,
        original=scores(original, []),
        uniform=results[False][0],
        aligned=results[True][0],
        natural_wer=natural_wer,
        track_seconds=track_seconds,
        speech_seconds=results[True][1],
    )


@dataclass
class OnsetEvaluation:
    """Impacts of :func:`unflat.sound.foley.foley` against the original soundtrack's onsets."""

    clip: str
    seconds: float
    reference_onsets: int
    impacts: int
    precision: float
    recall: float
    f1: float
    real_time_factor: float


def foley_onsets(clip: str | os.PathLike[str], tolerance: float = 0.1) -> OnsetEvaluation:
    """Onset precision and recall (within ``tolerance`` s) of the effects for ``clip``."""
    from unflat.sound.foley import foley

    clock = time.perf_counter()
    effects = foley(clip)
    seconds = time.perf_counter() - clock
    reference = audio_onsets(read_soundtrack(clip, 22050)).times
    predicted = effects.onsets.times
    precision, recall, f1 = onset_scores(predicted, reference, tolerance)
    duration = effects.motion.duration
    return OnsetEvaluation(Path(clip).name, duration, len(reference), len(predicted), precision,
                           recall, f1, seconds / max(duration, 1e-6))  # fmt: skip
