"""Piper voices (``.onnx`` + ``.json``, given by path) with every phoneme's duration ours to set.

A Piper voice is a VITS model exported to ONNX: phoneme ids in, a waveform out. Inside, a
duration predictor gives each phoneme a length ``w`` in spectrogram frames, and one ``Ceil``
turns it into whole frames before the decoder expands the phonemes over them. unflat edits that
graph when it loads the voice (in memory; the file is not touched):

- a new input ``unflat_frames`` takes over ``w`` wherever it is positive (zero: the model's own);
- the whole-frame durations become an output, so a first run tells the natural timing;
- the graph's random nodes get a fixed seed, so the same command gives the same audio (ONNX
  Runtime's generators move on from call to call: the sequence of calls repeats, not each call).

Text becomes phonemes the way Piper's own front end does it: eSpeak NG in IPA, one id list per
codepoint, a pad after every phoneme, ``^`` and ``$`` around the utterance. Words are phonemised
one by one so that every phoneme knows its word.

Piper runs on ONNX Runtime: ``pip install "unflat[piper]"`` (onnx and onnxruntime).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from unflat.errors import ConfigError, InputError
from unflat.sound.tts.espeak import ipa
from unflat.sound.tts.speech import Phone, Speech, speech_request
from unflat.types import Audio

_INSTALL_HINT = 'pip install "unflat[piper]" (onnx and onnxruntime)'
_VOICES_HINT = (
    "a Piper voice is two files, e.g. en_US-lessac-medium.onnx and en_US-lessac-medium.onnx.json, "
    "from https://huggingface.co/rhasspy/piper-voices"
)
FRAMES_INPUT, DURATIONS_OUTPUT = "unflat_frames", "unflat_durations"
#: Seed of the model's random nodes (noise in the duration predictor and the prior).
SEED = 1234.0
_PAD, _BOS, _EOS, _SPACE = "_", "^", "$", " "
_STRESS, _LENGTH = "ˈˌ", "ːˑ"
#: Kept off eSpeak when phonemising a word alone (it would read a lone "!" out).
_PUNCTUATION = "\"'“”‘’«»()[]{},.;:!?¡¿-–—…"
#: The second halves of diphthongs: one syllable nucleus with the vowel before them.
_GLIDES = "ɪʊ"
_VOWELS = "aeiouyæɑɐɒɔəɘɚɛɜɝɞɤɨɪɯɵøœɶʉʊʌʏ"


@dataclass(frozen=True)
class PiperConfig:
    """The parts of a Piper voice's JSON that synthesis needs."""

    sample_rate: int
    language: str  # the eSpeak NG voice its phonemes come from
    ids: dict[str, list[int]]  # phoneme (one codepoint) -> ids
    noise_scale: float = 0.667
    length_scale: float = 1.0
    noise_w: float = 0.8
    speakers: int = 1

    @classmethod
    def read(cls, path: Path) -> PiperConfig:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("phoneme_type", "espeak") != "espeak":
                raise ConfigError(
                    f"{path.name} is a Piper voice with {data['phoneme_type']!r} phonemes",
                    "unflat speaks Piper voices phonemised by eSpeak (most of them): pick one",
                )
            inference = data.get("inference", {})
            return cls(
                sample_rate=int(data["audio"]["sample_rate"]),
                language=str(data.get("espeak", {}).get("voice", "en-us")),
                ids={str(k): [int(i) for i in v] for k, v in data["phoneme_id_map"].items()},
                noise_scale=float(inference.get("noise_scale", 0.667)),
                length_scale=float(inference.get("length_scale", 1.0)),
                noise_w=float(inference.get("noise_w", 0.8)),
                speakers=int(data.get("num_speakers", 1)),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise InputError(
                f"{path} is not a Piper voice config ({type(error).__name__}: {error})",
                _VOICES_HINT,
            ) from error


def voice_files(model: str | os.PathLike[str]) -> tuple[Path, Path]:
    """The voice's ``.onnx`` and its JSON: ``NAME.onnx.json`` (Piper's naming) or ``NAME.json``."""
    path = Path(model).expanduser()
    if path.suffix.lower() != ".onnx":
        raise InputError(f"{path.name} is not a Piper voice (.onnx)", _VOICES_HINT)
    if not path.is_file():
        raise InputError(f"{path} does not exist", _VOICES_HINT)
    for config in (path.with_name(path.name + ".json"), path.with_suffix(".json")):
        if config.is_file():
            return path, config
    raise InputError(f"{path.name} has no config beside it ({path.name}.json)", _VOICES_HINT)


def steerable(model: Any) -> Any:
    """Edit a Piper ``onnx.ModelProto`` in place (see the module docstring) and return it."""
    from onnx import TensorProto, helper

    graph = model.graph
    ceils = [i for i, node in enumerate(graph.node) if node.op_type == "Ceil"]
    if len(ceils) != 1:
        raise InputError(
            f"the model has {len(ceils)} Ceil operations, a Piper (VITS) voice has one "
            "(its phoneme durations)",
            _VOICES_HINT,
        )
    at = ceils[0]
    ceil = graph.node[at]
    natural, rounded = ceil.input[0], ceil.output[0]
    graph.input.append(
        helper.make_tensor_value_info(FRAMES_INPUT, TensorProto.FLOAT, [1, 1, "phonemes"])
    )
    graph.initializer.append(helper.make_tensor("unflat_zero", TensorProto.FLOAT, [], [0.0]))
    chosen = helper.make_node("Greater", [FRAMES_INPUT, "unflat_zero"], ["unflat_chosen"])
    where = helper.make_node(
        "Where", ["unflat_chosen", FRAMES_INPUT, natural], ["unflat_w"], name="unflat_durations_in"
    )
    ceil.input[0] = "unflat_w"
    report = helper.make_node("Identity", [rounded], [DURATIONS_OUTPUT])
    # nodes must stay in topological order: the new ones go right around the Ceil
    graph.node.insert(at + 1, report)
    graph.node.insert(at, where)
    graph.node.insert(at, chosen)
    graph.output.append(
        helper.make_tensor_value_info(DURATIONS_OUTPUT, TensorProto.FLOAT, [1, 1, "phonemes"])
    )
    for node in graph.node:
        if node.op_type.startswith("Random") and not any(a.name == "seed" for a in node.attribute):
            node.attribute.append(helper.make_attribute("seed", SEED))
    return model


@dataclass
class _Token:
    """One phoneme of the id sequence (with the pad after it), or a separator."""

    symbol: str
    ids: list[int]
    word: int  # -1: a separator (edges, spaces, punctuation)
    pause_of: int = -1  # the word whose ``pauses_after`` this separator carries


class _Plan:
    """The model's input for some words: its tokens, their ids, and each id's token."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.ids = np.array([i for t in tokens for i in t.ids], dtype=np.int64)
        self.owner = np.repeat(np.arange(len(tokens)), [len(t.ids) for t in tokens])


class PiperVoice:
    """A Piper voice loaded from ``model`` (``.onnx``; its JSON beside it).

    ``rate`` scales the voice's pace (1.2: 20% faster); ``speaker`` picks a speaker of a
    multi-speaker voice.
    """

    def __init__(
        self, model: str | os.PathLike[str], *, rate: float = 1.0, speaker: int = 0
    ) -> None:
        self.model, config_path = voice_files(model)
        self.config = PiperConfig.read(config_path)
        if not 0.25 <= rate <= 4.0:
            raise ConfigError(f"rate {rate} is outside 0.25-4", "use 1.0 for the voice's pace")
        if not 0 <= speaker < self.config.speakers:
            raise ConfigError(f"{self.model.name} has no speaker {speaker}",
                              f"use 0-{self.config.speakers - 1}")  # fmt: skip
        self.rate, self.speaker = rate, speaker
        self._session: Any = None

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def session(self) -> Any:
        """The ONNX Runtime session over the edited graph (built on first use)."""
        if self._session is None:
            try:
                import onnx
                import onnxruntime
            except ImportError as error:
                raise ConfigError(f"Piper voices need {error.name}", _INSTALL_HINT) from error
            try:
                proto = onnx.load(str(self.model))
            except Exception as error:  # onnx raises DecodeError and others from protobuf
                raise InputError(f"{self.model} is not an ONNX model ({error})",
                                 _VOICES_HINT) from error  # fmt: skip
            options = onnxruntime.SessionOptions()
            options.log_severity_level = 3  # the edited graph's shape warnings are expected
            self._session = onnxruntime.InferenceSession(
                steerable(proto).SerializeToString(), options,
                providers=["CPUExecutionProvider"],
            )  # fmt: skip
        return self._session

    def check(self) -> None:
        """Load the model and the phonemiser now, so bad files fail before long work."""
        _ = self.session
        ipa("a", self.config.language)

    def speak(
        self,
        words: Sequence[str],
        *,
        word_rates: Sequence[float] | None = None,
        pauses_after: Sequence[float] | None = None,
    ) -> Speech:
        """Speak ``words``: each word's phonemes last ``1 / word_rates[i]`` of their natural
        length, and ``pauses_after[i]`` seconds are added to the silence after word ``i``."""
        words, rates, pauses = speech_request(words, word_rates, pauses_after)
        plan = _Plan(self._tokens(words))
        audio, frames = self._run(plan.ids, np.zeros(len(plan.ids), np.float32))
        if any(r != 1.0 for r in rates) or any(p > 0 for p in pauses):
            hop = len(audio) / frames.sum()
            wanted = frames.astype(np.float64)
            for k, token in enumerate(plan.tokens):
                mine = plan.owner == k
                if token.word >= 0:
                    wanted[mine] /= rates[token.word]
                if token.pause_of >= 0 and pauses[token.pause_of] > 0:
                    first = int(np.flatnonzero(mine)[0])
                    wanted[first] += pauses[token.pause_of] * self.sample_rate / hop
            audio, frames = self._run(plan.ids, _whole_frames(wanted))
        return self._speech(words, plan, audio, frames)

    def speak_phones(self, words: Sequence[str], durations: Sequence[float]) -> Speech:
        """Speak ``words`` with each phone, as :meth:`speak` lists them, lasting
        ``durations[i]`` seconds (to a frame; each of its phonemes keeps its share)."""
        words, _, _ = speech_request(words, None, None)
        plan = _Plan(self._tokens(words))
        audio, frames = self._run(plan.ids, np.zeros(len(plan.ids), np.float32))
        natural = self._speech(words, plan, audio, frames)
        if len(durations) != len(natural.phones):
            raise ConfigError(f"{len(durations)} durations for {len(natural.phones)} phones",
                              "give one duration per phone of speak(words)")  # fmt: skip
        hop = len(audio) / frames.sum()
        id_starts = np.concatenate([[0.0], np.cumsum(frames)[:-1]]) * hop / self.sample_rate
        starts = np.array([p.start for p in natural.phones])
        phone_of = np.searchsorted(starts, id_starts + 1e-9, side="right") - 1
        lengths = np.array([p.duration for p in natural.phones])
        scale = np.maximum(np.asarray(durations, np.float64), 0.0) / lengths
        audio, frames = self._run(plan.ids, _whole_frames(frames * scale[phone_of]))
        return self._speech(words, plan, audio, frames)

    def _speech(
        self, words: list[str], plan: _Plan, audio: np.ndarray, frames: np.ndarray
    ) -> Speech:
        """The waveform with its phones, timed from every id's frames."""
        hop = len(audio) / frames.sum()
        per_token = np.bincount(plan.owner, weights=frames, minlength=len(plan.tokens))
        edges = np.concatenate([[0.0], np.cumsum(per_token)]) * hop / self.sample_rate
        phones = [Phone(t.symbol, float(edges[k]), float(edges[k + 1]), t.word)
                  for k, t in enumerate(plan.tokens)]  # fmt: skip
        return Speech(Audio(audio, self.sample_rate), _merge_phones(phones), words)

    def _tokens(self, words: Sequence[str]) -> list[_Token]:
        """The id sequence, phoneme by phoneme, as Piper's front end builds it."""
        ids = self.config.ids
        for symbol in (_PAD, _BOS, _EOS):
            if symbol not in ids:
                raise InputError(f"{self.model.name}'s config maps no {symbol!r}", _VOICES_HINT)
        pad = ids[_PAD]
        tokens = [_Token(_PAD, ids[_BOS] + pad, -1)]
        spoken = 0
        for w, word in enumerate(words):
            letters = word.strip(_PUNCTUATION)
            for symbol in ipa(letters, self.config.language) if letters else "":
                if symbol in ids and symbol != _SPACE:
                    tokens.append(_Token(symbol, ids[symbol] + pad, w))
                    spoken += 1
            after = len(tokens)
            # the word's trailing punctuation (Piper keeps it: it shapes the phrasing)
            for mark in word[len(word.rstrip(",.;:!?")) :]:
                if mark in ids:
                    tokens.append(_Token(mark, ids[mark] + pad, -1))
            if w + 1 < len(words) and _SPACE in ids:
                tokens.append(_Token(_SPACE, ids[_SPACE] + pad, -1))
            if len(tokens) > after:  # the word's pause lengthens the separator after it
                tokens[after].pause_of = w
        if spoken == 0:
            raise InputError(
                f"{self.model.name} has none of the sounds of {' '.join(words)!r}",
                f"give text in the voice's language ({self.config.language})",
            )
        last_pause = len(words) - 1 if tokens[-1].word >= 0 else -1
        tokens.append(_Token(_EOS, list(ids[_EOS]), -1, pause_of=last_pause))
        return tokens

    def _run(self, ids: np.ndarray, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One synthesis: the waveform and every id's duration in frames."""
        session = self.session
        config = self.config
        scales = [config.noise_scale, config.length_scale / self.rate, config.noise_w]
        feed = {
            "input": ids[None],
            "input_lengths": np.array([len(ids)], dtype=np.int64),
            "scales": np.array(scales, dtype=np.float32),
            FRAMES_INPUT: frames.astype(np.float32)[None, None],
        }
        if "sid" in {i.name for i in session.get_inputs()}:
            feed["sid"] = np.array([self.speaker], dtype=np.int64)
        audio, durations = session.run([session.get_outputs()[0].name, DURATIONS_OUTPUT], feed)
        samples = np.clip(np.asarray(audio, np.float32).reshape(-1), -1.0, 1.0)
        return samples, np.asarray(durations, np.float64).reshape(-1)


def _whole_frames(wanted: np.ndarray) -> np.ndarray:
    """Whole frames, at least one each, whose running sum follows ``wanted``'s: rounding each
    phoneme alone would drift over a sentence."""
    frames = np.empty(len(wanted), np.float32)
    done, target = 0.0, 0.0
    for i, value in enumerate(wanted):
        target += value
        frames[i] = max(1.0, round(target - done))
        done += frames[i]
    return frames


def _merge_phones(phones: list[Phone]) -> list[Phone]:
    """Stress marks join the phone after them, length marks and diphthong glides the one
    before; neighbouring separators become one pause (``_``)."""
    merged: list[Phone] = []
    pending: Phone | None = None  # a stress mark waiting for the phone it stresses
    for phone in phones:
        if pending is not None:
            if phone.word == pending.word:
                phone = Phone(pending.symbol + phone.symbol, pending.start, phone.end, phone.word)
            else:
                merged.append(pending)
            pending = None
        if phone.word >= 0 and not phone.symbol.strip(_STRESS):
            pending = phone
            continue
        last = merged[-1] if merged else None
        if last is not None and last.word < 0 and phone.word < 0:
            merged[-1] = Phone(_PAD, last.start, phone.end, -1)
            continue
        nucleus = last.symbol.strip(_STRESS)[-1:] if last is not None else ""
        if last is not None and phone.word >= 0 and phone.word == last.word and (
            phone.symbol in _LENGTH
            or (phone.symbol in _GLIDES and nucleus in _VOWELS and nucleus not in _GLIDES)
        ):  # fmt: skip
            merged[-1] = Phone(last.symbol + phone.symbol, last.start, phone.end, last.word)
            continue
        merged.append(Phone(_PAD if phone.word < 0 else phone.symbol, phone.start, phone.end,
                            phone.word))  # fmt: skip
    if pending is not None:
        merged.append(pending)
    return [p for p in merged if p.end > p.start]
