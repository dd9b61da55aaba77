"""Word error rate between a reference transcript and a recogniser's hypothesis.

Both texts go through :func:`normalise_words` first, so that case and punctuation never count
as errors; then the words are aligned by Levenshtein distance and the rate is
``(substitutions + deletions + insertions) / reference words``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from unflat.errors import ConfigError

# Typographic apostrophes and primes people type for "don't"; all become a plain apostrophe.
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u2032": "'", "`": "'"})
# "1,000" -> "1000": a digit-grouping comma is part of the number, not a word break.
_GROUPING_COMMA = re.compile(r"(?<=\d),(?=\d{3}\b)")
# "u.s.a." -> "usa": a full stop between two letters joins an abbreviation.
_ABBREVIATION_STOP = re.compile(r"(?<=[^\W\d_])\.(?=[^\W\d_])")
# An apostrophe or decimal point is kept only between word characters ("don't", "3.5");
# anything else that is not a letter, digit or such an inner mark separates words.
_WORD = re.compile(r"[^\W_]+(?:['.][^\W_]+)*")
_NON_DECIMAL_STOP = re.compile(r"\.(?!\d)|(?<!\d)\.")


def normalise_words(text: str) -> list[str]:
    """The words of ``text``, lower-cased, without punctuation, for comparing transcripts.

    Choices (so that only the words themselves can differ):

    - Unicode is NFKC-normalised and lower-cased; curly apostrophes become ``'``.
    - Apostrophes inside a word stay (``don't``, ``o'clock``); quote marks around words go.
    - Hyphens, dashes, slashes and all other punctuation separate words (``well-known`` ->
      ``well known``), since recognisers emit the parts as separate words.
    - Numbers stay as written, never spelled out: ``1,000`` -> ``1000`` and ``3.5`` stays
      ``3.5``; a reference that writes "twenty" and a hypothesis "20" differ, so write
      references the way the recogniser spells (pocketsphinx spells numbers out).
    - Abbreviations with full stops join up: ``U.S.`` -> ``us``.
    """
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).lower()
    text = _GROUPING_COMMA.sub("", text)
    text = _ABBREVIATION_STOP.sub("", text)
    words = []
    for word in _WORD.findall(text):
        # The word pattern lets a full stop through between any word characters; keep it only
        # as a decimal point, where both neighbours are digits.
        words.extend(part for part in _NON_DECIMAL_STOP.split(word) if part)
    return words


@dataclass(frozen=True)
class WordErrors:
    """Counts from aligning a hypothesis to a reference, word by word."""

    substitutions: int
    deletions: int
    insertions: int
    reference_words: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def rate(self) -> float:
        """Word error rate: errors per reference word (can exceed 1 with many insertions)."""
        return self.errors / self.reference_words


def word_errors(reference: str, hypothesis: str) -> WordErrors:
    """Substitutions, deletions and insertions turning ``reference`` into ``hypothesis``."""
    ref = normalise_words(reference)
    hyp = normalise_words(hypothesis)
    if not ref:
        raise ConfigError(
            "the reference transcript has no words, so a word error rate is undefined",
            hint="give a reference text with at least one word",
        )
    # cost[i][j]: edits turning ref[:i] into hyp[:j]; filled row by row (Levenshtein).
    cost = [list(range(len(hyp) + 1))]
    for i, ref_word in enumerate(ref, start=1):
        row = [i]
        for j, hyp_word in enumerate(hyp, start=1):
            row.append(
                min(
                    cost[i - 1][j - 1] + (ref_word != hyp_word),
                    cost[i - 1][j] + 1,  # deletion
                    row[j - 1] + 1,  # insertion
                )
            )
        cost.append(row)
    # Walk back along one optimal path to split the distance into its three kinds; the total is
    # the same on every optimal path, preferring the diagonal keeps the split conventional.
    substitutions = deletions = insertions = 0
    i, j = len(ref), len(hyp)
    while i > 0 or j > 0:
        if i > 0 and j > 0 and cost[i][j] == cost[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]):
            substitutions += ref[i - 1] != hyp[j - 1]
            i, j = i - 1, j - 1
        elif i > 0 and cost[i][j] == cost[i - 1][j] + 1:
            deletions += 1
            i -= 1
        else:
            insertions += 1
            j -= 1
    return WordErrors(substitutions, deletions, insertions, len(ref))


def word_error_rate(reference: str, hypothesis: str) -> float:
    """``(S + D + I) / N`` over normalised words; ``ConfigError`` if the reference is empty."""
    return word_errors(reference, hypothesis).rate
