"""``unflat foley``: sound effects from a video's motion, muxed into the video."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from unflat.progress import Progress
from unflat.sound.foley import FoleyResult, foley
from unflat.sound.loudness import integrated_loudness
from unflat.sound.soundtrack import Existing, check_outputs, finish_soundtrack


@dataclass
class FoleyVideoResult:
    """What :class:`FoleyPipeline` wrote and measured."""

    output: Path
    wav: Path | None
    effects: FoleyResult
    loudness_lufs: float


class FoleyPipeline:
    """Adds :func:`unflat.sound.foley.foley`'s effects to videos at ``loudness_lufs``."""

    def __init__(self, *, loudness_lufs: float = -16.0) -> None:
        self.loudness_lufs = loudness_lufs

    @classmethod
    def from_options(cls, **options: object) -> FoleyPipeline:
        """The pipeline for ``unflat foley``'s options."""
        return cls(**options)  # type: ignore[arg-type]

    def __call__(
        self,
        video: str | os.PathLike[str],
        output: str | os.PathLike[str],
        *,
        existing: Existing = "refuse",
        wav: str | os.PathLike[str] | None = None,
        overwrite: bool = False,
        progress: Progress | None = None,
    ) -> FoleyVideoResult:
        """Effects for ``video``'s motion, written into ``output`` (and ``wav``)."""
        source, target = Path(video).expanduser(), Path(output).expanduser()
        info = check_outputs(source, target, wav, existing, overwrite)
        effects = foley(source, progress=progress)
        audio = finish_soundtrack(source, target, effects.audio,
                                  info.has_audio and existing == "mix", wav, self.loudness_lufs,
                                  overwrite)  # fmt: skip
        wav_path = Path(wav) if wav else None
        return FoleyVideoResult(target, wav_path, effects, integrated_loudness(audio))
