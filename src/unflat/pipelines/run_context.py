"""What the stages of ``unflat run`` share: its settings, its files and the run's context."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from unflat.errors import ConfigError
from unflat.pipelines import living
from unflat.pipelines.depth_source import DepthSource
from unflat.pipelines.engines import AUTO, choose_engine
from unflat.pipelines.run_record import RunRecord
from unflat.progress import Progress, report
from unflat.types import Audio, Camera, DepthMap, Photo

DEFAULT_TEXT = "Hello. A moment ago I was a still photo; now I can move, and speak to you."
DEFAULT_SECONDS = 6.0
DEFAULT_MAX_SIZE = 768


def face_model_hashes() -> dict[str, str]:
    """The bundled face networks the video stage runs, with their files' sha256."""
    from importlib import resources

    from unflat.download import file_sha256

    folder = resources.files("unflat") / "assets" / "face"
    return {
        entry.name.removesuffix(".safetensors"): file_sha256(Path(str(entry)))
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".safetensors")
    }


@dataclass
class RunSettings:
    """The options of ``unflat run`` (same names)."""

    photo: Path | None = None
    out: Path = Path("out")
    text: str | None = None
    audio: Path | None = None
    driver: Path | None = None
    motion: str | None = None
    depth: Path | None = None
    depth_units: str = "auto"
    focal_px: float | None = None
    trajectory: str = living.DEFAULT_TRAJECTORY
    seconds: float | None = None
    fps: float = 25.0
    max_size: int = DEFAULT_MAX_SIZE
    voice: str | None = None
    language: str | None = None
    no_face: bool = False
    seed: int = 0
    weights: str | None = None
    device: str = "auto"
    precision: str = "auto"
    overwrite: bool = False
    check_sync: bool = True
    engine: str = AUTO
    engine_weights: str | None = None
    engine_checkpoint: str | None = None

    def check(self) -> None:
        """``ConfigError`` for options that cannot go together, before any work."""
        drivers = [n for n, v in (("--text", self.text), ("--audio", self.audio),
                                  ("--driver", self.driver)) if v is not None]  # fmt: skip
        if len(drivers) > 1:
            raise ConfigError(
                f"give one of {' and '.join(drivers)}",
                "speech comes from --text, --audio or the --driver video",
            )
        if self.driver is not None and self.motion is not None:
            raise ConfigError("give --driver or --motion, not both", "drop one of them")
        if self.motion is not None:
            living.check_motion_spec(self.motion)
        living.check_trajectory(self.trajectory)
        if not self.no_face:
            choose_engine(self.engine, self.engine_weights, self.engine_checkpoint)
        if not (math.isfinite(self.fps) and 1 <= self.fps <= 120):
            raise ConfigError(f"--fps {self.fps} is outside 1..120", "use e.g. 25")
        if self.seconds is not None and not (math.isfinite(self.seconds) and self.seconds > 0):
            raise ConfigError(f"--seconds {self.seconds} must be positive", "e.g. --seconds 8")
        if not 64 <= self.max_size <= 4096:
            raise ConfigError(f"--max-size {self.max_size} is outside 64..4096", "e.g. 768")
        if self.text is not None and not self.text.strip():
            raise ConfigError("--text is empty", "give the words to speak")

    @property
    def speech_text(self) -> str | None:
        """What to synthesise: ``--text``, or the default line when nothing else drives."""
        if self.text is not None:
            return self.text
        if self.audio is None and self.driver is None and self.motion is None:
            return DEFAULT_TEXT
        return None


@dataclass(frozen=True)
class RunFiles:
    """The files of one run, in ``folder``, named after the photo."""

    folder: Path
    name: str

    def file(self, suffix: str) -> Path:
        return self.folder / f"{self.name}{suffix}"

    @property
    def depth(self) -> Path:
        return self.file(".depth.npy")

    @property
    def depth_png(self) -> Path:
        return self.file(".depth_mm.png")

    @property
    def scene(self) -> Path:
        return self.file(".ply")

    @property
    def scene_sidecar(self) -> Path:
        return self.file(".scene.json")

    @property
    def speech(self) -> Path:
        return self.file(".speech.wav")

    @property
    def phones(self) -> Path:
        return self.file(".phones.json")

    @property
    def face(self) -> Path:
        return self.file(".face.mp4")

    @property
    def video(self) -> Path:
        return self.file(".mp4")

    def all(self) -> list[Path]:
        return [self.depth, self.depth_png, self.scene, self.scene_sidecar, self.speech,
                self.phones, self.face, self.video]  # fmt: skip


class RunContext:
    """What the stages of one run share: settings, files, record, and what earlier stages made
    (in memory, or read back from OUT/ when a stage was kept)."""

    def __init__(
        self,
        settings: RunSettings,
        depth_source: DepthSource,
        scale: float,
        record: RunRecord,
        files: RunFiles,
        photo: Photo,
        inputs: dict[str, Any],
        progress: Progress | None,
    ) -> None:
        self.settings, self.depth_source, self.scale = settings, depth_source, scale
        self.record, self.files = record, files
        self.photo, self.inputs, self.progress = photo, inputs, progress
        self.depth_map: DepthMap | None = None
        self.audio: Audio | None = None
        self.phones: list | None = None
        self.frames = 0

    def report(self, stage: str, done: int, total: int) -> None:
        report(self.progress, stage, done, total)

    @property
    def camera(self) -> Camera:
        assert self.depth_map is not None
        return Camera.pinhole(self.photo.width, self.photo.height, self.depth_map.focal_px)
