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
        """Start and end of every word. A word the voice ran into the next one (eSpeak says
        "I am" as one word) or did not speak gets zero length where the next word starts."""
        times: list[tuple[float, float] | None] = [None] * len(self.words)
        for phone in self.phones:
            if 0 <= phone.word < len(times):
                known = times[phone.word]
                times[phone.word] = (phone.start, phone.end) if known is None else (
                    min(known[0], phone.start), max(known[1], phone.end))  # fmt: skip
        end = self.audio.seconds
        filled: list[tuple[float, float]] = []
        for i in range(len(times) - 1, -1, -1):
            known = times[i]
            filled.append(known if known is not None else (end, end))
            end = filled[-1][0]
        return filled[::-1]
