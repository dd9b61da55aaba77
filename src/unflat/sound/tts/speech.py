"""What a speech synthesiser gives back: the sound, and when each phone and word is in it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from unflat.errors import ConfigError, InputError
from unflat.types import Audio

# Phone symbols are eSpeak's mnemonics (its own voice) or IPA (Piper voices): stress and length
# marks, then the sound. Vowels (and eSpeak's syllabic consonants such as "@L") start with one of
# these characters once the marks are stripped.
_MARKS = "'\",%=!ˈˌ"
_LENGTH_MARKS = ":ːˑ"
_VOWEL_STARTS = "aeiouAEIOUV@30&" + "yæɑɐɒɔəɘɚɛɜɝɞɤɨɪɯɵøœɶʉʊʌʏ"
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
        return self.symbol.strip(_MARKS).rstrip(_LENGTH_MARKS)

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


class Voice(Protocol):
    """A synthesiser the aligner can steer: it speaks words at per-word rates with pauses."""

    @property
    def sample_rate(self) -> int: ...

    def check(self) -> None:
        """Raise an :class:`~unflat.errors.UnflatError` now if the voice cannot speak."""

    def speak(
        self,
        words: Sequence[str],
        *,
        word_rates: Sequence[float] | None = None,
        pauses_after: Sequence[float] | None = None,
    ) -> Speech:
        """Speak ``words``; ``word_rates`` scale each word's speed, ``pauses_after`` add seconds
        of silence after each word."""


@runtime_checkable
class PhoneTimedVoice(Voice, Protocol):
    """A voice that takes every phone's duration (Piper): the aligner's map, phone by phone."""

    def speak_phones(self, words: Sequence[str], durations: Sequence[float]) -> Speech:
        """Speak ``words`` with phone ``i`` of ``speak(words)`` lasting ``durations[i]`` s."""


def speech_request(
    words: Sequence[str],
    word_rates: Sequence[float] | None,
    pauses_after: Sequence[float] | None,
) -> tuple[list[str], list[float], list[float]]:
    """``Voice.speak``'s arguments checked, with the defaults filled in (rate 1, no pause)."""
    words = [str(w) for w in words]
    if not any(w.strip() for w in words):
        raise InputError("there is no text to speak", "give the words to say")
    rates = [1.0] * len(words) if word_rates is None else [float(r) for r in word_rates]
    pauses = [0.0] * len(words) if pauses_after is None else [float(p) for p in pauses_after]
    if len(rates) != len(words) or len(pauses) != len(words):
        raise ConfigError("one rate and one pause per word", "pass lists as long as words")
    if any(not r > 0 for r in rates) or any(p < 0 for p in pauses):
        raise ConfigError("word rates must be positive and pauses not negative",
                          "check the values passed to speak()")  # fmt: skip
    return words, rates, pauses
