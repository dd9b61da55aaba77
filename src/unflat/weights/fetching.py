"""Fetching a registry model's weights: download (verified), convert once to safetensors, record.

Each download is checked against the sha256 the registry pins, else the one the source
publishes (the Hugging Face hub's LFS hash), else the one recorded at its first download (trust
on first use). A released ``.pt`` is read once with ``weights_only=True`` and kept as
safetensors; the ``.pt`` is then deleted.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from unflat import registry
from unflat.download import download, file_sha256, hub_digest, offline
from unflat.errors import WeightsError
from unflat.io.atomic import write_json
from unflat.registry import ModelEntry, WeightFile, get_entry
from unflat.weights.cache import (
    CONFIG_NAME,
    SAFETENSORS_KEY,
    SAFETENSORS_NAME,
    SOURCE_NAME,
    cache_dir,
)
from unflat.weights.checkpoints import read_checkpoint, save_safetensors
from unflat.weights.integrity import download_records, made_record, verify_cached

_LICENCE_MARKER = ".licence-shown"


def fetch(name: str, progress: bool = True, force: bool = False) -> Path:
    """Make ``name``'s weights available locally and return the ``model.safetensors`` path.

    Downloads what is missing (resuming partial files) and verifies each file against the
    registry's sha256, else the hub's own, else the one recorded at its first download; converts
    the released checkpoint to safetensors once, records that file's sha256, and deletes the
    checkpoint. A file put at the expected path by hand is checked the same way. An already
    cached ``model.safetensors`` is checked against its recorded sha256. ``force`` downloads and
    converts again but keeps the recorded hashes of the downloads, which the new ones must match.
    """
    entry = get_entry(name)
    if entry.bundled is not None:
        return _bundled_file(entry)
    folder = cache_dir() / entry.name
    target = folder / SAFETENSORS_NAME
    if force:
        _clear_for_refetch(entry, folder)
    if target.is_file():
        verify_cached(target)
        return target

    folder.mkdir(parents=True, exist_ok=True)
    missing = [w for w in entry.files if not (folder / w.filename).is_file()]
    if not (missing and offline()):
        # Offline with files missing fails at once; the licence would only bury that error.
        _show_licence_once(entry, folder)
    known = download_records(folder)
    records = [
        _obtain(entry, weight, folder, known.get(weight.filename), progress)
        for weight in entry.files
    ]
    # Recorded before converting: the downloads' hashes outlive a failed conversion, and no
    # record of an older model.safetensors can be taken for the new one's.
    write_json(folder / SOURCE_NAME, {"model": entry.name, "files": records})
    state: dict[str, torch.Tensor] = {}
    for weight in entry.files:
        for key, tensor in read_checkpoint(folder / weight.filename).items():
            state[weight.prefix + key] = tensor
    save_safetensors(state, target, {"source": ",".join(w.filename for w in entry.files)})
    del state
    write_json(folder / CONFIG_NAME, entry.architecture)
    write_json(
        folder / SOURCE_NAME,
        {"model": entry.name, "files": records, SAFETENSORS_KEY: made_record(target)},
    )
    # The safetensors copy is all we read from now on; the checkpoint would double the disk use.
    for weight in entry.files:
        (folder / weight.filename).unlink(missing_ok=True)
    return target


def _clear_for_refetch(entry: ModelEntry, folder: Path) -> None:
    """Delete what ``--force`` redoes; keep the downloads' recorded hashes (trust anchors)."""
    known = download_records(folder)
    for stale in (
        folder / SAFETENSORS_NAME,
        folder / SOURCE_NAME,
        *(folder / f.filename for f in entry.files),
    ):
        stale.unlink(missing_ok=True)
        Path(str(stale) + ".part").unlink(missing_ok=True)
    if known:
        write_json(folder / SOURCE_NAME, {"model": entry.name, "files": list(known.values())})


@dataclass(frozen=True)
class _Expected:
    """What a file must be, and who says so (for messages and ``source.json``)."""

    sha256: str | None
    size_bytes: int | None
    vouched_by: str
    # "registry", "hub", "first download" (trust on first use) or "nothing" (first download).
    kind: str


def _expected(weight: WeightFile, record: dict | None, source: Path) -> _Expected:
    """The registry's pin, else the hub's published hash, else the first download's record."""
    if weight.sha256 is not None:
        return _Expected(weight.sha256.lower(), weight.size_bytes, "unflat's registry", "registry")
    published = hub_digest(weight.urls)
    if published is not None:
        size = weight.size_bytes or published.size_bytes
        where = f"the Hugging Face hub ({published.url})"
        return _Expected(published.sha256, size, where, "hub")
    if record is not None:
        size = weight.size_bytes or record["size_bytes"]
        where = f"the first download (recorded in {source})"
        return _Expected(record["sha256"], size, where, "first download")
    return _Expected(None, weight.size_bytes, "unflat's registry", "nothing")


def _obtain(
    entry: ModelEntry, weight: WeightFile, folder: Path, record: dict | None, progress: bool
) -> dict:
    """Download ``weight`` (or check the copy put there by hand); return its record."""
    path = folder / weight.filename
    expected = _expected(weight, record, folder / SOURCE_NAME)
    if path.is_file():
        size, digest = _check_hand_placed(entry, weight, path, expected)
        url = None
    else:
        got = download(
            weight.urls,
            path,
            expected.size_bytes,
            expected.sha256,
            progress=progress,
            vouched_by=expected.vouched_by,
            mismatch_hint=_replaced_hint(entry, folder, expected),
        )
        size, digest, url = got.size_bytes, got.sha256, got.url
    return {
        "filename": weight.filename,
        "url": url,
        "size_bytes": size,
        "sha256": digest,
        "checked_against": expected.kind,
    }


def _replaced_hint(entry: ModelEntry, folder: Path, expected: _Expected) -> str:
    """What to do when a file does not match what ``expected`` says it must be."""
    if expected.kind == "first download":
        return (
            f"the source now serves a different file than at the first download; if its "
            f"publisher replaced it on purpose, delete {folder / SOURCE_NAME} and run "
            f"`unflat models fetch {entry.name} --force`"
        )
    return (
        "the file was damaged or altered on the way and was not kept; run the same command "
        "again, or fetch it from another network"
    )


def _bundled_file(entry: ModelEntry) -> Path:
    """The packaged weights of a model that ships with unflat (there is nothing to download)."""
    path = registry.bundled_files(entry)[0]
    if not path.is_file():
        raise WeightsError(
            f"{entry.name}'s weights (unflat/{entry.bundled}/{path.name}) are missing from this "
            "install",
            "reinstall unflat; in a source checkout run `python tools/convert_mediapipe.py`",
        )
    return path


def _check_hand_placed(
    entry: ModelEntry, weight: WeightFile, path: Path, expected: _Expected
) -> tuple[int, str]:
    """Size and sha256 of a file put in the cache by hand, after checking it like a download."""
    size = path.stat().st_size
    bad = None
    digest = ""
    if expected.size_bytes is not None and size != expected.size_bytes:
        bad = f"it has {size} bytes, but {expected.vouched_by} gives {expected.size_bytes}"
    else:
        digest = file_sha256(path)
        if expected.sha256 is not None and digest != expected.sha256:
            bad = f"its sha256 differs from the one {expected.vouched_by} gives"
    if bad:
        hint = f"delete it and run `unflat models fetch {entry.name}`"
        if expected.kind == "first download":
            hint = (
                f"if its publisher replaced it on purpose, delete {path.parent / SOURCE_NAME} "
                f"and run `unflat models fetch {entry.name}` again; otherwise {hint}"
            )
        raise WeightsError(f"{path} is not the published {weight.filename}: {bad}", hint)
    return size, digest


def _show_licence_once(entry: ModelEntry, folder: Path) -> None:
    """Print the licence the first time a model is fetched; a marker file remembers it."""
    marker = folder / _LICENCE_MARKER
    if marker.exists():
        return
    use = "research only, NOT for commercial use" if entry.research_only else "commercial use ok"
    print(
        f"{entry.name}: weights by {entry.homepage} under the {entry.licence} — {use}.\n"
        f"{entry.licence_summary}\nFull licence: {entry.licence_url}",
        file=sys.stderr,
    )
    marker.write_text(entry.licence_url + "\n")


__all__ = [
    "fetch",
]
