"""``unflat refocus``: a photo and its metric depth to a lens-blurred photo or a focus pull.

The depth comes from :class:`~unflat.pipelines.depth_source.DepthSource` (a depth file, else
Depth Pro); the blur from :mod:`unflat.lens.refocus`. A focus is a pixel (``X,Y``: the robust
depth there, :func:`unflat.geometry.measure.robust_depth`) or a distance in metres. A focus
pull eases from one focus to the other in dioptres (1 / distance), as a focus ring turns.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unflat.errors import ConfigError, OutputError
from unflat.geometry.measure import check_pixel, robust_depth
from unflat.io.images import read_photo, save_rgb
from unflat.io.video import VIDEO_SUFFIXES, VideoWriter
from unflat.lens.refocus import Lens, blur_radius, fill_missing_depth, refocus
from unflat.pipelines.depth_source import DepthSource
from unflat.progress import Progress, counted, note
from unflat.types import DepthMap, Photo

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff")
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_METRES = re.compile(rf"^({_NUMBER})\s*m$")


def parse_pixel(text: str, option: str = "--focus") -> tuple[float, float]:
    """``"X,Y"`` as two numbers; ``ConfigError`` otherwise."""
    parts = [part.strip() for part in text.split(",")]
    try:
        x, y = (float(part) for part in parts)
    except ValueError:
        raise ConfigError(
            f"{option} {text!r} is not a pixel X,Y", hint=f"e.g. {option} 640,360"
        ) from None
    return x, y


def parse_metres(text: str | float, option: str = "--focus-m") -> float:
    """A positive, finite distance in metres (``"1.5"`` or ``"1.5m"``)."""
    match = _METRES.match(str(text).strip().lower())
    try:
        value = float(match.group(1) if match else text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(
            f"{option} {text!r} is not a distance in metres", hint=f"e.g. {option} 1.5"
        )
    return value


@dataclass(frozen=True)
class Focus:
    """Where the lens focuses: a pixel ``(x, y)`` of the photo, or a distance in metres."""

    pixel: tuple[float, float] | None = None
    metres: float | None = None

    def check(self, photo: Photo) -> None:
        """Raise ``InputError`` for a pixel outside ``photo`` (before any depth is computed)."""
        if self.pixel is not None:
            check_pixel(*self.pixel, photo.width, photo.height)

    def distance(self, depth: np.ndarray) -> float:
        """The focus distance in metres (``InputError`` for a pixel with no valid depth)."""
        if self.pixel is not None:
            return robust_depth(depth, *self.pixel)
        assert self.metres is not None
        return self.metres


def parse_pull(text: str) -> tuple[Focus, Focus]:
    """The two ends of ``--pull``: each a distance with ``m`` (``1.2m``) or a pixel ``X,Y``.

    ``1.2m,3.5m``, ``640,360,1.2m`` and ``640,360,100,80`` are all pulls.
    """
    tokens = [token.strip() for token in text.split(",")]
    ends: list[Focus] = []
    while tokens and len(ends) < 2:
        if tokens[0].lower().endswith("m"):
            ends.append(Focus(metres=parse_metres(tokens.pop(0), "--pull")))
        elif len(tokens) >= 2:
            ends.append(Focus(pixel=parse_pixel(f"{tokens.pop(0)},{tokens.pop(0)}", "--pull")))
        else:
            break
    if len(ends) != 2 or tokens:
        raise ConfigError(
            f"--pull {text!r} is not two focus points",
            hint="give two distances (--pull 1.2m,3.5m) or pixels X,Y (--pull 640,360,100,80)",
        )
    return ends[0], ends[1]


def _check_target(target: Path, suffixes: tuple[str, ...], overwrite: bool) -> None:
    if target.suffix.lower() not in suffixes:
        raise OutputError(
            f"cannot write {target.name}: give a file ending in {', '.join(suffixes)}",
            hint="e.g. -o refocused.png, or -o pull.mp4 with --pull",
        )
    if target.exists() and not overwrite:
        raise OutputError(f"{target} already exists", hint="pass --overwrite to replace it")


class RefocusPipeline:
    """Refocuses photos with a :class:`Lens`; depth as :class:`DepthSource` gives it."""

    def __init__(
        self, lens: Lens, *, highlights: float = 3.0, depth_source: DepthSource | None = None
    ) -> None:
        lens.check()
        if not (math.isfinite(highlights) and 1.0 <= highlights <= 100.0):
            raise ConfigError(
                f"--highlights {highlights:g} is out of range",
                hint="give 1 (off) to 100; 3 makes clipped highlights into bright discs",
            )
        self.lens, self.highlights = lens, highlights
        self.depth_source = depth_source or DepthSource()

    @classmethod
    def from_options(
        cls, f_number: float, focal_mm: float | None = None, highlights: float = 3.0,
        **depth_options: object,
    ) -> RefocusPipeline:  # fmt: skip
        """The pipeline for ``unflat refocus``'s options (``depth_options``: DepthSource's)."""
        return cls(Lens(f_number, focal_mm), highlights=highlights,
                   depth_source=DepthSource(**depth_options))  # type: ignore[arg-type]  # fmt: skip

    def _load(
        self, photo_path: Path, depth_path: Path | None, focuses: tuple[Focus, ...]
    ) -> tuple[Photo, DepthMap, list[float]]:
        """The photo, its depth and each focus's distance; pixels checked before the depth."""
        photo = read_photo(photo_path)
        for focus in focuses:
            focus.check(photo)
        depth_map = self.depth_source(photo, depth_path)
        distances = [focus.distance(depth_map.depth) for focus in focuses]
        return photo, depth_map, distances

    def __call__(
        self,
        photo_path: Path,
        target: Path,
        focus: Focus,
        *,
        depth_path: Path | None = None,
        overwrite: bool = False,
        progress: Progress | None = None,
    ) -> float:
        """Write ``photo_path`` refocused at ``focus`` to ``target``; returns the focus (m)."""
        _check_target(target, IMAGE_SUFFIXES, overwrite)
        photo, depth_map, (distance,) = self._load(photo_path, depth_path, (focus,))
        depth = fill_missing_depth(depth_map.depth)
        self._note_cap(depth_map, depth, [distance])
        image = refocus(photo.rgb, depth, depth_map.focal_px, distance, self.lens,
                        highlights=self.highlights, progress=progress)  # fmt: skip
        save_rgb(target, image)
        return distance

    def pull(
        self,
        photo_path: Path,
        target: Path,
        ends: tuple[Focus, Focus],
        *,
        depth_path: Path | None = None,
        seconds: float = 2.0,
        fps: float = 24.0,
        overwrite: bool = False,
        progress: Progress | None = None,
    ) -> tuple[float, float, int]:
        """Write a focus pull from ``ends[0]`` to ``ends[1]``; returns both distances and the
        frame count."""
        _check_target(target, VIDEO_SUFFIXES, overwrite)
        count = _frame_count(seconds, fps)
        photo, depth_map, (near, far) = self._load(photo_path, depth_path, ends)
        depth = fill_missing_depth(depth_map.depth)
        self._note_cap(depth_map, depth, [near, far])
        with VideoWriter(target, fps, overwrite=overwrite) as writer:
            for distance in counted(pull_distances(near, far, count), progress, "frames"):
                writer.write(refocus(photo.rgb, depth, depth_map.focal_px, distance, self.lens,
                                     highlights=self.highlights))  # fmt: skip
        return near, far, count

    def _note_cap(self, depth_map: DepthMap, depth: np.ndarray, distances: list[float]) -> None:
        for distance in distances:
            _, largest, cap = blur_radius(depth, depth_map.focal_px, distance, self.lens)
            if largest > cap:
                note(f"blur radius capped at {cap:.0f} px (the lens asks up to {largest:.0f} px "
                     f"at {distance:.3g} m); a larger f-number stays physical")  # fmt: skip
                return


def _frame_count(seconds: float, fps: float) -> int:
    if not (math.isfinite(seconds) and math.isfinite(fps) and seconds > 0 and fps > 0):
        raise ConfigError(
            f"a pull of {seconds:g} s at {fps:g} fps has no frames",
            hint="give --seconds and --fps above 0 (e.g. 2 and 24)",
        )
    count = round(seconds * fps)
    if not 2 <= count <= 10_000:
        raise ConfigError(
            f"a pull of {seconds:g} s at {fps:g} fps has {count} frames",
            hint="give 2 to 10000 frames (seconds x fps)",
        )
    return count


def pull_distances(start: float, end: float, count: int) -> list[float]:
    """``count`` focus distances from ``start`` to ``end``: eased, even in dioptres."""
    distances = []
    for index in range(count):
        t = index / (count - 1)
        eased = t * t * (3 - 2 * t)
        distances.append(1.0 / ((1 - eased) / start + eased / end))
    return distances
