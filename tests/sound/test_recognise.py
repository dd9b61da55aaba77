"""Offline recognition and forced alignment with PocketSphinx, on LJSpeech clips.

The word error rate bars were measured with pocketsphinx 5.1.1 and its bundled en-us model:
overall 16 errors in 67 words (0.239) on the four clips, 0.143 on LJ001-0004; the bars add
a margin of about four words overall and one word on the single clip.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import shared_path
from unflat.errors import ConfigError, InputError
from unflat.io.audio import read_audio
from unflat.sound import recognise
from unflat.sound.metrics import normalise_words, word_errors
from unflat.sound.recognise import UnknownWordsError, align_words, transcribe
from unflat.types import Audio

OVERALL_WER_BAR = 0.30
CLIP_WER_BAR = 0.25
TRANSCRIPTS = Path(__file__).resolve().parents[1] / "data" / "sound"


@pytest.fixture(scope="module")
def sphinx() -> None:
    pytest.importorskip("pocketsphinx")


def lj_references() -> dict[str, str]:
    """LJSpeech clip id -> normalised reference text, from the shared ``metadata.csv``."""
    metadata = shared_path("data", "audio", "speech", "metadata.csv")
    rows = (line.split("|") for line in metadata.read_text(encoding="utf-8").splitlines())
    return {row[0]: row[2] for row in rows if len(row) == 3}


def lj_audio(clip: str, sample_rate: int = 16000) -> Audio:
    return read_audio(shared_path("data", "audio", "speech", f"{clip}.wav"), sample_rate)


@pytest.fixture(scope="module")
def lj_hypotheses(sphinx: None) -> dict[str, str]:
    """Each LJSpeech clip transcribed once (decoding is the slow part of these tests)."""
    # LJ001-0004 goes in at 22.05 kHz, as recorded: transcribe must resample it to 16 kHz.
    rates = {"LJ001-0004": 22050}
    return {clip: transcribe(lj_audio(clip, rates.get(clip, 16000))) for clip in lj_references()}


def test_transcribe_one_clip(lj_hypotheses: dict[str, str]) -> None:
    errors = word_errors(lj_references()["LJ001-0004"], lj_hypotheses["LJ001-0004"])
    assert errors.rate < CLIP_WER_BAR


def test_transcribe_overall_word_error_rate(lj_hypotheses: dict[str, str]) -> None:
    references = lj_references()
    assert len(references) == 4
    totals = [word_errors(text, lj_hypotheses[clip]) for clip, text in references.items()]
    rate = sum(e.errors for e in totals) / sum(e.reference_words for e in totals)
    assert rate < OVERALL_WER_BAR


def test_transcribe_silence_is_empty(sphinx: None) -> None:
    assert transcribe(Audio(np.zeros(16000, np.float32), 16000)) == ""
    assert transcribe(Audio(np.zeros(0, np.float32), 16000)) == ""


def test_align_words_on_a_clip(sphinx: None) -> None:
    text = lj_references()["LJ001-0004"]
    audio = lj_audio("LJ001-0004")
    aligned = align_words(audio, text)

    assert [word for word, _, _ in aligned] == normalise_words(text)
    times = np.array([(start, end) for _, start, end in aligned])
    assert np.all(times[:, 1] > times[:, 0])
    assert np.all(times[1:, 0] >= times[:-1, 1] - 1e-6)  # in order, not overlapping
    assert times.min() >= 0.0 and times.max() <= audio.seconds + 1e-6
    assert times[0, 0] < 0.5

    # Speech ends at the last 10 ms frame within 40 dB of the loudest one.
    frames = audio.samples[: len(audio.samples) // 160 * 160].reshape(-1, 160)
    level = 10 * np.log10((frames**2).mean(axis=1) + 1e-12)
    speech_end = (np.nonzero(level > level.max() - 40)[0][-1] + 1) / 100
    assert abs(times[-1, 1] - speech_end) < 0.5


def test_align_words_names_unknown_words(sphinx: None) -> None:
    with pytest.raises(UnknownWordsError) as caught:
        align_words(lj_audio("LJ001-0002"), "in being zzyzxq 1990 modern")
    assert caught.value.words == ["1990", "zzyzxq"]
    assert "zzyzxq" in str(caught.value) and caught.value.hint


def test_align_words_refuses_text_that_cannot_fit(sphinx: None) -> None:
    with pytest.raises(InputError):
        align_words(lj_audio("LJ001-0002"), " ".join(["comparatively modern"] * 20))


@pytest.mark.parametrize("clip", ["talk_1", "talk_2"])
def test_talk_transcripts_fit_their_clips(sphinx: None, clip: str) -> None:
    # The hand-corrected transcripts must use dictionary words and fit inside their clip.
    audio = read_audio(shared_path("data", "faces", "videos", f"{clip}.mp4"))
    text = (TRANSCRIPTS / f"{clip}.txt").read_text(encoding="utf-8")
    aligned = align_words(audio, text)
    assert len(aligned) == len(normalise_words(text))
    assert aligned[-1][2] <= audio.seconds + 1e-6


def test_missing_pocketsphinx_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)  # makes the import fail
    recognise._decoder.cache_clear()
    try:
        with pytest.raises(ConfigError) as caught:
            transcribe(Audio(np.full(1600, 0.1, np.float32), 16000))
    finally:
        recognise._decoder.cache_clear()  # do not keep a decoder from before the patch either
    assert "unflat[eval]" in (caught.value.hint or "")
