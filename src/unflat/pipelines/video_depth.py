"""``unflat depth VIDEO``: a video's metric depth, steady from frame to frame, on disk.

Each frame's depth comes from :class:`~unflat.pipelines.depth_source.DepthSource` (Depth Pro,
or whatever it falls back to), or from a folder holding one depth file per frame
(``--depth FOLDER``, in natural name order: ``f2`` before ``f10``). The clip gets one focal
length: the user's, else the one the depth source gives the first frame, else, for Depth Pro's
own estimates, their median over the first :data:`FOCAL_FRAMES` frames (Depth Pro's depth is
proportional to the focal length, so those frames are rescaled to it and later frames are
predicted with it). :mod:`unflat.depth.video` then makes the depths agree along the video.

Per video ``OUT/NAME/`` holds ``000000.png``... (16-bit millimetres, as ``unflat depth``
writes for photos), ``preview.mp4`` (inverse depth in colour, on one colour scale for the whole
clip so the colours do not flicker on their own) and ``depth.json``, written last. Everything is
written into a hidden folder beside it and renamed to ``OUT/NAME`` at the end, so a run that
fails or is killed never leaves a folder that looks finished.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from unflat import __version__
from unflat.depth.video import DepthStabiliser, StabiliseSettings
from unflat.errors import ConfigError, InputError, OutputError, WeightsError
from unflat.io.atomic import write_json
from unflat.io.depth_files import (
    DEPTH_SUFFIXES,
    NAMED_UNITS,
    PNG_DEPTH_SCALE,
    PREVIEW_RANGE_M,
    parse_depth_units,
    read_depth,
    save_depth_png16,
)
from unflat.io.inputs import IMAGE_EXTENSIONS
from unflat.io.video import VideoWriter, probe_video, read_video
from unflat.pipelines.depth_source import DepthSource
from unflat.progress import Progress, note, report
from unflat.types import DepthMap, Photo

#: Depth Pro focal estimates whose median is the clip's focal length.
FOCAL_FRAMES = 8
#: Suffixes taken for videos even when FFmpeg cannot open the file (so that a broken video
#: gets the video's error, not a photo's).
VIDEO_SUFFIXES = frozenset(
    {".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".gif", ".mpg", ".mpeg", ".wmv", ".3gp"}
)
SIDECAR = "depth.json"
PREVIEW = "preview.mp4"
_FRAME_NAME = re.compile(r"^\d{6}\.png$")


def is_video(path: Path) -> bool:
    """Whether ``path`` is a video for ``unflat depth``: not named like a photo, and either a
    moving picture FFmpeg reads or named like a video (its error is then a video's)."""
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        return False
    try:
        info = probe_video(path)
    except InputError:
        return path.suffix.lower() in VIDEO_SUFFIXES
    return not info.is_image


def depth_files(folder: Path) -> list[Path]:
    """The depth files in ``folder`` (not hidden), in natural name order."""
    if not folder.is_dir():
        raise InputError(
            f"--depth {folder} is not a folder",
            hint="for a video give a folder with one depth file per frame",
        )
    names = (path for path in folder.iterdir() if not path.name.startswith("."))
    files = [path for path in names if path.is_file() and path.suffix.lower() in DEPTH_SUFFIXES]
    if not files:
        raise InputError(
            f"{folder} holds no depth files ({', '.join(DEPTH_SUFFIXES)})",
            hint="give a folder with one depth file per frame, named in frame order",
        )
    return sorted(files, key=_natural_key)


def _natural_key(path: Path) -> list[object]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


@dataclass
class VideoDepthRun:
    """What one video's run did, filled in as its frames go by."""

    source: Path
    fps: float
    width: int
    height: int
    frames: int = 0
    focal_px: float | None = None
    focal_source: str | None = None
    depth_min_m: float = math.inf
    depth_max_m: float = -math.inf
    model: str | None = None  # what gave the depth (None: files)
    weights_sha256: str | None = None
    depth_seconds: float = 0.0
    stabilise_seconds: float = 0.0
    stabiliser: DepthStabiliser | None = field(default=None, repr=False)

    def flicker(self) -> dict[str, float | None]:
        """The mean frame-to-frame change of depth along the flow, given and written."""
        if self.stabiliser is None:
            return {}
        given, written = self.stabiliser.raw_flicker, self.stabiliser.flicker

        def number(value: float) -> float | None:
            return round(value, 6) if math.isfinite(value) else None

        return {
            "input_m": number(given.metres),
            "input_relative": number(given.relative),
            "output_m": number(written.metres),
            "output_relative": number(written.relative),
            "pixels": given.pixels,
        }


class VideoDepthPipeline:
    """A video's stabilised metric depth: iterate :meth:`__call__` for each frame's
    :class:`DepthMap`, or :meth:`process` to write the files (a batch job of ``unflat depth``).

    ``depth_folder`` replaces the depth source with one file per frame; ``stabilise=False``
    keeps each frame's depth as it comes (the flicker is still measured); ``settings`` tunes
    the stabiliser; ``preview=False`` writes no preview video.
    """

    def __init__(
        self,
        *,
        weights: str | None = None,
        device: str = "auto",
        precision: str = "auto",
        focal_px: float | None = None,
        depth_folder: Path | None = None,
        depth_units: str | float = "auto",
        stabilise: bool = True,
        settings: StabiliseSettings | None = None,
        preview: bool = True,
        overwrite: bool = False,
    ) -> None:
        if focal_px is not None and not focal_px > 0:
            raise ConfigError(
                f"--focal-px must be positive, got {focal_px}", "give pixels, e.g. 1200"
            )
        self.source_options = dict(weights=weights, device=device, precision=precision)
        self.focal_px = focal_px
        self.depth_folder = depth_folder
        self.depth_units = parse_depth_units(depth_units)
        self.settings = replace(settings or StabiliseSettings(), enabled=stabilise).validate()
        self.preview, self.overwrite = preview, overwrite
        self.progress: Progress | None = None
        self._source: DepthSource | None = None  # made once: Depth Pro loads once a batch

    @classmethod
    def from_options(cls, **options: object) -> VideoDepthPipeline:
        """The pipeline for the options of ``unflat depth`` on videos."""
        return cls(**options)  # type: ignore[arg-type]

    # --- depth ----------------------------------------------------------------------------

    def __call__(self, video: str | os.PathLike[str]) -> Iterator[DepthMap]:
        """Each frame's stabilised depth, in order (a generator: frames stream through)."""
        return self.frames(Path(video), None)

    def frames(self, video: Path, run: VideoDepthRun | None) -> Iterator[DepthMap]:
        """As :meth:`__call__`; ``run`` (if given) records what was done as frames go by."""
        files = depth_files(self.depth_folder) if self.depth_folder is not None else None
        with read_video(video) as reader:
            info = reader.info
            if run is None:
                run = VideoDepthRun(video, info.fps, info.width, info.height)
            stage = f"{video.name}: depth"
            total = len(files) if files is not None else info.frame_count
            report(self.progress, stage, 0, total)
            pairs = _paired(iter(reader), files, video, self.depth_folder)
            for index, (frame, depth) in enumerate(self._frame_depths(pairs, video, run)):
                if run.stabiliser is None:
                    run.stabiliser = DepthStabiliser(run.focal_px or 1.0, self.settings)
                start = time.perf_counter()
                finished = run.stabiliser.push(frame, depth)
                run.stabilise_seconds += time.perf_counter() - start
                yield from (self._result(run, output) for output in finished)
                report(self.progress, stage, index + 1, total)
            if run.stabiliser is not None:
                yield from (self._result(run, output) for output in run.stabiliser.finish())

    def _result(self, run: VideoDepthRun, depth: np.ndarray) -> DepthMap:
        """One finished frame, counted into ``run``."""
        run.frames += 1
        valid = depth[np.isfinite(depth)]
        if valid.size:
            run.depth_min_m = min(run.depth_min_m, float(valid.min()))
            run.depth_max_m = max(run.depth_max_m, float(valid.max()))
        focal = float(run.focal_px or 1.0)
        return DepthMap(depth, focal, focal_source=run.focal_source or "model", model=None)

    def _frame_depths(
        self, pairs: Iterator[tuple[np.ndarray, Path | None]], video: Path, run: VideoDepthRun
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Each frame with its metric depth at the clip's one focal length (module docstring)."""
        if self._source is None:
            self._source = DepthSource(**self.source_options, depth_units=self._units())
        source = self._source
        source.focal_px = self.focal_px
        head: list[tuple[np.ndarray, DepthMap]] = []
        for frame, path in pairs:
            start = time.perf_counter()
            result = _depth_of(source, Photo(frame, None, video), path)
            run.depth_seconds += time.perf_counter() - start
            run.model, run.weights_sha256 = result.model, source.weights_sha256
            if run.focal_px is not None:
                yield frame, result.depth
                continue
            head.append((frame, result))
            if result.focal_source == "model" and len(head) < FOCAL_FRAMES:
                continue  # Depth Pro's own estimate: wait for a few more
            yield from _at_one_focal(head, run)
            head = []
            source.focal_px = run.focal_px  # every later frame at the clip's focal length
        if head:
            yield from _at_one_focal(head, run)

    def _units(self) -> str | float:
        """The depth files' units: as given, else guessed once from the first file (so that
        every frame is read alike, and the guess is told once)."""
        if self.depth_folder is None or self.depth_units != "auto":
            return self.depth_units
        first = depth_files(self.depth_folder)[0]
        read = read_depth(first, "auto")
        if read.assumed:
            note(f"{self.depth_folder.name}: {read.assumed}; pass --depth-units to say otherwise")
        return _units_from_name(read.units)

    # --- files, as a batch job ------------------------------------------------------------

    def check_inputs(self, paths: list[Path]) -> None:
        """Refuse, before any work: a video with no frames FFmpeg can decode, a depth folder
        for several videos, or one whose file count is not the video's frame count."""
        if self.depth_folder is not None and len(paths) != 1:
            raise ConfigError(
                f"--depth FOLDER holds one video's depth, but {len(paths)} videos were given",
                hint="run one video at a time with --depth",
            )
        for path in paths:
            info = probe_video(path)
            if self.depth_folder is None or info.frame_count is None:
                continue
            count = len(depth_files(self.depth_folder))
            if count != info.frame_count:
                raise _count_mismatch(path, info.frame_count, self.depth_folder, count)

    def output_files(self, base: Path) -> list[Path]:
        """The files of ``base`` (the folder ``base`` itself holds them), the sidecar last."""
        return [base / PREVIEW, base / SIDECAR] if self.preview else [base / SIDECAR]

    def done(self, base: Path) -> bool:
        return (base / SIDECAR).is_file()

    def process(self, path: Path, base: Path) -> None:
        """Depth of the video at ``path``, written into the folder ``base`` (module docstring)."""
        _check_replaceable(base)
        for leftover in base.parent.glob(f".{base.name}.partial-*"):
            # under the batch's lock on base: no live run is writing these
            shutil.rmtree(leftover, ignore_errors=True)
        partial = base.parent / f".{base.name}.partial-{os.getpid()}-{secrets.token_hex(4)}"
        partial.mkdir()
        try:
            run = self._write_frames(path, partial)
            write_json(partial / SIDECAR, self._sidecar(run, base))
            _replace_folder(partial, base)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise

    def _write_frames(self, path: Path, folder: Path) -> VideoDepthRun:
        """The PNG sequence and the preview of ``path``, into ``folder``."""
        info = probe_video(path)
        run = VideoDepthRun(path, info.fps, info.width, info.height)
        with contextlib.ExitStack() as stack:
            writer = None
            if self.preview:
                writer = stack.enter_context(VideoWriter(folder / PREVIEW, fps=info.fps))
            colours: _PreviewColours | None = None
            for index, result in enumerate(self.frames(path, run)):
                save_depth_png16(folder / f"{index:06d}.png", result.depth)
                if writer is not None:
                    colours = colours or _PreviewColours(result.depth)
                    writer.write(colours(result.depth))
        return run

    def _sidecar(self, run: VideoDepthRun, base: Path) -> dict[str, object]:
        return {
            "source": str(run.source),
            "frames": run.frames,
            "fps": run.fps,
            "width": run.width,
            "height": run.height,
            "focal_px": run.focal_px,
            "focal_source": run.focal_source,
            "fov_deg": math.degrees(2 * math.atan(0.5 * run.width / run.focal_px))
            if run.focal_px
            else None,
            "depth": run.model or f"files in {self.depth_folder}",
            "weights_sha256": run.weights_sha256,
            "stabilised": self.settings.enabled,
            "flicker": run.flicker(),
            "stabiliser": asdict(self.settings) if self.settings.enabled else None,
            "png_units_per_metre": PNG_DEPTH_SCALE,
            "depth_min_m": run.depth_min_m if math.isfinite(run.depth_min_m) else None,
            "depth_max_m": run.depth_max_m if math.isfinite(run.depth_max_m) else None,
            "seconds": {
                "depth": round(run.depth_seconds, 3),
                "stabilise": round(run.stabilise_seconds, 3),
            },
            "unflat": __version__,
            "files": {"frames": "000000.png ...", "preview": PREVIEW if self.preview else None},
        }


def _depth_of(source: DepthSource, photo: Photo, path: Path | None) -> DepthMap:
    """``source(photo, path)``, with a video's hint when there is no depth at all."""
    try:
        return source(photo, path)
    except WeightsError as error:
        raise WeightsError(
            error.message,
            hint="give --depth FOLDER (one depth file per frame), or fetch "
            "`unflat models fetch depth-pro`",
        ) from None


def _paired(
    frames: Iterator[np.ndarray], files: list[Path] | None, video: Path, folder: Path | None
) -> Iterator[tuple[np.ndarray, Path | None]]:
    """Each frame with its depth file (None without a folder); ``InputError`` when the
    counts differ."""
    count = 0
    for frame in frames:
        if files is not None and count >= len(files):
            raise _count_mismatch(video, f"more than {len(files)}", folder, len(files))
        yield frame, None if files is None else files[count]
        count += 1
    if files is not None and count != len(files):
        raise _count_mismatch(video, count, folder, len(files))


def _count_mismatch(video: Path, frames: object, folder: Path | None, files: int) -> InputError:
    return InputError(
        f"{video} has {frames} frames but {folder} holds {files} depth files",
        hint="give one depth file per frame, named in frame order",
    )


def _at_one_focal(
    head: list[tuple[np.ndarray, DepthMap]], run: VideoDepthRun
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The first frames' depths at the clip's focal length, which they decide (module
    docstring); ``run`` records it."""
    results = [result for _, result in head]
    if all(result.focal_source == "model" for result in results):
        focal = float(np.median([result.focal_px for result in results]))
        run.focal_px, run.focal_source = focal, f"model (median of {len(results)} frames)"
        # Depth Pro's metric depth is proportional to the focal length it used
        depths = [result.depth * np.float32(focal / result.focal_px) for result in results]
    else:
        run.focal_px, run.focal_source = results[0].focal_px, results[0].focal_source
        depths = [result.depth for result in results]
    for (frame, _), depth in zip(head, depths, strict=True):
        yield frame, depth


def _units_from_name(name: str) -> str | float:
    """The units a :class:`~unflat.io.depth_files.DepthFile` says it was read in, as
    ``read_depth`` takes them back."""
    if name == "inverse metres":
        return "inverse"
    names = {"metres": "m", "centimetres": "cm", "millimetres": "mm"}
    if name in names:
        return NAMED_UNITS[names[name]]
    return float(name.removeprefix("1/").removesuffix(" m"))


class _PreviewColours:
    """Inverse depth in the turbo colours of the photo previews (near red, far blue), on one
    scale for the whole clip: the first frame's 1st to 99th percentile, widened by a tenth."""

    def __init__(self, depth: np.ndarray) -> None:
        inverse = self._inverse(depth)
        valid = inverse[np.isfinite(inverse)]
        low, high = np.percentile(valid, (1.0, 99.0)) if valid.size else (0.0, 1.0)
        margin = 0.1 * (high - low)
        self.low, self.high = low - margin, max(high + margin, low - margin + 1e-6)

    @staticmethod
    def _inverse(depth: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            valid = np.isfinite(depth) & (depth > 0)
            return np.where(valid, 1.0 / np.clip(depth, *PREVIEW_RANGE_M), np.nan)

    def __call__(self, depth: np.ndarray) -> np.ndarray:
        inverse = self._inverse(depth)
        valid = np.isfinite(inverse)
        normalised = np.clip((np.nan_to_num(inverse) - self.low) / (self.high - self.low), 0, 1)
        index = np.rint(normalised * 255.0).astype(np.uint8)
        rgb = cv2.applyColorMap(index, cv2.COLORMAP_TURBO)[:, :, ::-1].copy()
        rgb[~valid] = 0
        return rgb


def _check_replaceable(base: Path) -> None:
    """``OutputError`` unless ``base`` is free or a folder holding only what this job writes
    (replacing it must never delete a user's files)."""
    if not base.exists():
        return
    if not base.is_dir():
        raise OutputError(
            f"cannot write the depth frames into {base}: a file has that name",
            hint="pick another output folder or move the file away",
        )
    foreign = [
        entry.name
        for entry in base.iterdir()
        if not (_FRAME_NAME.match(entry.name) or entry.name in (SIDECAR, PREVIEW))
    ]
    if foreign:
        raise OutputError(
            f"{base} holds files unflat did not write ({', '.join(sorted(foreign)[:3])})",
            hint="pick another output folder, or move those files away",
        )


def _replace_folder(partial: Path, base: Path) -> None:
    """Put the finished ``partial`` folder in the place of ``base`` (an older result)."""
    old = None
    if base.exists():
        old = base.parent / f".{base.name}.partial-old-{secrets.token_hex(4)}"
        os.replace(base, old)
    os.replace(partial, base)
    if old is not None:
        with contextlib.suppress(OSError):
            shutil.rmtree(old)
