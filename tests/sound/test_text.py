"""Transcripts as words with break strengths."""

from __future__ import annotations

import pytest

from unflat.errors import InputError
from unflat.sound.text import CLAUSE_BREAK, LINE_BREAK, NO_BREAK, SENTENCE_BREAK, parse_transcript


def test_breaks_follow_punctuation_and_lines() -> None:
    transcript = parse_transcript("Well, I think so. Do you?\nYes — of course")
    assert transcript.words == ["Well,", "I", "think", "so.", "Do", "you?", "Yes", "of", "course,"]
    assert transcript.breaks == [
        CLAUSE_BREAK, NO_BREAK, NO_BREAK, SENTENCE_BREAK, NO_BREAK, LINE_BREAK,
        CLAUSE_BREAK, NO_BREAK, LINE_BREAK,
    ]  # fmt: skip
    assert transcript.phrases() == [[0], [1, 2, 3], [4, 5], [6], [7, 8]]


def test_empty_text_is_refused() -> None:
    with pytest.raises(InputError, match="no words"):
        parse_transcript(" \n - \n")
