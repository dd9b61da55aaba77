"""``run.json``: what each stage of a multi-stage job did, so a rerun resumes where it stopped.

Each stage is recorded when it finishes, with a *key* (its inputs' fingerprints and the
settings that shape its output), the files it wrote, its seconds and its peak memory. A rerun
skips a stage whose key is unchanged and whose files are all still there; a changed key
redoes that stage and every stage after it. The record is rewritten atomically after every
stage, so a run killed at any point leaves either the old or the new record, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unflat import __version__
from unflat.errors import OutputError
from unflat.io.atomic import write_json
from unflat.progress import note

RECORD_NAME = "run.json"


def key_digest(key: dict[str, Any]) -> str:
    """A short fingerprint of a stage's key (later stages name it in their own keys)."""
    text = json.dumps(_plain(key), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _reset_peak() -> bool:
    # Linux lets a process reset its peak resident size; elsewhere the peak is the process's.
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _peak_mb() -> float:
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


@dataclass
class StageResult:
    """What a finished stage left: its record (files, facts) as stored in ``run.json``."""

    name: str
    info: dict[str, Any] = field(default_factory=dict)
    reused: bool = False


class RunRecord:
    """The ``run.json`` of one output folder, read on start and rewritten after each stage."""

    def __init__(self, folder: Path, inputs: dict[str, Any]) -> None:
        self.folder = folder
        self.path = folder / RECORD_NAME
        self.previous = self._read()
        self.data: dict[str, Any] = {"unflat": __version__, "inputs": inputs, "stages": {}}
        self._changed = False  # once a stage is redone, every later stage is redone too

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) and isinstance(data.get("stages"), dict) else {}

    def owned(self) -> set[Path]:
        """Files an earlier run in this folder wrote (they may be replaced without asking)."""
        files: set[Path] = set()
        for stage in self.previous.get("stages", {}).values():
            if isinstance(stage, dict):
                files |= {self.folder / str(name) for name in stage.get("files", [])}
        return files

    def reusable(self, name: str, key: dict[str, Any]) -> dict[str, Any] | None:
        """The earlier record of stage ``name`` if it can stand: same key, files present."""
        if self._changed:
            return None
        stage = self.previous.get("stages", {}).get(name)
        if not isinstance(stage, dict) or stage.get("key") != key_digest(key):
            return None
        files = stage.get("files", [])
        if not all((self.folder / str(f)).is_file() for f in files):
            return None
        return stage

    @contextmanager
    def stage(self, name: str, key: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Run a stage: the body fills the yielded dict (``files`` it wrote, other facts);
        seconds and peak memory are added and the record is saved when the body returns."""
        self._changed = True
        info: dict[str, Any] = {}
        measured = _reset_peak()
        start = time.perf_counter()
        yield info
        info["settings"] = _plain(key)
        info["key"] = key_digest(key)
        info["seconds"] = round(time.perf_counter() - start, 3)
        info["peak_memory_mb"] = round(_peak_mb(), 1)
        if not measured:
            info["peak_memory_note"] = "peak of the whole process so far"
        self.data["stages"][name] = _plain(info)
        self.save()

    def keep(self, name: str, stage: dict[str, Any]) -> None:
        """Carry an earlier run's stage over unchanged."""
        self.data["stages"][name] = stage
        self.save()

    def save(self) -> None:
        write_json(self.path, self.data)


def run_stage(
    record: RunRecord,
    name: str,
    key: dict[str, Any],
    work: Callable[[dict[str, Any]], None],
) -> StageResult:
    """Stage ``name``: reuse the earlier run's result when it stands, else run ``work(info)``."""
    earlier = record.reusable(name, key)
    if earlier is not None:
        record.keep(name, earlier)
        note(f"{name}: kept from the earlier run in {record.folder}")
        return StageResult(name, earlier, reused=True)
    with record.stage(name, key) as info:
        work(info)
    return StageResult(name, record.data["stages"][name])


def check_free(paths: list[Path], record: RunRecord, overwrite: bool) -> None:
    """Refuse to replace files this folder's runs did not write, unless ``overwrite``."""
    if overwrite:
        return
    owned = record.owned()
    for path in paths:
        if path.exists() and path not in owned:
            raise OutputError(
                f"{path} already exists and is not from an earlier `unflat run` here",
                hint="pass --overwrite to replace it, or choose another -o folder",
            )


def _plain(value: Any) -> Any:
    """``value`` as JSON would give it back (paths as text, tuples as lists)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, float) and value != value:  # NaN: not valid JSON
        return None
    return value
