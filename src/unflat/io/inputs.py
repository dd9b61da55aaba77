"""Turn what the user typed (files, folders, glob patterns) into a list of image paths.

Folders and patterns leave out what unflat itself wrote: image files named like its outputs
(:data:`OUTPUT_SUFFIXES`) and anything inside the output folder when it lies inside an input
folder. Otherwise ``unflat depth .`` run twice would take its own previews for photos. A file
named explicitly is always taken.
"""

from __future__ import annotations

import glob
import itertools
import os
from pathlib import Path

from unflat.errors import InputError

#: File extensions picked up from folders and glob patterns (compared case-insensitively).
#: A file named explicitly is taken whatever its extension; read_photo then decides.
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".heic", ".heif", ".tif", ".tiff", ".webp", ".bmp"}
)
#: The image files unflat writes (``unflat depth``: NAME.depth_mm.png, NAME.preview.jpg; see
#: ``unflat.pipelines.depth.DepthOutputs``, which a test keeps in step with this list).
OUTPUT_SUFFIXES = (".depth_mm.png", ".preview.jpg")


def is_image_path(path: Path) -> bool:
    """True for a file name with an image extension that is not hidden.

    Hidden names are skipped because they are nearly always junk that would fail to decode,
    such as macOS ``._IMG_0001.jpg`` resource forks.
    """
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def is_unflat_output(path: Path) -> bool:
    """True for a file named like one of the images unflat writes (a depth PNG, a preview)."""
    return path.name.lower().endswith(OUTPUT_SUFFIXES)


def collect_inputs(
    specs: list[str], recursive: bool = True, *, output: Path | None = None
) -> tuple[list[Path], list[str]]:
    """Expand files, folders and glob patterns into image paths.

    Returns the paths found (first occurrence kept, in the order of ``specs``; each folder or
    pattern sorted) and one problem line per spec that gave nothing or whose folder held files
    unflat wrote, which are left out (as is the folder ``output`` when it lies inside a folder
    searched). Raises :class:`InputError` when nothing at all was found.
    """
    found: list[Path] = []
    seen: set[Path] = set()
    problems: list[str] = []
    skip = _Skip(output)

    def add(path: Path) -> None:
        # Two spellings of one file (relative/absolute, via a symlink) count once.
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            found.append(path)

    for spec in specs:
        path = Path(spec).expanduser()
        if path.is_file():
            add(path)
        elif path.is_dir():
            images = skip.keep(spec, path, _images_in_folder(path, recursive), problems)
            if not images:
                problems.append(f"{spec}: no images in this folder{_looked_for(recursive)}")
            for image in images:
                add(image)
        elif _is_pattern(spec):
            images = _images_from_pattern(os.path.expanduser(spec), recursive)
            images = skip.keep(spec, _pattern_root(spec), images, problems)
            if not images:
                problems.append(f"{spec}: the pattern matched no images")
            for image in images:
                add(image)
        else:
            problems.append(f"{spec}: no such file or folder")

    if not found:
        if not specs:
            raise InputError("no inputs given", hint="pass image files, folders or patterns")
        raise InputError(
            "no input images found: " + "; ".join(problems),
            hint="check the paths; folders are searched for " + " ".join(sorted(IMAGE_EXTENSIONS)),
        )
    return found, problems


class _Skip:
    """Leaves out of a folder's or pattern's images what unflat wrote, and says so."""

    def __init__(self, output: Path | None) -> None:
        self.output = output.expanduser().resolve() if output is not None else None

    def keep(self, spec: str, root: Path, images: list[Path], problems: list[str]) -> list[Path]:
        """``images`` found from ``spec`` (searched from ``root``) less what unflat wrote."""
        kept = images
        # The output folder counts only strictly below the folder searched: `unflat depth . -o
        # .` keeps every photo (its own outputs are left out by name below).
        if self.output is not None and root.expanduser().resolve() in self.output.parents:
            kept = [path for path in images if self.output not in path.resolve().parents]
            photos = [p for p in images if p not in kept and not is_unflat_output(p)]
            if photos:  # unflat's own files there go unmentioned: leaving them out is routine
                problems.append(
                    f"{spec}: left out {len(photos)} images inside the output folder "
                    f"{self.output}; name them explicitly to use them"
                )
        outputs = [path for path in kept if is_unflat_output(path)]
        if outputs:
            names = " or ".join(f"*{suffix}" for suffix in OUTPUT_SUFFIXES)
            problems.append(
                f"{spec}: left out {len(outputs)} files that unflat wrote ({names}); "
                "name a file explicitly to use it as a photo"
            )
        return [path for path in kept if not is_unflat_output(path)]


def _images_in_folder(folder: Path, recursive: bool) -> list[Path]:
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    # Skip anything inside a hidden folder too (.git, .thumbnails), relative to the folder given.
    return sorted(
        path
        for path in candidates
        if is_image_path(path)
        and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )


def _images_from_pattern(pattern: str, recursive: bool) -> list[Path]:
    images: list[Path] = []
    for match in sorted(glob.glob(pattern, recursive=recursive)):
        path = Path(match)
        if path.is_dir():
            images.extend(_images_in_folder(path, recursive))
        elif path.is_file() and is_image_path(path):
            images.append(path)
    return images


def _pattern_root(spec: str) -> Path:
    """The folder a pattern searches: its leading part without wildcards."""
    parts = Path(os.path.expanduser(spec)).parts
    fixed = list(itertools.takewhile(lambda part: not _is_pattern(part), parts))
    return Path(*fixed) if fixed else Path(".")


def _is_pattern(spec: str) -> bool:
    return any(character in spec for character in "*?[")


def _looked_for(recursive: bool) -> str:
    return " or its subfolders" if recursive else ""
