"""Sound into an output media file: the one place unflat encodes audio.

:class:`AudioEncoder` adds one audio stream to an output container and encodes a sound into it:
AAC for .mp4/.mov/.m4v/.mkv, Opus for .webm (:data:`AUDIO_CODECS`). The sound is either

- an :class:`~unflat.types.Audio` (mono): resampled to 48 kHz (Opus's native rate, and one
  every AAC player handles) and clipped to [-1, 1]; or
- another media file's first audio stream, decoded from its start: mono stays mono, more
  channels become stereo (what AAC and Opus players expect), at the file's own rate when AAC
  supports it (no needless resampling), else 48 kHz.

:meth:`AudioEncoder.feed_until` encodes up to a time, so a video writer can interleave the
sound with its frames as they come; :meth:`AudioEncoder.finish` encodes the rest (up to a
time, or all of it) and flushes the encoder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from unflat.io.audio import resample
from unflat.io.media import decoded_audio, first_stream, guarded, open_audio
from unflat.types import Audio

#: The audio codec (FFmpeg encoder name) for each output suffix that can hold sound.
AUDIO_CODECS = {".mp4": "aac", ".mov": "aac", ".m4v": "aac", ".mkv": "aac", ".webm": "libopus"}
#: Bit rates (mono, stereo) per codec. FFmpeg's AAC default (about 69 kb/s mono) lets a
#: waveform limited to -1 dBTP come back at up to 1.09 (clipping); at 128 kb/s it stays under
#: 0.95, so the -1 dB of headroom that loudness normalisation leaves is enough.
BIT_RATES = {"aac": (128_000, 192_000), "libopus": (96_000, 128_000)}
#: The rate an :class:`~unflat.types.Audio` is encoded at, and a file's when AAC cannot keep it.
AUDIO_RATE = 48000
_AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)

Sound = Audio | str | os.PathLike[str]


def check_sound(sound: Sound) -> None:
    """Fail early (``InputError``) on a sound file that is missing, damaged or has no audio
    stream this FFmpeg can decode."""
    if not isinstance(sound, Audio):
        open_audio(Path(sound).expanduser()).close()


class AudioEncoder:
    """One audio stream of ``container`` (``codec`` is ``"aac"`` or ``"libopus"``) fed ``sound``.

    ``start`` (seconds) is when the sound begins on the output's timeline. Call :meth:`close`
    (after :meth:`finish`, or on failure) to release a sound file's decoder.
    """

    def __init__(
        self,
        container: av.container.OutputContainer,
        codec: str,
        sound: Sound,
        *,
        start: float = 0.0,
    ) -> None:
        self._format = "flt" if codec == "libopus" else "fltp"
        self._input: av.container.InputContainer | None = None
        if isinstance(sound, Audio):
            self._rate, self._layout = AUDIO_RATE, "mono"
            self._chunks = _audio_chunks(sound, self._rate)
        else:
            self._chunks = self._open_file(Path(sound).expanduser(), codec)
        try:
            self.stream = container.add_stream(codec, rate=self._rate, layout=self._layout)
            self.stream.codec_context.format = self._format
            mono, stereo = BIT_RATES[codec]
            self.stream.codec_context.bit_rate = mono if self._layout == "mono" else stereo
        except BaseException:
            self.close()
            raise
        self._container = container
        self._start = round(start * self._rate)
        self._pending: np.ndarray | None = None
        self._written = 0
        self._finished = False

    def _open_file(self, source: Path, codec: str) -> Iterator[np.ndarray]:
        """Pick the rate and layout for ``source``'s sound; its chunks, decoded lazily."""
        self._input = open_audio(source)
        try:
            with guarded(source, "sound"):
                in_stream = first_stream(source, self._input, "audio")
                channels = in_stream.codec_context.layout.nb_channels
                self._layout = "mono" if channels == 1 else "stereo"
                rate = in_stream.codec_context.sample_rate
                keep = codec != "libopus" and rate in _AAC_RATES
                self._rate = rate if keep else AUDIO_RATE
                resampler = av.AudioResampler(
                    format=self._format, layout=self._layout, rate=self._rate
                )
            return decoded_audio(self._input, in_stream, resampler)
        except BaseException:
            self.close()
            raise

    def feed_until(self, seconds: float | None) -> None:
        """Encode the sound until ``seconds`` of it exist (``None``: all of it), or it ends."""
        target = None if seconds is None else round(seconds * self._rate)
        # packed formats interleave channels in one row; planar ones have a row per channel
        per_sample = 1 if self._format.endswith("p") or self._layout == "mono" else 2
        while (target is None or self._written < target) and not self._finished:
            if self._pending is None:
                self._pending = next(self._chunks, None)
                if self._pending is None:
                    self._finished = True
                    break
            available = self._pending.shape[1] // per_sample
            take = available if target is None else min(available, target - self._written)
            chunk = self._pending[:, : take * per_sample]
            rest = self._pending[:, take * per_sample :]
            self._pending = rest if rest.shape[1] else None
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(chunk), format=self._format, layout=self._layout
            )
            frame.rate = self._rate
            frame.pts = self._start + self._written
            frame.time_base = Fraction(1, self._rate)
            self._written += take
            for packet in self.stream.encode(frame):
                self._container.mux(packet)

    def finish(self, seconds: float | None = None) -> None:
        """Encode up to ``seconds`` (``None``: the whole sound), then flush the encoder."""
        self.feed_until(seconds)
        for packet in self.stream.encode(None):
            self._container.mux(packet)

    def close(self) -> None:
        if self._input is not None:
            self._input.close()


def _audio_chunks(audio: Audio, rate: int) -> Iterator[np.ndarray]:
    """``audio`` at ``rate``, clipped to [-1, 1], as one mono chunk ``[1, N]``."""
    samples = resample(audio, rate).samples
    # mono: packed and planar float samples are laid out alike, one row
    yield np.clip(samples, -1.0, 1.0).astype(np.float32, copy=False)[None]
