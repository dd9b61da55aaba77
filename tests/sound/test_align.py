"""The aligner: words over spans, event matching, time maps, speech fitted to lips."""

from __future__ import annotations

import numpy as np
import pytest

from tests.sound.lips import lips_activity, lips_after
from unflat.errors import InputError
from unflat.io.audio import resample
from unflat.sound.align import (
    BILABIAL,
    PAUSE,
    VOWEL,
    check_pace,
    distribute,
    match_events,
    time_map,
)
from unflat.sound.dub import fit_speech
from unflat.sound.spans import span_iou, spans_to_mask
from unflat.sound.sync import bilabial_hit_rate, opening_energy_lag
from unflat.sound.text import parse_transcript
from unflat.sound.tts import EspeakVoice
from unflat.sound.voice_activity import voice_activity


def test_words_go_to_spans_at_sentence_breaks() -> None:
    # five words of 0.3 s each; a sentence ends after the second
    times = [(0.3 * i, 0.3 * i + 0.28) for i in range(5)]
    breaks = [0.0, 0.9, 0.0, 0.0, 1.0]
    # spans as long as 2 and 3 words
    assert distribute(times, breaks, [(0.0, 0.6), (1.0, 1.9)]) == [range(0, 2), range(2, 5)]
    # spans as long as 3 and 2 words: still breaks at the sentence, a little faster and slower
    assert distribute(times, breaks, [(0.0, 0.8), (1.0, 1.7)]) == [range(0, 2), range(2, 5)]
    # a third, tiny span gets nothing rather than splitting a phrase
    ranges = distribute(times, breaks, [(0.0, 0.6), (1.0, 1.9), (2.5, 2.6)])
    assert ranges == [range(0, 2), range(2, 5), range(5, 5)]


def test_pace_limits() -> None:
    check_pace(3.0, 2.0)
    with pytest.raises(InputError, match="too long"):
        check_pace(10.0, 2.0)
    with pytest.raises(InputError, match="too short"):
        check_pace(0.5, 4.0)
    with pytest.raises(InputError, match="no speech is visible"):
        check_pace(1.0, 0.0)


def test_events_match_in_order_by_kind_and_distance() -> None:
    predicted = [(0.10, VOWEL), (0.30, BILABIAL), (0.50, VOWEL), (0.90, PAUSE), (1.20, VOWEL)]
    observed = [(0.15, VOWEL), (0.55, VOWEL), (0.62, BILABIAL), (1.0, PAUSE), (2.0, VOWEL)]
    # the bilabial at 0.30 cannot take the closure at 0.62 after the vowel at 0.55 matched;
    # the last vowel is too far (0.8 s) from the observed one
    assert match_events(predicted, observed) == [(0, 0), (2, 1), (3, 3)]


def test_time_map_moves_vowels_onto_opening_peaks() -> None:
    words = ["Maybe", "the", "bamboo", "boat", "will", "float."]
    speech = EspeakVoice().speak(words)
    vowels = [(p.start + p.end) / 2 for p in speech.phones if p.is_vowel]
    voiced = [p for p in speech.phones if not p.is_pause]
    span = (1.0, 1.0 + 1.3 * (voiced[-1].end - voiced[0].start))
    uniform = span[0] + 1.3 * (np.array(vowels) - voiced[0].start)
    # the lips open 60 ms later than a uniform stretch would say, syllable by syllable
    rng = np.random.default_rng(0)
    peaks = uniform + 0.06 + rng.uniform(-0.02, 0.02, len(uniform))
    mapping = time_map(speech.phones, lips_activity([span], list(peaks), []), span)
    assert mapping(voiced[0].start) == pytest.approx(span[0])
    assert mapping(voiced[-1].end) == pytest.approx(span[1])
    moved = mapping(np.array(vowels))
    inner = slice(1, -1)  # the first and last vowels sit near the pinned ends
    assert np.abs(moved - peaks)[inner].max() < 0.01
    assert np.abs(uniform - peaks)[inner].min() > 0.035
    assert (mapping.slopes > 0).all()


def test_fitted_speech_lies_inside_the_spans_and_hits_the_closures() -> None:
    spans = [(0.5, 1.9), (2.6, 4.2)]
    text = parse_transcript("Maybe the bamboo boat.\nPeople will float by.")
    voice = EspeakVoice()
    activity = lips_after(voice.speak(text.words[:4]), spans)
    fitted = fit_speech(activity, text, voice, 5.0)
    assert [list(s.words) for s in fitted.spans] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert fitted.audio.seconds == pytest.approx(5.0, abs=0.001)
    heard = voice_activity(resample(fitted.audio, 16000)).spans
    assert len(heard) == 2
    assert span_iou(heard, spans) > 0.85
    rate = fitted.audio.sample_rate
    outside = ~spans_to_mask(spans, np.arange(len(fitted.audio.samples)) / rate)
    assert np.abs(fitted.audio.samples[outside]).max() < 1e-3  # silence outside the spans
    hits, count = bilabial_hit_rate(activity, fitted.spans[0].phones)
    assert count == 6 and hits == 1.0
    lag, _ = opening_energy_lag(activity, resample(fitted.audio, 16000))
    assert abs(lag) <= 0.02
    # a uniform stretch of each span misses some and lags: what the alignment is for
    uniform = fit_speech(activity, text, voice, 5.0, align=False)
    assert bilabial_hit_rate(activity, uniform.spans[0].phones)[0] < 0.9
    assert abs(opening_energy_lag(activity, resample(uniform.audio, 16000))[0]) >= 0.06
