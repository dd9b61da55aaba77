"""eSpeak NG speech synthesis, loaded at run time through ctypes, with phone timings.

eSpeak NG is a small formant synthesiser that speaks 100+ languages offline. unflat loads its
library from the ``espeakng-loader`` package (which bundles ``libespeak-ng`` and its data, so a
plain ``pip install`` is enough) or, failing that, from the system (``apt install espeak-ng``).
eSpeak NG is GPL-3.0 software: it is loaded, not shipped, by unflat.

Timing is under our control word by word: each word is wrapped in an SSML ``<prosody rate>``
and pauses are SSML ``<break>``\\ s, and eSpeak reports when each phone starts (its phoneme
events carry the exact sample), so the aligner can ask for durations and read back what it got.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import itertools
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from html import escape

import numpy as np

from unflat.errors import ConfigError, InputError
from unflat.sound.tts.speech import Phone, Speech, speech_request
from unflat.types import Audio

#: eSpeak's normal speaking rate and the range it can produce (words per minute).
DEFAULT_RATE_WPM, MIN_RATE_WPM, MAX_RATE_WPM = 175, 80, 450
_INSTALL_HINT = "pip install espeakng-loader (it bundles eSpeak NG), or apt install espeak-ng"

# espeak_lib.h constants
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS, _INITIALIZE_DONT_EXIT = 0x0001, 0x8000
_CHARS_UTF8, _SSML = 0x01, 0x10
_POS_CHARACTER = 1
_EVENT_LIST_TERMINATED, _EVENT_WORD, _EVENT_PHONEME = 0, 1, 7
_RATE, _PITCH = 1, 3
_PHONEMES_IPA = 0x02


class _Event(ctypes.Structure):
    _fields_ = (
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),
    )


class _Voice(ctypes.Structure):
    _fields_ = (
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_char_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    )


_Callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.POINTER(_Event))  # fmt: skip


class _Engine:
    """The process-wide eSpeak library: it keeps global state, so one call at a time."""

    def __init__(self) -> None:
        path, data = _library_location()
        try:
            self.lib = ctypes.CDLL(path)
        except OSError as error:
            raise InputError(f"cannot load eSpeak NG ({error})", _INSTALL_HINT) from error
        self.lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        self.lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        options = _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_DONT_EXIT
        rate = self.lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, data.encode() if data else None, options
        )
        if rate <= 0:
            raise InputError("eSpeak NG did not start (its data files are missing)", _INSTALL_HINT)
        self.sample_rate = int(rate)
        self.lock = threading.Lock()
        self._voice: str | None = None  # the voice set last
        self._changed = False  # whether the voice changed since the last synthesis
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, int, int, bytes]] = []
        # ctypes must keep the callback object alive as long as the library may call it
        self._callback = _Callback(self._collect)
        self.lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav: ctypes.Array, count: int, events: ctypes.Array) -> int:
        if count > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            event = events[i]
            if event.type in (_EVENT_WORD, _EVENT_PHONEME):
                self._events.append((event.type, event.text_position, event.sample,
                                     bytes(event.id)))  # fmt: skip
            i += 1
        return 0

    def voices(self) -> list[tuple[str, str, str]]:
        """``(language, name, identifier)`` of every installed voice."""
        found = []
        listed = self.lib.espeak_ListVoices(None)
        i = 0
        while listed[i]:
            voice = listed[i].contents
            # ``languages`` is a priority byte then a zero-terminated language name
            language = voice.languages[1:].split(b"\0")[0].decode()
            found.append((language, voice.name.decode(), voice.identifier.decode()))
            i += 1
        return found

    def _set_voice(self, voice: str) -> None:
        if voice == self._voice:
            return
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            self._voice = None
            raise ConfigError(f"eSpeak NG has no voice {voice!r}", _voice_hint(self))
        self._voice = voice
        self._changed = True

    def _drain(self) -> None:
        """Let a throwaway synthesis report what voice changes queued: one synthesis reports a
        bounded list of events, and after many changes the phones would not fit in it."""
        if self._changed:
            self.lib.espeak_Synth(b" ", 2, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            self.lib.espeak_Synchronize()
            self._changed = False

    def ipa(self, text: str, voice: str) -> str:
        """``text``'s pronunciation in IPA (clauses joined by spaces, punctuation dropped)."""
        with self.lock:
            self._set_voice(voice)
            buffer = ctypes.create_string_buffer(text.encode())
            # eSpeak reads one clause per call and moves the pointer on; NULL at the end
            cursor = ctypes.c_void_p(ctypes.addressof(buffer))
            clauses = []
            while cursor.value:
                phonemes = self.lib.espeak_TextToPhonemes(
                    ctypes.byref(cursor), _CHARS_UTF8, _PHONEMES_IPA
                )
                if phonemes:
                    clauses.append(phonemes.decode("utf-8", "replace").strip())
            return " ".join(c for c in clauses if c)

    def synthesise(
        self, ssml: str, voice: str, rate_wpm: int, pitch: int | None
    ) -> tuple[np.ndarray, list[tuple[int, int, int, bytes]]]:
        with self.lock:
            self._set_voice(voice)
            self._drain()
            self.lib.espeak_SetParameter(_RATE, int(rate_wpm), 0)
            if pitch is not None:
                self.lib.espeak_SetParameter(_PITCH, int(pitch), 0)
            self._chunks, self._events = [], []
            text = ssml.encode()
            status = self.lib.espeak_Synth(
                text, len(text) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8 | _SSML, None, None
            )
            self.lib.espeak_Synchronize()
            if status != 0:
                raise InputError(f"eSpeak NG failed on the text (error {status})",
                                 "check the text for unusual characters")  # fmt: skip
            samples = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
            return samples, self._events


def _library_location() -> tuple[str, str | None]:
    """The eSpeak NG shared library and its data folder (None: the library's own default)."""
    try:
        import espeakng_loader
    except ImportError:
        found = ctypes.util.find_library("espeak-ng")
        if found is None:
            raise InputError("eSpeak NG is not installed", _INSTALL_HINT) from None
        return found, None
    return espeakng_loader.get_library_path(), espeakng_loader.get_data_path()


def _voice_hint(engine: _Engine) -> str:
    languages = sorted({language for language, _, _ in engine.voices()})
    english = [lang for lang in languages if lang.startswith("en")]
    return (
        f"use a language code such as {', '.join(english[:4])} or one of {len(languages)} "
        "others: `unflat dub --list-voices` lists them"
    )


@lru_cache(maxsize=1)
def _engine() -> _Engine:
    return _Engine()


def ipa(text: str, voice: str = "en-us") -> str:
    """How eSpeak NG pronounces ``text`` in ``voice``'s language, in IPA (what Piper voices
    are trained on)."""
    return _engine().ipa(text, voice)


def list_voices() -> list[tuple[str, str, str]]:
    """``(language, name, identifier)`` of every eSpeak NG voice, sorted by language."""
    return sorted(_engine().voices())


@dataclass
class EspeakVoice:
    """An eSpeak NG voice: ``voice`` is a language code (``en-us``) or a voice name.

    ``rate_wpm`` is the base speaking rate (words per minute); ``pitch`` 0-99 (50 normal).
    """

    voice: str = "en-us"
    rate_wpm: int = DEFAULT_RATE_WPM
    pitch: int | None = None

    def __post_init__(self) -> None:
        if not MIN_RATE_WPM <= self.rate_wpm <= MAX_RATE_WPM:
            raise ConfigError(
                f"speaking rate {self.rate_wpm} words per minute is outside eSpeak's range",
                f"use {MIN_RATE_WPM}-{MAX_RATE_WPM} (normal speech is about {DEFAULT_RATE_WPM})",
            )
        if self.pitch is not None and not 0 <= self.pitch <= 99:
            raise ConfigError(f"pitch {self.pitch} is outside 0-99", "use 50 for a normal pitch")

    @property
    def sample_rate(self) -> int:
        return _engine().sample_rate

    def check(self) -> None:
        """Raise :class:`ConfigError` now if the voice does not exist (before long work)."""
        self.speak(["a"])

    def speak(
        self,
        words: Sequence[str],
        *,
        word_rates: Sequence[float] | None = None,
        pauses_after: Sequence[float] | None = None,
    ) -> Speech:
        """Speak ``words`` (punctuation attached, as written).

        ``word_rates`` scales each word's speed (2.0: twice as fast; eSpeak clamps the result to
        its 80-450 wpm range), ``pauses_after`` adds silence (seconds) after each word.
        """
        words, rates, pauses = speech_request(words, word_rates, pauses_after)
        ssml, offsets = _ssml(words, rates, pauses, self.rate_wpm)
        engine = _engine()
        pcm, events = engine.synthesise(ssml, self.voice, self.rate_wpm, self.pitch)
        audio = Audio((pcm.astype(np.float32) / 32768.0), engine.sample_rate)
        return Speech(audio, _phones(events, offsets, len(pcm), engine.sample_rate), words)


def _ssml(
    words: Sequence[str], rates: Sequence[float], pauses: Sequence[float], base_wpm: int
) -> tuple[str, list[int]]:
    """The SSML document and the (1-based) character position of each word in it."""
    parts, offsets, length = ["<speak>"], [], len("<speak>")
    for word, rate, pause in zip(words, rates, pauses, strict=True):
        percent = round(100 * np.clip(rate * base_wpm, MIN_RATE_WPM, MAX_RATE_WPM) / base_wpm)
        opening = f'<prosody rate="{percent}%">'
        offsets.append(length + len(opening) + 1)
        piece = f"{opening}{escape(word, quote=False)}</prosody> "
        if pause > 0:
            piece += f'<break time="{round(pause * 1000)}ms"/> '
        parts.append(piece)
        length += len(piece)
    parts.append("</speak>")
    return "".join(parts), offsets


def _phones(
    events: Sequence[tuple[int, int, int, bytes]], offsets: Sequence[int], total: int, rate: int
) -> list[Phone]:
    """Phones from eSpeak's events: each lasts until the next; word events name the word."""
    starts = np.asarray(offsets)
    word, phones = -1, []
    for kind, position, sample, name in events:
        if kind == _EVENT_WORD:
            # eSpeak may split one of our words in several (numbers, hyphens): all map back to it
            word = int(np.searchsorted(starts, position, side="right")) - 1
            continue
        symbol = name.split(b"\0")[0].decode("utf-8", "replace")
        if not symbol:
            continue
        start = min(sample, total) / rate
        if phones and start < phones[-1].start:
            start = phones[-1].start  # events are in order; guard against a stray one
        pause = symbol.startswith("_")
        phones.append(Phone(symbol, start, start, -1 if pause else max(word, 0)))
    for phone, following in itertools.pairwise(phones):
        phone.end = following.start
    if phones:
        phones[-1].end = total / rate
        if phones[0].start > 0:
            phones.insert(0, Phone("_", 0.0, phones[0].start, -1))
    # zero-length phones (stress markers eSpeak reports at one instant) say nothing about time
    return [p for p in phones if p.end > p.start]
