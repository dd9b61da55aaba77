"""Chains of pipelines as one batch job (``unflat batch depth,scene,render``).

Each link of a chain is a :class:`Stage`: the work of one pipeline on one item, cut where a
cluster cuts it: ``decode`` (CPU: read the input), ``infer`` (the model: a GPU when there is
one) and ``encode`` (CPU: write the files, render videos). On one machine
:meth:`ChainJob.process` runs the three in a row, stage after stage, under
:func:`~unflat.pipelines.batch.run_batch` (names, locks, resume, failures); on Ray
(:mod:`unflat.pipelines.ray_batch`) they are separate tasks and model actors. Either way the
same functions write the same files.

Per item the chain writes each stage's files (a stage whose files are complete is not redone,
so a killed chain resumes at the stage it stopped in), then ``BASE.batch.json``, the item's
record and completion marker, then appends that record to ``OUT/manifest.jsonl``.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from unflat.errors import ConfigError, DeviceError, OutputError, WeightsError
from unflat.io.atomic import write_json
from unflat.io.images import read_photo
from unflat.pipelines.depth import DepthOutputs, DepthPipeline, write_depth_outputs
from unflat.pipelines.render import RenderPipeline
from unflat.pipelines.scene import SceneJob, ScenePipeline, depth_file_for
from unflat.progress import Progress

#: The file of finished items, one JSON record a line, in the output folder.
MANIFEST = "manifest.jsonl"
#: The failed items of the last run and their one-line reasons.
FAILURES = "failures.json"
MARKER_SUFFIX = ".batch.json"
# Problems every item would hit: they stop a batch (as in unflat.pipelines.batch).
STOPPING = (WeightsError, DeviceError, OutputError, ConfigError)


class Stage(Protocol):
    """One pipeline's work on one item, in three steps that may run on different workers."""

    name: str
    uses_model: bool  # whether ``infer`` runs a model (a GPU actor on a cluster)

    def output_files(self, base: Path) -> list[Path]: ...

    def done(self, base: Path) -> bool: ...

    def decode(self, path: Path, base: Path) -> Any: ...

    def infer(self, decoded: Any) -> Any: ...

    def encode(self, path: Path, base: Path, inferred: Any) -> None: ...


class DepthStage:
    """``unflat depth`` for a photo: the same files, the sidecar last."""

    name, uses_model = "depth", True

    def __init__(self, pipeline: DepthPipeline) -> None:
        self.pipeline = pipeline

    def output_files(self, base: Path) -> list[Path]:
        return self.pipeline.output_files(base)

    def done(self, base: Path) -> bool:
        return self.pipeline.done(base)

    def decode(self, path: Path, base: Path) -> Any:
        return read_photo(path)

    def infer(self, photo: Any) -> Any:
        return photo, self.pipeline(photo), self.pipeline.weights_sha256

    def encode(self, path: Path, base: Path, inferred: Any) -> None:
        photo, depth, weights_sha256 = inferred
        write_depth_outputs(self.pipeline.outputs(base), photo, depth, weights_sha256)


class SceneStage:
    """``unflat splat`` for a photo; after a depth stage, from that stage's depth map."""

    name, uses_model = "scene", True

    def __init__(self, job: SceneJob, *, after_depth: bool = False) -> None:
        self.job, self.after_depth = job, after_depth

    def output_files(self, base: Path) -> list[Path]:
        return self.job.output_files(base)

    def done(self, base: Path) -> bool:
        return self.job.done(base)

    def decode(self, path: Path, base: Path) -> Any:
        after = self.after_depth
        depth = DepthOutputs(base).npy if after else depth_file_for(path, self.job.depth)
        return read_photo(path), depth

    def infer(self, decoded: Any) -> Any:
        photo, depth = decoded
        return self.job.pipeline(photo, depth), self.job.pipeline.weights_sha256

    def encode(self, path: Path, base: Path, inferred: Any) -> None:
        scene, self.job.pipeline.weights_sha256 = inferred  # known where the model ran
        self.job.write(path, base, scene)


class RenderStage:
    """``unflat render`` of the scene a scene stage wrote: ``BASE.PATH.mp4`` (CPU work)."""

    name, uses_model = "render", False

    def __init__(self, pipeline: RenderPipeline, scenes: SceneStage) -> None:
        self.pipeline, self.scenes = pipeline, scenes

    def scene_file(self, base: Path) -> Path:
        return self.scenes.job.outputs(base).scene

    def output_files(self, base: Path) -> list[Path]:
        return [self.pipeline.default_output(self.scene_file(base))]

    def done(self, base: Path) -> bool:
        return self.output_files(base)[0].is_file()

    def decode(self, path: Path, base: Path) -> Any:
        return self.scene_file(base)

    def infer(self, decoded: Any) -> Any:
        return decoded

    def encode(self, path: Path, base: Path, inferred: Any) -> None:
        self.pipeline(inferred, self.output_files(base)[0], overwrite=True)


@dataclass
class ChainJob:
    """A chain of stages as a :class:`~unflat.pipelines.batch.BatchJob`.

    ``redo`` redoes stages whose files are complete (``--overwrite``); ``sources`` maps the
    local path of an item fetched from object storage to its URL (fetched on first use).
    """

    stages: list[Any]
    out_dir: Path
    redo: bool = False
    sources: dict[Path, str] = field(default_factory=dict)
    overwrite: bool = False  # run_batch's: the batch command clears markers itself instead
    progress: Progress | None = None

    @property
    def names(self) -> str:
        return ",".join(stage.name for stage in self.stages)

    def check_inputs(self, paths: list[Path]) -> None:
        for stage in self.stages:
            if isinstance(stage, SceneStage) and not stage.after_depth:
                stage.job.check_inputs(paths)

    def marker(self, base: Path) -> Path:
        return base.with_name(base.name + MARKER_SUFFIX)

    def failed_note(self, base: Path) -> Path:
        """Left by a pool worker whose item failed, so the other workers do not retry it."""
        return base.with_name(f".{base.name}.unflat-failed")

    def output_files(self, base: Path) -> list[Path]:
        files = [file for stage in self.stages for file in stage.output_files(base)]
        return [*dict.fromkeys(files), self.marker(base)]

    def done(self, base: Path) -> bool:
        return self.marker(base).is_file() or self.failed_note(base).exists()

    def stage_done(self, stage: Any, base: Path) -> bool:
        return not self.redo and stage.done(base)

    def process(self, path: Path, base: Path) -> None:
        """Every stage not yet done, then the item's record and its manifest line."""
        try:
            self.fetch(path)
            for stage in self.stages:
                if not self.stage_done(stage, base):
                    stage.encode(path, base, stage.infer(stage.decode(path, base)))
        except Exception:
            self.failed_note(base).touch()
            raise
        self.commit(path, base)

    def fetch(self, path: Path) -> None:
        """The item's input from object storage, when it came from there."""
        url = self.sources.get(path)
        if url is not None and not path.is_file():
            from unflat.pipelines.batch_inputs import fetch

            fetch(url, path)

    def record(self, path: Path, base: Path) -> dict[str, Any]:
        outputs = [str(file.relative_to(self.out_dir)) for file in self.output_files(base)]
        return {"input": self.sources.get(path, str(path)), "outputs": outputs}

    def commit(self, path: Path, base: Path) -> None:
        """Write the record (the marker), append it to the manifest, drop a fetched copy."""
        record = self.record(path, base)
        write_json(self.marker(base), record)
        append_line(self.out_dir / MANIFEST, record)
        if path in self.sources:
            with contextlib.suppress(OSError):
                path.unlink()


def append_line(manifest: Path, record: dict[str, Any]) -> None:
    """One JSON line, in one ``write`` to a file opened for appending: lines of concurrent
    workers do not mix, and a kill leaves at most one cut line (dropped by
    :func:`reconcile_manifest`)."""
    line = (json.dumps(record, sort_keys=True) + "\n").encode()
    descriptor = os.open(manifest, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, line)
    finally:
        os.close(descriptor)


def reconcile_manifest(job: ChainJob, items: list[tuple[Path, Path]]) -> list[dict[str, Any]]:
    """The manifest made whole again (atomically): one line per finished item, in input
    order, from the items' markers: a line a kill cut, a line of an item redone since, or an
    item whose marker was written just before a kill are all put right."""
    records = []
    for path, base in items:
        if job.marker(base).is_file():
            records.append(job.record(path, base))
    text = "".join(json.dumps(record, sort_keys=True) + "\n" for record in records)
    from unflat.io.atomic import atomic_write

    with atomic_write(job.out_dir / MANIFEST) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return records


# --- building a chain from the commands' options ---------------------------------------------

#: The pipelines a chain can name, and the command whose options each takes.
COMMANDS = {"depth": "depth", "scene": "splat", "splat": "splat", "render": "render"}


def parse_chain(text: str) -> list[str]:
    """``"depth,scene,render"`` -> the stage names, checked (``splat`` is ``scene``)."""
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in COMMANDS]
    if unknown or not names:
        raise ConfigError(
            f"unknown pipeline {', '.join(unknown) or repr(text)}",
            hint="name one or more of depth, scene, render, joined by commas: depth,scene,render",
        )
    names = ["scene" if name == "splat" else name for name in names]
    if len(set(names)) != len(names):
        raise ConfigError(f"{text} names a pipeline twice", hint="name each pipeline once")
    if "render" in names and ("scene" not in names or names.index("scene") > names.index("render")):
        raise ConfigError(
            "render needs the scenes of a scene stage before it",
            hint="chain it as scene,render (or depth,scene,render)",
        )
    if "depth" in names and "scene" in names and names.index("depth") > names.index("scene"):
        raise ConfigError("depth after scene has nothing to give", hint="chain depth,scene")
    return names


def build_chain(
    names: list[str], options: dict[str, dict[str, Any]], out_dir: Path, *, redo: bool = False
) -> ChainJob:
    """The job for the stages ``names``, each from its command's options (the parameter
    names of ``unflat depth``, ``unflat splat`` and ``unflat render``)."""
    stages: list[Any] = []
    for name in names:
        given = options.get(name, {})
        if name == "depth":
            stages.append(_depth_stage(given))
        elif name == "scene":
            stages.append(_scene_stage(given, after_depth="depth" in names))
        else:
            stages.append(_render_stage(given, stages[-1]))
    return ChainJob(stages, out_dir, redo=redo)


def _depth_stage(given: dict[str, Any]) -> DepthStage:
    keys = ("weights", "model", "focal_px", "device", "precision", "ply", "preview")
    return DepthStage(DepthPipeline(**{key: given[key] for key in keys if key in given}))


def _scene_stage(given: dict[str, Any], *, after_depth: bool) -> SceneStage:
    from unflat.splat.trajectories import TrajectoryOptions

    keys = ("method", "weights", "depth_weights", "device", "precision", "focal_px",
            "depth_units", "background", "max_size")  # fmt: skip
    pipeline = ScenePipeline(**{key: given[key] for key in keys if key in given})
    path_options = TrajectoryOptions(seconds=given.get("seconds"), fps=given.get("fps", 30.0))
    job = SceneJob(
        pipeline,
        depth=None if after_depth else given.get("depth"),
        scene_format=given.get("scene_format", "ply"),
        axes=given.get("axes", "opencv"),
        videos=tuple(given.get("video") or ()),
        video_format=given.get("video_format", "mp4"),
        path_options=path_options,
    )
    return SceneStage(job, after_depth=after_depth)


def _render_stage(given: dict[str, Any], scenes: SceneStage) -> RenderStage:
    from unflat.splat.trajectories import TrajectoryOptions
    from unflat.splat.video import VideoOptions

    path = TrajectoryOptions(
        num_frames=given.get("frames"),
        seconds=given.get("seconds"),
        fps=given.get("fps", 30.0),
        amplitude_m=given.get("amplitude"),
    )
    options = VideoOptions(
        path=given.get("trajectory", "rotate_forward"),
        path_options=path,
        width=given.get("width"),
        height=given.get("height"),
        stereo=given.get("stereo"),
        baseline_m=given.get("baseline", 0.063),
        backend=given.get("backend", "auto"),
    )
    settings = {key: given[key] for key in ("focal_px", "eps2d", "device") if key in given}
    return RenderStage(RenderPipeline(options, **settings), scenes)
