"""Turn what the user typed (files, folders, glob patterns) into a list of image paths."""

from __future__ import annotations

import glob
import os
from pathlib import Path

from unflat.errors import InputError

#: File extensions picked up from folders and glob patterns (compared case-insensitively).
#: A file named explicitly is taken whatever its extension; read_photo then decides.
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".heic", ".heif", ".tif", ".tiff", ".webp", ".bmp"}
)


def is_image_path(path: Path) -> bool:
    """True for a file name with an image extension that is not hidden.

    Hidden names are skipped because they are nearly always junk that would fail to decode,
    such as macOS ``._IMG_0001.jpg`` resource forks.
    """
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def collect_inputs(specs: list[str], recursive: bool = True) -> tuple[list[Path], list[str]]:
    """Expand files, folders and glob patterns into image paths.

    Returns the paths found (first occurrence kept, in the order of ``specs``; each folder or
    pattern sorted) and one problem line per spec that gave nothing. Raises
    :class:`InputError` when nothing at all was found.
    """
    found: list[Path] = []
    seen: set[Path] = set()
    problems: list[str] = []

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
            images = _images_in_folder(path, recursive)
            if not images:
                problems.append(f"{spec}: no images in this folder{_looked_for(recursive)}")
            for image in images:
                add(image)
        elif _is_pattern(spec):
            images = _images_from_pattern(os.path.expanduser(spec), recursive)
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


def _is_pattern(spec: str) -> bool:
    return any(character in spec for character in "*?[")


def _looked_for(recursive: bool) -> str:
    return " or its subfolders" if recursive else ""
