"""``unflat run`` (the living photo): a photo to a talking, moving 3D video with sound."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from unflat.cli.app import app
from unflat.cli.options import AnimationEngine

Photo = Annotated[
    Path | None,
    typer.Argument(
        help="A portrait photo or painting. Default: the bundled Mona Lisa.", show_default=False
    ),
]
Out = Annotated[
    Path,
    typer.Option(
        "-o",
        "--output",
        help="Folder for the video and every intermediate (depth, scene, speech, run.json).",
    ),
]
Text = Annotated[
    str | None,
    typer.Option("--text", help="Words to speak (offline voice); the lips follow its phones."),
]
AudioFile = Annotated[
    Path | None,
    typer.Option(
        "--audio", help="A speech recording the mouth follows (WAV, MP3, or a video's sound)."
    ),
]
Driver = Annotated[
    Path | None,
    typer.Option("--driver", "-d", help="A video of a face: its motion, expressions and sound."),
]
Motion = Annotated[
    str | None,
    typer.Option(
        "--motion",
        "-m",
        help="Head motion presets (idle, "
        "nod, shake, tilt, smile, surprise, talk; joined by "
        "+). Default: idle.",
    ),
]
Depth = Annotated[
    Path | None,
    typer.Option(
        "--depth", help="The photo's metric depth map (else Depth Pro, else a portrait estimate)."
    ),
]
DepthUnits = Annotated[
    str,
    typer.Option(
        "--depth-units", help="Units of --depth: auto, m, cm, mm, inverse or units per metre."
    ),
]
FocalPx = Annotated[
    float | None,
    typer.Option(
        "--focal-px", help="The photo's focal length in pixels (default: EXIF, else estimated)."
    ),
]
Trajectory = Annotated[
    str,
    typer.Option(
        "--trajectory",
        "-t",
        help="Camera path: "
        "rotate_forward, swipe, shake, rotate, dolly_zoom, "
        "orbit, ken_burns or none.",
    ),
]
Seconds = Annotated[
    float | None,
    typer.Option("--seconds", help="Length (default: the speech or driver's, else 6 s)."),
]
Fps = Annotated[float, typer.Option("--fps", help="Frame rate of the video.")]
MaxSize = Annotated[
    int, typer.Option("--max-size", help="Longest side the photo is worked at, in pixels.")
]
Voice = Annotated[str | None, typer.Option("--voice", help="eSpeak NG voice or a Piper .onnx.")]
Language = Annotated[str | None, typer.Option("--language", help="eSpeak NG language, e.g. de.")]
NoFace = Annotated[
    bool,
    typer.Option("--no-face", help="No face animation: the camera moves through the photo alone."),
]
Seed = Annotated[int, typer.Option("--seed", help="Random seed of the head motion.")]
SyncCheck = Annotated[
    bool, typer.Option("--sync-check/--no-sync-check", help="Measure the lip sync at the end.")
]
Overwrite = Annotated[
    bool,
    typer.Option(
        "--overwrite", help="Replace files in the folder that no earlier run there wrote."
    ),
]

FewShotCheckpoint = Annotated[
    str | None,
    typer.Option(
        "--checkpoint",
        help="A few-shot model of `unflat train talking-head` (a run "
        "folder or its checkpoint.pt) to draw the face: --engine fewshot.",
    ),
]


@app.command("run")
def run_command(
    photo: Photo = None,
    out: Out = Path("out"),
    text: Text = None,
    audio: AudioFile = None,
    driver: Driver = None,
    motion: Motion = None,
    depth: Depth = None,
    depth_units: DepthUnits = "auto",
    focal_px: FocalPx = None,
    trajectory: Trajectory = "rotate_forward",
    seconds: Seconds = None,
    fps: Fps = 25.0,
    max_size: MaxSize = 768,
    voice: Voice = None,
    language: Language = None,
    no_face: NoFace = False,
    seed: Seed = 0,
    check_sync: SyncCheck = True,
    overwrite: Overwrite = False,
    engine: AnimationEngine = "auto",
    engine_checkpoint: FewShotCheckpoint = None,
) -> None:
    """A photo to a talking, moving 3D video with sound: depth, scene, face, speech, camera."""
    options = dict(locals())  # the parameters are named as RunSettings' fields
    from unflat.cli.progress import Bar
    from unflat.pipelines.run import RunPipeline, RunSettings

    pipeline = RunPipeline(RunSettings(**options))
    with Bar() as bar:
        result = pipeline(progress=bar)
    seconds_total = sum(stage.get("seconds", 0.0) for stage in result.stages.values())
    typer.echo(f"stages: {seconds_total:.1f} s in all (see {result.record})")
    typer.echo(f"wrote {result.video}")
