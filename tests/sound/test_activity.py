"""Visual speech activity from mouth landmarks: spans, syllable peaks, lip closures."""

from __future__ import annotations

import numpy as np

from tests.conftest import shared_path
from unflat.face.canonical import reference_face
from unflat.face.expressions import jaw_open
from unflat.face.track import describe, track
from unflat.sound.activity import speech_activity
from unflat.sound.spans import span_iou

FPS = 25.0


def _talking_face(amounts: np.ndarray) -> object:
    """A face track whose jaw opens by ``amounts`` per frame (pixels of a 640x480 video)."""
    faces = reference_face()[None] + jaw_open(amounts)
    landmarks = faces * 12.0 + np.array([320.0, 200.0, 0.0])
    times = np.arange(len(amounts)) / FPS
    return describe(
        landmarks.astype(np.float32), np.ones(len(amounts), bool), times, FPS, (640, 480)
    )


def test_syllables_inside_a_still_face_make_one_span() -> None:
    times = np.arange(int(4 * FPS)) / FPS
    # 4 syllables per second from 1.0 s to 2.5 s, each opening to 0.6 and closing fully
    talking = (times >= 1.0) & (times < 2.5)
    amounts = np.where(talking, 0.6 * np.sin(np.pi * 4.0 * (times - 1.0)) ** 2, 0.0)
    activity = speech_activity(_talking_face(amounts))
    assert len(activity.spans) == 1
    start, end = activity.spans[0]
    # the energy window (0.25 s) widens the span by about half its length
    assert abs(start - 1.0) <= 0.2 and abs(end - 2.5) <= 0.2
    # one opening peak per syllable, at its middle (1.125, 1.375, ... s)
    expected = 1.0 + 0.125 + 0.25 * np.arange(6)
    assert len(activity.peaks) == len(expected)
    np.testing.assert_allclose(activity.peaks, expected, atol=1.0 / FPS)
    # the lips close between syllables
    assert len(activity.closures) >= 4
    between = 1.0 + 0.25 * np.arange(1, 6)
    assert all(np.abs(between - c).min() <= 1.0 / FPS for c in activity.closures)
    assert not activity.active[times < 0.8].any() and not activity.active[times > 2.9].any()


def test_a_mouth_held_open_is_not_speech() -> None:
    times = np.arange(int(3 * FPS)) / FPS
    amounts = np.clip((times - 0.5) / 0.3, 0, 1) * 0.8  # opens once, then stays open
    activity = speech_activity(_talking_face(amounts))
    assert activity.spans == [] and not activity.active.any()
    assert activity.opening[-1] > 0.25


def test_talking_clip_spans_overlap_its_voice() -> None:
    from unflat.io.audio import read_audio
    from unflat.sound.voice_activity import voice_activity

    clip = shared_path("data", "faces", "videos", "talk_2.mp4")
    activity = speech_activity(track(clip))
    voice = voice_activity(read_audio(clip))
    assert activity.speaking_seconds > 2.0 and len(activity.peaks) >= 8
    assert span_iou(activity.spans, voice.spans) > 0.6
