"""Phoneme vocabulary and stretching of a phoneme sequence over the speech span.

The published model embeds one phoneme id per latent frame (``nn.Embedding(200, 32)``) with id 0
padding everything outside speech (and the whole track for video-to-sound clips). We keep that:
``FILLER_ID = 0`` marks "no speech here". The vocabulary below (ARPAbet with stress digits,
silence/pause marks and punctuation, 96 tokens, room for 200) is our choice; the published token
list is a data file of theirs. Without forced-aligned durations, the phonemes are spread evenly
over the span's latent frames; pass ``durations`` (any positive weights) when you have them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

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


def stretch_phonemes(
    ids: Sequence[int] | Tensor,
    num_frames: int,
    fps: float,
    span: tuple[float, float] | None = None,
    durations: Sequence[float] | None = None,
    filler_id: int = FILLER_ID,
) -> Tensor:
    """One phoneme id per latent frame [num_frames] (long); ``filler_id`` outside the span.

    ``span`` is (start, end) in seconds; ``None`` means the whole clip. Phoneme ``i`` covers the
    frames whose index falls in its share of the span (equal shares, or ``durations``-weighted).
    """
    ids = [int(i) for i in (ids.tolist() if isinstance(ids, Tensor) else ids)]
    out = torch.full((num_frames,), filler_id, dtype=torch.long)
    if not ids:
        return out
    start_s, end_s = (0.0, num_frames / fps) if span is None else span
    start = max(0, min(num_frames, round(start_s * fps)))
    end = max(0, min(num_frames, round(end_s * fps)))
    if end - start < len(ids):
        raise InputError(
            f"{len(ids)} phonemes cannot fit a speech span of {end - start} latent frames",
            "check the span (seconds) and the phoneme list, or use a higher latent frame rate",
        )
    weights = [1.0] * len(ids) if durations is None else [float(d) for d in durations]
    if len(weights) != len(ids) or min(weights) <= 0:
        raise InputError("durations must be positive, one per phoneme", "fix the durations")
    total = sum(weights)
    length = end - start
    acc = 0.0
    for pid, w in zip(ids, weights, strict=True):
        lo = start + round(acc / total * length)
        acc += w
        hi = start + round(acc / total * length)
        out[lo:hi] = pid
    return out
