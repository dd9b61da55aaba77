"""``unflat animate``: a portrait (or a few of one person) moved by a driving video or presets."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import numpy as np

from unflat.errors import ConfigError, InputError, OutputError
from unflat.face.neutral import describe_frame
from unflat.face.presets import generate, syllable_times
from unflat.face.track import parse_neutral, track
from unflat.io.images import read_photo
from unflat.io.video import VideoInfo, VideoWriter, check_moving, probe_video, read_video
from unflat.pipelines.engines import AUTO, FEWSHOT, Engine, choose_engine, open_engine
from unflat.progress import Progress, note
from unflat.types import FaceTrack

DEFAULT_MOTION = "idle+talk"
DEFAULT_SECONDS = 6.0


def bundled_portrait() -> Path:
    """The public-domain Mona Lisa that ships with unflat."""
    return Path(str(resources.files("unflat") / "assets" / "portraits" / "mona_lisa.jpg"))


def probe_driver(driver: Path) -> VideoInfo:
    """The driving video's facts; ``InputError`` for a still image or a one-frame video."""
    info = probe_video(driver)
    check_moving(info, "a driver must be a video of a moving face; for a still portrait use a "
                 "preset motion instead (--motion idle+talk)")  # fmt: skip
    return info


def rest_frame_note(name: str, face_track: FaceTrack) -> str:
    """The line that says which frame of the driver ``name`` was taken as the rest face."""
    rest = describe_frame(face_track, face_track.neutral)
    return (
        f"{name}: frame {rest.index} ({rest.time:.2f} s) taken as the rest face "
        f"({rest.describe()}); --neutral N to choose another"
    )


def _video_frames(path: Path) -> Iterator[np.ndarray]:
    with read_video(path) as reader:
        yield from reader


class AnimatePipeline:
    """Animates one person's portraits (the first sets the frame; default: the Mona Lisa).

    ``face`` picks the portrait's face (0: largest); ``engine`` the animator
    (:mod:`unflat.pipelines.engines`: ``auto``, ``classical``, ``liveportrait``, whose
    ``weights`` may be a local folder, or ``fewshot``, whose ``checkpoint`` is a model of
    ``unflat train talking-head``, fine-tuned for ``finetune_steps`` on the portraits and the
    photos ``shots_from``). The portraits are read and the engine prepared once; each call
    animates them with another driver or preset.
    """

    def __init__(
        self,
        portraits: list[Path] | list[np.ndarray] | None = None,
        *,
        face: int | None = None,
        engine: str = AUTO,
        weights: str | None = None,
        device: str = "auto",
        checkpoint: str | None = None,
        shots_from: list[Path] | None = None,
        finetune_steps: int | None = None,
    ) -> None:
        self.sources = list(portraits or []) or [bundled_portrait()]
        self.face = face
        self.engine_name = choose_engine(engine, weights, checkpoint)  # refused before any work
        self.weights, self.device = weights, device
        self.fewshot = dict(checkpoint=checkpoint, finetune_steps=finetune_steps)
        self.shots_from = list(shots_from or [])
        if self.engine_name != FEWSHOT and (self.shots_from or finetune_steps is not None):
            raise ConfigError("--shots-from and --finetune-steps are for the few-shot engine",
                              "give more photos of the person as portraits, or use "
                              "--engine fewshot --checkpoint RUN")  # fmt: skip
        self._images: list[np.ndarray] | None = None
        self._engine: Engine | None = None

    @property
    def images(self) -> list[np.ndarray]:
        """The portraits as ``uint8 [H,W,3]`` (read on first use)."""
        if self._images is None:
            self._images = [
                p if isinstance(p, np.ndarray) else read_photo(p).rgb for p in self.sources
            ]
        return self._images

    @property
    def engine(self) -> Engine:
        """The animator, prepared for the portraits on first use."""
        if self._engine is None:
            shots = [read_photo(path).rgb for path in self.shots_from]
            self._engine = open_engine(self.engine_name, self.images, face=self.face,
                                       weights=self.weights, device=self.device, shots=shots,
                                       **self.fewshot)  # type: ignore[arg-type]  # fmt: skip
        return self._engine

    @classmethod
    def from_options(
        cls, portraits: list[Path] | None = None, **options: object
    ) -> AnimatePipeline:
        """The pipeline for ``unflat animate``'s portraits and ``--face``."""
        return cls(portraits, **options)  # type: ignore[arg-type]

    def drive(
        self,
        driver: Path,
        *,
        fps: float | None = None,
        max_seconds: float | None = None,
        neutral: int | str = "auto",
        driver_face: int | None = None,
        progress: Progress | None = None,
    ) -> Iterator[np.ndarray]:
        """Frames of the portrait following the face in the video ``driver``.

        ``neutral`` is the driver's frame that counts as rest, or ``"auto"``: the frame most at
        rest, which a ``note:`` line names.
        """
        chosen = parse_neutral(neutral)
        info = probe_driver(driver)
        limit = None if max_seconds is None else int(np.ceil(max_seconds * info.fps)) + 1
        face_track = track(driver, face=driver_face, neutral=neutral, max_frames=limit,
                           progress=progress)  # fmt: skip
        if chosen is None:
            note(rest_frame_note(driver.name, face_track))
        frames = self.engine.frames(face_track, driver_frames=_video_frames(driver), fps=fps,
                                    max_seconds=max_seconds, progress=progress)  # fmt: skip
        yield from (frame for frame, _ in frames)

    def preset(
        self,
        motion: str = DEFAULT_MOTION,
        *,
        seconds: float | None = None,
        text: str | None = None,
        seed: int = 0,
        fps: float = 25.0,
        max_seconds: float | None = None,
        progress: Progress | None = None,
    ) -> Iterator[np.ndarray]:
        """Frames of the portrait moved by presets (``idle+talk`` ...), ``text`` timing the talk."""
        if seconds is None:
            seconds = DEFAULT_SECONDS
            spans = syllable_times(text, 60.0) if text else []
            seconds = max(seconds, spans[-1][1] + 0.8) if spans else seconds
        motion_stream = generate(motion, seconds=seconds, fps=fps, seed=seed, text=text)
        frames = self.engine.frames(motion_stream, fps=fps, max_seconds=max_seconds,
                                    progress=progress)  # fmt: skip
        yield from (frame for frame, _ in frames)

    def write(
        self,
        output: Path,
        *,
        driver: Path | None = None,
        motion: str | None = None,
        fps: float | None = None,
        overwrite: bool = False,
        progress: Progress | None = None,
        **options: object,
    ) -> Path:
        """Animate and encode into ``output``, keeping a driver's sound; returns the file.

        ``options`` go to :meth:`drive` (``max_seconds``, ``neutral``, ``driver_face``) or
        :meth:`preset` (``seconds``, ``text``, ``seed``, ``max_seconds``).
        """
        if driver is not None and motion is not None:
            raise InputError("give either --driver or --motion, not both", "drop one of them")
        if output.exists() and not overwrite:
            raise OutputError(f"{output} already exists", hint="pass --overwrite to replace it")
        self.images  # noqa: B018 - a bad portrait is reported before the driver is opened
        if self.engine_name == FEWSHOT:
            self.engine  # noqa: B018 - and a bad checkpoint before the driver is tracked
        audio = None
        if driver is not None:
            info = probe_driver(driver)
            rate = fps or info.fps
            if info.variable_frame_rate:
                note(
                    f"{driver.name} has a variable frame rate; resampled to {rate:g} fps "
                    "by timestamp"
                )
            if info.has_audio and not info.audio_decodable:
                note(f"{driver.name}'s sound is in a format FFmpeg cannot decode; left out")
            audio = driver if info.audio_decodable else None
            frames = self.drive(driver, fps=rate, progress=progress, **options)  # type: ignore[arg-type]
        else:
            rate = fps or 25.0
            frames = self.preset(motion or DEFAULT_MOTION, fps=rate, progress=progress,
                                 **options)  # type: ignore[arg-type]  # fmt: skip
        with VideoWriter(output, rate, audio=audio, overwrite=overwrite) as writer:
            for frame in frames:
                writer.write(frame)
        return writer.path
