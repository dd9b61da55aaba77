"""What a speech synthesiser gives back: the sound, and when each phone and word is in it."""

from __future__ import annotations

from dataclasses import dataclass, field

from unflat.types import Audio

# eSpeak's phoneme mnemonics: stress and length marks, then the sound. Vowels (and syllabic
# consonants such as "@L") start with one of these characters once the marks are stripped.
_MARKS = "'\",%=!"
_VOWEL_STARTS = "aeiouAEIOUV@30&"
#: The consonants the lips close for: what a lip closure on screen should carry.
BILABIALS = frozenset({"p", "b", "m"})


@dataclass
class Phone:
    """One phone of synthesised speech; ``word`` is its word's index, -1 for a pause."""

    symbol: str
    start: float
    end: float
    word: int

    @property
    def bare(self) -> str:
        """The symbol without stress and length marks."""
        return self.symbol.strip(_MARKS).rstrip(":")

    @property
    def is_pause(self) -> bool:
        return self.symbol.startswith("_") or self.word < 0

    @property
    def is_vowel(self) -> bool:
        return not self.is_pause and self.bare[:1] in _VOWEL_STARTS

    @property
    def is_bilabial(self) -> bool:
        return self.bare in BILABIALS

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class Speech:
    """Synthesised speech: ``audio`` with its ``phones`` in time order (covering it end to end)."""

    audio: Audio
    phones: list[Phone]
    words: list[str] = field(default_factory=list)

    def word_times(self) -> list[tuple[float, float]]:
        """Start and end of every word (``(nan, nan)`` for a word the voice did not speak)."""
        times = [(float("nan"), float("nan"))] * len(self.words)
        for phone in self.phones:
            if 0 <= phone.word < len(times):
                start, end = times[phone.word]
                first = phone.start if start != start else min(start, phone.start)
                times[phone.word] = (first, max(phone.end, end) if end == end else phone.end)
        return times
