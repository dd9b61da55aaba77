"""The inputs of ``unflat batch``: files, folders, globs, list files and object-storage URLs.

A spec with ``://`` (``s3://bucket/photos/``, ``gs://...``, ``file:///...``, ``memory://...``)
is read through fsspec: a folder is listed recursively for images. Each remote image gets a
local path in ``OUT/.unflat-inputs/`` mirroring its folders (so outputs are named as for a
local folder); it is fetched there when its item runs and removed once the item is done. A
``.txt`` or ``.list`` file holds one spec a line (blank lines and ``#`` comments skipped).
"""

from __future__ import annotations

import hashlib
from pathlib import Path, PurePosixPath

from unflat.errors import ConfigError, InputError
from unflat.io.atomic import atomic_write
from unflat.io.inputs import IMAGE_EXTENSIONS, collect_inputs

FETCHED = ".unflat-inputs"
LIST_SUFFIXES = (".txt", ".list")


def expand_lists(specs: list[str]) -> list[str]:
    """``specs`` with each list file replaced by the specs it holds."""
    expanded: list[str] = []
    for spec in specs:
        path = Path(spec).expanduser()
        if "://" not in spec and path.suffix.lower() in LIST_SUFFIXES and path.is_file():
            lines = path.read_text(encoding="utf-8").splitlines()
            expanded += [line.strip() for line in lines if line.strip() and line[0] != "#"]
        else:
            expanded.append(spec)
    return expanded


def resolve_inputs(
    specs: list[str], out_dir: Path
) -> tuple[list[Path], dict[Path, str], list[str]]:
    """The items' local paths, the URL of each remote one, and one problem line per spec
    that gave nothing (:class:`InputError` when nothing at all was found)."""
    specs = expand_lists(specs)
    local = [spec for spec in specs if "://" not in spec]
    paths: list[Path] = []
    problems: list[str] = []
    if local:
        try:
            paths, problems = collect_inputs(local, output=out_dir)
        except InputError:
            if len(local) == len(specs):
                raise
            problems.append(f"{', '.join(local)}: no input images found")
    sources: dict[Path, str] = {}
    for spec in specs:
        if "://" in spec:
            found = _remote_images(spec, out_dir)
            if not found:
                problems.append(f"{spec}: no images there")
            sources.update(found)
    paths += [path for path in sources if path not in paths]
    if not paths:
        raise InputError(
            "no input images found: " + "; ".join(problems),
            hint="check the paths and URLs; folders are searched for "
            + " ".join(sorted(IMAGE_EXTENSIONS)),
        )
    return paths, sources, problems


def _filesystem(url: str):
    try:
        import fsspec
    except ImportError as error:
        raise ConfigError(
            f"{url} needs fsspec to be read", hint="pip install fsspec (and s3fs/gcsfs for s3/gs)"
        ) from error
    try:
        return fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as error:
        raise ConfigError(
            f"cannot read {url}: {error}", hint="install its fsspec backend"
        ) from error


def _remote_images(url: str, out_dir: Path) -> dict[Path, str]:
    """``{local path: URL}`` of the images at ``url`` (a file or a folder, recursively)."""
    filesystem, root = _filesystem(url)
    if filesystem.isdir(root):
        names = sorted(filesystem.find(root))
        top = PurePosixPath(root)
    elif filesystem.isfile(root):
        names, top = [root], PurePosixPath(root).parent
    else:
        return {}
    # one folder per root URL, so that two roots cannot write one local file
    cache = out_dir / FETCHED / hashlib.sha256(url.encode()).hexdigest()[:12]
    found = {}
    for name in names:
        relative = PurePosixPath(name).relative_to(top)
        if relative.suffix.lower() in IMAGE_EXTENSIONS and not relative.name.startswith("."):
            found[cache.joinpath(*relative.parts)] = filesystem.unstrip_protocol(name)
    return found


def fetch(url: str, path: Path) -> None:
    """Copy ``url`` to ``path`` (atomically: a killed fetch leaves no partial photo)."""
    filesystem, remote = _filesystem(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        data = filesystem.cat_file(remote)
    except (OSError, ValueError) as error:
        raise InputError(f"cannot read {url}: {error}", hint="check the URL and access") from error
    with atomic_write(path) as temporary:
        temporary.write_bytes(data)
