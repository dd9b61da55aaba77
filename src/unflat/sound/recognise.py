"""Offline English speech recognition and forced alignment, with PocketSphinx.

Used to measure how intelligible synthesised speech is (see :mod:`unflat.sound.metrics` for
the word error rate), not as a general-purpose recogniser: it is small, fast and needs no
download, but it is far less accurate than modern neural recognisers, and it knows only
**US English** — the acoustic model, language model and pronouncing dictionary (CMUdict)
bundled with the ``pocketsphinx`` package. Other languages come out as English-sounding words.

- :func:`transcribe` turns speech into lower-case words (numbers spelled out, no punctuation).
- :func:`align_words` finds when each word of a known transcript is said.

``pocketsphinx`` is an optional dependency (``pip install "unflat[eval]"``); it is imported
only when one of these functions first runs.
"""

from __future__ import annotations

import functools
import re
import threading
from typing import TYPE_CHECKING, Any

import numpy as np

from unflat.errors import ConfigError, InputError
from unflat.io.audio import mono_samples, pcm16, resample
from unflat.sound.metrics import normalise_words
from unflat.types import Audio

if TYPE_CHECKING:
    from pocketsphinx import Decoder

# The bundled acoustic model is trained on 16 kHz speech; everything is resampled to this.
SAMPLE_RATE = 16000
# "read(2)" names the second pronunciation of "read" in the dictionary; callers want "read".
_VARIANT = re.compile(r"\(\d+\)$")
# Peak level (16-bit PCM units, about -60 dBFS) below which a clip counts as silent: on digital
# silence the recogniser still "hears" words (all-zero input gives "dog"), so none is run.
SILENT_PEAK = 32
# Segments that are not words: sentence start and end, silence, and fillers such as [NOISE].
_NOT_WORDS = ("<s>", "</s>", "<sil>")

# A PocketSphinx decoder is not safe to share between threads, and the cached ones are shared.
_LOCK = threading.Lock()


class UnknownWordsError(ConfigError):
    """Words of a transcript that the pronouncing dictionary does not have."""

    def __init__(self, words: list[str]) -> None:
        super().__init__(
            f"the recogniser's dictionary has no pronunciation for: {', '.join(words)}",
            hint="spell numbers and symbols out as words and check the spelling; only "
            "English words from CMUdict can be aligned",
        )
        self.words = words


def _pocketsphinx() -> Any:
    try:
        import pocketsphinx
    except ImportError as error:
        raise ConfigError(
            f"speech recognition needs pocketsphinx, which cannot be imported ({error})",
            hint='pip install "unflat[eval]"',
        ) from error
    return pocketsphinx


# One decoder per mode, built on first use: loading the models takes about 0.5 s, so doing it
# once per process rather than per call keeps many short clips quick.
@functools.cache
def _decoder(mode: str) -> Decoder:
    """A decoder for ``"recognise"`` (with the language model) or ``"align"`` (without)."""
    pocketsphinx = _pocketsphinx()
    # Alignment searches only the given words, so it skips loading the language model.
    options: dict[str, Any] = {"lm": None} if mode == "align" else {}
    return pocketsphinx.Decoder(samprate=SAMPLE_RATE, loglevel="FATAL", **options)


def _pcm16(audio: Audio) -> bytes:
    """``audio`` as 16-bit little-endian PCM at 16 kHz, what PocketSphinx decodes."""
    samples = mono_samples(audio.samples, "speech recognition", np.float32)
    if audio.sample_rate <= 0:
        raise InputError(
            f"invalid sample rate {audio.sample_rate}", hint="give a positive rate in Hz"
        )
    if audio.sample_rate != SAMPLE_RATE and len(samples):
        samples = resample(Audio(samples, int(audio.sample_rate)), SAMPLE_RATE).samples
    return pcm16(samples).tobytes()


def _decode(decoder: Decoder, pcm: bytes) -> None:
    decoder.start_utt()
    # full_utt: the whole clip is one utterance, so cepstral mean normalisation is estimated
    # from all of it instead of adapting as it goes: on the LJSpeech test clips the word error
    # rate is 0.24 this way and 0.52 with live adaptation.
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()


def transcribe(audio: Audio) -> str:
    """The words spoken in ``audio``: lower case, space-separated, numbers spelled out.

    US English only. Returns ``""`` for silence (a clip whose peak is below about -60 dBFS).
    The clip is decoded as one utterance, so for recordings longer than a minute or so split it
    at pauses first.
    """
    pcm = _pcm16(audio)
    if not pcm or int(np.abs(np.frombuffer(pcm, "<i2").astype(np.int32)).max()) < SILENT_PEAK:
        return ""
    with _LOCK:
        decoder = _decoder("recognise")
        _decode(decoder, pcm)
        hypothesis = decoder.hyp()
    return hypothesis.hypstr.strip() if hypothesis is not None else ""


def align_words(audio: Audio, text: str) -> list[tuple[str, float, float]]:
    """When each word of ``text`` is said in ``audio``: ``(word, start_s, end_s)`` in order.

    ``text`` must be what is said (forced alignment fits it to the audio whatever the audio
    holds). It is normalised with :func:`~unflat.sound.metrics.normalise_words`; words are
    returned in that form. US English only. Raises :class:`UnknownWordsError` naming the words
    missing from the dictionary (digits, most names), and ``InputError`` when the text cannot
    be fitted to the audio at all (e.g. far too many words for its length).
    """
    words = normalise_words(text)
    if not words:
        raise ConfigError("there is no word to align", hint="give the transcript of the speech")
    pcm = _pcm16(audio)
    if not pcm:
        raise InputError("the audio to align is empty", hint="give audio with the speech")
    seconds = len(pcm) / 2 / SAMPLE_RATE
    with _LOCK:
        decoder = _decoder("align")
        unknown = sorted({w for w in words if decoder.lookup_word(w) is None})
        if unknown:
            raise UnknownWordsError(unknown)
        decoder.set_align_text(" ".join(words))
        _decode(decoder, pcm)
        frame_rate = float(decoder.config["frate"])
        segments = (
            [(s.word, s.start_frame, s.end_frame) for s in decoder.seg()]
            if decoder.hyp() is not None
            else []
        )
    aligned = [
        (_VARIANT.sub("", word), start / frame_rate, min((end + 1) / frame_rate, seconds))
        for word, start, end in segments
        if word not in _NOT_WORDS and not word.startswith("[")
    ]
    if len(aligned) != len(words):
        raise InputError(
            f"the {len(words)}-word transcript could not be aligned to {seconds:.1f} s of audio",
            hint="check that the text is what is said and that the audio holds all of it",
        )
    return aligned
