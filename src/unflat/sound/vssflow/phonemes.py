"""The trainer's phoneme vocabulary (:class:`PhonemeVocab`): the synthetic task's and
``python -m unflat.sound.vssflow.sample``'s.

The published model embeds one phoneme id per latent frame (``nn.Embedding(200, 32)``) with id 0
padding everything outside speech (and the whole track for video-to-sound clips). We keep that:
``FILLER_ID = 0`` marks "no speech here". The vocabulary below (ARPAbet with stress digits,
silence/pause marks and punctuation, 96 tokens, room for 200) is our choice.

Why there are two vocabularies: ``unflat vssflow generate`` speaks through the published one
(:data:`unflat.sound.vssflow.text.TOKENS`, 70 tokens from its ``token_list.json``, in its
order), which networks trained on the published data have learned. This one came first, for
the synthetic training task and its checkpoints, and keeps their ids: merging would keep the
checkpoints' shapes (the embedding has ``phone_vocab`` rows either way) but not what their
ids mean. The published list has no pause (``sp``/``sil``, which the synthetic task draws as
silence), no vowels without a stress digit and other ids for every token, so a saved synthetic
checkpoint would load and then misread every phoneme. Either list fits any ``phone_vocab`` of
96 or more.
"""

from __future__ import annotations

from collections.abc import Sequence

from unflat.errors import InputError

FILLER = "<filler>"
FILLER_ID = 0
UNK = "<unk>"

_VOWELS = ["AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH"]
_VOWELS += ["UW"]
_CONSONANTS = ["B", "CH", "D", "DH", "F", "G", "HH", "JH", "K", "L", "M", "N", "NG", "P", "R"]
_CONSONANTS += ["S", "SH", "T", "TH", "V", "W", "Y", "Z", "ZH"]
_MARKS = ["sil", "sp", "spn", ",", ".", "?", "!", "-", "'", " "]


def default_tokens() -> list[str]:
    """``<filler>``, ``<unk>``, marks, ARPAbet vowels (bare and stressed 0/1/2), consonants."""
    vowels = [v + s for v in _VOWELS for s in ("", "0", "1", "2")]
    return [FILLER, UNK, *_MARKS, *vowels, *_CONSONANTS]


class PhonemeVocab:
    """Token <-> id map; id 0 is the filler used outside the speech span."""

    def __init__(self, tokens: Sequence[str] | None = None, size: int = 200):
        tokens = list(default_tokens() if tokens is None else tokens)
        if not tokens or tokens[0] != FILLER:
            raise InputError("a phoneme vocabulary must start with '<filler>'", "put it first")
        if len(set(tokens)) != len(tokens):
            raise InputError("phoneme vocabulary has duplicate tokens", "make tokens unique")
        if len(tokens) > size:
            raise InputError(
                f"{len(tokens)} phoneme tokens do not fit an embedding of {size}",
                "raise phoneme_vocab_size in the config",
            )
        self.tokens = tokens
        self.index = {tok: i for i, tok in enumerate(tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, phonemes: Sequence[str] | str, strict: bool = True) -> list[int]:
        """Ids of ``phonemes`` (a list, or one whitespace-separated string)."""
        seq = phonemes.split() if isinstance(phonemes, str) else list(phonemes)
        ids = []
        for p in seq:
            if p in self.index:
                ids.append(self.index[p])
            elif strict:
                raise InputError(
                    f"unknown phoneme {p!r}",
                    "use ARPAbet symbols (e.g. 'HH AH0 L OW1'), 'sil'/'sp', or strict=False",
                )
            else:
                ids.append(self.index[UNK])
        return ids

    def decode(self, ids: Sequence[int]) -> list[str]:
        return [self.tokens[i] for i in ids]
