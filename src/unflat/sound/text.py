"""A transcript as words and phrases: where a speaker may pause, and how strongly."""

from __future__ import annotations

import re
from dataclasses import dataclass

from unflat.errors import InputError

# How natural a pause after a word is: the end of a line (an utterance in a transcript file)
# or a sentence is the best place to break speech across two spans, a comma the next best.
LINE_BREAK, SENTENCE_BREAK, CLAUSE_BREAK, NO_BREAK = 1.0, 0.9, 0.5, 0.0
_SENTENCE_END = re.compile(r"[.!?…]+[\"')\]]*$")
_CLAUSE_END = re.compile(r"[,;:—–-]+[\"')\]]*$")


@dataclass
class Transcript:
    """Words as written (punctuation kept, for the voice's intonation) and break strengths."""

    words: list[str]
    breaks: list[float]  # after each word: LINE_BREAK ... NO_BREAK

    def phrases(self) -> list[list[int]]:
        """Word indices grouped into phrases (split after every clause or sentence break)."""
        groups: list[list[int]] = [[]]
        for i, strength in enumerate(self.breaks):
            groups[-1].append(i)
            if strength >= CLAUSE_BREAK and i < len(self.breaks) - 1:
                groups.append([])
        return groups


def parse_transcript(text: str) -> Transcript:
    """Split ``text`` into words; each line of it is an utterance of its own (a line that does
    not end in punctuation gets a comma, so that the voice phrases it as such)."""
    words: list[str] = []
    breaks: list[float] = []
    for line in text.splitlines():
        tokens = line.split()
        for token in tokens:
            if not re.search(r"\w", token):
                # a lone dash or ellipsis: a break after the previous word, not a word
                if breaks:
                    breaks[-1] = max(breaks[-1], CLAUSE_BREAK)
                continue
            words.append(token)
            if _SENTENCE_END.search(token):
                breaks.append(SENTENCE_BREAK)
            elif _CLAUSE_END.search(token):
                breaks.append(CLAUSE_BREAK)
            else:
                breaks.append(NO_BREAK)
        if breaks and tokens:
            breaks[-1] = LINE_BREAK
            if not (_SENTENCE_END.search(words[-1]) or _CLAUSE_END.search(words[-1])):
                # the voice pauses and phrases at punctuation only: an utterance's end gets some
                words[-1] += ","
    if not words:
        raise InputError("the transcript has no words", "give the text the person says")
    return Transcript(words, breaks)
