"""The web app's jobs: each takes the files and values of one tab and returns files it wrote.

Every job calls the same pipeline as its command (``unflat depth``, ``refocus``, ``measure``,
``splat`` + ``render``, ``animate``, ``dub``, ``run``), so inputs are checked with the same
one-line messages; outputs go to a fresh folder per run under the app's workspace.
"""

from __future__ import annotations

import itertools
import tempfile
from dataclasses import dataclass
from pathlib import Path

from unflat.errors import InputError
from unflat.progress import Progress


class Workspace:
    """A folder for the app's outputs, one numbered subfolder per job run."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root or tempfile.mkdtemp(prefix="unflat-app-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self._numbers = itertools.count(1)

    def folder(self, job: str) -> Path:
        """A new empty folder for one run of ``job``."""
        while True:
            folder = self.root / f"{next(self._numbers):04d}-{job}"
            if not folder.exists():
                folder.mkdir()
                return folder


def required(path: str | Path | None, what: str) -> Path:
    """The uploaded file ``path``; an ``InputError`` naming ``what`` when none was given."""
    if not path:
        raise InputError(f"no {what} given", hint=f"upload a {what} first")
    return Path(path)


def optional(path: str | Path | None) -> Path | None:
    return Path(path) if path else None


@dataclass(frozen=True)
class DepthResult:
    """What the depth tab shows: the preview, the files to download and a summary line."""

    preview: Path
    files: list[Path]
    summary: str


def depth_job(
    workspace: Workspace,
    photo: str | Path | None,
    depth_file: str | Path | None = None,
    progress: Progress | None = None,
) -> DepthResult:
    """``unflat depth --ply`` on one photo, its depth from :class:`DepthSource` (a depth file
    when given, else Depth Pro when installed, else the portrait depth)."""
    from unflat.io.images import read_photo
    from unflat.pipelines.depth import DepthOutputs, write_depth_outputs
    from unflat.pipelines.depth_source import DepthSource

    path = required(photo, "photo")
    image = read_photo(path)
    source = DepthSource()
    result = source(image, optional(depth_file), progress=progress)
    outputs = DepthOutputs(workspace.folder("depth") / path.stem, ply=True)
    write_depth_outputs(outputs, image, result, source.weights_sha256)
    finite = result.depth[result.depth > 0]
    summary = (
        f"{result.width}x{result.height}, depth {float(finite.min()):.2f} to "
        f"{float(finite.max()):.2f} m, focal {result.focal_px:.0f} px ({result.focal_source}), "
        f"from {result.model or 'the depth file'}"
    )
    return DepthResult(outputs.preview_path, [outputs.npy, outputs.png16, outputs.ply_path],
                       summary)  # fmt: skip


def refocus_job(
    workspace: Workspace,
    photo: str | Path | None,
    focus: str,
    f_number: float,
    depth_file: str | Path | None = None,
    progress: Progress | None = None,
) -> tuple[Path, str]:
    """``unflat refocus``: the photo refocused at ``focus`` (``X,Y`` or ``1.5m``)."""
    from unflat.pipelines.refocus import Focus, RefocusPipeline, parse_metres, parse_pixel

    path = required(photo, "photo")
    text = focus.strip()
    chosen = (
        Focus(metres=parse_metres(text, "focus"))
        if text.lower().endswith("m")
        else Focus(pixel=parse_pixel(text, "focus"))
    )
    target = workspace.folder("refocus") / f"{path.stem}.refocused.jpg"
    pipeline = RefocusPipeline.from_options(f_number)
    distance = pipeline(path, target, chosen, depth_path=optional(depth_file), progress=progress)
    return target, f"focused at {distance:.2f} m, f/{f_number:g}"


def measure_job(
    photo: str | Path | None, first: str, second: str, depth_file: str | Path | None = None
) -> str:
    """``unflat measure``: the distance in metres between two pixels ``X,Y``."""
    from unflat.pipelines.measure import MeasurePipeline
    from unflat.pipelines.refocus import parse_pixel

    path = required(photo, "photo")
    pixels = parse_pixel(first, "first point"), parse_pixel(second, "second point")
    measured = MeasurePipeline()(path, *pixels, depth_path=optional(depth_file))
    return (
        f"{measured.metres:.3f} m between ({pixels[0][0]:g}, {pixels[0][1]:g}) and "
        f"({pixels[1][0]:g}, {pixels[1][1]:g}) (focal {measured.focal_px:.0f} px, "
        f"{measured.focal_source})"
    )


def scene_job(
    workspace: Workspace,
    photo: str | Path | None,
    depth_file: str | Path | None,
    trajectory: str,
    seconds: float = 2.0,
    progress: Progress | None = None,
) -> tuple[Path, Path]:
    """``unflat splat --video PATH``: the scene file and its camera-path video."""
    from unflat.pipelines.scene import SceneJob, ScenePipeline
    from unflat.splat.trajectories import TrajectoryOptions

    path = required(photo, "photo")
    job = SceneJob(ScenePipeline(max_size=512), depth=optional(depth_file), videos=(trajectory,),
                   path_options=TrajectoryOptions(seconds=seconds, fps=24.0))  # fmt: skip
    job.progress = progress
    base = workspace.folder("scene") / path.stem
    job.process(path, base)
    files = job.outputs(base)
    return files.scene, files.video(trajectory)


def animate_job(
    workspace: Workspace,
    portrait: str | Path | None,
    driver: str | Path | None,
    motion: str,
    text: str,
    seconds: float | None,
    progress: Progress | None = None,
) -> Path:
    """``unflat animate``: the portrait (default: the bundled Mona Lisa) moved by a driver
    video, or by presets (``idle+talk``) timed by ``text``."""
    from unflat.pipelines.animate import AnimatePipeline

    pipeline = AnimatePipeline([Path(portrait)] if portrait else None)
    target = workspace.folder("animate") / "animated.mp4"
    if driver:
        return pipeline.write(target, driver=Path(driver), progress=progress)
    return pipeline.write(target, motion=motion.strip() or None, progress=progress,
                          text=text.strip() or None, seconds=seconds or None)  # fmt: skip


def dub_job(
    workspace: Workspace,
    video: str | Path | None,
    text: str,
    language: str,
    keep_sound: bool,
    progress: Progress | None = None,
) -> Path:
    """``unflat dub``: ``text`` spoken where the video's face speaks (offline voice)."""
    from unflat.pipelines.dub import DubPipeline
    from unflat.sound.text import parse_transcript

    source = required(video, "video")
    if not text.strip():
        raise InputError("no words given", hint="type what the person says")
    target = workspace.folder("dub") / f"{source.stem}.dubbed.mp4"
    pipeline = DubPipeline.from_options(language=language.strip() or None)
    existing = "mix" if keep_sound else "replace"
    pipeline(source, target, parse_transcript(text), existing=existing, progress=progress)
    return target


def living_job(
    workspace: Workspace,
    photo: str | Path | None,
    text: str,
    trajectory: str,
    depth_file: str | Path | None = None,
    progress: Progress | None = None,
) -> Path:
    """``unflat run``: the living photo (default: the bundled Mona Lisa) saying ``text``."""
    from unflat.pipelines.run import RunPipeline, RunSettings

    settings = RunSettings(photo=optional(photo), out=workspace.folder("run"),
                           text=text.strip() or None, trajectory=trajectory,
                           depth=optional(depth_file), max_size=512)  # fmt: skip
    return RunPipeline(settings)(progress=progress).video
