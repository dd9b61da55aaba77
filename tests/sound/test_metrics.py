"""Word error rate and transcript normalisation, on hand-computed cases."""

from __future__ import annotations

import pytest

from unflat.errors import ConfigError
from unflat.sound.metrics import WordErrors, normalise_words, word_error_rate, word_errors


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Hello, World!", ["hello", "world"]),
        ("Don\u2019t 'quote' me", ["don't", "quote", "me"]),
        (
            "a well-known man\u2014or not / maybe",
            ["a", "well", "known", "man", "or", "not", "maybe"],
        ),
        (
            "1,000 people and 3.5 dogs in 1990.",
            ["1000", "people", "and", "3.5", "dogs", "in", "1990"],
        ),
        ("The U.S. army", ["the", "us", "army"]),
        ("  \t\n", []),
        ("...!?", []),
    ],
)
def test_normalise_words(text: str, words: list[str]) -> None:
    assert normalise_words(text) == words


@pytest.mark.parametrize(
    ("reference", "hypothesis", "expected"),
    [
        ("the cat sat", "the cat sat", WordErrors(0, 0, 0, 3)),
        ("The cat, sat.", "the CAT sat", WordErrors(0, 0, 0, 3)),
        ("the cat sat", "the cat sit", WordErrors(1, 0, 0, 3)),
        ("the cat sat on the mat", "the cat on the mat", WordErrors(0, 1, 0, 6)),
        ("a b", "a x b", WordErrors(0, 0, 1, 2)),
        # the cat | sat->sit | on | the->mat | mat | +now
        ("the cat sat on the mat", "the cat sit on mat mat now", WordErrors(2, 0, 1, 6)),
        ("one two three", "", WordErrors(0, 3, 0, 3)),
        ("hi", "oh hi there you", WordErrors(0, 0, 3, 1)),
        ("woodcutters of old", "wood cutters of old", WordErrors(1, 0, 1, 3)),
    ],
)
def test_word_errors(reference: str, hypothesis: str, expected: WordErrors) -> None:
    errors = word_errors(reference, hypothesis)
    assert errors == expected
    assert word_error_rate(reference, hypothesis) == pytest.approx(
        expected.errors / expected.reference_words
    )


def test_rate_can_exceed_one() -> None:
    assert word_error_rate("hi", "oh hi there you") == pytest.approx(3.0)


@pytest.mark.parametrize("reference", ["", "  ", "?!"])
def test_empty_reference_is_an_error(reference: str) -> None:
    with pytest.raises(ConfigError) as caught:
        word_error_rate(reference, "some words")
    assert caught.value.hint
