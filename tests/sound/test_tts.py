"""eSpeak NG synthesis with phone timings and per-word control."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from unflat.errors import ConfigError, InputError
from unflat.sound.tts import EspeakVoice, list_voices
from unflat.sound.tts.espeak import ipa

WORDS = ["Maybe", "the", "bamboo", "boat", "will", "float,", "people", "said."]


def test_phones_cover_the_audio_and_name_the_words() -> None:
    speech = EspeakVoice().speak(WORDS)
    assert speech.audio.sample_rate == 22050
    assert 2.0 < speech.audio.seconds < 3.5
    phones = speech.phones
    assert phones[0].start == 0.0
    assert phones[-1].end == pytest.approx(speech.audio.seconds)
    assert all(a.end == b.start for a, b in itertools.pairwise(phones))
    # every word spoken, in order
    spoken = [p.word for p in phones if p.word >= 0]
    assert sorted(set(spoken)) == list(range(len(WORDS)))
    assert spoken == sorted(spoken)
    bilabials = [p.symbol for p in phones if p.is_bilabial]
    # maybe (m b), bamboo (b m b), boat (b), people (p p)
    assert len(bilabials) == 8
    vowels = [p for p in phones if p.is_vowel]
    assert len(vowels) == 11  # one nucleus per syllable
    # the sound is there: vowels are loud, the leading pause is not
    rate = speech.audio.sample_rate
    loud = [np.sqrt(np.mean(speech.audio.samples[round(v.start * rate) : round(v.end * rate)] ** 2))
            for v in vowels]  # fmt: skip
    assert np.median(loud) > 0.05


def test_word_rates_and_pauses_change_the_timing() -> None:
    voice = EspeakVoice()
    plain = voice.speak(WORDS).word_times()
    rates = [1.0] * len(WORDS)
    rates[2] = 2.0  # "bamboo" twice as fast
    pauses = [0.0] * len(WORDS)
    pauses[4] = 0.4  # a pause after "will"
    changed = voice.speak(WORDS, word_rates=rates, pauses_after=pauses).word_times()
    length = lambda times, i: times[i][1] - times[i][0]  # noqa: E731
    assert 0.4 < length(changed, 2) / length(plain, 2) < 0.7
    assert length(changed, 0) == pytest.approx(length(plain, 0), abs=0.02)
    gap_plain = plain[5][0] - plain[4][1]
    gap_changed = changed[5][0] - changed[4][1]
    assert gap_changed - gap_plain == pytest.approx(0.4, abs=0.04)


def test_other_languages_and_bad_voices() -> None:
    languages = {language for language, _, _ in list_voices()}
    assert {"en-us", "en-gb", "de", "fr-fr", "es"} <= languages
    german = EspeakVoice("de").speak(["Guten", "Morgen"])
    assert german.audio.seconds > 0.5 and len(german.phones) > 6
    with pytest.raises(ConfigError, match="no voice 'xx-nowhere'"):
        EspeakVoice("xx-nowhere").speak(["hello"])
    with pytest.raises(InputError, match="no text"):
        EspeakVoice().speak(["  "])
    with pytest.raises(ConfigError, match="words per minute"):
        EspeakVoice(rate_wpm=1000)


def test_a_word_run_into_its_neighbour_gets_zero_length() -> None:
    # eSpeak says "I am" as one word: "am" has no phones of its own
    speech = EspeakVoice().speak(["I", "am", "the", "one."])
    times = speech.word_times()
    assert times[0][1] > times[0][0] + 0.1
    assert times[1][0] == times[1][1] == times[2][0]
    assert all(a[1] <= b[0] + 1e-9 for a, b in itertools.pairwise(times))


def test_ipa_for_piper_and_phone_events_after_many_lookups() -> None:
    assert ipa("Maybe the bamboo boat.") == "mˈeɪbiː ðə bæmbˈuː bˈoʊt"
    assert ipa("Guten Morgen", "de") == "ɡˈuːtən mˈɔɾɡən"
    for _ in range(40):  # many lookups between syntheses must not cost the next one its events
        ipa("people", "en-us")
        ipa("Leute", "de")
    speech = EspeakVoice().speak(WORDS)
    assert [p.symbol for p in speech.phones[:2]] == ["m", "'eI"]
    assert speech.phones[0].word == 0
